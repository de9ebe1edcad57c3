// One thread of the Node codec pool (codec-pool.ts): compresses the chunks of each message with
// the same wasm kernel and level the main thread would use, in place, and hands the buffer back.
import { parentPort, workerData } from "node:worker_threads";
import { isStrataError } from "../../src/errors.js";
import { createLz4 } from "../../src/kernels/lz4.js";
import { createZstdEncoder } from "../../src/kernels/zstdenc.js";
import type { Ports } from "../../src/ports.js";
import { CODEC_KERNEL, type CodecWorkerData, type CodecWorkerReply, type CodecJob } from "./codec-pool.js";
import { setV8Flags } from "./v8-flags.js";

const { compressor, level, kernel, v8Flags } = workerData as CodecWorkerData;
setV8Flags(v8Flags ?? []);
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
  port.on("message", ({ id, chunks, sizes }: CodecJob) => {
    try {
      const storedSizes: number[] = [];
      let readAt = 0;
      let writeAt = 0;
      for (const size of sizes) {
        // The kernel copies the chunk in before compressing; its output is a view of its memory.
        const compressed = codec.compress(chunks.subarray(readAt, readAt + size));
        if (compressed) chunks.set(compressed, writeAt);
        else chunks.copyWithin(writeAt, readAt, readAt + size);
        storedSizes.push(compressed ? compressed.length : -size);
        readAt += size;
        writeAt += compressed?.length ?? size;
      }
      const reply: CodecWorkerReply = { id, stored: chunks, storedSizes };
      port.postMessage(reply, [chunks.buffer as ArrayBuffer]);
    } catch (e) {
      port.postMessage({ id, error: failure(e) } satisfies CodecWorkerReply);
    }
  });
  port.postMessage({ id: -1 } satisfies CodecWorkerReply);
} catch (e) {
  port.postMessage({ id: -1, error: failure(e) } satisfies CodecWorkerReply);
}
