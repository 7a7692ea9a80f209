import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { PassThrough } from "node:stream";
import { after, describe, it } from "node:test";
import Koa from "koa";
import { koaSession } from "../../src/adapters/koa.ts";
import { StoreUnavailableError } from "../../src/errors.ts";
import { SessionManager } from "../../src/manager.ts";
import { adapterContract } from "./contract.ts";
import { fetchText, type Listening, listen, RecordingStore, sleep } from "./helpers.ts";

const Koa2 = createRequire(import.meta.url)("koa2") as typeof Koa;

function routes(app: Koa, sessions: SessionManager): void {
  app.use(async (ctx, next) => {
    if (ctx.path === "/touch-missing") sessions.from(ctx).put("value", "half");
    await next();
  });
  app.use(async (ctx) => {
    const session = sessions.from(ctx);
    switch (ctx.path) {
      case "/put":
        session.put("value", String(ctx.query.v));
        ctx.body = "ok";
        return;
      case "/put-redirect":
        session.put("value", "redirected");
        ctx.cookies.set("auth", "jwt", { signed: false });
        ctx.set("Cache-Control", "public, max-age=3600");
        ctx.set("X-Frame-Options", "DENY");
        ctx.status = 303;
        ctx.redirect("/dashboard");
        return;
      case "/get":
        ctx.body = String(session.get("value") ?? "none");
        return;
      case "/noop":
        ctx.body = "noop";
        return;
      case "/same":
        ctx.body =
          (ctx.session as unknown) === session && sessions.from(ctx.req) === session
            ? "same"
            : "no";
        return;
      case "/renew":
        await session.renewToken();
        ctx.body = "renewed";
        return;
      case "/destroy":
        await session.destroy();
        ctx.body = "destroyed";
        return;
      case "/stream": {
        session.put("value", "streamed");
        const body = new PassThrough();
        ctx.type = "text/plain";
        ctx.body = body;
        (async () => {
          for (const chunk of ["a", "b"]) {
            body.write(chunk);
            await sleep(5);
          }
          body.end("c");
        })();
        return;
      }
      case "/throw":
        session.put("value", "half");
        throw new Error("route failed");
    }
  });
}

function buildWith(Framework: typeof Koa) {
  return (sessions: SessionManager, options: { header?: string }, errors: unknown[]) => {
    const app = new Framework();
    app.silent = true;
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (err) {
        errors.push(err);
        ctx.status = 500;
        ctx.body = "framework error";
      }
    });
    app.use(koaSession(sessions, options));
    routes(app, sessions);
    return listen(createServer(app.callback()));
  };
}

adapterContract("Koa 3", buildWith(Koa));
adapterContract("Koa 2", buildWith(Koa2));

describe("Koa: without a try/catch middleware", () => {
  const started: Listening[] = [];
  after(() => Promise.all(started.map((app) => app.close())));

  it("a failing commit is emitted as app 'error' and answered 503 (the error's status) without Set-Cookie", async () => {
    const store = new RecordingStore();
    const sessions = new SessionManager({ store });
    const app = new Koa();
    const emitted: unknown[] = [];
    app.on("error", (err: unknown) => emitted.push(err));
    app.use(koaSession(sessions));
    routes(app, sessions);
    const server = await listen(createServer(app.callback()));
    started.push(server);
    store.failCommit = true;
    const got = await fetchText(`${server.url}/put?v=lost`);
    assert.equal(got.status, 503);
    assert.doesNotMatch(got.body, /unreachable|lost/, "Koa shows no store message (expose: false)");
    assert.deepEqual(got.setCookie, []);
    assert.equal(emitted.length, 1);
    assert.ok(emitted[0] instanceof StoreUnavailableError);
  });
});
