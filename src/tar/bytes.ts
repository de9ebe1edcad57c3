/**
 * Pull-based byte input for the tar reader: a Web stream, an async iterable of chunks, or a
 * random-access source (a file port handle) whose bodies can be skipped without reading them.
 */
import { StrataError } from "../errors.js";

/** A file-like source the reader can seek in: skipping a body costs nothing. */
export interface RandomAccessSource {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A whole archive in memory is read like a random-access source. */
export type TarInput = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | RandomAccessSource | Uint8Array;

const RANDOM_ACCESS_CHUNK = 1 << 20;

function isRandomAccess(input: Exclude<TarInput, Uint8Array>): input is RandomAccessSource {
  return typeof (input as RandomAccessSource).read === "function" && typeof (input as RandomAccessSource).size === "number";
}

/** Chunks from any TarInput; random-access inputs also expose `seek` for skipping. */
interface ChunkSource {
  next(): Promise<Uint8Array | undefined>;
  /** Moves the read position forward by n bytes (random access only); false past the end. */
  seek?(n: number): boolean;
  cancel(): Promise<void>;
}

function chunkSource(input: TarInput): ChunkSource {
  if (input instanceof Uint8Array) {
    const bytes = input;
    input = { size: bytes.length, read: async (offset, length) => bytes.subarray(offset, offset + length) };
  }
  if (isRandomAccess(input)) {
    let at = 0;
    return {
      async next() {
        if (at >= input.size) return undefined;
        const want = Math.min(RANDOM_ACCESS_CHUNK, input.size - at);
        const bytes = await input.read(at, want);
        if (bytes.length === 0) return undefined;
        at += bytes.length;
        return bytes;
      },
      seek(n) {
        if (at + n > input.size) return false;
        at += n;
        return true;
      },
      async cancel() {},
    };
  }
  const iterator: AsyncIterator<Uint8Array> =
    input instanceof ReadableStream ? streamIterator(input) : input[Symbol.asyncIterator]();
  return {
    async next() {
      const r = await iterator.next();
      if (r.done) return undefined;
      if (!(r.value instanceof Uint8Array)) throw new StrataError("INVALID_ARGUMENT", "tar input chunks must be Uint8Array");
      return r.value;
    },
    async cancel() {
      await iterator.return?.();
    },
  };
}

function streamIterator(stream: ReadableStream<Uint8Array>): AsyncIterator<Uint8Array> {
  const reader = stream.getReader();
  return {
    async next() {
      const r = await reader.read();
      return r.done ? { done: true, value: undefined } : { done: false, value: r.value };
    },
    async return() {
      await reader.cancel();
      reader.releaseLock();
      return { done: true, value: undefined };
    },
  };
}

/** A cursor over the input that tracks its absolute position and holds at most one chunk. */
export class ByteCursor {
  private readonly source: ChunkSource;
  private chunk: Uint8Array = new Uint8Array(0);
  private at = 0;
  /** Absolute offset of the next unread byte. */
  position = 0;

  constructor(input: TarInput) {
    this.source = chunkSource(input);
  }

  /** Buffered bytes available without reading more; refills once when empty. */
  private async fill(): Promise<boolean> {
    while (this.at >= this.chunk.length) {
      const next = await this.source.next();
      if (!next) return false;
      this.chunk = next;
      this.at = 0;
    }
    return true;
  }

  /** Exactly n bytes, or undefined if the input ends before any byte; TRUNCATED if it ends midway. */
  async readExact(n: number, what: string): Promise<Uint8Array | undefined> {
    if (!(await this.fill())) return undefined;
    if (this.chunk.length - this.at >= n) {
      const out = this.chunk.subarray(this.at, this.at + n);
      this.at += n;
      this.position += n;
      return out;
    }
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      if (!(await this.fill())) {
        throw new StrataError("TRUNCATED", `tar ended inside ${what} at offset ${this.position}`, { offset: this.position });
      }
      const take = Math.min(n - got, this.chunk.length - this.at);
      out.set(this.chunk.subarray(this.at, this.at + take), got);
      this.at += take;
      got += take;
      this.position += take;
    }
    return out;
  }

  /** Up to `max` bytes (a view of the current chunk), or TRUNCATED at end of input. */
  async readSome(max: number, what: string): Promise<Uint8Array> {
    if (!(await this.fill())) {
      throw new StrataError("TRUNCATED", `tar ended inside ${what} at offset ${this.position}`, { offset: this.position });
    }
    const take = Math.min(max, this.chunk.length - this.at);
    const out = this.chunk.subarray(this.at, this.at + take);
    this.at += take;
    this.position += take;
    return out;
  }

  /** Skips n bytes, seeking when the source allows; TRUNCATED if the input is shorter. */
  async skip(n: number, what: string): Promise<void> {
    const buffered = Math.min(n, this.chunk.length - this.at);
    this.at += buffered;
    this.position += buffered;
    let left = n - buffered;
    if (left > 0 && this.source.seek) {
      if (!this.source.seek(left)) {
        throw new StrataError("TRUNCATED", `tar ended inside ${what} at offset ${this.position}`, { offset: this.position });
      }
      this.position += left;
      return;
    }
    while (left > 0) left -= (await this.readSome(left, what)).length;
  }

  /** Reads and discards everything left in the input. */
  async drain(): Promise<void> {
    this.position += this.chunk.length - this.at;
    this.at = this.chunk.length;
    while (await this.fill()) {
      this.position += this.chunk.length - this.at;
      this.at = this.chunk.length;
    }
  }

  async cancel(): Promise<void> {
    await this.source.cancel();
  }
}
