/**
 * Unpacks a flattened tree into a directory through a TreeOutput: the whole tree is validated
 * first (planTree), then written into a temporary sibling in an order that never needs to pass
 * through anything but a directory this unpack created:
 *   1. directories (owner-only until the end, so the tree stays writable),
 *   2. regular files with their content, then hardlinks, symlinks and device nodes,
 *   3. ownership (before modes: chown clears setuid/setgid), then xattrs (after chown, which
 *      clears security.capability), then modes and mtimes of non-directories,
 *   4. modes and mtimes of directories, deepest first (writing children changes a directory's mtime),
 * and renamed into place at the end. Any failure removes the temporary tree.
 */
import { StrataError } from "../errors.js";
import { emitTree, type EventSink } from "../events.js";
import { devMajor, devMinor, type Inode } from "../fs/inode.js";
import type { TreeOutput, TreeOutputPort, TreePath } from "../ports.js";
import { planTree, showPath, type PlannedEntry } from "./plan.js";

/** Where an unpack reads its tree and file contents from (a Nydus image or a flattened OCI image). */
export interface UnpackSource {
  readonly root: Inode;
  /**
   * Calls `write` once for each regular file of `files` (inode → its first path), with its
   * content, in whatever order the source reads fastest. Content is verified by the source.
   */
  contents(files: ReadonlyMap<Inode, TreePath>, write: (inode: Inode, content: AsyncIterable<Uint8Array>) => Promise<void>): Promise<void>;
}

export interface UnpackOptions {
  /** Replace a non-empty destination directory (default: refuse). */
  replace?: boolean;
  /** Receives a file event for every path once the tree is in place. */
  events?: EventSink;
}

export interface UnpackResult {
  dir: string;
  dirs: number;
  files: number;
  hardlinks: number;
  symlinks: number;
  /** Device nodes and fifos. */
  specials: number;
  /** Bytes of regular file content written. */
  bytes: number;
  /** Entries not restored, with why (sockets; devices and ownership without privileges). */
  skipped: { path: string; reason: string }[];
}

export async function unpack(source: UnpackSource, port: TreeOutputPort, dir: string, options: UnpackOptions = {}): Promise<UnpackResult> {
  const plan = planTree(source.root);
  const out = await port.begin(dir, { replace: options.replace ?? false });
  try {
    const result = await write(plan, source, out, dir);
    await out.commit();
    if (options.events) await emitTree(options.events, "unpack", source.root);
    return result;
  } catch (e) {
    await out.abort();
    throw e;
  }
}

async function write(plan: readonly PlannedEntry[], source: UnpackSource, out: TreeOutput, dir: string): Promise<UnpackResult> {
  const result: UnpackResult = { dir, dirs: 0, files: 0, hardlinks: 0, symlinks: 0, specials: 0, bytes: 0, skipped: [] };

  for (const e of plan) {
    if (e.kind !== "dir") continue;
    if (e.path.length) await out.mkdir(e.path);
    result.dirs++;
  }

  const files = new Map<Inode, TreePath>();
  for (const e of plan) if (e.kind === "file" && !e.linkOf) files.set(e.inode, e.path);
  await source.contents(files, async (inode, content) => {
    const path = files.get(inode);
    if (!path) throw new StrataError("INVALID_ARGUMENT", "the source wrote a file the plan does not hold");
    files.delete(inode);
    const n = await out.writeFile(path, content);
    if (n !== inode.size) throw new StrataError("DIGEST_MISMATCH", `${showPath(path)}: ${n} bytes of content, the tree says ${inode.size}`, { path: showPath(path) });
    result.bytes += n;
    result.files++;
  });
  const missing = files.values().next();
  if (!missing.done) throw new StrataError("NOT_FOUND", `the source has no content for ${showPath(missing.value)}`, { path: showPath(missing.value) });

  // Non-directories whose metadata is set below: once per inode (hardlinks share it).
  const created = plan.filter((e) => e.kind === "file" && !e.linkOf);
  const skippedInodes = new Set<Inode>();
  for (const e of plan) {
    if (e.kind === "dir" || (e.kind === "file" && !e.linkOf)) continue;
    if (e.linkOf) {
      if (skippedInodes.has(e.inode)) {
        result.skipped.push({ path: showPath(e.path), reason: `hardlink to ${showPath(e.linkOf)}, which was skipped` });
        continue;
      }
      await out.link(e.linkOf, e.path);
      result.hardlinks++;
      continue;
    }
    switch (e.kind) {
      case "symlink":
        await out.symlink(e.path, e.inode.target!);
        result.symlinks++;
        break;
      case "fifo":
      case "chardev":
      case "blockdev":
        if (e.kind !== "fifo" && !out.privileged) {
          skip(e, `${e.kind} needs privileges`);
          continue;
        }
        await out.mknod(e.path, e.kind, devMajor(e.inode.rdev), devMinor(e.inode.rdev));
        result.specials++;
        break;
      case "socket":
        skip(e, "sockets cannot be created by unpacking");
        continue;
    }
    created.push(e);
  }

  function skip(e: PlannedEntry, reason: string): void {
    skippedInodes.add(e.inode);
    result.skipped.push({ path: showPath(e.path), reason });
  }

  const dirs = plan.filter((e) => e.kind === "dir");
  const owned = [...created, ...dirs];
  if (out.privileged) for (const e of owned) await out.chown(e.path, e.inode.uid, e.inode.gid);
  else if (owned.some((e) => e.inode.uid !== 0 || e.inode.gid !== 0)) result.skipped.push({ path: "/", reason: "ownership needs privileges" });
  const xattrs = owned.filter((e) => e.inode.xattrs.size > 0).map((e) => ({ path: e.path, xattrs: e.inode.xattrs }));
  if (xattrs.length) await out.setXattrs(xattrs);
  for (const e of created) {
    if (e.kind !== "symlink") await out.chmod(e.path, e.inode.mode & 0o7777);
    await out.utimes(e.path, e.inode.mtime, e.inode.mtimeNsec);
  }
  for (const e of dirs.reverse()) {
    await out.chmod(e.path, e.inode.mode & 0o7777);
    await out.utimes(e.path, e.inode.mtime, e.inode.mtimeNsec);
  }
  return result;
}
