#!/usr/bin/env node
// Runs the compiled CLI (npm's prepare step builds dist/ with tsc), with its V8 flags set first.
const { CLI_V8_FLAGS, setV8Flags } = await import("../dist/runtimes/node/v8-flags.js");
setV8Flags(CLI_V8_FLAGS);
await import("../dist/runtimes/node/cli.js");
