/**
 * gzip for exported layers. CompressionStream("gzip") is a web standard present in Node, Deno,
 * Bun, workerd and browsers, and it really compresses; but each runtime backs it with its own
 * zlib build and settings, so the bytes (and the layer digest) may differ between runtimes. The
 * "stored" framing (deflate stored blocks, no timestamp) is identical everywhere and is the
 * fallback where CompressionStream is missing. Either way the tar inside, and so the diff_id,
 * is the same.
 */
import { crc32 } from "../convert/gzip.js";

export type GzipMode = "native" | "stored";

/** "native" when the runtime has CompressionStream, else "stored". */
export function defaultGzipMode(): GzipMode {
  return typeof CompressionStream === "function" ? "native" : "stored";
}

export function gzipStream(mode: GzipMode): TransformStream<Uint8Array, Uint8Array> {
  if (mode === "native") return new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>;
  return storedGzip();
}

const STORED_MAX = 65535;

/** A gzip member of stored deflate blocks, streamed: each input piece becomes non-final blocks, an empty final block ends it. */
function storedGzip(): TransformStream<Uint8Array, Uint8Array> {
  let crc = 0;
  let size = 0;
  const block = (data: Uint8Array, final: boolean): Uint8Array => {
    const out = new Uint8Array(5 + data.length);
    out[0] = final ? 1 : 0; // BFINAL, BTYPE=00 (stored)
    out[1] = data.length & 0xff;
    out[2] = data.length >>> 8;
    out[3] = ~data.length & 0xff;
    out[4] = (~data.length >>> 8) & 0xff;
    out.set(data, 5);
    return out;
  };
  return new TransformStream({
    start(c) {
      // ID1 ID2 CM=8 FLG=0 MTIME=0 XFL=0 OS=255: no timestamp, the same bytes everywhere.
      c.enqueue(new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]));
    },
    transform(data, c) {
      crc = crc32(data, crc);
      size = (size + data.length) >>> 0;
      for (let at = 0; at < data.length; at += STORED_MAX) c.enqueue(block(data.subarray(at, at + STORED_MAX), false));
    },
    flush(c) {
      const trailer = new Uint8Array(8);
      const view = new DataView(trailer.buffer);
      view.setUint32(0, crc, true);
      view.setUint32(4, size, true);
      c.enqueue(block(new Uint8Array(0), true));
      c.enqueue(trailer);
    },
  });
}
