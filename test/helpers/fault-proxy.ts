// An HTTP proxy between a client and a registry that injects faults on purpose: error statuses
// (500, 429 with Retry-After), connections reset mid-body, bodies cut short (with or without
// a Content-Length that says so), flipped bytes in responses or uploads, and bandwidth throttling.
// Faults are chosen per request by a plan, from a seeded generator, so every run is the same.
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

export type Fault =
  | { kind: "status"; status: number; retryAfter?: number }
  /** Sends headers and `after` body bytes, then resets the connection. */
  | { kind: "reset"; after: number }
  /** Sends `after` body bytes and ends cleanly; `keepLength` keeps the original Content-Length (the client sees a short read). */
  | { kind: "truncate"; after: number; keepLength?: boolean }
  /** XORs the body byte at `at` (clamped to the body) with 0x5a. */
  | { kind: "flip"; at: number }
  /** XORs a byte of the request body (uploads) at `at`. */
  | { kind: "flip-request"; at: number };

export interface ProxiedRequest {
  method: string;
  url: string;
  range?: string;
  /** Sequence number, from 0. */
  n: number;
}

export interface RecordedRequest extends ProxiedRequest {
  /** When it arrived (Date.now()). */
  at: number;
  status?: number;
  fault?: Fault;
}

export interface FaultProxyOptions {
  /** host:port of the registry. */
  target: string;
  /** The fault for a request, if any; `random` is the proxy's seeded generator. */
  plan?: (req: ProxiedRequest, random: () => number) => Fault | undefined;
  seed?: number;
  /** Throttles response bodies to this many bytes per second. */
  bytesPerSecond?: number;
}

export interface FaultProxy {
  /** host:port to send requests to. */
  readonly host: string;
  readonly requests: RecordedRequest[];
  /** Requests whose method matches and whose URL matches `url`. */
  count(method: string, url?: RegExp): number;
  close(): Promise<void>;
}

/** mulberry32: small, seedable, good enough to pick faults. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const [targetHost, targetPort] = options.target.split(":") as [string, string];
  const random = seeded(options.seed ?? 1);
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const info: RecordedRequest = { method: req.method ?? "GET", url: req.url ?? "/", range: req.headers.range, n: requests.length, at: Date.now() };
    requests.push(info);
    const fault = options.plan?.(info, random);
    info.fault = fault;
    const body = await readBody(req);
    if (fault?.kind === "status") {
      info.status = fault.status;
      res.writeHead(fault.status, { "content-type": "application/json", ...(fault.retryAfter !== undefined ? { "retry-after": String(fault.retryAfter) } : {}) });
      res.end(JSON.stringify({ errors: [{ code: "INJECTED", message: `fault proxy: ${fault.status}` }] }));
      return;
    }
    if (fault?.kind === "flip-request" && body.length > 0) body[Math.min(fault.at, body.length - 1)]! ^= 0x5a;
    const upstream = request({ host: targetHost, port: Number(targetPort), method: req.method, path: req.url, headers: req.headers }, async (up) => {
      info.status = up.statusCode;
      const headers = { ...up.headers };
      if (fault?.kind === "truncate" && !fault.keepLength) delete headers["content-length"];
      res.writeHead(up.statusCode ?? 502, headers);
      let sent = 0;
      let cut = false;
      for await (const piece of up as AsyncIterable<Buffer>) {
        let chunk = Buffer.from(piece);
        if (fault?.kind === "flip" && fault.at >= sent && fault.at < sent + chunk.length) chunk[fault.at - sent]! ^= 0x5a;
        if ((fault?.kind === "reset" || fault?.kind === "truncate") && sent + chunk.length > fault.after) {
          chunk = chunk.subarray(0, Math.max(0, fault.after - sent));
          cut = true;
        }
        await write(res, chunk, options.bytesPerSecond);
        sent += chunk.length;
        if (cut) break;
      }
      if (cut) up.destroy();
      if (cut && fault?.kind === "reset") {
        // Let the bytes sent reach the client first: the reset is mid-body, not before it.
        await new Promise((r) => setTimeout(r, 50));
        res.socket?.resetAndDestroy?.();
        res.destroy();
        return;
      }
      if (cut && fault?.kind === "truncate" && fault.keepLength) {
        // The promised length is not met: end the connection, not the message.
        res.socket?.end();
        return;
      }
      res.end();
    });
    upstream.on("error", () => res.destroy());
    upstream.end(body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    host: `127.0.0.1:${port}`,
    requests,
    count: (method, url) => requests.filter((r) => r.method === method && (!url || url.test(r.url))).length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of req as AsyncIterable<Buffer>) parts.push(p);
  return Buffer.concat(parts);
}

const SLICE = 16 << 10;

/** Writes `chunk`, paced to `bytesPerSecond` when given. */
async function write(res: ServerResponse, chunk: Buffer, bytesPerSecond?: number): Promise<void> {
  if (!bytesPerSecond) {
    if (!res.write(chunk)) await new Promise((r) => res.once("drain", r));
    return;
  }
  for (let at = 0; at < chunk.length; at += SLICE) {
    const piece = chunk.subarray(at, at + SLICE);
    if (!res.write(piece)) await new Promise((r) => res.once("drain", r));
    await new Promise((r) => setTimeout(r, (piece.length / bytesPerSecond) * 1000));
  }
}
