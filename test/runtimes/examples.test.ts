// The README's Bun and Deno examples (examples/bun/server.ts, examples/deno/server.ts), run on
// the real runtimes and driven over 127.0.0.1: counter, login with a new token, logout.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { cookiePair, fetchText } from "../adapters/helpers.ts";
import { bunBinary, denoBinary, type RuntimeBinary } from "./binaries.ts";
import { type RuntimeServer, startRuntime } from "./spawn.ts";

const example = (path: string) => fileURLToPath(new URL(`../../examples/${path}`, import.meta.url));

const servers: RuntimeServer[] = [];
after(() => Promise.all(servers.map((server) => server.stop())));

async function walkThrough(url: string): Promise<void> {
  const first = await fetchText(`${url}/`);
  assert.equal(first.body, "visits: 1");
  assert.match(String(first.headers.vary), /\bCookie\b/);
  const cookie = cookiePair(first.setCookie[0]);
  assert.equal((await fetchText(`${url}/`, { headers: { cookie } })).body, "visits: 2");
  const anonymous = await fetchText(`${url}/me`, { headers: { cookie } });
  assert.equal(anonymous.body, "anonymous");
  assert.deepEqual(anonymous.setCookie, []);

  const login = await fetchText(`${url}/login`, { method: "POST", headers: { cookie } });
  assert.equal(login.body, "signed in");
  const signedIn = cookiePair(login.setCookie[0]);
  assert.notEqual(signedIn, cookie, "login renews the token");
  assert.equal((await fetchText(`${url}/me`, { headers: { cookie: signedIn } })).body, "alice");
  assert.equal((await fetchText(`${url}/me`, { headers: { cookie } })).body, "anonymous");
  assert.equal((await fetchText(`${url}/`, { headers: { cookie: signedIn } })).body, "visits: 3");

  const logout = await fetchText(`${url}/logout`, {
    method: "POST",
    headers: { cookie: signedIn },
  });
  assert.equal(logout.body, "signed out");
  assert.match(logout.setCookie[0] ?? "", /Max-Age=0/);
  assert.equal((await fetchText(`${url}/me`, { headers: { cookie: signedIn } })).body, "anonymous");
}

function exampleOn(binary: () => RuntimeBinary, path: string): void {
  const found = binary();
  it(`${found.name} ${found.version}: ${path} — counter, login with a new token, logout`, async () => {
    const server = await startRuntime(found, example(path), [], { PORT: "0" });
    servers.push(server);
    await walkThrough(server.url);
  });
}

describe("README Bun and Deno examples", { concurrency: 2 }, () => {
  exampleOn(bunBinary, "bun/server.ts");
  exampleOn(denoBinary, "deno/server.ts");
});
