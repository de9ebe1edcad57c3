// The FUSE protocol codecs and the session, without a kernel: requests are built at the byte
// offsets of include/uapi/linux/fuse.h, replies decoded the same way.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { isStrataError } from "../../src/errors.js";
import { S_IFDIR, S_IFLNK, S_IFREG } from "../../src/fs/inode.js";
import { decodeRequest, DIRENT_SIZE, encodeDirents, ENTRY_OUT_SIZE, Errno, IN_HEADER_SIZE, InitFlag, Opcode, OUT_HEADER_SIZE } from "../../src/fuse/protocol.js";
import { rafsFs, type FileContent } from "../../src/fuse/rafs-fs.js";
import { fuseSession } from "../../src/fuse/session.js";
import type { ChunkInfo, RafsImage, RafsInode } from "../../src/rafs/types.js";

const utf8 = new TextEncoder();
let unique = 100n;

/** A request as the kernel lays it out: fuse_in_header, then the argument bytes. */
function request(opcode: number, nodeid: number, body: Uint8Array = new Uint8Array(0), uid = 0): Uint8Array {
  const out = new Uint8Array(IN_HEADER_SIZE + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, out.length, true);
  v.setUint32(4, opcode, true);
  v.setBigUint64(8, ++unique, true);
  v.setBigUint64(16, BigInt(nodeid), true);
  v.setUint32(24, uid, true);
  v.setUint32(28, uid, true);
  v.setUint32(32, 4242, true);
  out.set(body, IN_HEADER_SIZE);
  return out;
}

function u32s(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  values.forEach((x, i) => new DataView(out.buffer).setUint32(i * 4, x, true));
  return out;
}

/** fuse_read_in: fh, offset, size (READ, READDIR, READDIRPLUS). */
function readIn(offset: number, size: number): Uint8Array {
  const out = new Uint8Array(40);
  const v = new DataView(out.buffer);
  v.setBigUint64(8, BigInt(offset), true);
  v.setUint32(16, size, true);
  return out;
}

const nameArg = (name: string) => utf8.encode(name + "\0");
const concat = (a: Uint8Array, b: Uint8Array) => new Uint8Array([...a, ...b]);

interface Reply {
  error: number;
  unique: bigint;
  body: Uint8Array;
  v: DataView;
}

function parse(bytes: Uint8Array | undefined): Reply {
  expect(bytes).toBeDefined();
  const v = new DataView(bytes!.buffer, bytes!.byteOffset, bytes!.byteLength);
  expect(v.getUint32(0, true)).toBe(bytes!.length);
  const body = bytes!.subarray(OUT_HEADER_SIZE);
  return { error: 0 - v.getInt32(4, true), unique: v.getBigUint64(8, true), body, v: new DataView(body.buffer, body.byteOffset, body.byteLength) };
}

// A small tree: /file (3 chunks of 5, 5 and 3 bytes), /dir/inner, /link -> file, /hard = /file, xattrs on /dir.
const content = utf8.encode("0123456789abc");
const chunkAt = (fileOffset: number, size: number, index: number): ChunkInfo => ({
  digest: new Uint8Array(32),
  blobIndex: 0,
  flags: 0,
  compressedOffset: fileOffset,
  compressedSize: size,
  uncompressedOffset: fileOffset,
  uncompressedSize: size,
  fileOffset,
  index,
  crc32: 0,
});
const base = { uid: 0, gid: 0, mtime: 1700000000, mtimeNsec: 5, rdev: 0, xattrs: new Map<string, Uint8Array>() };
const file: RafsInode = { ...base, mode: S_IFREG | 0o640, uid: 1000, gid: 1000, size: content.length, nid: 77, chunks: [chunkAt(0, 5, 0), chunkAt(5, 5, 1), chunkAt(10, 3, 2)] };
const inner: RafsInode = { ...base, mode: S_IFREG | 0o600, size: 0, nid: 78, chunks: [] };
const dir: RafsInode = { ...base, mode: S_IFDIR | 0o755, size: 0, nid: 79, entries: new Map([["inner", inner]]), xattrs: new Map([["user.k", utf8.encode("value")], ["trusted.t", utf8.encode("t")]]) };
const link: RafsInode = { ...base, mode: S_IFLNK | 0o777, size: 4, nid: 80, target: "file" };
const root: RafsInode = { ...base, mode: S_IFDIR | 0o755, size: 0, nid: 36, entries: new Map<string, RafsInode>([["file", file], ["dir", dir], ["link", link], ["hard", file]]) };
const image: RafsImage = { version: 6, root, blobs: [], chunkSize: 5, digester: "blake3", compressor: "none", flags: 0, prefetch: [] };
/** File bytes as LazyImage.readInode hands them out; `fail` decides which chunks cannot be read. */
function contentOf(fail: (chunk: ChunkInfo, index: number, path: string) => Error | undefined = () => undefined): FileContent {
  return {
    async readInode(inode, path, offset, length) {
      const end = Math.min(inode.size, offset + length);
      (inode.chunks ?? []).forEach((c, i) => {
        const error = c.fileOffset < end && c.fileOffset + c.uncompressedSize > offset ? fail(c, i, path) : undefined;
        if (error) throw error;
      });
      return content.slice(Math.min(offset, end), end);
    },
  };
}
const goodChunks = contentOf();

async function started(chunks: FileContent = goodChunks, options: Parameters<typeof fuseSession>[1] = {}) {
  const session = fuseSession(rafsFs(image, chunks), options);
  const init = parse(await session.handle(request(Opcode.INIT, 0, u32s(7, 45, 131072, 0xffffffff, 0))));
  return { session, init };
}

async function lookup(session: Awaited<ReturnType<typeof started>>["session"], parent: number, name: string): Promise<Reply> {
  return parse(await session.handle(request(Opcode.LOOKUP, parent, nameArg(name))));
}

describe("protocol codecs", () => {
  test("decodeRequest reads fuse_in_header and refuses short or inconsistent requests", () => {
    const { header, body } = decodeRequest(request(Opcode.LOOKUP, 9, nameArg("x"), 1234));
    expect(header).toMatchObject({ len: IN_HEADER_SIZE + 2, opcode: Opcode.LOOKUP, unique, nodeid: 9, uid: 1234, gid: 1234, pid: 4242 });
    expect([...body]).toEqual([0x78, 0]);
    expect(() => decodeRequest(new Uint8Array(39))).toThrow(/shorter/);
    const lying = request(Opcode.GETATTR, 1);
    new DataView(lying.buffer).setUint32(0, 999, true);
    expect(() => decodeRequest(lying)).toThrow(/999/);
  });

  test("dirents are 8-byte aligned records that never exceed the buffer, and decode back (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 40 }), { maxLength: 20 }), fc.integer({ min: 0, max: 2000 }), fc.boolean(), (names, max, plus) => {
        const entries = names.map((n, i) => ({ name: utf8.encode(n), ino: 1000 + i, mode: S_IFREG, next: i + 1, nodeid: 5 + i, attr: undefined }));
        const out = encodeDirents(entries, max, plus, { entry: 1, attr: 1 });
        expect(out.length).toBeLessThanOrEqual(max);
        const v = new DataView(out.buffer);
        let at = 0;
        let i = 0;
        while (at < out.length) {
          expect(at % 8).toBe(0);
          if (plus) {
            expect(Number(v.getBigUint64(at, true))).toBe(5 + i);
            at += ENTRY_OUT_SIZE;
          }
          expect(Number(v.getBigUint64(at, true))).toBe(1000 + i);
          expect(Number(v.getBigUint64(at + 8, true))).toBe(i + 1);
          const len = v.getUint32(at + 16, true);
          expect(v.getUint32(at + 20, true)).toBe(8); // DT_REG
          expect(new TextDecoder().decode(out.subarray(at + DIRENT_SIZE, at + DIRENT_SIZE + len))).toBe(names[i]);
          at += (DIRENT_SIZE + len + 7) & ~7;
          i++;
        }
        // Whatever did not fit is the next entry: nothing is skipped.
        if (i < names.length) expect(at + (plus ? ENTRY_OUT_SIZE : 0) + ((DIRENT_SIZE + utf8.encode(names[i]!).length + 7) & ~7)).toBeGreaterThan(max);
      }),
    );
  });
});

describe("session", () => {
  test("INIT answers 7.31 with only the flags the kernel offered and strata wants, and 1 MiB reads", async () => {
    const { init } = await started();
    expect(init.error).toBe(0);
    expect(init.body.length).toBe(64);
    expect([init.v.getUint32(0, true), init.v.getUint32(4, true)]).toEqual([7, 31]);
    const flags = init.v.getUint32(12, true);
    expect(flags & InitFlag.DO_READDIRPLUS).toBeTruthy();
    expect(flags & InitFlag.MAX_PAGES).toBeTruthy();
    expect(flags & InitFlag.BIG_WRITES).toBe(0);
    expect(init.v.getUint16(28, true)).toBe(256);

    const session = fuseSession(rafsFs(image, goodChunks));
    const offered = parse(await session.handle(request(Opcode.INIT, 0, u32s(7, 45, 131072, InitFlag.ASYNC_READ, 0))));
    expect(offered.v.getUint32(12, true)).toBe(InitFlag.ASYNC_READ);
  });

  test("malformed requests are reported and answered with EIO when their unique is readable, never thrown", async () => {
    const failures: unknown[] = [];
    const { session } = await started(goodChunks, { onError: (e) => failures.push(e) });
    const lying = request(Opcode.GETATTR, 1, new Uint8Array(16));
    new DataView(lying.buffer).setUint32(0, 999, true);
    const reply = parse(await session.handle(lying));
    expect([reply.error, reply.unique]).toEqual([Errno.EIO, unique]);
    expect(await session.handle(new Uint8Array(10))).toBeUndefined();
    expect(await session.handle(request(Opcode.BATCH_FORGET, 0, u32s(3, 0)))).toBeUndefined();
    expect(failures.map((e) => isStrataError(e, "INVALID_ARGUMENT"))).toEqual([true, true, true]);
  });

  test("requests before INIT are EIO; a major version other than 7 is EPROTO", async () => {
    const session = fuseSession(rafsFs(image, goodChunks));
    expect(parse(await session.handle(request(Opcode.GETATTR, 1, new Uint8Array(16)))).error).toBe(Errno.EIO);
    expect(parse(await session.handle(request(Opcode.INIT, 0, u32s(8, 0, 0, 0, 0)))).error).toBe(Errno.EPROTO);
  });

  test("LOOKUP and GETATTR: st_ino is the nid, hardlinks share one node with nlink 2, absent names are negative entries", async () => {
    const { session } = await started();
    const f = await lookup(session, 1, "file");
    const nodeid = Number(f.v.getBigUint64(0, true));
    const attr = 40;
    expect(Number(f.v.getBigUint64(attr, true))).toBe(77);
    expect(Number(f.v.getBigUint64(attr + 8, true))).toBe(content.length);
    expect(Number(f.v.getBigUint64(attr + 32, true))).toBe(1700000000);
    expect(f.v.getUint32(attr + 52, true)).toBe(5);
    expect(f.v.getUint32(attr + 60, true)).toBe(S_IFREG | 0o640);
    expect(f.v.getUint32(attr + 64, true)).toBe(2);
    expect([f.v.getUint32(attr + 68, true), f.v.getUint32(attr + 72, true)]).toEqual([1000, 1000]);
    expect(Number((await lookup(session, 1, "hard")).v.getBigUint64(0, true))).toBe(nodeid);

    const missing = await lookup(session, 1, "nope");
    expect(missing.error).toBe(0);
    expect(missing.v.getBigUint64(0, true)).toBe(0n);
    expect(missing.v.getBigUint64(16, true)).toBeGreaterThan(0n); // the absence may be cached

    const rootAttr = parse(await session.handle(request(Opcode.GETATTR, 1, new Uint8Array(16))));
    expect(rootAttr.v.getUint32(16 + 60, true)).toBe(S_IFDIR | 0o755);
    expect(rootAttr.v.getUint32(16 + 64, true)).toBe(3); // ".", its entry in "..", and dir/..
    expect(parse(await session.handle(request(Opcode.GETATTR, 999, new Uint8Array(16)))).error).toBe(Errno.ENOENT);
    expect((await lookup(session, nodeid, "x")).error).toBe(Errno.ENOTDIR);
  });

  test("READ returns exactly the bytes of any range, clamped to the end (property)", async () => {
    const { session } = await started();
    const nodeid = Number((await lookup(session, 1, "file")).v.getBigUint64(0, true));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 }), async (offset, size) => {
        const r = parse(await session.handle(request(Opcode.READ, nodeid, readIn(offset, size))));
        expect(r.error).toBe(0);
        expect([...r.body]).toEqual([...content.slice(offset, offset + size)]);
      }),
    );
  });

  test("READDIR and READDIRPLUS resumed from each reply's last offset list '.', '..' and every entry once, whatever the buffer size (property)", async () => {
    const { session } = await started();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 600 }), fc.boolean(), async (extra, plus) => {
        // At least one entry must fit (the kernel offers a page).
        const size = (plus ? ENTRY_OUT_SIZE : 0) + 32 + extra;
        const names: string[] = [];
        let offset = 0;
        for (let round = 0; round < 20; round++) {
          const r = parse(await session.handle(request(plus ? Opcode.READDIRPLUS : Opcode.READDIR, 1, readIn(offset, size))));
          expect(r.error).toBe(0);
          if (r.body.length === 0) break;
          for (let at = 0; at < r.body.length; ) {
            if (plus) at += ENTRY_OUT_SIZE;
            offset = Number(r.v.getBigUint64(at + 8, true));
            const len = r.v.getUint32(at + 16, true);
            names.push(new TextDecoder().decode(r.body.subarray(at + DIRENT_SIZE, at + DIRENT_SIZE + len)));
            at += (DIRENT_SIZE + len + 7) & ~7;
          }
        }
        expect(names).toEqual([".", "..", ...root.entries!.keys()]);
      }),
    );
  });

  test("READLINK, xattrs (size probe, ERANGE, ENODATA, name list) and statfs", async () => {
    const { session } = await started();
    const linkNode = Number((await lookup(session, 1, "link")).v.getBigUint64(0, true));
    expect(new TextDecoder().decode(parse(await session.handle(request(Opcode.READLINK, linkNode))).body)).toBe("file");
    const dirNode = Number((await lookup(session, 1, "dir")).v.getBigUint64(0, true));
    const getx = (size: number, name: string) => session.handle(request(Opcode.GETXATTR, dirNode, concat(u32s(size, 0), nameArg(name)))).then(parse);
    expect((await getx(0, "user.k")).v.getUint32(0, true)).toBe(5);
    expect((await getx(2, "user.k")).error).toBe(Errno.ERANGE);
    expect(new TextDecoder().decode((await getx(100, "user.k")).body)).toBe("value");
    expect((await getx(100, "user.none")).error).toBe(Errno.ENODATA);
    const list = parse(await session.handle(request(Opcode.LISTXATTR, dirNode, u32s(100, 0))));
    expect(new TextDecoder().decode(list.body)).toBe("user.k\0trusted.t\0");
    const statfs = parse(await session.handle(request(Opcode.STATFS, 1)));
    expect(statfs.v.getUint32(40, true)).toBe(4096);
    expect(Number(statfs.v.getBigUint64(24, true))).toBe(5); // root, file (twice linked), dir, inner, link
  });

  test("writes are EROFS, unknown opcodes ENOSYS, FORGET and INTERRUPT get no reply, ACCESS checks the mode", async () => {
    const { session } = await started();
    const fileNode = Number((await lookup(session, 1, "file")).v.getBigUint64(0, true));
    for (const op of [Opcode.WRITE, Opcode.MKDIR, Opcode.SETATTR, Opcode.CREATE, Opcode.UNLINK, Opcode.SETXATTR]) {
      expect(parse(await session.handle(request(op, 1, new Uint8Array(64)))).error, `opcode ${op}`).toBe(Errno.EROFS);
    }
    expect(parse(await session.handle(request(Opcode.OPEN, fileNode, u32s(1, 0)))).error).toBe(Errno.EROFS); // O_WRONLY
    expect(parse(await session.handle(request(Opcode.OPEN, fileNode, u32s(0, 0)))).error).toBe(0);
    expect(parse(await session.handle(request(Opcode.OPEN, 1, u32s(0, 0)))).error).toBe(Errno.EISDIR);
    expect(parse(await session.handle(request(99, 1))).error).toBe(Errno.ENOSYS);
    expect(await session.handle(request(Opcode.FORGET, fileNode, new Uint8Array(8)))).toBeUndefined();
    expect(await session.handle(request(Opcode.BATCH_FORGET, 0, concat(u32s(1, 0), new Uint8Array(16))))).toBeUndefined();
    expect(parse(await session.handle(request(Opcode.ACCESS, fileNode, u32s(4, 0), 1000))).error).toBe(0); // owner may read
    expect(parse(await session.handle(request(Opcode.ACCESS, fileNode, u32s(4, 0), 2000))).error).toBe(Errno.EACCES); // others may not
    expect(parse(await session.handle(request(Opcode.ACCESS, fileNode, u32s(2, 0)))).error).toBe(Errno.EROFS);
    expect(session.destroyed).toBe(false);
    expect(parse(await session.handle(request(Opcode.DESTROY, 0))).error).toBe(0);
    expect(session.destroyed).toBe(true);
  });

  test("a chunk that fails to read is EIO for READ (reported), never other bytes; a read that never ends is EIO after the timeout", async () => {
    const failures: unknown[] = [];
    const bad = contentOf((c, i, path) => (c.index === 1 ? new Error(`chunk ${i} of ${path} does not match its digest`) : undefined));
    const { session } = await started(bad, { onError: (e) => failures.push(e) });
    const fileNode = Number((await lookup(session, 1, "file")).v.getBigUint64(0, true));
    expect(parse(await session.handle(request(Opcode.READ, fileNode, readIn(0, 13)))).error).toBe(Errno.EIO);
    expect(String(failures[0])).toMatch(/chunk 1 of \/file/);
    expect([...parse(await session.handle(request(Opcode.READ, fileNode, readIn(0, 5)))).body]).toEqual([...content.slice(0, 5)]);

    const stalled = await started({ readInode: () => new Promise<Uint8Array>(() => {}) }, { readTimeoutMs: 20 });
    const node = Number((await lookup(stalled.session, 1, "file")).v.getBigUint64(0, true));
    expect(parse(await stalled.session.handle(request(Opcode.READ, node, readIn(0, 4)))).error).toBe(Errno.EIO);
  });
});
