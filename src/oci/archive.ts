/**
 * Reading a tar archive in place: one pass over its headers (bodies are seeked over, not read)
 * records where each member's bytes are; members are then byte ranges of the archive file.
 */
import { StrataError } from "../errors.js";
import { joinComponents, pathComponents } from "../fs/path.js";
import type { FilesPort } from "../ports.js";
import { readTar, type TarHeader } from "../tar/reader.js";
import { fileRange, type BlobRange } from "./blob.js";
import { sniffCompression } from "./decompress.js";

const MAX_LINK_HOPS = 16;

export class ArchiveIndex {
  private constructor(
    private readonly files: FilesPort,
    /** The archive file's path, for messages and reads. */
    readonly path: string,
    private readonly members: Map<string, TarHeader>,
  ) {}

  static async open(files: FilesPort, path: string): Promise<ArchiveIndex> {
    const fh = await files.open(path);
    const members = new Map<string, TarHeader>();
    try {
      const head = await fh.read(0, 4);
      if (sniffCompression(head) !== "none") {
        throw new StrataError("UNSUPPORTED", `${path} is a compressed archive; decompress it first`, { path });
      }
      for await (const entry of readTar(fh, { drain: false })) {
        let key: string;
        try {
          key = joinComponents(pathComponents(entry.path));
        } catch {
          continue; // Members with unsafe names can never be referenced: leave them out.
        }
        const { body: _b, bytes: _y, ...header } = entry;
        members.set(key, header);
      }
    } finally {
      await fh.close();
    }
    return new ArchiveIndex(files, path, members);
  }

  has(member: string): boolean {
    return this.resolve(member) !== undefined;
  }

  /** The member's bytes, following symlinks and hardlinks between members; NOT_FOUND if absent. */
  member(member: string): BlobRange {
    const header = this.resolve(member);
    if (!header) throw new StrataError("NOT_FOUND", `${member} is not in archive ${this.path}`, { archive: this.path, member });
    return fileRange(this.files, this.path, header.offset, header.size);
  }

  private resolve(member: string): TarHeader | undefined {
    let parts = pathComponents(member);
    for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
      const header = this.members.get(joinComponents(parts));
      if (!header) return undefined;
      if (header.type === "file") return header;
      if (header.type === "hardlink") parts = pathComponents(header.linkname);
      else if (header.type === "symlink") {
        // Relative to the link's directory; ".." may climb within the archive only.
        const target = header.linkname.startsWith("/") ? [] : parts.slice(0, -1);
        for (const p of header.linkname.split("/")) {
          if (p === "" || p === ".") continue;
          if (p === "..") {
            if (target.length === 0) return undefined;
            target.pop();
          } else target.push(p);
        }
        parts = target;
      } else return undefined;
    }
    throw new StrataError("BAD_MANIFEST", `${member} in archive ${this.path}: too many links`, { archive: this.path, member });
  }
}
