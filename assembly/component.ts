// strata's kernels as one WebAssembly Component (world `kernels` in wit/kernels.wit): the same
// kernel code the core drives from TypeScript, here driven from inside the module behind the
// canonical ABI, so any component host (jco, wasmtime) can chunk, hash, compress and decompress.
//
// Memory: every kernel reserves its windows when the module starts. The zstd decoder is imported
// last because it owns all memory after its `tail` (it grows there on demand); this file uses that
// same region as the arena for the host's input lists and for outputs that outgrow a kernel window.
// The arena is reset by the post-return functions, once the host has copied the results out.
import * as blake3 from "./blake3";
import * as sha256 from "./sha256";
import * as chunker from "./chunker";
import * as inflate from "./inflate";
import * as lz4 from "./lz4";
import * as zstdenc from "./zstdenc";
import * as zstd from "./zstd";

// WIT enums, in declaration order.
const HASH_BLAKE3: i32 = 0;
const HASH_SHA256: i32 = 1;
const FORMAT_GZIP: i32 = 0;
const FORMAT_ZLIB: i32 = 1;
const FORMAT_DEFLATE: i32 = 2;
const FORMAT_ZSTD: i32 = 3;
const FORMAT_LZ4_BLOCK: i32 = 4;
const E_INVALID_ARGUMENT: u8 = 0;
const E_CORRUPT_DATA: u8 = 1;
const E_TRUNCATED: u8 = 2;
const E_CHECKSUM_MISMATCH: u8 = 3;
const E_TRAILING_DATA: u8 = 4;
const E_OUTPUT_LIMIT: u8 = 5;
const E_UNSUPPORTED: u8 = 6;

// inflate.ts statuses and failure reasons (see FAILURES in src/kernels/inflate.ts).
const INFLATE_OUTPUT_FULL: i32 = 1;

/** Return areas live in the data segment, below the heap: never in the arena. */
const listReturn = memory.data(8);
const resultReturn = memory.data(12);

/** The arena starts above every reservation: imported modules start (and reserve) first. */
const arenaBase: usize = heap.alloc(0);
let arenaTop: usize = arenaBase;

function arenaAlloc(size: usize, align: usize): usize {
  const ptr = (arenaTop + align - 1) & ~(align - 1);
  const end = ptr + size;
  const have = <usize>memory.size() << 16;
  if (end > have) {
    const pages = <i32>((end - have + 0xffff) >> 16);
    if (memory.grow(pages) < 0) unreachable();
  }
  arenaTop = end;
  return ptr;
}

export function cabi_realloc(old: usize, oldSize: usize, align: usize, newSize: usize): usize {
  const ptr = arenaAlloc(newSize, align < 1 ? 1 : align);
  if (old != 0) memory.copy(ptr, old, oldSize < newSize ? oldSize : newSize);
  return ptr;
}

function resetArena(): void {
  arenaTop = arenaBase;
}

function list(ptr: usize, len: u32): usize {
  store<u32>(listReturn, <u32>ptr);
  store<u32>(listReturn, len, 4);
  return listReturn;
}

function ok(ptr: usize, len: u32): usize {
  store<u8>(resultReturn, 0);
  store<u32>(resultReturn, <u32>ptr, 4);
  store<u32>(resultReturn, len, 8);
  return resultReturn;
}

function err(code: u8): usize {
  store<u8>(resultReturn, 1);
  store<u8>(resultReturn, code, 4);
  return resultReturn;
}

/** BLAKE3 or SHA-256 of `data`: 32 bytes. An unknown algorithm traps (the host validates enums). */
export function hash(algorithm: i32, data: usize, len: u32): usize {
  if (algorithm == HASH_BLAKE3) {
    blake3.configure(0);
    const window = blake3.inputPtr();
    const step = blake3.windowSize();
    for (let at: u32 = 0; at < len; at += step) {
      const n = len - at < step ? len - at : step;
      memory.copy(window, data + at, n);
      blake3.update(0, n);
    }
    blake3.final(0);
    return list(blake3.outputPtr(), 32);
  }
  if (algorithm != HASH_SHA256) unreachable();
  sha256.reset();
  const window = sha256.inputPtr();
  const step = sha256.windowSize();
  for (let at: u32 = 0; at < len; at += step) {
    const n = len - at < step ? len - at : step;
    memory.copy(window, data + at, n);
    sha256.update(n);
  }
  sha256.final();
  return list(sha256.outputPtr(), 32);
}

export function cabi_post_hash(_ret: usize): void {
  resetArena();
}

/** FastCDC (normalization level 2) chunk lengths covering `data`; the last may be shorter than min. */
export function chunk(data: usize, len: u32, minSize: u32, avgSize: u32, maxSize: u32): usize {
  if (chunker.configure(minSize, avgSize, maxSize, 2) != 0) return err(E_INVALID_ARGUMENT);
  // At most one chunk per min-size bytes, plus the tail.
  const lengths = arenaAlloc((<usize>(len / minSize) + 1) << 2, 4);
  let count: u32 = 0;
  const window = chunker.inputPtr();
  const cuts = chunker.cutsPtr();
  const step = chunker.windowSize();
  for (let at: u32 = 0; at < len; at += step) {
    const n = len - at < step ? len - at : step;
    memory.copy(window, data + at, n);
    const found = chunker.push(n);
    for (let i = 0; i < found; i++) {
      store<u32>(lengths + (<usize>count << 2), load<u32>(cuts + (<usize>i << 2)));
      count++;
    }
  }
  const rest = chunker.pending();
  if (rest > 0) {
    store<u32>(lengths + (<usize>count << 2), rest);
    count++;
  }
  return ok(lengths, count);
}

export function cabi_post_chunk(_ret: usize): void {
  resetArena();
}

/** One compressed unit (a zstd frame with its content size, or an LZ4 block), as Nydus chunks are. */
export function compress(format: i32, data: usize, len: u32, level: i32): usize {
  if (format == FORMAT_ZSTD) {
    if (len > zstdenc.maxInput()) return err(E_INVALID_ARGUMENT);
    memory.copy(zstdenc.inputPtr(), data, len);
    const n = zstdenc.compress(len, level, false);
    return n < 0 ? err(E_INVALID_ARGUMENT) : ok(zstdenc.outputPtr(), <u32>n);
  }
  if (format == FORMAT_LZ4_BLOCK) {
    if (len > lz4.maxInput()) return err(E_INVALID_ARGUMENT);
    memory.copy(lz4.inputPtr(), data, len);
    const n = lz4.compress(len);
    return n < 0 ? err(E_INVALID_ARGUMENT) : ok(lz4.outputPtr(), <u32>n);
  }
  return err(E_UNSUPPORTED);
}

export function cabi_post_compress(_ret: usize): void {
  resetArena();
}

/**
 * Decompresses `data`. For zstd and lz4-block, `size` is the exact decompressed size (Nydus keeps
 * it per chunk); for gzip, zlib and deflate it is the largest output accepted.
 */
export function decompress(format: i32, data: usize, len: u32, size: u32): usize {
  if (format == FORMAT_LZ4_BLOCK) {
    if (len > lz4.maxCompressed() || size > lz4.maxInput()) return err(E_INVALID_ARGUMENT);
    memory.copy(lz4.inputPtr(), data, len);
    const n = lz4.decompress(len, size);
    return n < 0 ? err(E_CORRUPT_DATA) : ok(lz4.outputPtr(), <u32>n);
  }
  if (format == FORMAT_ZSTD) return decompressZstd(data, len, size);
  if (format == FORMAT_GZIP || format == FORMAT_ZLIB || format == FORMAT_DEFLATE) {
    // inflate.ts numbers its formats raw 0, zlib 1, gzip 2.
    return inflateAll(format == FORMAT_GZIP ? 2 : format == FORMAT_ZLIB ? 1 : 0, data, len, size);
  }
  return err(E_UNSUPPORTED);
}

export function cabi_post_decompress(_ret: usize): void {
  resetArena();
}

function decompressZstd(data: usize, len: u32, size: u32): usize {
  // The decoder wants the frame above its output area, which starts at the arena's base, where
  // the host put `data`: move it up first (memory.copy handles the overlap).
  zstd.reset(<u32>(1 << 27));
  const input = zstd.chunkInput(len, size);
  if (input == 0) return err(E_OUTPUT_LIMIT);
  memory.copy(input, data, len);
  const n = zstd.chunkDecode(len, size);
  if (n < 0) return err(zstdError(n));
  if (<u32>n != size) return err(E_CORRUPT_DATA);
  return ok(zstd.outputPtr(), <u32>n);
}

function zstdError(result: i32): u8 {
  if (result == -3 || result == -4) return E_UNSUPPORTED;
  if (result == -12) return E_CHECKSUM_MISMATCH;
  if (result == -13) return E_OUTPUT_LIMIT;
  if (result == -15) return E_TRUNCATED;
  return E_CORRUPT_DATA;
}

function inflateAll(streamFormat: i32, data: usize, len: u32, limit: u32): usize {
  inflate.reset(streamFormat);
  // Output accumulates in the arena above the input; it may grow to `limit`.
  const out = arenaAlloc(0, 16);
  let produced: u32 = 0;
  const window = inflate.inputPtr();
  const step = inflate.inputCap();
  for (let at: u32 = 0; at < len; at += step) {
    const n = len - at < step ? len - at : step;
    memory.copy(window, data + at, n);
    let status = inflate.push(n);
    for (;;) {
      const got = inflate.chunkLen();
      if (got > 0) {
        if (<u64>produced + got > <u64>limit) return err(E_OUTPUT_LIMIT);
        arenaAlloc(got, 1);
        memory.copy(out + produced, inflate.chunkPtr(), got);
        produced += got;
      }
      if (status < 0) return err(inflateError(-status));
      if (status != INFLATE_OUTPUT_FULL) break;
      status = inflate.resume();
    }
  }
  const status = inflate.finish();
  if (status < 0) return err(inflateError(-status));
  return ok(out, produced);
}

function inflateError(reason: i32): u8 {
  if (reason == 16 || (reason >= 20 && reason <= 22)) return E_CHECKSUM_MISMATCH;
  if (reason == 19) return E_UNSUPPORTED;
  if (reason == 23) return E_TRAILING_DATA;
  if (reason == 24) return E_TRUNCATED;
  return E_CORRUPT_DATA;
}
