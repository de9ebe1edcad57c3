/**
 * The event stream: convert, verify, diff and unpack report what they see (files, chunk
 * digests, blobs, verify failures, differences, progress) to subscribers such as security
 * scanners, without waiting for them.
 *
 * Every subscriber has its own bounded queue and receives events in the order they were emitted.
 * When a queue is full, the subscriber's policy decides:
 * - "block": backpressure. emit() returns a promise that settles once the queue has room; the
 *   producer awaits it, so a slow subscriber slows the pipeline but sees every event.
 * - "drop": the new event is discarded and counted; emit() never waits. The count arrives in
 *   the subscriber's final `end` event.
 * Producers hold an optional EventSink and skip all event work when it is absent.
 *
 * A subscriber that throws gets no further events; the producer carries on, and close()
 * rethrows the first such error.
 */
import { StrataError } from "./errors.js";
import { kindOf, walk, type Inode, type InodeKind } from "./fs/inode.js";
import type { VerifyFailure } from "./nydus/verify.js";
import { hex } from "./oci/verify.js";
import type { ChunkInfo, RafsInode } from "./rafs/types.js";

/** Which command emitted an event. */
export type EventSource = "convert" | "verify" | "diff" | "unpack";

/** One path of a tree: every path once (hardlinks once per path). */
export interface FileEvent {
  type: "file";
  source: EventSource;
  path: string;
  kind: InodeKind;
  /** Full st_mode, so setuid (0o4000) and setgid (0o2000) are visible. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Regular files: how many chunk events follow for this path. */
  chunks?: number;
  /** Hardlinks: the first path (in tree order) of the same inode. */
  linkOf?: string;
}

/** One chunk reference of a file (a chunk shared by several files appears once per reference). */
export interface ChunkEvent {
  type: "chunk";
  source: EventSource;
  path: string;
  /** Chunk index in the file. */
  index: number;
  /** Hex digest of the uncompressed chunk, with the image's digester. */
  digest: string;
  digester: "blake3" | "sha256";
  size: number;
  /** Whether the chunk was already in the image when this reference was added (convert), or a repeat of an earlier reference (verify). */
  deduplicated: boolean;
  /** The blob holding the chunk's data. */
  blobId: string;
}

/** A blob written (convert) or checked (verify). */
export interface BlobEvent {
  type: "blob";
  source: EventSource;
  blobId: string;
  /** Stored bytes. */
  size: number;
  chunks: number;
  uncompressedSize: number;
}

/** A failed verify check, exactly as listed in the verify report. */
export type VerifyFailureEvent = { type: "verify-failure"; source: "verify" } & VerifyFailure;

/** A difference between a directory and an image (see src/diff.ts). */
export interface DiffEvent {
  type: "diff";
  source: "diff";
  path: string;
  change: "added" | "removed" | "modified" | "changed";
  fields: string[];
}

export interface ProgressEvent {
  type: "progress";
  source: EventSource;
  phase: string;
  done: number;
  total: number;
}

/** The last event every subscriber receives, from close(). */
export interface EndEvent {
  type: "end";
  /** Events this subscriber lost to its drop policy (0 for "block"). */
  dropped: number;
}

export type StrataEvent = FileEvent | ChunkEvent | BlobEvent | VerifyFailureEvent | DiffEvent | ProgressEvent | EndEvent;

/** What producers hold. The promise, when returned, must be awaited before emitting again. */
export interface EventSink {
  emit(event: StrataEvent): Promise<void> | undefined;
}

export type SlowSubscriberPolicy = "block" | "drop";

export interface SubscribeOptions {
  /** Default "block". */
  policy?: SlowSubscriberPolicy;
  /** Events held for this subscriber before the policy applies (default 1024). */
  capacity?: number;
}

export type Subscriber = (event: StrataEvent) => void | Promise<void>;

const DEFAULT_CAPACITY = 1024;

/** One subscriber's queue and the loop delivering it. */
class Delivery {
  private queue: StrataEvent[] = [];
  private head = 0;
  private running = false;
  private idle: (() => void)[] = [];
  private room: (() => void)[] = [];
  dropped = 0;
  error: unknown;

  constructor(
    private readonly subscriber: Subscriber,
    readonly policy: SlowSubscriberPolicy,
    readonly capacity: number,
  ) {}

  get length(): number {
    return this.queue.length - this.head;
  }

  /** Queues `event`; returns a promise when the producer must wait for room ("block" only). */
  offer(event: StrataEvent): Promise<void> | undefined {
    if (this.error !== undefined) return undefined;
    if (this.length >= this.capacity) {
      if (this.policy === "drop") {
        this.dropped++;
        return undefined;
      }
      return new Promise<void>((resolve) => this.room.push(resolve)).then(() => this.offer(event));
    }
    this.push(event);
    return undefined;
  }

  /** Queues past the capacity: the end event is never dropped. */
  push(event: StrataEvent): void {
    this.queue.push(event);
    if (this.running) return;
    // Delivery starts on a microtask: subscriber code never runs inside emit().
    this.running = true;
    queueMicrotask(() => void this.run());
  }

  /** Settles once everything queued has been delivered. */
  drained(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private async run(): Promise<void> {
    while (this.length > 0) {
      const event = this.queue[this.head]!;
      this.queue[this.head++] = undefined as never;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      if (this.error === undefined) {
        try {
          await this.subscriber(event);
        } catch (e) {
          this.error = e;
        }
      }
      // One waiting producer per freed slot, in arrival order.
      this.room.shift()?.();
    }
    this.running = false;
    // A subscriber that failed frees every waiting producer.
    for (const wake of this.room.splice(0)) wake();
    for (const wake of this.idle.splice(0)) wake();
  }
}

/** Fans events out to subscribers, each with its own queue and slow-subscriber policy. */
export class EventBus implements EventSink {
  private readonly deliveries: Delivery[] = [];
  private closed = false;

  subscribe(subscriber: Subscriber, options: SubscribeOptions = {}): void {
    if (this.closed) throw new StrataError("INVALID_ARGUMENT", "subscribe after the event bus was closed");
    const capacity = options.capacity ?? DEFAULT_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1) throw new StrataError("INVALID_ARGUMENT", `event queue capacity ${capacity} is not a positive integer`, { capacity });
    const policy = options.policy ?? "block";
    if (policy !== "block" && policy !== "drop") throw new StrataError("INVALID_ARGUMENT", `unknown slow-subscriber policy ${JSON.stringify(policy)} (block, drop)`, { policy });
    this.deliveries.push(new Delivery(subscriber, policy, capacity));
  }

  emit(event: StrataEvent): Promise<void> | undefined {
    if (this.closed) throw new StrataError("INVALID_ARGUMENT", `event ${event.type} emitted after the event bus was closed`);
    let waits: Promise<void>[] | undefined;
    for (const d of this.deliveries) {
      const wait = d.offer(event);
      if (wait) (waits ??= []).push(wait);
    }
    if (!waits) return undefined;
    return waits.length === 1 ? waits[0] : Promise.all(waits).then(() => {});
  }

  /**
   * Sends each subscriber its `end` event (with its drop count), waits until every queue is
   * delivered, and rethrows the first subscriber error. Returns the drop counts in subscribe order.
   */
  async close(): Promise<number[]> {
    if (this.closed) throw new StrataError("INVALID_ARGUMENT", "the event bus is already closed");
    this.closed = true;
    for (const d of this.deliveries) d.push({ type: "end", dropped: d.dropped });
    await Promise.all(this.deliveries.map((d) => d.drained()));
    const failed = this.deliveries.find((d) => d.error !== undefined);
    if (failed) throw failed.error;
    return this.deliveries.map((d) => d.dropped);
  }
}

const FLUSH_CHARS = 64 << 10;

/**
 * A subscriber writing one JSON object per line (NDJSON), in batches of about 64 KiB: a partial
 * batch is written when the end event arrives.
 */
export function ndjsonSubscriber(write: (lines: string) => void | Promise<void>): Subscriber {
  let pending = "";
  return async (event) => {
    pending += JSON.stringify(event) + "\n";
    if (pending.length >= FLUSH_CHARS || event.type === "end") {
      const lines = pending;
      pending = "";
      await write(lines);
    }
  };
}

/** What chunk events need besides the tree. */
export interface ChunkContext {
  /** The blob table, for blob ids. */
  blobs: readonly { blobId: string }[];
  digester: "blake3" | "sha256";
  /** Default: an earlier reference in tree order named the same chunk of the same blob. */
  deduplicated?: (chunk: ChunkInfo) => boolean;
}

/** A file event for every path of a tree, in tree order, each followed by its chunk events when `chunking` is given. */
export async function emitTree(sink: EventSink, source: EventSource, root: RafsInode, chunking?: ChunkContext): Promise<void> {
  const seen = new Set<string>();
  const firstPath = new Map<Inode, string>();
  for (const [path, inode] of walk(root)) {
    const node = inode as RafsInode;
    const kind = kindOf(node.mode) ?? "file";
    const linkOf = kind === "dir" ? undefined : firstPath.get(node);
    if (kind !== "dir" && linkOf === undefined) firstPath.set(node, path);
    const chunks = chunking && node.chunks;
    const event: FileEvent = { type: "file", source, path, kind, mode: node.mode, uid: node.uid, gid: node.gid, size: node.size };
    if (chunks) event.chunks = chunks.length;
    if (linkOf !== undefined) event.linkOf = linkOf;
    await sink.emit(event);
    if (!chunking || !chunks) continue;
    for (const [index, chunk] of chunks.entries()) {
      const key = `${chunk.blobIndex}/${chunk.index}`;
      const repeat = seen.has(key);
      seen.add(key);
      await sink.emit({
        type: "chunk",
        source,
        path,
        index,
        digest: hex(chunk.digest),
        digester: chunking.digester,
        size: chunk.uncompressedSize,
        // A hardlink's other paths store nothing.
        deduplicated: linkOf !== undefined || (chunking.deduplicated ? chunking.deduplicated(chunk) : repeat),
        blobId: chunking.blobs[chunk.blobIndex]?.blobId ?? "",
      });
    }
  }
}

/**
 * For producers that report from synchronous code: emit() never waits; an event that arrives
 * while a backpressure wait is unfinished is chained behind it, so order holds. settle() returns
 * the unfinished wait, for the producer to await at its own await points (which bounds the chain).
 */
export function chainedEmitter(sink: EventSink): { emit(event: StrataEvent): void; settle(): Promise<void> | undefined } {
  let tail: Promise<void> | undefined;
  return {
    emit(event) {
      if (tail) tail = tail.then(() => sink.emit(event));
      else tail = sink.emit(event);
      const mine = tail;
      void mine?.then(() => {
        if (tail === mine) tail = undefined;
      });
    },
    settle: () => tail,
  };
}
