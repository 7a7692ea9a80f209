/**
 * A synchronous store that throws (find, or commit) under the middleware that are not async
 * functions (Koa, the koa-session drop-in, Hono on node-server): the framework's error path
 * answers, a failed commit sends no session cookie, and nothing escapes to the process.
 */
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { createServer } from "node:http";
import { after, describe, it } from "node:test";
import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import Koa from "koa";
import { type HonoSessionEnv, honoSession } from "../../src/adapters/hono.ts";
import { koaSession } from "../../src/adapters/koa.ts";
import koaDropIn from "../../src/adapters/koa-session.ts";
import { StoreUnavailableError } from "../../src/errors.ts";
import { SessionManager } from "../../src/manager.ts";
import type { SessionData } from "../../src/session.ts";
import type { Store } from "../../src/store.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { failOnProcessErrors } from "../helpers/failing-stores.ts";
import { cookiePair, fetchText, type Listening, listen } from "./helpers.ts";

failOnProcessErrors();
const quiet = { warn() {}, error() {} };

/** A MemStore whose find or commit can be made to throw synchronously. */
class SwitchableStore implements Store {
  readonly inner = new MemStore({ cleanupInterval: 0 });
  throwOnFind = false;
  throwOnCommit = false;
  find(token: string): Uint8Array | undefined {
    if (this.throwOnFind) throw new StoreUnavailableError("find failed (test double)");
    return this.inner.find(token);
  }
  commit(token: string, data: Uint8Array, expiry: Date): void {
    if (this.throwOnCommit) throw new StoreUnavailableError("commit failed (test double)");
    this.inner.commit(token, data, expiry);
  }
  delete(token: string): void {
    this.inner.delete(token);
  }
}

type Build = (sessions: SessionManager, errors: unknown[]) => Promise<Listening>;

const koaApp =
  (entry: "adapter" | "drop-in"): Build =>
  async (sessions, errors) => {
    const app = new Koa();
    app.silent = true;
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (err) {
        errors.push(err);
        ctx.status = err instanceof StoreUnavailableError ? 503 : 500;
        ctx.body = "framework error";
      }
    });
    app.use(entry === "adapter" ? koaSession(sessions) : koaDropIn({ sessions }));
    app.use((ctx) => {
      if (entry === "adapter") sessions.from(ctx).put("value", "v");
      // A new value each time: the drop-in commits only data that changed.
      else (ctx.session as unknown as Record<string, unknown>).value = Math.random();
      ctx.body = "ok";
    });
    return listen(createServer(app.callback()));
  };

const honoApp: Build = async (sessions, errors) => {
  const app = new Hono<HonoSessionEnv<SessionData>>();
  app.onError((err, c) => {
    errors.push(err);
    return c.text("framework error", err instanceof StoreUnavailableError ? 503 : 500);
  });
  app.use(honoSession(sessions));
  app.get("/", (c) => {
    c.get("session").put("value", "v");
    return c.text("ok");
  });
  return listen(createAdaptorServer({ fetch: app.fetch }) as Server);
};

const apps: [string, Build][] = [
  ["Koa adapter", koaApp("adapter")],
  ["koa-session drop-in", koaApp("drop-in")],
  ["Hono on @hono/node-server", honoApp],
];

for (const [name, build] of apps) {
  describe(`${name}: a synchronous store that throws`, () => {
    const started: Listening[] = [];
    after(async () => {
      await Promise.all(started.map((s) => s.close()));
    });

    it("a throwing find and a throwing commit reach the framework's error path, with no session cookie", async () => {
      const store = new SwitchableStore();
      const errors: unknown[] = [];
      const app = await build(new SessionManager({ store, logger: quiet }), errors);
      started.push(app);
      const ok = await fetchText(`${app.url}/`);
      assert.equal(ok.status, 200);
      const cookie = cookiePair(ok.setCookie.find((c) => c.startsWith("session=")));

      store.throwOnFind = true;
      const noFind = await fetchText(`${app.url}/`, { headers: { cookie } });
      assert.equal(noFind.status, 503);
      assert.equal(noFind.body, "framework error");
      assert.ok(!noFind.setCookie.some((c) => c.startsWith("session=")));

      store.throwOnFind = false;
      store.throwOnCommit = true;
      const noCommit = await fetchText(`${app.url}/`, { headers: { cookie } });
      assert.equal(noCommit.status, 503);
      assert.equal(noCommit.body, "framework error");
      assert.ok(!noCommit.setCookie.some((c) => c.startsWith("session=")));
      assert.equal(errors.length, 2);
      assert.ok(errors.every((e) => e instanceof StoreUnavailableError));
    });
  });
}
