/**
 * An OCI distribution client on the runtime's fetch: one registry host (and its pull mirrors),
 * authentication from 401 challenges (Basic, or Bearer tokens cached per scope), and retries
 * with exponential backoff and jitter on 5xx, 429 (honouring Retry-After) and network errors.
 */
import { StrataError } from "../errors.js";
import type { FetchPort, Ports } from "../ports.js";
import { basicAuthorization, parseChallenge, type Challenge, type Credentials } from "./auth.js";

export interface RetryPolicy {
  /** Tries per request, the first included (default 5). */
  attempts: number;
  /** First backoff in ms, doubled per retry (default 250). */
  baseDelay: number;
  /** Longest backoff in ms (default 10000). */
  maxDelay: number;
  /** Longest Retry-After honoured, in ms (default 60000). */
  maxRetryAfter: number;
}

export interface RegistryOptions {
  /** Plain HTTP instead of HTTPS (also for loopback hosts). */
  insecure?: boolean;
  /** Credentials for the registry host; else `auths` is looked up by host. */
  creds?: Credentials;
  /** Credentials by registry host, from a Docker config.json. */
  auths?: ReadonlyMap<string, Credentials>;
  /** Mirror base URLs tried in order for pulls before the registry itself. */
  mirrors?: readonly string[];
  /** Concurrent blob transfers and range reads (default 4). */
  jobs?: number;
  retry?: Partial<RetryPolicy>;
  /** Bytes per PATCH of a chunked upload (default 16 MiB). */
  chunkSize?: number;
}

export interface RegistryRequest {
  method: "GET" | "HEAD" | "POST" | "PATCH" | "PUT" | "DELETE";
  repository: string;
  /** After /v2/<repository>/ ("manifests/v1", "blobs/sha256:..."), or an absolute upload URL. */
  path: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** "pull" or "pull,push". */
  actions: string;
  /** More token scopes (the source repository of a cross-repository mount). */
  extraScopes?: string[];
  /** Pull requests go through the mirrors first. */
  mirrored?: boolean;
  /** false for requests that must not be repeated blindly (upload chunks): the caller recovers. */
  retry?: boolean;
}

/** A base URL with its own authentication state (the registry, or one mirror). */
interface Endpoint {
  base: string;
  host: string;
  creds?: Credentials;
  challenge?: Challenge;
  /** Authorization header values by scope key ("" for Basic). */
  tokens: Map<string, Promise<string>>;
}

const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelay: 250, maxDelay: 10_000, maxRetryAfter: 60_000 };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A bounded number of concurrent tasks. */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

export class RegistryClient {
  readonly registry: string;
  readonly retry: RetryPolicy;
  readonly limiter: Limiter;
  readonly chunkSize: number;
  private readonly origin: Endpoint;
  private readonly mirrors: Endpoint[];

  constructor(
    private readonly fetchPort: FetchPort,
    registry: string,
    options: RegistryOptions = {},
  ) {
    this.registry = registry;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.limiter = new Limiter(Math.max(1, options.jobs ?? 4));
    this.chunkSize = options.chunkSize ?? 16 << 20;
    const scheme = options.insecure ? "http" : "https";
    this.origin = endpoint(`${scheme}://${registry}`, options.creds ?? options.auths?.get(registry));
    this.mirrors = (options.mirrors ?? []).map((url) => {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new StrataError("INVALID_ARGUMENT", `registry mirror ${JSON.stringify(url)} is not a URL`, { mirror: url });
      }
      return endpoint(url.replace(/\/+$/, ""), options.auths?.get(parsed.host));
    });
  }

  /** Names a repository in messages: docker://host/repo. */
  where(repository: string): string {
    return `docker://${this.registry}/${repository}`;
  }

  /**
   * Sends a request, through the mirrors first when `mirrored`. A mirror that fails or lacks the
   * content is passed over; the registry's own answer (any status) is returned.
   */
  async send(req: RegistryRequest): Promise<Response> {
    if (req.mirrored) {
      for (const mirror of this.mirrors) {
        try {
          const res = await this.sendTo(mirror, req);
          if (res.ok) return res;
          await res.body?.cancel();
        } catch {
          // The origin is tried next.
        }
      }
    }
    return this.sendTo(this.origin, req);
  }

  /** One endpoint, retried on 5xx, 429 and network errors. */
  private async sendTo(ep: Endpoint, req: RegistryRequest): Promise<Response> {
    const url = this.url(ep, req);
    const attempts = req.retry === false ? 1 : this.retry.attempts;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await this.authorized(ep, url, req);
      } catch (e) {
        if (e instanceof StrataError || attempt >= attempts) throw networkError(e, req, url);
        await sleep(this.backoff(attempt));
        continue;
      }
      if ((res.status >= 500 || res.status === 429) && attempt < attempts) {
        const wait = retryAfter(res.headers.get("retry-after"), this.retry.maxRetryAfter) ?? this.backoff(attempt);
        await res.body?.cancel();
        await sleep(wait);
        continue;
      }
      return res;
    }
  }

  /** An upload Location (often relative) as an absolute URL on the registry. */
  resolve(location: string): string {
    return new URL(location, this.origin.base).href;
  }

  /** Waits before retry `attempt` (1 = the first retry) of something the caller repeats itself. */
  pause(attempt: number): Promise<void> {
    return sleep(this.backoff(attempt));
  }

  /** Full jitter on an exponential backoff: spreads retries of many clients apart. */
  private backoff(attempt: number): number {
    const ceiling = Math.min(this.retry.maxDelay, this.retry.baseDelay * 2 ** (attempt - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  private url(ep: Endpoint, req: RegistryRequest): string {
    if (/^https?:\/\//.test(req.path)) return req.path;
    const url = `${ep.base}/v2/${req.repository}/${req.path}`;
    // Mirrors learn which registry is meant from `ns`, as containerd sends it.
    return ep === this.origin ? url : `${url}${url.includes("?") ? "&" : "?"}ns=${encodeURIComponent(this.registry)}`;
  }

  /** fetch with the endpoint's credentials; a 401 is answered once by authenticating from its challenge. */
  private async authorized(ep: Endpoint, url: string, req: RegistryRequest): Promise<Response> {
    const scopes = [`repository:${req.repository}:${req.actions}`, ...(req.extraScopes ?? [])];
    const key = scopes.join(" ");
    const send = (authorization: string | undefined) =>
      this.fetchPort(url, {
        method: req.method,
        headers: { ...req.headers, ...(authorization ? { authorization } : {}) },
        // Bodies are whole Uint8Arrays (resendable on retry); lib.dom types want ArrayBuffer-backed ones.
        body: req.body as BodyInit | undefined,
        redirect: "follow",
      });
    const known = ep.challenge ? await this.authorization(ep, ep.challenge, scopes, key, false) : undefined;
    const res = await send(known);
    if (res.status !== 401) return res;
    const challenge = parseChallenge(res.headers.get("www-authenticate"));
    await res.body?.cancel();
    if (!challenge) throw new StrataError("AUTH", `${this.where(req.repository)}: ${req.method} ${url} was refused (401) without a Basic or Bearer challenge`, { url });
    // Kept for later requests, which ask for their own scopes up front (not this request's).
    const { scope: _scope, ...params } = challenge.params;
    ep.challenge = { scheme: challenge.scheme, params };
    const fresh = await this.authorization(ep, challenge, scopes, key, known !== undefined);
    const again = await send(fresh);
    if (again.status === 401) {
      await again.body?.cancel();
      throw new StrataError("AUTH", `${this.where(req.repository)}: ${ep.creds ? `credentials for ${ep.host} were refused` : `${ep.host} needs credentials (--creds or a Docker config.json)`} (${req.method} ${url})`, {
        url,
        registry: ep.host,
      });
    }
    return again;
  }

  private authorization(ep: Endpoint, challenge: Challenge, scopes: string[], key: string, renew: boolean): Promise<string> {
    const cacheKey = challenge.scheme === "basic" ? "" : key;
    let value = renew ? undefined : ep.tokens.get(cacheKey);
    if (!value) {
      value = challenge.scheme === "basic" ? this.basic(ep) : this.token(ep, challenge, scopes);
      ep.tokens.set(cacheKey, value);
      value.catch(() => ep.tokens.delete(cacheKey));
    }
    return value;
  }

  private async basic(ep: Endpoint): Promise<string> {
    if (!ep.creds) throw new StrataError("AUTH", `${ep.host} asks for a user name and password (--creds or a Docker config.json)`, { registry: ep.host });
    return basicAuthorization(ep.creds);
  }

  /** A bearer token from the challenge's realm for these scopes (the challenge's own scope included). */
  private async token(ep: Endpoint, challenge: Challenge, scopes: string[]): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm) throw new StrataError("AUTH", `${ep.host} sent a Bearer challenge without a realm`, { registry: ep.host });
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new StrataError("AUTH", `${ep.host} sent a Bearer realm that is not a URL: ${realm}`, { registry: ep.host });
    }
    if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
    for (const scope of new Set([...scopes, ...(challenge.params.scope ? [challenge.params.scope] : [])])) url.searchParams.append("scope", scope);
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await this.fetchPort(url.href, { headers: ep.creds ? { authorization: basicAuthorization(ep.creds) } : {} });
      } catch (e) {
        if (attempt >= this.retry.attempts) throw new StrataError("NETWORK", `token request to ${url.origin}${url.pathname} failed: ${message(e)}`, { url: url.href }, { cause: e });
        await sleep(this.backoff(attempt));
        continue;
      }
      if ((res.status >= 500 || res.status === 429) && attempt < this.retry.attempts) {
        await res.body?.cancel();
        await sleep(retryAfter(res.headers.get("retry-after"), this.retry.maxRetryAfter) ?? this.backoff(attempt));
        continue;
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new StrataError("AUTH", `token server ${url.origin}${url.pathname} refused ${ep.creds ? `the credentials for ${ep.host}` : "an anonymous token"} (HTTP ${res.status})`, {
          url: url.href,
          status: res.status,
        });
      }
      const body = (await res.json().catch(() => undefined)) as { token?: unknown; access_token?: unknown } | undefined;
      const token = typeof body?.token === "string" ? body.token : body?.access_token;
      if (typeof token !== "string" || token === "") throw new StrataError("AUTH", `token server ${url.origin}${url.pathname} answered without a token`, { url: url.href });
      return `Bearer ${token}`;
    }
  }
}

function endpoint(base: string, creds: Credentials | undefined): Endpoint {
  return { base, host: new URL(base).host, creds, tokens: new Map() };
}

/** Retry-After in ms: delta seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfter(value: string | null, cap: number): number | undefined {
  if (!value) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.min(cap, Math.max(0, ms)) : undefined;
}

function message(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  return [(e as Error)?.message ?? String(e), cause?.code ?? cause?.message].filter(Boolean).join(": ");
}

function networkError(e: unknown, req: RegistryRequest, url: string): unknown {
  if (e instanceof StrataError) return e;
  return new StrataError("NETWORK", `${req.method} ${url} failed: ${message(e)}`, { url }, { cause: e });
}

/** A REGISTRY error for an unexpected answer, with the registry's error code when it sent one. */
export async function unexpected(res: Response, what: string, url?: string): Promise<StrataError> {
  let detail = "";
  try {
    const body = (await res.json()) as { errors?: { code?: string; message?: string }[] };
    detail = (body.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(": ")).join("; ");
  } catch {
    // Not a distribution error body.
  }
  const code = res.status === 404 ? "NOT_FOUND" : "REGISTRY";
  return new StrataError(code, `${what}: HTTP ${res.status}${detail ? ` (${detail})` : ""}`, { status: res.status, ...(url ? { url } : {}) });
}

/** The registry client for a host, on the runtime's fetch. */
export function registryClient(ports: Ports, registry: string, options: RegistryOptions = {}): RegistryClient {
  if (!ports.fetch) throw new StrataError("UNSUPPORTED", `docker://${registry}: this runtime supplies no fetch port`);
  return new RegistryClient(ports.fetch, registry, options);
}
