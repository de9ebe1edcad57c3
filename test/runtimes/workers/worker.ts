// The Worker that runs the conformance suite: GET /?case=<name> answers the outcomes as JSON.
// run.ts generates its entry, which imports the kernels as CompiledWasm modules and calls this.
import { type WasmModules, workersPorts } from "../../../runtimes/workers/index.js";
import { runSuite } from "../../conformance/suite.js";

export function conformanceWorker(modules: WasmModules) {
  const ports = workersPorts(modules);
  return {
    async fetch(request: Request): Promise<Response> {
      const only = new URL(request.url).searchParams.getAll("case");
      return Response.json(await runSuite(ports, only.length ? { only } : {}));
    },
  };
}
