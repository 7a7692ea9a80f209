// The runnable framework examples of the README (examples/frameworks/*.ts), driven over
// 127.0.0.1 so the documented code cannot rot.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, describe, it } from "node:test";
import { createAdaptorServer } from "@hono/node-server";
import { cookiePair, fetchText, type Listening, listen } from "./helpers.ts";

const started: Listening[] = [];
after(() => Promise.all(started.map((app) => app.close())));

async function walkThrough(url: string): Promise<void> {
  const first = await fetchText(`${url}/`);
  assert.equal(first.body, "visits: 1");
  const cookie = cookiePair(first.setCookie[0]);
  const second = await fetchText(`${url}/`, { headers: { cookie } });
  assert.equal(second.body, "visits: 2");
  assert.equal((await fetchText(`${url}/me`, { headers: { cookie } })).body, "anonymous");

  const login = await fetchText(`${url}/login`, { method: "POST", headers: { cookie } });
  assert.equal(login.body, "signed in");
  const signedIn = cookiePair(login.setCookie[0]);
  assert.notEqual(signedIn, cookie, "login renews the token");
  assert.equal((await fetchText(`${url}/me`, { headers: { cookie: signedIn } })).body, "alice");
  assert.equal((await fetchText(`${url}/me`, { headers: { cookie } })).body, "anonymous");
  const third = await fetchText(`${url}/`, { headers: { cookie: signedIn } });
  assert.equal(third.body, "visits: 3", "values survive the renewal");

  const logout = await fetchText(`${url}/logout`, {
    method: "POST",
    headers: { cookie: signedIn },
  });
  assert.equal(logout.body, "signed out");
  assert.match(logout.setCookie[0] ?? "", /Max-Age=0/);
  assert.equal((await fetchText(`${url}/me`, { headers: { cookie: signedIn } })).body, "anonymous");
}

describe("README framework examples", () => {
  it("Express: counter, login with a new token, logout", async () => {
    const { app } = await import("../../examples/frameworks/express.ts");
    const server = await listen(createServer(app));
    started.push(server);
    await walkThrough(server.url);
  });

  it("Fastify: counter, login with a new token, logout", async () => {
    const { app } = await import("../../examples/frameworks/fastify.ts");
    await app.listen({ port: 0, host: "127.0.0.1" });
    const address = app.server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    started.push({ url: "", close: () => app.close() });
    await walkThrough(`http://127.0.0.1:${port}`);
  });

  it("Hono: counter, login with a new token, logout", async () => {
    const { app } = await import("../../examples/frameworks/hono.ts");
    const server = await listen(createAdaptorServer({ fetch: app.fetch }) as Server);
    started.push(server);
    await walkThrough(server.url);
  });

  it("Koa: counter, login with a new token, logout", async () => {
    const { app } = await import("../../examples/frameworks/koa.ts");
    const server = await listen(createServer(app.callback()));
    started.push(server);
    await walkThrough(server.url);
  });
});
