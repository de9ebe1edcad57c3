#!/usr/bin/env node
// Runs the compiled CLI (npm's prepare step builds dist/ with tsc).
await import("../dist/runtimes/node/cli.js");
