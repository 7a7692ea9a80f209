/**
 * Every store under every drop-in entry: MemStore and RqliteStore (a real rqlited). The store
 * itself is checked, not only the responses: a request that changes nothing writes nothing,
 * regenerate deletes the old token's row, destroy deletes the session's row.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import express, { type Request } from "express";
import Fastify, { type FastifyRequest } from "fastify";
import Koa, { type Context } from "koa";
import expressDropIn from "../../src/adapters/express-session.ts";
import fastifyDropIn from "../../src/adapters/fastify-session.ts";
import koaDropIn from "../../src/adapters/koa-session.ts";
import { SessionManager } from "../../src/manager.ts";
import type { Store } from "../../src/store.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { RqliteStore } from "../../src/stores/rqlitestore.ts";
import { type RqliteCluster, startNode } from "../helpers/rqlite.ts";
import { Browser, CountingStore, TEST_TIMEOUT } from "./harness.ts";

/** The session object each entry gives, as far as these routes use it. */
type Data = Record<string, unknown>;

/** One app per entry, with the same routes: set, get, noop, regenerate, destroy. */
const ENTRIES: Record<
  string,
  (sessions: SessionManager) => Promise<{ server: Server; stop?: () => Promise<void> }>
> = {
  "scs-ts/express-session": async (sessions) => {
    const app = express();
    app.use(expressDropIn({ sessions }));
    const s = (req: Request) =>
      (
        req as unknown as {
          session: Data & {
            regenerate(cb: (e?: unknown) => void): void;
            destroy(cb: (e?: unknown) => void): void;
          };
        }
      ).session;
    app.get("/set", (req, res) => {
      s(req).value = String(req.query.v);
      res.json({ ok: true });
    });
    app.get("/get", (req, res) => {
      res.json({ value: s(req).value ?? null });
    });
    app.get("/noop", (_req, res) => {
      res.json({ ok: true });
    });
    app.get("/regenerate", (req, res, next) => {
      s(req).regenerate((err) => (err ? next(err) : res.json({ ok: true })));
    });
    app.get("/destroy", (req, res, next) => {
      s(req).destroy((err) => (err ? next(err) : res.json({ ok: true })));
    });
    return { server: createServer(app) };
  },
  "scs-ts/koa-session": async (sessions) => {
    const app = new Koa();
    app.use(koaDropIn({ sessions }, app));
    app.use(async (ctx: Context) => {
      const session = (
        ctx as unknown as { session: (Data & { regenerate(): Promise<void> }) | null }
      ).session;
      if (ctx.path === "/set" && session) session.value = String(ctx.query.v);
      if (ctx.path === "/regenerate") await session?.regenerate();
      if (ctx.path === "/destroy") (ctx as unknown as { session: null }).session = null;
      ctx.body = ctx.path === "/get" ? { value: session?.value ?? null } : { ok: true };
    });
    return { server: createServer(app.callback()) };
  },
  "scs-ts/fastify-session": async (sessions) => {
    const app = Fastify();
    await app.register(fastifyDropIn, { sessions });
    const s = (request: FastifyRequest) =>
      (
        request as unknown as {
          session: Data & { regenerate(): Promise<void>; destroy(): Promise<void> };
        }
      ).session;
    app.get("/set", async (request) => {
      s(request).value = String((request.query as { v: string }).v);
      return { ok: true };
    });
    app.get("/get", async (request) => ({ value: s(request).value ?? null }));
    app.get("/noop", async () => ({ ok: true }));
    app.get("/regenerate", async (request) => {
      await s(request).regenerate();
      return { ok: true };
    });
    app.get("/destroy", async (request) => {
      await s(request).destroy();
      return { ok: true };
    });
    await app.ready();
    return { server: app.server, stop: () => app.close() };
  },
};

async function listenOn(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  return `http://127.0.0.1:${address.port}`;
}

let node: RqliteCluster | undefined;
const rqliteStores: RqliteStore[] = [];
before(async () => {
  node = await startNode();
});
after(async () => {
  for (const store of rqliteStores) await store.close();
  await node?.close();
});

const STORES: Record<string, () => Store> = {
  MemStore: () => new MemStore({ cleanupInterval: 0 }),
  RqliteStore: () => {
    assert.ok(node);
    const store = new RqliteStore(node.urls, {
      table: `dropin_${randomBytes(4).toString("hex")}`,
      cleanupInterval: 0,
    });
    rqliteStores.push(store);
    return store;
  },
};

for (const [entry, build] of Object.entries(ENTRIES)) {
  for (const [storeName, makeStore] of Object.entries(STORES)) {
    describe(`${entry} on ${storeName}`, { timeout: TEST_TIMEOUT }, () => {
      let store: CountingStore;
      let url: string;
      let stop: () => Promise<void>;
      before(async () => {
        store = new CountingStore(makeStore());
        const built = await build(new SessionManager({ store }));
        url = await listenOn(built.server);
        stop =
          built.stop ??
          (() =>
            new Promise<void>((resolve) => {
              built.server.close(() => resolve());
              built.server.closeAllConnections();
            }));
      });
      after(() => stop());

      test("property data is stored, read back, and a request that changes nothing writes nothing", async () => {
        const browser = new Browser(url, "session");
        await browser.send("/noop");
        assert.equal(store.commits, 0, "an untouched fresh session is not stored");
        assert.equal(browser.token, undefined);
        await browser.send("/set?v=one");
        const token = browser.token;
        assert.ok(token);
        assert.ok(await store.find(token), "the session is in the store");
        const commits = store.commits;
        assert.deepEqual((await browser.send("/get")).json(), { value: "one" });
        await browser.send("/noop");
        await browser.send("/set?v=one");
        assert.equal(store.commits, commits, "reads and same-value writes commit nothing");
        await browser.send("/set?v=two");
        assert.equal(store.commits, commits + 1);
        assert.deepEqual((await browser.send("/get")).json(), { value: "two" });
      });

      test("regenerate deletes the old token's row; destroy deletes the session's", async () => {
        const browser = new Browser(url, "session");
        await browser.send("/set?v=kept");
        const before = browser.token;
        assert.ok(before);
        await browser.send("/regenerate");
        const after = browser.token;
        assert.ok(after);
        assert.notEqual(after, before);
        assert.equal(await store.find(before), undefined, "the old token's row is gone");
        await browser.send("/destroy");
        assert.equal(browser.token, undefined, "the cookie is cleared");
        assert.equal(await store.find(after), undefined, "the session's row is gone");
      });
    });
  }
}
