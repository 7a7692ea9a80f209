/**
 * The peers' option names: mapped where they have an scs-ts meaning (seen in the cookie the
 * response carries), accepted and ignored where scs-ts does not need them, refused with a
 * TypeError naming the option where honouring them is impossible.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { describe, test } from "node:test";
import express, { type Request } from "express";
import Fastify from "fastify";
import Koa from "koa";
import expressDropIn from "../../src/adapters/express-session.ts";
import fastifyDropIn from "../../src/adapters/fastify-session.ts";
import koaDropIn from "../../src/adapters/koa-session.ts";
import { SessionManager } from "../../src/manager.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { Browser, start, TEST_TIMEOUT } from "./harness.ts";

const require = createRequire(import.meta.url);
const expressSession = require("express-session") as typeof import("express-session");

/** The Set-Cookie line of the first request to an app that writes the session. */
async function expressCookie(options: object): Promise<string> {
  const app = express();
  app.use(expressDropIn(options as never));
  app.get("/", (req: Request, res) => {
    (req as unknown as { session: Record<string, unknown> }).session.a = 1;
    res.send("ok");
  });
  app.get("/read", (_req, res) => {
    res.send("read");
  });
  const server = await start(createServer(app), "x");
  try {
    const b = server.browser();
    const first = await b.send("/");
    assert.equal(first.setCookies.length, 1, first.body);
    const cookie = first.setCookies[0] ?? "";
    const name = cookie.slice(0, cookie.indexOf("="));
    const read = await new Browser(b.base, name).send("/read", {
      as: cookie.split(";")[0]?.slice(name.length + 1),
    });
    return `${cookie} || read: ${read.setCookies.length}`;
  } finally {
    await server.close();
  }
}

async function koaCookie(options: object): Promise<string> {
  const app = new Koa();
  app.use(koaDropIn(options as never, app));
  app.use((ctx) => {
    (ctx as unknown as { session: Record<string, unknown> }).session.a = 1;
    ctx.body = "ok";
  });
  const server = await start(createServer(app.callback()), "x");
  try {
    return (await server.browser().send("/")).setCookies.join(" | ");
  } finally {
    await server.close();
  }
}

async function fastifyCookie(options: object): Promise<string> {
  const app = Fastify();
  await app.register(fastifyDropIn, options as never);
  app.get("/", async (request) => {
    (request as unknown as { session: Record<string, unknown> }).session.a = 1;
    return "ok";
  });
  app.get("/read", async () => "read");
  try {
    const res = await app.inject({ url: "/" });
    const line = String(res.headers["set-cookie"]);
    const read = await app.inject({ url: "/read", headers: { cookie: line.split(";")[0] ?? "" } });
    return `${line} || read: ${read.headers["set-cookie"] === undefined ? 0 : 1}`;
  } finally {
    await app.close();
  }
}

const store = () => new MemStore({ cleanupInterval: 0 });

describe("scs-ts/express-session options", { timeout: TEST_TIMEOUT }, () => {
  test('built from options: cookie "connect.sid", a browser-session cookie without cookie.maxAge', async () => {
    const line = await expressCookie({
      store: store(),
      secret: "ignored",
      resave: false,
      saveUninitialized: true,
      proxy: true,
    });
    assert.match(line, /^connect\.sid=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax \|\| read: 0$/);
  });

  test("name, cookie.maxAge, secure, sameSite: true, domain and path map to the cookie", async () => {
    const line = await expressCookie({
      store: store(),
      name: "sid",
      cookie: { maxAge: 60_000, secure: true, sameSite: true, domain: "example.test", path: "/" },
    });
    assert.match(
      line,
      /^sid=[\w-]{43}; Domain=example\.test; Path=\/; HttpOnly; Secure; SameSite=Strict; Max-Age=60; Expires=/,
    );
  });

  test("rolling resends the cookie on every response, expiring cookie.maxAge after the last request", async () => {
    const line = await expressCookie({ store: store(), rolling: true, cookie: { maxAge: 60_000 } });
    assert.match(line, /Max-Age=60; .* \|\| read: 1$/);
  });

  test("session.MemoryStore is a store the entry takes", async () => {
    const line = await expressCookie({
      store: new expressDropIn.MemoryStore({ cleanupInterval: 0 }),
    });
    assert.match(line, /^connect\.sid=/);
  });

  test("refused and unknown options throw a TypeError naming them", () => {
    const sessions = new SessionManager();
    assert.throws(() => expressDropIn({ genid: () => "x" } as never), /option genid is invalid/);
    assert.throws(
      () => expressDropIn({ cookie: { secure: "auto" } } as never),
      /option cookie\.secure is invalid/,
    );
    assert.throws(
      () => expressDropIn({ cookie: { sameSite: "auto" } } as never),
      /option cookie\.sameSite is invalid/,
    );
    assert.throws(
      () => expressDropIn({ cookie: { expires: new Date() } } as never),
      /option cookie\.expires is invalid/,
    );
    assert.throws(
      () => expressDropIn({ store: new expressSession.MemoryStore() } as never),
      /option store is invalid/,
    );
    assert.throws(() => expressDropIn({ unset: "forget" } as never), /option unset is invalid/);
    assert.throws(
      () => expressDropIn({ saveUnintialized: false } as never),
      /unknown option saveUnintialized/,
    );
    assert.throws(
      () => expressDropIn({ sessions, name: "sid" }),
      /option name cannot be combined with sessions/,
    );
    assert.throws(() => expressDropIn({ sessions: {} as never }), /option sessions is invalid/);
    assert.throws(() => expressDropIn({ cookie: { maxAge: 1000 }, lifetime: 1000 }), /not both/);
    // Accepted with a manager: what the peers need and scs-ts does not.
    expressDropIn({
      sessions,
      secret: "s",
      resave: false,
      saveUninitialized: false,
      unset: "keep",
    });
  });
});

describe("scs-ts/koa-session options", { timeout: TEST_TIMEOUT }, () => {
  test('built from options: cookie "koa.sess", one day by default, as koa-session', async () => {
    const line = await koaCookie({
      store: store(),
      signed: true,
      autoCommit: true,
      overwrite: true,
    });
    assert.match(
      line,
      /^koa\.sess=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=86400; Expires=[^;]+$/,
    );
  });

  test('key, maxAge: "session" and the top-level secure and sameSite map to the cookie', async () => {
    const line = await koaCookie({
      store: store(),
      key: "k",
      maxAge: "session",
      secure: true,
      sameSite: "strict",
    });
    assert.match(line, /^k=[\w-]{43}; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
  });

  test("session(app, options) works as session(options, app)", async () => {
    const app = new Koa();
    assert.equal(typeof koaDropIn(app, { store: store() }), "function");
  });

  test("refused and unknown options throw a TypeError naming them", () => {
    assert.throws(() => koaDropIn({ externalKey: {} } as never), /option externalKey is invalid/);
    assert.throws(() => koaDropIn({ encode: () => "" } as never), /option encode is invalid/);
    assert.throws(() => koaDropIn({ maxAge: -1 } as never), /option maxAge is invalid/);
    assert.throws(() => koaDropIn({ nope: 1 } as never), /unknown option nope/);
  });
});

describe("scs-ts/fastify-session options", { timeout: TEST_TIMEOUT }, () => {
  test('built from options: cookie "sessionId", Secure by default, and rolling (its default) resends the browser-session cookie, as @fastify/session', async () => {
    const line = await fastifyCookie({
      store: store(),
      secret: "x".repeat(32),
      algorithm: "sha256",
    });
    assert.match(
      line,
      /^sessionId=[\w-]{43}; Path=\/; HttpOnly; Secure; SameSite=Lax \|\| read: 1$/,
    );
  });

  test("cookieName and cookie.maxAge map to the cookie; rolling is on by default", async () => {
    const line = await fastifyCookie({
      store: store(),
      cookieName: "sid",
      cookie: { maxAge: 60_000, secure: false },
    });
    assert.match(
      line,
      /^sid=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=60; Expires=[^;]+ \|\| read: 1$/,
    );
  });

  test("refused and unknown options fail the registration with a TypeError naming them", async () => {
    for (const [options, message] of [
      [{ idGenerator: () => "x" }, /option idGenerator is invalid/],
      [{ cookiePrefix: "s:" }, /option cookiePrefix is invalid/],
      [{ cookie: { secure: "auto" } }, /option cookie\.secure is invalid/],
      [{ nope: true }, /unknown option nope/],
    ] as const) {
      const app = Fastify();
      await assert.rejects(async () => {
        await app.register(fastifyDropIn, options as never);
        await app.ready();
      }, message);
      await app.close();
    }
  });
});
