// The page script: runs the conformance suite with the browser adapter, kernels fetched from
// /wasm/, and leaves the outcomes on window for the driver to collect.
import { browserPorts } from "../../../runtimes/browser/index.js";
import { type CaseOutcome, runSuite } from "../../conformance/suite.js";

declare global {
  interface Window {
    conformance?: Promise<CaseOutcome[]>;
  }
}

window.conformance = runSuite(browserPorts(new URL("/wasm/", location.href)));
