/**
 * When a drop-in session expires, on our entries and on the peers alike, in real time: a
 * session lives `maxAge` from its latest save (so a session changed on every request never
 * expires while the user is active), a session's own `maxAge` ("remember me") is kept for its
 * later saves, also with `rolling`, and koa-session's per-session `maxAge: "session"` gives a
 * browser-session cookie.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import express, { type Request } from "express";
import Fastify, { type FastifyRequest } from "fastify";
import Koa, { type Context } from "koa";
import expressDropIn from "../../src/adapters/express-session.ts";
import fastifyDropIn from "../../src/adapters/fastify-session.ts";
import koaDropIn from "../../src/adapters/koa-session.ts";
import type { Store } from "../../src/store.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { SlowStore } from "../helpers/stores.ts";
import { Browser, mapStore, type Reply, start, TEST_TIMEOUT, type Variant } from "./harness.ts";

const require = createRequire(import.meta.url);
const expressSession = require("express-session") as typeof import("express-session");
const fastifyCookie = require("@fastify/cookie") as (...args: unknown[]) => void;
const peerFastifySession = require("@fastify/session") as (...args: unknown[]) => void;
const koaSession = (
  require("koa-session") as { default: (opts: object, app: object) => Koa.Middleware }
).default;

/** A lifetime short enough to outlive in a test, long enough for a busy machine's requests. */
const MAX_AGE = 1500;
/** The per-session lifetime a "remember me" sign-in sets. */
const REMEMBERED = 60_000;

interface Config {
  rolling: boolean;
  /** Our entries' store: MemStore (answers at once) or one that answers later. */
  store: () => Store;
}

/** What every framework's app answers, written once per framework against the peer's API. */
interface Running {
  browser(): Browser;
  close(): Promise<void>;
}

/** The peers' session data as the routes use it. */
type Data = Record<string, unknown> & { n?: number };

function memStore(): MemStore {
  return new MemStore({ cleanupInterval: 0 });
}

const STORES = [
  { name: "MemStore", store: memStore },
  { name: "an async store", store: (): Store => new SlowStore(5) },
];

type ExpressShape = Data & { cookie: { maxAge: number | null; originalMaxAge: number | null } };

async function expressApp(variant: Variant, config: Config): Promise<Running> {
  const app = express();
  if (variant === "ours") {
    app.use(
      expressDropIn({
        store: config.store(),
        cookie: { maxAge: MAX_AGE },
        rolling: config.rolling,
      }),
    );
  } else {
    app.use(
      expressSession({
        secret: "a test secret",
        resave: false,
        saveUninitialized: false,
        rolling: config.rolling,
        cookie: { maxAge: MAX_AGE },
      }),
    );
  }
  const sessionOf = (req: Request) => (req as unknown as { session: ExpressShape }).session;
  app.get("/inc", (req, res) => {
    const session = sessionOf(req);
    session.n = (session.n ?? 0) + 1;
    res.json({ n: session.n });
  });
  app.get("/remember", (req, res) => {
    const session = sessionOf(req);
    session.n = 1;
    session.cookie.maxAge = REMEMBERED;
    res.json({ n: 1 });
  });
  app.get("/get", (req, res) => {
    const session = sessionOf(req);
    res.json({ n: session.n ?? null, maxAge: session.cookie.originalMaxAge });
  });
  const server = await start(createServer(app), "connect.sid");
  return server;
}

interface FastifyShape {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  cookie: { maxAge: number | null; originalMaxAge: number | null };
}

async function fastifyApp(variant: Variant, config: Config): Promise<Running> {
  const app = Fastify();
  const cookie = { secure: false, maxAge: MAX_AGE };
  if (variant === "ours") {
    await app.register(fastifyDropIn, { store: config.store(), cookie, rolling: config.rolling });
  } else {
    await app.register(fastifyCookie as never);
    await app.register(peerFastifySession as never, {
      secret: "a test secret that is at least 32 characters long",
      saveUninitialized: false,
      rolling: config.rolling,
      cookie,
    });
  }
  const sessionOf = (request: FastifyRequest) =>
    (request as unknown as { session: FastifyShape }).session;
  app.get("/inc", async (request) => {
    const session = sessionOf(request);
    const n = ((session.get("n") as number | undefined) ?? 0) + 1;
    session.set("n", n);
    return { n };
  });
  app.get("/remember", async (request) => {
    const session = sessionOf(request);
    session.set("n", 1);
    session.cookie.maxAge = REMEMBERED;
    return { n: 1 };
  });
  app.get("/get", async (request) => {
    const session = sessionOf(request);
    return { n: session.get("n") ?? null, maxAge: session.cookie.originalMaxAge };
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const address = app.server.address();
  assert.ok(address !== null && typeof address === "object");
  const base = `http://127.0.0.1:${address.port}`;
  return { browser: () => new Browser(base, "sessionId"), close: () => app.close() };
}

type KoaShape = Data & { maxAge: number | "session" };

async function koaApp(variant: Variant, config: Config): Promise<Running> {
  const app = new Koa();
  app.keys = ["a test key"]; // koa-session signs its cookie
  const options = { maxAge: MAX_AGE, rolling: config.rolling };
  if (variant === "ours") app.use(koaDropIn({ store: config.store(), ...options }, app));
  else app.use(koaSession({ store: mapStore(), ...options }, app));
  const sessionOf = (ctx: Context) => (ctx as unknown as { session: KoaShape }).session;
  app.use((ctx) => {
    const session = sessionOf(ctx);
    if (ctx.path === "/inc") {
      session.n = (session.n ?? 0) + 1;
      ctx.body = { n: session.n };
    } else if (ctx.path === "/remember") {
      session.n = 1;
      session.maxAge = REMEMBERED;
      ctx.body = { n: 1 };
    } else if (ctx.path === "/browser-session") {
      session.n = 1;
      session.maxAge = "session";
      ctx.body = { n: 1 };
    } else {
      ctx.body = { n: session.n ?? null, maxAge: session.maxAge };
    }
  });
  return start(createServer(app.callback()), "koa.sess");
}

const FRAMEWORKS = [
  { name: "express", ours: "scs-ts/express-session", peer: "express-session", build: expressApp },
  { name: "fastify", ours: "scs-ts/fastify-session", peer: "@fastify/session", build: fastifyApp },
  { name: "koa", ours: "scs-ts/koa-session", peer: "koa-session", build: koaApp },
] as const;

/** The session cookie's lifetime in seconds, from its Max-Age or else its Expires. */
function lifetimeOf(reply: Reply, name: string): number | null {
  const line = reply.setCookies.find((l) => l.startsWith(`${name}=`));
  assert.ok(line !== undefined, `a ${name} cookie: ${reply.setCookies.join(" | ")}`);
  const maxAge = /;\s*Max-Age=(-?\d+)/i.exec(line);
  if (maxAge !== null) return Number(maxAge[1]);
  const expires = /;\s*Expires=([^;]+)/i.exec(line);
  return expires === null ? null : (Date.parse(expires[1] ?? "") - Date.now()) / 1000;
}

/** Each side of a scenario: the peer, and our entry on each kind of store. */
interface Run {
  variant: Variant;
  storeName: string;
  store: () => Store;
}
const RUNS: Run[] = [
  ...STORES.map((s): Run => ({ variant: "ours", storeName: ` on ${s.name}`, store: s.store })),
  { variant: "peer", storeName: "", store: memStore },
];

// Real time, a few seconds per scenario: every scenario runs at once.
describe("session expiry", { concurrency: true }, () => {
  for (const framework of FRAMEWORKS) {
    for (const { variant, storeName, store } of RUNS) {
      const label = `${variant === "ours" ? framework.ours : framework.peer}${storeName}`;
      describe(`session expiry, ${label}`, { timeout: TEST_TIMEOUT, concurrency: true }, () => {
        test("a session changed on every request lives maxAge from its latest change, not from its start", async () => {
          const app = await framework.build(variant, { rolling: false, store });
          try {
            const browser = app.browser();
            const seen: unknown[] = [];
            // 2.4 s of activity, longer than maxAge (1.5 s): each change moves the expiry.
            for (let i = 0; i < 6; i++) {
              seen.push((await browser.send("/inc")).json().n);
              await sleep(400);
            }
            assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
            await sleep(MAX_AGE + 300);
            assert.equal((await browser.send("/get")).json().n, null, "idle past maxAge: gone");
          } finally {
            await app.close();
          }
        });

        test("a session's own maxAge (remember me) outlives the configured one, with rolling too", async () => {
          const app = await framework.build(variant, { rolling: true, store });
          try {
            const browser = app.browser();
            const signIn = await browser.send("/remember");
            const cookieName = browser.cookieName;
            const first = lifetimeOf(signIn, cookieName);
            assert.ok(first !== null && first > 55 && first <= 60, `cookie lifetime ${first} s`);
            await sleep(MAX_AGE + 300);
            const later = await browser.send("/get");
            const body = later.json();
            assert.equal(body.n, 1, "still signed in past the configured maxAge");
            assert.ok(
              typeof body.maxAge === "number" && body.maxAge > 55_000 && body.maxAge <= REMEMBERED,
              `the session's maxAge reads back: ${String(body.maxAge)}`,
            );
            const rolled = lifetimeOf(later, cookieName);
            assert.ok(rolled !== null && rolled > 55 && rolled <= 60, `rolled: ${rolled} s`);
          } finally {
            await app.close();
          }
        });

        if (framework.name === "koa") {
          test('ctx.session.maxAge = "session" gives this session a browser-session cookie', async () => {
            const app = await framework.build(variant, { rolling: false, store });
            try {
              const browser = app.browser();
              const signIn = await browser.send("/browser-session");
              assert.equal(lifetimeOf(signIn, "koa.sess"), null, signIn.setCookies.join(" | "));
              assert.deepEqual((await browser.send("/get")).json(), { n: 1, maxAge: "session" });
              const again = await browser.send("/inc");
              assert.equal(again.json().n, 2);
              assert.equal(lifetimeOf(again, "koa.sess"), null, "kept for later saves");
            } finally {
              await app.close();
            }
          });
        }
      });
    }
  }
});
