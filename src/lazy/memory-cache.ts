/** Verified chunks kept in memory, least recently used first out, bounded by their total bytes. */
export class MemoryChunkCache {
  // A Map iterates in insertion order: re-inserting on use keeps the least recent first.
  private readonly entries = new Map<string, Uint8Array>();
  private held = 0;

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.held;
  }

  get(key: string): Uint8Array | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  /** Keeps `bytes` unless they alone exceed the bound; evicts the least recent to make room. */
  put(key: string, bytes: Uint8Array): void {
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.held -= old.length;
    }
    if (bytes.length > this.maxBytes) return;
    this.entries.set(key, bytes);
    this.held += bytes.length;
    for (const [k, v] of this.entries) {
      if (this.held <= this.maxBytes) break;
      this.entries.delete(k);
      this.held -= v.length;
    }
  }
}
