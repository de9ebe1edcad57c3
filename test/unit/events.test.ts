// The event stream: queue semantics (order, block backpressure, drop counts, subscriber errors)
// as properties, then the conversion's and verify's events checked against the image they
// describe, and slow subscribers that must neither change the output nor (with "drop") stall it.
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { isStrataError } from "../../src/errors.js";
import { chainedEmitter, EventBus, ndjsonSubscriber, type ChunkEvent, type FileEvent, type StrataEvent } from "../../src/events.js";
import { kindOf, walk } from "../../src/fs/inode.js";
import { openNydusLayout } from "../../src/nydus/image.js";
import { verifyNydusImage } from "../../src/nydus/verify.js";
import { hex } from "../../src/oci/verify.js";
import { nydusSource } from "../../src/unpack/sources.js";
import { unpack } from "../../src/unpack/unpack.js";
import { nodeTreeOutput } from "../../runtimes/node/tree-output.js";
import type { RafsInode } from "../../src/rafs/types.js";
import { nodePorts } from "../../runtimes/node/index.js";
import { commands } from "../../src/cli/commands/index.js";
import { runCli } from "../../src/cli/main.js";
import { randomLayout } from "../../src/oci/random.js";
import { convertRandom } from "../helpers/convert-random.js";
import { writeLayout } from "../helpers/random-image.js";
import { rafsKernels, type TestKernels } from "../helpers/rafs-kernels.js";
import { testKernels } from "../helpers/validate.js";

const progress = (done: number): StrataEvent => ({ type: "progress", source: "convert", phase: "test", done, total: 0 });
const doneOf = (e: StrataEvent) => (e.type === "progress" ? e.done : -1);
/** A promise and its resolver. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe("EventBus", () => {
  it("block: every event arrives in order; emit waits only when the queue is full", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 60 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }), async (capacity, n, slowPattern) => {
        const bus = new EventBus();
        const seen: StrataEvent[] = [];
        let i = 0;
        bus.subscribe(
          async (e) => {
            seen.push(e);
            if (slowPattern[i++ % slowPattern.length]) await new Promise((r) => setTimeout(r, 0));
          },
          { policy: "block", capacity },
        );
        let waited = 0;
        for (let k = 0; k < n; k++) {
          const wait = bus.emit(progress(k));
          if (wait) {
            waited++;
            await wait;
          }
        }
        expect(await bus.close()).toEqual([0]);
        expect(seen.map(doneOf)).toEqual([...Array.from({ length: n }, (_, k) => k), -1]);
        expect(seen.at(-1)).toEqual({ type: "end", dropped: 0 });
        // Delivery starts on a microtask, so a producer that never yields fills the queue
        // first: it waits exactly when it emits more than the queue holds.
        expect(waited > 0).toBe(n > capacity);
      }),
      { numRuns: 60 },
    );
  });

  it("drop: emit never waits; a stuck subscriber loses exactly the events past its capacity, and end counts them", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 50 }), async (capacity, n) => {
        const bus = new EventBus();
        const stuck = gate();
        const seen: StrataEvent[] = [];
        bus.subscribe(
          async (e) => {
            seen.push(e);
            await stuck.promise;
          },
          { policy: "drop", capacity },
        );
        const fast: StrataEvent[] = [];
        bus.subscribe((e) => void fast.push(e), { policy: "block", capacity: 100 });
        for (let k = 0; k < n; k++) expect(bus.emit(progress(k))).toBeUndefined();
        const closing = bus.close();
        stuck.open();
        // Nothing is delivered while the producer runs without yielding: the queue keeps the first `capacity`.
        const kept = Math.min(n, capacity);
        expect(await closing).toEqual([n - kept, 0]);
        expect(seen.map(doneOf)).toEqual([...Array.from({ length: kept }, (_, k) => k), -1]);
        expect(seen.at(-1)).toEqual({ type: "end", dropped: n - kept });
        expect(fast).toHaveLength(n + 1);
      }),
      { numRuns: 60 },
    );
  });

  it("a subscriber that throws stops receiving, never blocks the producer, and close() rethrows its error", async () => {
    const bus = new EventBus();
    let calls = 0;
    bus.subscribe(
      () => {
        calls++;
        throw new Error("scanner crashed");
      },
      { capacity: 1 },
    );
    for (let k = 0; k < 10; k++) await bus.emit(progress(k));
    await expect(bus.close()).rejects.toThrow("scanner crashed");
    expect(calls).toBe(1);
  });

  it("subscriber code never runs inside emit(): a throwing subscriber cannot reach the producer", async () => {
    const bus = new EventBus();
    let calls = 0;
    bus.subscribe(() => {
      calls++;
      throw new Error("inside");
    });
    expect(bus.emit(progress(0))).toBeUndefined();
    expect(calls).toBe(0);
    await expect(bus.close()).rejects.toThrow("inside");
    expect(calls).toBe(1);
  });

  it("bad options and use after close are typed errors", async () => {
    const bus = new EventBus();
    for (const options of [{ capacity: 0 }, { capacity: 1.5 }, { policy: "spill" as never }]) {
      expect(() => bus.subscribe(() => {}, options)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    }
    await bus.close();
    let error: unknown;
    try {
      bus.emit(progress(0));
    } catch (e) {
      error = e;
    }
    expect(isStrataError(error, "INVALID_ARGUMENT")).toBe(true);
  });

  it("chainedEmitter keeps order across backpressure waits from synchronous code", async () => {
    const bus = new EventBus();
    const seen: number[] = [];
    bus.subscribe(
      async (e) => {
        await new Promise((r) => setTimeout(r, 0));
        seen.push(doneOf(e));
      },
      { capacity: 2 },
    );
    const send = chainedEmitter(bus);
    for (let k = 0; k < 20; k++) send.emit(progress(k));
    await send.settle();
    expect(send.settle()).toBeUndefined();
    await bus.close();
    expect(seen).toEqual([...Array.from({ length: 20 }, (_, k) => k), -1]);
  });

  it("ndjsonSubscriber writes one parseable line per event, batched, the rest on end", async () => {
    const writes: string[] = [];
    const bus = new EventBus();
    bus.subscribe(ndjsonSubscriber((b) => void writes.push(b)));
    const n = 3000;
    for (let k = 0; k < n; k++) await bus.emit(progress(k));
    await bus.close();
    expect(writes.length).toBeGreaterThan(1);
    expect(writes.length).toBeLessThan(n / 10);
    const lines = writes.join("").split("\n");
    expect(lines.pop()).toBe("");
    expect(lines.map((l) => doneOf(JSON.parse(l)))).toEqual([...Array.from({ length: n }, (_, k) => k), -1]);
  });
});

describe("conversion and verify events", () => {
  let work: string;
  let kernels: TestKernels;
  const files = nodeFilesPort();
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "strata-events-"));
    kernels = await rafsKernels();
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /** sha256 of every file of a layout, by name. */
  const layoutHashes = (dir: string) => {
    const out = new Map<string, string>();
    for (const name of readdirSync(join(dir, "blobs/sha256"))) out.set(name, createHash("sha256").update(readFileSync(join(dir, "blobs/sha256", name))).digest("hex"));
    out.set("index.json", createHash("sha256").update(readFileSync(join(dir, "index.json"))).digest("hex"));
    return out;
  };

  it.each([
    { digester: "blake3" as const, seed: 7 },
    { digester: "sha256" as const, seed: 8, singleBlob: true },
  ])("convert ($digester): every path and every chunk reference of the bootstrap exactly once", async ({ seed, ...options }) => {
    const dir = join(work, `convert-${seed}`);
    const bus = new EventBus();
    const events: StrataEvent[] = [];
    bus.subscribe((e) => void events.push(e));
    await convertRandom(dir, { seed, ...options, events: bus });
    await bus.close();

    const nydus = await openNydusLayout(files, dir, { kernels: (await testKernels()).kernels });
    const rafs = nydus.rafs!;
    const expectedFiles = [...walk(rafs.root)].map(([path, inode]) => ({ path, kind: kindOf(inode.mode), mode: inode.mode, uid: inode.uid, gid: inode.gid, size: inode.size }));
    const fileEvents = events.filter((e): e is FileEvent => e.type === "file");
    expect(fileEvents.map(({ path, kind, mode, uid, gid, size }) => ({ path, kind, mode, uid, gid, size }))).toEqual(expectedFiles);

    const expectedChunks: string[] = [];
    const stored = new Set<string>();
    for (const [path, inode] of walk(rafs.root)) {
      for (const [i, c] of ((inode as RafsInode).chunks ?? []).entries()) {
        expectedChunks.push(`${path}#${i} ${hex(c.digest)} ${c.uncompressedSize} ${rafs.blobs[c.blobIndex]!.blobId}`);
        stored.add(`${c.blobIndex}/${c.index}`);
      }
    }
    const chunkEvents = events.filter((e): e is ChunkEvent => e.type === "chunk");
    expect(chunkEvents.map((c) => `${c.path}#${c.index} ${c.digest} ${c.size} ${c.blobId}`)).toEqual(expectedChunks);
    expect(chunkEvents.every((c) => c.digester === options.digester)).toBe(true);
    expect(expectedChunks.length).toBeGreaterThan(20);
    // Each stored chunk was new exactly once, unless a file removed by a later layer stored it.
    const fresh = chunkEvents.filter((c) => !c.deduplicated);
    expect(fresh.length).toBeLessThanOrEqual(stored.size);
    expect(new Set(fresh.map((c) => `${c.blobId}/${c.digest}`)).size).toBe(fresh.length);
    expect(chunkEvents.some((c) => c.deduplicated)).toBe(true);

    const blobEvents = events.filter((e) => e.type === "blob");
    expect(blobEvents.map((b) => b.type === "blob" && b.blobId).sort()).toEqual(rafs.blobs.map((b) => b.blobId).sort());
    expect(events.at(-1)).toEqual({ type: "end", dropped: 0 });
  });

  it("a slow subscriber with the block policy does not change a single output byte", async () => {
    const plain = join(work, "plain");
    await convertRandom(plain, { seed: 11 });
    const slow = join(work, "slow");
    const bus = new EventBus();
    let received = 0;
    bus.subscribe(
      async () => {
        received++;
        await new Promise((r) => setTimeout(r, 0));
      },
      { policy: "block", capacity: 4 },
    );
    await convertRandom(slow, { seed: 11, events: bus });
    expect(await bus.close()).toEqual([0]);
    expect(received).toBeGreaterThan(50);
    expect(layoutHashes(slow)).toEqual(layoutHashes(plain));
  });

  it("with the drop policy a stuck subscriber never stalls the conversion and its end event counts the drops", async () => {
    const bus = new EventBus();
    const stuck = gate();
    const seen: StrataEvent[] = [];
    bus.subscribe(
      async (e) => {
        seen.push(e);
        await stuck.promise;
      },
      { policy: "drop", capacity: 8 },
    );
    // Completes while the subscriber has not returned from its first event.
    await convertRandom(join(work, "dropped"), { seed: 12, events: bus });
    expect(seen).toHaveLength(1);
    stuck.open();
    const [dropped] = await bus.close();
    expect(dropped).toBeGreaterThan(0);
    expect(seen.at(-1)).toEqual({ type: "end", dropped });
    expect(seen).toHaveLength(1 + 8 + 1);
  });

  it("unpack: a file event for every path of the tree, hardlinks naming their first path", async () => {
    const dir = join(work, "unpack-src");
    await convertRandom(dir, { seed: 14 });
    const nydus = await openNydusLayout(files, dir, { kernels: (await testKernels()).kernels });
    const bus = new EventBus();
    const events: StrataEvent[] = [];
    bus.subscribe((e) => void events.push(e));
    await unpack(nydusSource(nydus, kernels), nodeTreeOutput, join(work, "unpacked"), { events: bus });
    await bus.close();
    const first = new Map<unknown, string>();
    const expected = [...walk(nydus.rafs!.root)].map(([path, inode]) => {
      const linkOf = kindOf(inode.mode) === "dir" ? undefined : first.get(inode);
      if (kindOf(inode.mode) !== "dir" && linkOf === undefined) first.set(inode, path);
      return { path, linkOf };
    });
    expect(expected.some((e) => e.linkOf)).toBe(true);
    expect(events.filter((e): e is FileEvent => e.type === "file").map((e) => ({ path: e.path, linkOf: e.linkOf }))).toEqual(expected);
    expect(events.filter((e) => e.type === "chunk")).toEqual([]);
  });

  it("CLI: --events FILE on convert and unpack, --events - on verify keeps stdout to NDJSON (the report goes to stderr)", async () => {
    const run = async (...argv: string[]) => {
      let stdout = "";
      let stderr = "";
      const code = await runCli(argv, commands, { ports: nodePorts(), stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), isTTY: false });
      return { code, stdout, stderr };
    };
    const src = join(work, "cli-src");
    writeLayout(src, await randomLayout((await testKernels()).kernels, { seed: 15, layers: 2, entries: 20 }));
    const file = join(work, "convert.ndjson");
    const converted = await run("convert", `oci:${src}`, `oci:${join(work, "cli-out")}:latest`, "--chunk-size", "4K", "--events", file, "--json");
    expect(converted.code).toBe(0);
    expect(JSON.parse(converted.stdout).stats.chunks).toBeGreaterThan(0);
    const convertEvents = readFileSync(file, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as StrataEvent);
    expect(convertEvents.filter((e) => e.type === "chunk")).toHaveLength(JSON.parse(converted.stdout).stats.chunks);
    expect(convertEvents.at(-1)).toEqual({ type: "end", dropped: 0 });

    const verified = await run("verify", `oci:${join(work, "cli-out")}:latest`, "--events", "-", "--json");
    expect(verified.code).toBe(0);
    const verifyEvents = verified.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as StrataEvent);
    expect(verifyEvents.every((e) => typeof e.type === "string")).toBe(true);
    expect(verifyEvents.filter((e) => e.type === "chunk")).toHaveLength(JSON.parse(verified.stderr).counts.chunks);
    expect(JSON.parse(verified.stderr).ok).toBe(true);

    const unpackFile = join(work, "unpack.ndjson");
    const unpacked = await run("unpack", `oci:${join(work, "cli-out")}:latest`, join(work, "cli-unpacked"), "--events", unpackFile, "--json");
    expect(unpacked.code, unpacked.stderr).toBe(0);
    const unpackEvents = readFileSync(unpackFile, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as StrataEvent);
    const summary = JSON.parse(unpacked.stdout);
    expect(unpackEvents.filter((e) => e.type === "file" && e.source === "unpack").length).toBeGreaterThanOrEqual(summary.files);
    expect(unpackEvents.at(-1)).toEqual({ type: "end", dropped: 0 });
  });

  it("verify: events list the failures of the report, in order, on a corrupted image", async () => {
    const dir = join(work, "corrupt");
    await convertRandom(dir, { seed: 13, compressor: "none" });
    const nydus0 = await openNydusLayout(files, dir, { kernels: (await testKernels()).kernels });
    const info = nydus0.rafs!.blobs[0]!;
    const path = join(dir, "blobs/sha256", info.blobId);
    const bytes = readFileSync(path);
    // Damage the data of three chunks: chunk failures plus blob-id and section digest failures.
    const chunks = [...walk(nydus0.rafs!.root)].flatMap(([, n]) => (n as RafsInode).chunks ?? []).filter((c) => c.blobIndex === 0);
    for (const c of chunks.slice(0, 3)) bytes[c.compressedOffset] ^= 0x40;
    writeFileSync(path, bytes);

    const nydus = await openNydusLayout(files, dir, { kernels: (await testKernels()).kernels });
    const bus = new EventBus();
    const events: StrataEvent[] = [];
    bus.subscribe(
      async (e) => {
        events.push(e);
        await new Promise((r) => setTimeout(r, 0));
      },
      { capacity: 2 },
    );
    const report = await verifyNydusImage(nydus, kernels, { events: bus });
    await bus.close();
    expect(report.ok).toBe(false);
    expect(report.failures.filter((f) => f.check === "chunk").length).toBeGreaterThanOrEqual(3);
    const failures = events.filter((e) => e.type === "verify-failure").map(({ type: _t, source: _s, ...f }) => f);
    expect(failures).toEqual(report.failures);
    const last = events.filter((e) => e.type === "progress").at(-1);
    expect(last).toMatchObject({ phase: "chunks", done: report.counts.chunks, total: report.counts.chunks });
    expect(events.filter((e) => e.type === "chunk")).toHaveLength(report.counts.chunks);
  });
});
