/**
 * Path safety for names taken from tar members and hardlink targets. A name is read relative to
 * the image root: leading "/" and "." components are dropped (as tar does), while ".." and NUL
 * are refused outright rather than resolved, so no name can reach outside the root.
 */
import { StrataError } from "../errors.js";

/** The components of `path` below the root ([] for the root itself), or UNSAFE_PATH. */
export function pathComponents(path: string, what = "path"): string[] {
  if (path.includes("\0")) throw new StrataError("UNSAFE_PATH", `${what} ${JSON.stringify(path)} contains NUL`, { path });
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") throw new StrataError("UNSAFE_PATH", `${what} ${JSON.stringify(path)} contains '..'`, { path });
    parts.push(part);
  }
  return parts;
}

/** The canonical form: "/a/b" for components [a, b], "/" for the root. */
export function normalizePath(path: string, what?: string): string {
  return joinComponents(pathComponents(path, what));
}

export function joinComponents(parts: readonly string[]): string {
  return `/${parts.join("/")}`;
}

/** The child path of a canonical directory path. */
export function childPath(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}
