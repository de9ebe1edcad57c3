/**
 * Files held in a Map, for runtimes without a file system (workerd, the browser) and for tests:
 * an OutputPort writing into the map and a FilesPort reading it back, so a converted image can be
 * written and reopened without touching a disk. Paths are `root/relative`; the map is keyed by
 * the relative path, as randomLayout's `files` are.
 */
import { StrataError } from "./errors.js";
import { concat } from "./kernels/stream.js";
import { memoryFilesPort } from "./oci/random.js";
import type { FilesPort, OutputPort, PendingFile } from "./ports.js";

export interface MemoryFiles {
  /** Committed files by path relative to the root. */
  files: Map<string, Uint8Array>;
  /** Writes into `files`: nothing appears there until a PendingFile is committed. */
  output: OutputPort;
  /** Reads `files` (as it is at each call). */
  reader: FilesPort;
}

/** In-memory files under `root` (an absolute-looking prefix such as "/mem"), optionally pre-filled. */
export function memoryFiles(root: string, files = new Map<string, Uint8Array>()): MemoryFiles {
  const relative = (path: string): string => {
    if (!path.startsWith(`${root}/`)) throw new StrataError("NOT_FOUND", `${path} is outside the in-memory root ${root}`, { path, root });
    return path.slice(root.length + 1);
  };
  const output: OutputPort = {
    // Directories exist implicitly: a file's path is its only record.
    async mkdir() {},
    async create(path): Promise<PendingFile> {
      relative(path);
      const parts: Uint8Array[] = [];
      let open = true;
      return {
        async write(bytes) {
          if (!open) throw new StrataError("IO", `${path} was already committed or aborted`, { path });
          parts.push(bytes.slice());
        },
        async commit(finalPath = path) {
          if (!open) throw new StrataError("IO", `${path} was already committed or aborted`, { path });
          open = false;
          files.set(relative(finalPath), concat(parts));
        },
        async abort() {
          open = false;
          parts.length = 0;
        },
      };
    },
  };
  return { files, output, reader: memoryFilesPort(root, files) };
}
