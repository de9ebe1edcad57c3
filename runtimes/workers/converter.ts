// A Cloudflare Worker that converts an image from one registry into a Nydus image pushed to
// another, streaming: layers flow from the source through chunking, hashing and compression into
// chunked uploads, so memory stays near chunk size × parallelism, not image size.
//
//   POST /convert {"source":"docker://HOST/REPO:TAG","destination":"docker://HOST/REPO:TAG",
//                  "insecure":false,"compressor":"zstd","chunkSize":1048576,"platform":"linux/amd64"}
//   → 200 the conversion summary as JSON, or 4xx/5xx {"error":{code,message,details}}
//
// Registry credentials come from the Worker's REGISTRY_CREDS secret ("user:password"), never
// from the request. Build: `wrangler deploy --dry-run --outdir DIR -c runtimes/workers/wrangler.toml`
// (the kernels become CompiledWasm modules: workerd does not compile wasm from bytes).
import blake3 from "../../wasm/blake3.wasm";
import blake3Scalar from "../../wasm/blake3.scalar.wasm";
import chunker from "../../wasm/chunker.wasm";
import inflate from "../../wasm/inflate.wasm";
import lz4 from "../../wasm/lz4.wasm";
import sha256 from "../../wasm/sha256.wasm";
import zstd from "../../wasm/zstd.wasm";
import zstdenc from "../../wasm/zstdenc.wasm";
import { convertImage, type ConvertImageOptions } from "../../src/convert/convert-image.js";
import { isStrataError } from "../../src/errors.js";
import { parseCreds } from "../../src/registry/auth.js";
import { workersPorts } from "./index.js";

const ports = workersPorts({
  "blake3.wasm": blake3,
  "blake3.scalar.wasm": blake3Scalar,
  "chunker.wasm": chunker,
  "inflate.wasm": inflate,
  "lz4.wasm": lz4,
  "sha256.wasm": sha256,
  "zstd.wasm": zstd,
  "zstdenc.wasm": zstdenc,
});

/** Pushed blobs above this stream as chunked uploads of this many bytes per PATCH, instead of being held (Workers have 128 MB; the client's default PATCH is 16 MiB). */
const PUSH_BUFFER_LIMIT = 4 << 20;

interface ConvertRequest {
  source: string;
  destination: string;
  insecure?: boolean;
  compressor?: ConvertImageOptions["compressor"];
  chunkSize?: number;
  digester?: ConvertImageOptions["digester"];
  platform?: string;
}

export interface Env {
  REGISTRY_CREDS?: string;
}

function failure(status: number, code: string, message: string, details: unknown = {}): Response {
  return Response.json({ error: { code, message, details } }, { status });
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== "/convert") return failure(404, "NOT_FOUND", "POST /convert");
    if (request.method !== "POST") return failure(405, "INVALID_ARGUMENT", "POST /convert with a JSON body");
    let body: ConvertRequest;
    try {
      body = (await request.json()) as ConvertRequest;
    } catch {
      return failure(400, "INVALID_ARGUMENT", "the body is not JSON");
    }
    if (typeof body?.source !== "string" || typeof body.destination !== "string" || !body.destination.startsWith("docker://")) {
      return failure(400, "INVALID_ARGUMENT", "source and destination are docker:// references");
    }
    const started = Date.now();
    try {
      const result = await convertImage(ports, body.source, body.destination, {
        compressor: body.compressor,
        chunkSize: body.chunkSize,
        digester: body.digester,
        platform: body.platform,
        registry: { insecure: body.insecure === true, creds: env.REGISTRY_CREDS ? parseCreds(env.REGISTRY_CREDS) : undefined, chunkSize: PUSH_BUFFER_LIMIT },
        pushBufferLimit: PUSH_BUFFER_LIMIT,
      });
      return Response.json({ ...result, seconds: (Date.now() - started) / 1000 });
    } catch (e) {
      if (!isStrataError(e)) throw e;
      const status = e.code === "INVALID_ARGUMENT" || e.code === "BAD_REFERENCE" ? 400 : 502;
      return failure(status, e.code, e.message, e.details);
    }
  },
};
