// A small token server for the registry's token auth (the distribution token spec): it checks a
// user name and password (Basic), then issues an RS256 JWT granting the scopes asked for. The
// registry trusts it through `rootcertbundle`: a self-signed certificate made with openssl,
// whose DER is sent in each token's x5c header.
import { spawnSync } from "node:child_process";
import { createPrivateKey, randomUUID, sign, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";

export interface TokenServer {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  readonly certPath: string;
  /** The scopes of each token request, in order. */
  readonly issued: string[][];
  close(): Promise<void>;
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

export async function startTokenServer(dir: string, user: string, password: string): Promise<TokenServer> {
  const keyPath = join(dir, "token.key");
  const certPath = join(dir, "token.crt");
  const openssl = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath, "-out", certPath, "-days", "2", "-subj", "/CN=strata-test-token"], { encoding: "utf8" });
  if (openssl.status !== 0) throw new Error(`openssl failed: ${openssl.stderr}`);
  const key: KeyObject = createPrivateKey(readFileSync(keyPath));
  const x5c = new X509Certificate(readFileSync(certPath)).raw.toString("base64");
  const service = "strata-test-registry";
  const issuer = "strata-test-issuer";
  const issued: string[][] = [];
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== "/token" || req.headers.authorization !== expected) {
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ details: "bad credentials" }));
      return;
    }
    const scopes = url.searchParams.getAll("scope");
    issued.push(scopes);
    const access = scopes.flatMap((scope) => {
      const [type, name, actions] = scope.split(":");
      return type && name && actions ? [{ type, name, actions: actions.split(",") }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ typ: "JWT", alg: "RS256", x5c: [x5c] }));
    const claims = b64url(JSON.stringify({ iss: issuer, sub: user, aud: url.searchParams.get("service"), exp: now + 600, nbf: now - 60, iat: now, jti: randomUUID(), access }));
    const signature = b64url(sign("sha256", Buffer.from(`${header}.${claims}`), key));
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ token: `${header}.${claims}.${signature}`, expires_in: 600 }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certPath,
    issued,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
