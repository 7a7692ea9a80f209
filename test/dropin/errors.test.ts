/**
 * A route that changes the session and then throws, answered by the application's error
 * handler: on our entries and on the peers alike, the error handler's answer decides — a
 * redirect or a 4xx keeps what the route and the handler put in the session (a failed sign-in
 * counter, a flash message before redirecting back to the form); a 5xx keeps nothing on ours
 * (the peers would store it: the one difference, on purpose).
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { describe, test } from "node:test";
import express, { type ErrorRequestHandler, type Request } from "express";
import Fastify, { type FastifyRequest } from "fastify";
import Koa, { type Context } from "koa";
import expressDropIn from "../../src/adapters/express-session.ts";
import fastifyDropIn from "../../src/adapters/fastify-session.ts";
import koaDropIn from "../../src/adapters/koa-session.ts";
import type { Store } from "../../src/store.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { SlowStore } from "../helpers/stores.ts";
import { Browser, mapStore, start, TEST_TIMEOUT, type Variant } from "./harness.ts";

const require = createRequire(import.meta.url);
const expressSession = require("express-session") as typeof import("express-session");
const fastifyCookie = require("@fastify/cookie") as (...args: unknown[]) => void;
const peerFastifySession = require("@fastify/session") as (...args: unknown[]) => void;
const koaSession = (
  require("koa-session") as { default: (opts: object, app: object) => Koa.Middleware }
).default;

interface Running {
  browser(): Browser;
  close(): Promise<void>;
}

/** An error with the HTTP status the application's error handler answers with. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
  get statusCode(): number {
    return this.status;
  }
}

type Data = Record<string, unknown> & { failed?: number; flash?: string };

const memStore = (): Store => new MemStore({ cleanupInterval: 0 });

/** Each side of a scenario: the peer, and our entry on each kind of store. */
interface Run {
  variant: Variant;
  storeName: string;
  store: () => Store;
}
const RUNS: Run[] = [
  { variant: "ours", storeName: " on MemStore", store: memStore },
  { variant: "ours", storeName: " on an async store", store: () => new SlowStore(5) },
  { variant: "peer", storeName: "", store: memStore },
];

async function expressApp(variant: Variant, store: () => Store): Promise<Running> {
  const app = express();
  if (variant === "ours") app.use(expressDropIn({ store: store() }));
  else {
    app.use(expressSession({ secret: "a test secret", resave: false, saveUninitialized: false }));
  }
  const sessionOf = (req: Request) => (req as unknown as { session: Data }).session;
  app.get("/sign-in", (req) => {
    sessionOf(req).failed = (sessionOf(req).failed ?? 0) + 1;
    throw new HttpError(401, "wrong password");
  });
  app.get("/form", (req) => {
    sessionOf(req).draft = "kept";
    throw new HttpError(Number(req.query.status ?? 400), "invalid form");
  });
  app.get("/read", (req, res) => {
    const { failed, flash, draft } = sessionOf(req);
    res.json({ failed: failed ?? null, flash: flash ?? null, draft: draft ?? null });
  });
  const errors: ErrorRequestHandler = (err: HttpError, req, res, _next) => {
    if (err.status === 400) {
      sessionOf(req).flash = err.message;
      res.redirect("/form-page");
      return;
    }
    res.status(err.status ?? 500).json({ error: err.message });
  };
  app.use(errors);
  return start(createServer(app), "connect.sid");
}

async function fastifyApp(variant: Variant, store: () => Store): Promise<Running> {
  const app = Fastify();
  if (variant === "ours") {
    await app.register(fastifyDropIn, { store: store(), cookie: { secure: false } });
  } else {
    await app.register(fastifyCookie as never);
    await app.register(peerFastifySession as never, {
      secret: "a test secret that is at least 32 characters long",
      saveUninitialized: false,
      cookie: { secure: false },
    });
  }
  type Shape = { get(k: string): unknown; set(k: string, v: unknown): void };
  const sessionOf = (request: FastifyRequest) => (request as unknown as { session: Shape }).session;
  app.setErrorHandler((err: HttpError, request, reply) => {
    if (err.status === 400) {
      sessionOf(request).set("flash", err.message);
      return reply.redirect("/form-page");
    }
    return reply.code(err.status ?? 500).send({ error: err.message });
  });
  app.get("/sign-in", async (request) => {
    sessionOf(request).set("failed", ((sessionOf(request).get("failed") as number) ?? 0) + 1);
    throw new HttpError(401, "wrong password");
  });
  app.get("/form", async (request) => {
    sessionOf(request).set("draft", "kept");
    const status = Number((request.query as { status?: string }).status ?? 400);
    throw new HttpError(status, "invalid form");
  });
  app.get("/read", async (request) => {
    const session = sessionOf(request);
    return {
      failed: session.get("failed") ?? null,
      flash: session.get("flash") ?? null,
      draft: session.get("draft") ?? null,
    };
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const address = app.server.address();
  assert.ok(address !== null && typeof address === "object");
  const base = `http://127.0.0.1:${address.port}`;
  return { browser: () => new Browser(base, "sessionId"), close: () => app.close() };
}

async function koaApp(variant: Variant, store: () => Store): Promise<Running> {
  const app = new Koa();
  app.keys = ["a test key"]; // koa-session signs its cookie
  app.silent = true;
  const sessionOf = (ctx: Context) => (ctx as unknown as { session: Data }).session;
  // The application's error handler, upstream of the session middleware.
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const e = err as HttpError;
      if (e.status === 400) {
        sessionOf(ctx).flash = e.message;
        ctx.redirect("/form-page");
        return;
      }
      ctx.status = e.status ?? 500;
      ctx.body = { error: e.message };
    }
  });
  if (variant === "ours") app.use(koaDropIn({ store: store() }, app));
  else app.use(koaSession({ store: mapStore() }, app));
  app.use((ctx) => {
    const session = sessionOf(ctx);
    if (ctx.path === "/sign-in") {
      session.failed = (session.failed ?? 0) + 1;
      throw new HttpError(401, "wrong password");
    }
    if (ctx.path === "/form") {
      session.draft = "kept";
      throw new HttpError(Number(ctx.query.status ?? 400), "invalid form");
    }
    ctx.body = {
      failed: session.failed ?? null,
      flash: session.flash ?? null,
      draft: session.draft ?? null,
    };
  });
  return start(createServer(app.callback()), "koa.sess");
}

const FRAMEWORKS = [
  { ours: "scs-ts/express-session", peer: "express-session", build: expressApp },
  { ours: "scs-ts/fastify-session", peer: "@fastify/session", build: fastifyApp },
  // koa-session commits on the way back up, before the upstream error handler runs, so the
  // handler's own change is lost there; ours commits when the response is written.
  { ours: "scs-ts/koa-session", peer: "koa-session", build: koaApp, peerLosesHandlers: true },
] as const;

for (const framework of FRAMEWORKS) {
  for (const { variant, storeName, store } of RUNS) {
    const label = `${variant === "ours" ? framework.ours : framework.peer}${storeName}`;
    describe(`a thrown route answered by the error handler, ${label}`, {
      timeout: TEST_TIMEOUT,
    }, () => {
      test("a 401 keeps the route's change: a failed sign-in counter counts", async () => {
        const app = await framework.build(variant, store);
        try {
          const browser = app.browser();
          assert.equal((await browser.send("/sign-in")).status, 401);
          assert.equal((await browser.send("/sign-in")).status, 401);
          assert.equal((await browser.send("/read")).json().failed, 2);
        } finally {
          await app.close();
        }
      });

      test("a redirect keeps the route's change and the handler's flash message", async () => {
        const app = await framework.build(variant, store);
        try {
          const browser = app.browser();
          const res = await browser.send("/form");
          assert.equal(res.status, 302);
          const lost = variant === "peer" && "peerLosesHandlers" in framework;
          assert.deepEqual((await browser.send("/read")).json(), {
            failed: null,
            flash: lost ? null : "invalid form",
            draft: "kept",
          });
        } finally {
          await app.close();
        }
      });

      if (variant === "ours") {
        test("a 5xx keeps nothing the route changed", async () => {
          const app = await framework.build(variant, store);
          try {
            const browser = app.browser();
            assert.equal((await browser.send("/form?status=503")).status, 503);
            assert.equal(browser.token, undefined, "no session cookie on the 5xx");
            assert.deepEqual((await browser.send("/read")).json(), {
              failed: null,
              flash: null,
              draft: null,
            });
          } finally {
            await app.close();
          }
        });
      }
    });
  }
}

describe("save() left un-awaited while the store fails", { timeout: TEST_TIMEOUT }, () => {
  /** A store whose commits fail. */
  class FailingCommits extends MemStore {
    override commit(): Promise<void> {
      return Promise.reject(new Error("commit failed (test double)"));
    }
  }
  for (const entry of ["fastify", "koa"] as const) {
    test(`${entry}: nothing escapes, and the response is a 5xx, not a success`, async () => {
      let app: Running;
      if (entry === "fastify") {
        const fastify = Fastify();
        await fastify.register(fastifyDropIn, {
          store: new FailingCommits(),
          cookie: { secure: false },
          logger: { warn() {}, error() {} },
        });
        fastify.get("/put", async (request) => {
          const session = (
            request as unknown as { session: Record<string, unknown> & { save(): Promise<void> } }
          ).session;
          session.n = 1;
          void session.save(); // not awaited, as some applications do
          return { ok: true };
        });
        await fastify.listen({ port: 0, host: "127.0.0.1" });
        const address = fastify.server.address();
        assert.ok(address !== null && typeof address === "object");
        const base = `http://127.0.0.1:${address.port}`;
        app = { browser: () => new Browser(base, "sessionId"), close: () => fastify.close() };
      } else {
        const koa = new Koa();
        koa.silent = true;
        koa.use(koaDropIn({ store: new FailingCommits(), logger: { warn() {}, error() {} } }, koa));
        koa.use((ctx) => {
          const session = (
            ctx as unknown as { session: Record<string, unknown> & { save(): Promise<void> } }
          ).session;
          session.n = 1;
          void session.save();
          ctx.body = { ok: true };
        });
        app = await start(createServer(koa.callback()), "koa.sess");
      }
      try {
        const res = await app.browser().send("/put");
        assert.ok(res.status >= 500, `status ${res.status}`);
        assert.deepEqual(res.setCookies, []);
      } finally {
        await app.close();
      }
    });
  }
});
