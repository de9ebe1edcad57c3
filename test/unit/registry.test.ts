// The registry client's parts that need no registry: docker:// references, WWW-Authenticate
// challenges, Docker config.json auths, Retry-After, and the client's auth, retry and mirror
// logic against an in-process fetch that plays the registry and token server.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { isStrataError } from "../../src/errors.js";
import { parseReference, parseRegistryReference } from "../../src/oci/reference.js";
import type { FetchPort } from "../../src/ports.js";
import { dockerConfigAuths, parseChallenge, parseCreds } from "../../src/registry/auth.js";
import { Limiter, RegistryClient, retryAfter } from "../../src/registry/client.js";

const DIGEST = `sha256:${"ab".repeat(32)}`;
const utf8 = new TextEncoder();

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isStrataError(e) ? e.code : `untyped: ${String(e)}`;
  }
  return undefined;
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => (isStrataError(e) ? e.code : `untyped: ${String(e)}`),
  );
}

describe("docker:// references", () => {
  test("host, port, nested repository, tag and digest", () => {
    expect(parseReference("docker://127.0.0.1:5000/corpus/app:v1")).toEqual({ transport: "docker", registry: "127.0.0.1:5000", repository: "corpus/app", tag: "v1" });
    expect(parseReference("docker://registry.example/a/b/c")).toEqual({ transport: "docker", registry: "registry.example", repository: "a/b/c", tag: "latest" });
    expect(parseReference(`docker://localhost:5000/app@${DIGEST}`)).toEqual({ transport: "docker", registry: "localhost:5000", repository: "app", digest: DIGEST });
    expect(parseReference(`docker://[::1]:5000/app:v2@${DIGEST}`)).toEqual({ transport: "docker", registry: "[::1]:5000", repository: "app", tag: "v2", digest: DIGEST });
    expect(parseReference("docker://h/my-app__x.y:1.0_rc-1")).toMatchObject({ repository: "my-app__x.y", tag: "1.0_rc-1" });
  });

  test.each([
    "docker://host",
    "docker://host/",
    "docker:///repo",
    "docker://host/Upper:v1",
    "docker://host/repo:",
    "docker://host/repo:-bad",
    "docker://host/repo@sha256:short",
    "docker://host/repo@md5:" + "a".repeat(32),
    "docker://ho st/repo",
    "docker://host/a//b",
    "docker://host/a/",
    `docker://host/repo:${"t".repeat(129)}`,
  ])("%s is BAD_REFERENCE", (ref) => {
    expect(code(() => parseRegistryReference(ref))).toBe("BAD_REFERENCE");
  });

  test("any valid name, tag and digest parse back to their parts", () => {
    const component = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/);
    const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/);
    const host = fc.tuple(fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }));
    fc.assert(
      fc.property(host, fc.array(component, { minLength: 1, maxLength: 4 }), fc.option(tag, { nil: undefined }), fc.option(fc.stringMatching(/^[0-9a-f]{64}$/), { nil: undefined }), ([name, port], parts, t, hex) => {
        const registry = port === undefined ? name : `${name}:${port}`;
        const repository = parts.join("/");
        const ref = `docker://${registry}/${repository}${t !== undefined ? `:${t}` : ""}${hex !== undefined ? `@sha256:${hex}` : ""}`;
        const parsed = parseRegistryReference(ref);
        expect(parsed).toEqual({
          transport: "docker",
          registry,
          repository,
          ...(t !== undefined || hex === undefined ? { tag: t ?? "latest" } : {}),
          ...(hex !== undefined ? { digest: `sha256:${hex}` } : {}),
        });
      }),
    );
  });
});

describe("challenges, credentials, Retry-After", () => {
  test("WWW-Authenticate: Bearer with quoted parameters, Basic, and what is not a challenge", () => {
    expect(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"')).toEqual({
      scheme: "bearer",
      params: { realm: "https://auth.example/token", service: "registry.example", scope: "repository:a/b:pull,push" },
    });
    expect(parseChallenge('basic realm="it\\"s here", charset=UTF-8')).toEqual({ scheme: "basic", params: { realm: 'it"s here', charset: "UTF-8" } });
    expect(parseChallenge("Negotiate abc")).toBeUndefined();
    expect(parseChallenge(null)).toBeUndefined();
  });

  test("--creds splits at the first colon; a Docker config.json gives credentials by host", () => {
    expect(parseCreds("me:pa:ss")).toEqual({ username: "me", password: "pa:ss" });
    expect(code(() => parseCreds("nopassword"))).toBe("INVALID_ARGUMENT");
    const config = {
      auths: {
        "https://index.docker.io/v1/": { auth: btoa("hub:secret") },
        "127.0.0.1:5000": { auth: btoa("local:p:w") },
        "registry.example": { username: "u", password: "p" },
        "empty.example": {},
      },
    };
    const auths = dockerConfigAuths(utf8.encode(JSON.stringify(config)), "config.json");
    expect([...auths]).toEqual([
      ["index.docker.io", { username: "hub", password: "secret" }],
      ["127.0.0.1:5000", { username: "local", password: "p:w" }],
      ["registry.example", { username: "u", password: "p" }],
    ]);
    expect(code(() => dockerConfigAuths(utf8.encode('{"auths":{"h":{"auth":"%%%"}}}'), "c.json"))).toBe("INVALID_ARGUMENT");
    expect(code(() => dockerConfigAuths(utf8.encode("{"), "c.json"))).toBe("INVALID_ARGUMENT");
    expect(dockerConfigAuths(utf8.encode('{"credsStore":"desktop"}'), "c.json").size).toBe(0);
  });

  test("Retry-After: seconds or an HTTP date, capped; anything else is ignored", () => {
    expect(retryAfter("3", 60_000)).toBe(3000);
    expect(retryAfter("120", 60_000)).toBe(60_000);
    const inTwo = retryAfter(new Date(Date.now() + 2000).toUTCString(), 60_000)!;
    expect(inTwo).toBeGreaterThan(0);
    expect(inTwo).toBeLessThanOrEqual(2000);
    expect(retryAfter(new Date(0).toUTCString(), 60_000)).toBe(0);
    expect(retryAfter("soon", 60_000)).toBeUndefined();
    expect(retryAfter(null, 60_000)).toBeUndefined();
  });

  test("a Limiter never runs more than its limit at once and runs everything", async () => {
    const limiter = new Limiter(3);
    let active = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        limiter.run(async () => {
          peak = Math.max(peak, ++active);
          await new Promise((r) => setTimeout(r, i % 3));
          active--;
          return i;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(peak).toBe(3);
  });
});

/** An in-process fetch: `handle` answers each request; every request is recorded. */
function fakeFetch(handle: (url: URL, init: RequestInit, headers: Headers) => Response | Promise<Response>): { fetch: FetchPort; calls: { url: URL; headers: Headers }[] } {
  const calls: { url: URL; headers: Headers }[] = [];
  return {
    calls,
    fetch: async (url, init = {}) => {
      const u = new URL(url);
      const headers = new Headers(init.headers);
      calls.push({ url: u, headers });
      return handle(u, init, headers);
    },
  };
}

const FAST = { retry: { attempts: 3, baseDelay: 1, maxDelay: 2 } };
const get = (client: RegistryClient, repository: string, path = "manifests/v1") => client.send({ method: "GET", repository, path, actions: "pull", mirrored: true });

describe("the client's auth, retries and mirrors", () => {
  test("bearer: one token per scope, fetched with the credentials, reused for later requests", async () => {
    const scopes: string[][] = [];
    const { fetch } = fakeFetch((url, _init, headers) => {
      if (url.pathname === "/token") {
        expect(headers.get("authorization")).toBe(`Basic ${btoa("me:pw")}`);
        scopes.push(url.searchParams.getAll("scope"));
        return Response.json({ token: `t-${url.searchParams.getAll("scope").join("+")}` });
      }
      const repo = url.pathname.split("/")[2];
      if (headers.get("authorization") === `Bearer t-repository:${repo}:pull`) return new Response("ok");
      return new Response(null, { status: 401, headers: { "www-authenticate": `Bearer realm="https://auth.test/token",service="svc",scope="repository:${repo}:pull"` } });
    });
    const client = new RegistryClient(fetch, "reg.test", { ...FAST, creds: { username: "me", password: "pw" } });
    for (let i = 0; i < 3; i++) expect((await get(client, "a")).status).toBe(200);
    expect((await get(client, "b")).status).toBe(200);
    expect(scopes).toEqual([["repository:a:pull"], ["repository:b:pull"]]);
  });

  test("401 without a challenge, refused credentials and a refused token are AUTH", async () => {
    const bare = fakeFetch(() => new Response(null, { status: 401 }));
    expect(await codeOf(get(new RegistryClient(bare.fetch, "reg.test", FAST), "a"))).toBe("AUTH");
    const basic = fakeFetch(() => new Response(null, { status: 401, headers: { "www-authenticate": 'Basic realm="r"' } }));
    expect(await codeOf(get(new RegistryClient(basic.fetch, "reg.test", FAST), "a"))).toBe("AUTH");
    expect(await codeOf(get(new RegistryClient(basic.fetch, "reg.test", { ...FAST, creds: { username: "x", password: "y" } }), "a"))).toBe("AUTH");
    expect(basic.calls.at(-1)!.headers.get("authorization")).toBe(`Basic ${btoa("x:y")}`);
    const token = fakeFetch((url) => (url.pathname === "/token" ? new Response(null, { status: 403 }) : new Response(null, { status: 401, headers: { "www-authenticate": 'Bearer realm="https://auth.test/token"' } })));
    expect(await codeOf(get(new RegistryClient(token.fetch, "reg.test", FAST), "a"))).toBe("AUTH");
  });

  test("5xx and 429 are retried within the budget; network errors end as NETWORK", async () => {
    let n = 0;
    const flaky = fakeFetch(() => (++n <= 2 ? new Response(null, { status: n === 1 ? 503 : 429, headers: { "retry-after": "0" } }) : new Response("ok")));
    expect((await get(new RegistryClient(flaky.fetch, "reg.test", FAST), "a")).status).toBe(200);
    expect(flaky.calls.length).toBe(3);
    const down = fakeFetch(() => new Response(null, { status: 500 }));
    expect((await get(new RegistryClient(down.fetch, "reg.test", FAST), "a")).status).toBe(500);
    expect(down.calls.length).toBe(3);
    const unreachable = fakeFetch(() => {
      throw new TypeError("fetch failed");
    });
    expect(await codeOf(get(new RegistryClient(unreachable.fetch, "reg.test", FAST), "a"))).toBe("NETWORK");
    expect(unreachable.calls.length).toBe(3);
    const once = fakeFetch(() => new Response(null, { status: 503 }));
    const upload = new RegistryClient(once.fetch, "reg.test", FAST);
    expect((await upload.send({ method: "PATCH", repository: "a", path: "https://reg.test/up/1", actions: "pull,push", retry: false })).status).toBe(503);
    expect(once.calls.length).toBe(1);
  });

  test("mirrors are tried in order with ns=; a failing or empty mirror falls through to the origin", async () => {
    const { fetch, calls } = fakeFetch((url) => {
      if (url.host === "dead.test") throw new TypeError("connect ECONNREFUSED");
      if (url.host === "empty.test") return new Response(null, { status: 404 });
      return new Response(url.host);
    });
    const client = new RegistryClient(fetch, "reg.test", { ...FAST, retry: { attempts: 1 }, mirrors: ["http://dead.test", "http://empty.test/", "http://full.test/prefix"] });
    expect(await (await get(client, "a")).text()).toBe("full.test");
    expect(calls.map((c) => c.url.href)).toEqual([
      "http://dead.test/v2/a/manifests/v1?ns=reg.test",
      "http://empty.test/v2/a/manifests/v1?ns=reg.test",
      "http://full.test/prefix/v2/a/manifests/v1?ns=reg.test",
    ]);
    const noMirror = new RegistryClient(fetch, "reg.test", { ...FAST, mirrors: ["http://empty.test"] });
    expect(await (await get(noMirror, "a")).text()).toBe("reg.test");
    expect(calls.at(-1)!.url.href).toBe("https://reg.test/v2/a/manifests/v1");
    // Pushes never go to mirrors.
    await client.send({ method: "HEAD", repository: "a", path: "blobs/x", actions: "pull,push" });
    expect(calls.at(-1)!.url.host).toBe("reg.test");
    expect(code(() => new RegistryClient(fetch, "reg.test", { mirrors: ["not a url"] }))).toBe("INVALID_ARGUMENT");
  });
});
