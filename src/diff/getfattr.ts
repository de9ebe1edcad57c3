/**
 * Reads `getfattr --dump --encoding=hex` output (Debian's attr package), which the Node, Bun and
 * Deno tree ports run once per tree: "# file: PATH", then NAME=0xHEX lines, a blank line between
 * files. getfattr writes bytes it will not print (newline, backslash...) as \ooo.
 */
import { StrataError } from "../errors.js";

const utf8 = new TextDecoder();

/** Every xattr (all namespaces) of every path under the root argument, symlinks not followed. */
export const GETFATTR_ARGS = ["--recursive", "--physical", "--dump", "--match=-", "--no-dereference", "--absolute-names", "--encoding=hex"] as const;

export function parseGetfattr(out: Uint8Array): Map<string, Map<string, Uint8Array>> {
  const result = new Map<string, Map<string, Uint8Array>>();
  let current: Map<string, Uint8Array> | undefined;
  let start = 0;
  while (start < out.length) {
    let end = out.indexOf(0x0a, start);
    if (end < 0) end = out.length;
    const line = out.subarray(start, end);
    start = end + 1;
    if (startsWith(line, FILE_PREFIX)) {
      current = new Map();
      result.set(unescape(line.subarray(FILE_PREFIX.length)), current);
    } else if (line.length > 0 && current) {
      const eq = line.lastIndexOf(0x3d); // "="
      if (eq < 0 || line[eq + 1] !== 0x30 || line[eq + 2] !== 0x78) throw new StrataError("IO", `getfattr printed an unexpected line: ${JSON.stringify(utf8.decode(line))}`);
      current.set(unescape(line.subarray(0, eq)), fromHex(line.subarray(eq + 3)));
    }
  }
  return result;
}

const FILE_PREFIX = new TextEncoder().encode("# file: ");

function startsWith(line: Uint8Array, prefix: Uint8Array): boolean {
  return line.length >= prefix.length && prefix.every((b, i) => line[i] === b);
}

const isOctal = (b: number | undefined) => b !== undefined && b >= 0x30 && b <= 0x37;

/** Undoes the \ooo escapes; the bytes are UTF-8 names. */
function unescape(text: Uint8Array): string {
  const bytes = new Uint8Array(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === 0x5c && isOctal(text[i + 1]) && isOctal(text[i + 2]) && isOctal(text[i + 3])) {
      bytes[n++] = ((text[i + 1]! - 0x30) << 6) | ((text[i + 2]! - 0x30) << 3) | (text[i + 3]! - 0x30);
      i += 3;
    } else {
      bytes[n++] = text[i]!;
    }
  }
  return utf8.decode(bytes.subarray(0, n));
}

function fromHex(hex: Uint8Array): Uint8Array {
  const digit = (c: number) => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1);
  if (hex.length % 2 !== 0) throw new StrataError("IO", `getfattr printed a value of odd hex length ${hex.length}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = digit(hex[2 * i]!);
    const lo = digit(hex[2 * i + 1]!);
    if (hi < 0 || lo < 0) throw new StrataError("IO", "getfattr printed a value that is not hex");
    out[i] = (hi << 4) | lo;
  }
  return out;
}
