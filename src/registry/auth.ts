/**
 * Registry credentials and challenges: `--creds user:pass`, a Docker config.json's `auths`, and
 * the WWW-Authenticate header a registry answers 401 with (Basic, or Bearer with realm, service
 * and scope, as the distribution token spec describes).
 */
import { StrataError } from "../errors.js";

export interface Credentials {
  username: string;
  password: string;
}

export interface Challenge {
  scheme: "basic" | "bearer";
  /** Lower-cased parameter names: realm, service, scope, error... */
  params: Record<string, string>;
}

/** Parses `user:pass` (the password may contain ':'). */
export function parseCreds(value: string): Credentials {
  const colon = value.indexOf(":");
  if (colon <= 0) throw new StrataError("INVALID_ARGUMENT", "--creds must be USER:PASSWORD");
  return { username: value.slice(0, colon), password: value.slice(colon + 1) };
}

/** base64 of UTF-8 text; btoa alone only takes Latin-1. */
function base64Utf8(text: string): string {
  let binary = "";
  for (const b of new TextEncoder().encode(text)) binary += String.fromCharCode(b);
  return btoa(binary);
}

export function basicAuthorization(c: Credentials): string {
  return `Basic ${base64Utf8(`${c.username}:${c.password}`)}`;
}

/**
 * The first Basic or Bearer challenge of a WWW-Authenticate value, or undefined. Parameters are
 * `name=token` or `name="quoted \"string\""`, comma-separated.
 */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(basic|bearer)\b\s*/i.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const param = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*(?:,\s*|$)/y;
  param.lastIndex = m[0].length;
  for (let p = param.exec(header); p; p = param.exec(header)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3]!;
    if (param.lastIndex >= header.length) break;
  }
  return { scheme: m[1]!.toLowerCase() as Challenge["scheme"], params };
}

/**
 * The `auths` of a Docker config.json (or containers-auth.json): credentials by registry host.
 * Keys may be bare hosts or URLs ("https://host:5000/v1/"); entries hold `auth` (base64 of
 * user:pass) or username and password.
 */
export function dockerConfigAuths(bytes: Uint8Array, path: string): Map<string, Credentials> {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new StrataError("INVALID_ARGUMENT", `${path} is not JSON: ${(e as Error).message}`, { path });
  }
  const auths = (doc as { auths?: unknown } | null)?.auths;
  const out = new Map<string, Credentials>();
  if (typeof auths !== "object" || auths === null) return out;
  for (const [key, entry] of Object.entries(auths as Record<string, { auth?: unknown; username?: unknown; password?: unknown }>)) {
    const host = key.replace(/^[a-z]+:\/\//, "").replace(/\/.*$/, "");
    let creds: Credentials | undefined;
    if (typeof entry?.auth === "string" && entry.auth !== "") {
      let decoded: string;
      try {
        decoded = new TextDecoder().decode(Uint8Array.from(atob(entry.auth), (c) => c.charCodeAt(0)));
      } catch {
        throw new StrataError("INVALID_ARGUMENT", `${path}: auths[${JSON.stringify(key)}].auth is not base64`, { path });
      }
      const colon = decoded.indexOf(":");
      if (colon <= 0) throw new StrataError("INVALID_ARGUMENT", `${path}: auths[${JSON.stringify(key)}].auth is not base64 of USER:PASSWORD`, { path });
      creds = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    } else if (typeof entry?.username === "string" && typeof entry.password === "string") {
      creds = { username: entry.username, password: entry.password };
    }
    if (creds) out.set(host, creds);
  }
  return out;
}
