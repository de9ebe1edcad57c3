// One thread of the Node codec pool (codec-pool.ts): compresses the chunks it is sent with the
// same wasm kernel and level the main thread would use, and hands both buffers back.
import { parentPort, workerData } from "node:worker_threads";
import { isStrataError } from "../../src/errors.js";
import { createLz4 } from "../../src/kernels/lz4.js";
import { createZstdEncoder } from "../../src/kernels/zstdenc.js";
import type { Ports } from "../../src/ports.js";
import { CODEC_KERNEL, type CodecWorkerData, type CodecWorkerReply, type CodecJob } from "./codec-pool.js";

const { compressor, level, kernel } = workerData as CodecWorkerData;
const port = parentPort!;
// The one kernel the codec instantiates, compiled by the main thread.
const ports: Ports = {
  wasm: {
    module: async (name, variant) => {
      if (name !== CODEC_KERNEL[compressor] || variant !== "simd") throw new Error(`codec worker: no ${name} (${variant}) kernel`);
      return kernel;
    },
  },
};

function failure(e: unknown): CodecWorkerReply["error"] {
  if (isStrataError(e)) return { code: e.code, message: e.message, details: { ...e.details } };
  return { message: e instanceof Error ? e.message : String(e) };
}

try {
  const codec = compressor === "zstd" ? await createZstdEncoder(ports, level === undefined ? {} : { level }) : await createLz4(ports);
  port.on("message", ({ id, chunk }: CodecJob) => {
    try {
      // The kernel's output is a view of its memory, valid until the next call: copied once to be sent.
      const output = codec.compress(chunk)?.slice();
      const reply: CodecWorkerReply = { id, input: chunk, output };
      port.postMessage(reply, output ? [chunk.buffer as ArrayBuffer, output.buffer as ArrayBuffer] : [chunk.buffer as ArrayBuffer]);
    } catch (e) {
      port.postMessage({ id, error: failure(e) } satisfies CodecWorkerReply);
    }
  });
  port.postMessage({ id: -1 } satisfies CodecWorkerReply);
} catch (e) {
  port.postMessage({ id: -1, error: failure(e) } satisfies CodecWorkerReply);
}
