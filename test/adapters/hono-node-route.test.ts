/**
 * Hono on @hono/node-server: the session's headers go on node's response and are merged into
 * the head node-server writes, Hono's response stays as the route built it, the commit runs
 * after the handlers (a failure reaches app.onError), and a route answering on
 * `c.env.outgoing` itself is committed before its first byte.
 */
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, describe, it } from "node:test";
import { createAdaptorServer, type HttpBindings } from "@hono/node-server";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { Hono } from "hono";
import { setCookie } from "hono/cookie";
import { type HonoSessionEnv, honoSession } from "../../src/adapters/hono.ts";
import { SessionManager } from "../../src/manager.ts";
import type { SessionData } from "../../src/session.ts";
import { generateToken } from "../../src/token.ts";
import { cookiePair, fetchText, type Listening, listen, RecordingStore } from "./helpers.ts";

type Env = HonoSessionEnv<SessionData> & { Bindings: HttpBindings };

describe("Hono on @hono/node-server: session headers on node's response", () => {
  const started: Listening[] = [];
  after(async () => {
    await Promise.all(started.map((s) => s.close()));
  });

  async function start(store = new RecordingStore()) {
    const sessions = new SessionManager({ store, logger: { warn() {}, error() {} } });
    const app = new Hono<Env>();
    const errors: unknown[] = [];
    const seen: { vary: string | null; setCookie: string | null }[] = [];
    app.onError((err, c) => {
      errors.push(err);
      return c.text("framework error", 500);
    });
    // Outside the session middleware: what Hono's response carries when it comes back.
    app.use(async (c, next) => {
      await next();
      seen.push({ vary: c.res.headers.get("vary"), setCookie: c.res.headers.get("set-cookie") });
    });
    app.use(honoSession(sessions));
    app.get("/own-headers", (c) => {
      c.get("session").put("value", "v");
      c.header("Vary", "Accept-Encoding");
      setCookie(c, "theme", "dark");
      c.header("Cache-Control", "private, max-age=60");
      return c.text("own");
    });
    app.get("/read-vary", (c) => {
      c.header("Vary", "Origin", { append: true });
      return c.text(String(c.get("session").get("value") ?? "none"));
    });
    app.get("/raw", (c) => {
      c.get("session").put("value", "raw");
      const res = c.env.outgoing;
      res.writeHead(200, { "Content-Type": "text/plain", Vary: "Accept" });
      res.end("raw body");
      return RESPONSE_ALREADY_SENT;
    });
    app.get("/not-found-put", (c) => {
      c.get("session").put("value", "lost");
      return c.text("nope", 404);
    });
    const server = await listen(createAdaptorServer({ fetch: app.fetch }) as Server);
    started.push(server);
    return { url: server.url, store, errors, seen };
  }

  it("merges Vary, Set-Cookie and Cache-Control with the route's own and leaves c.res as built", async () => {
    const { url, seen } = await start();
    const reply = await fetchText(`${url}/own-headers`);
    assert.equal(reply.status, 200);
    assert.equal(reply.body, "own");
    const vary = String(reply.headers.vary);
    assert.match(vary, /\bAccept-Encoding\b/);
    assert.match(vary, /\bCookie\b/);
    assert.equal(reply.setCookie.length, 2);
    assert.ok(reply.setCookie.some((c) => c.startsWith("theme=dark")));
    assert.ok(reply.setCookie.some((c) => /^session=[\w-]{43}; /.test(c)));
    const cacheControl = String(reply.headers["cache-control"]);
    assert.match(cacheControl, /private, max-age=60/);
    assert.match(cacheControl, /no-cache="Set-Cookie"/);
    // Hono's response is the route's: the session's headers were added on node's response.
    assert.equal(seen.at(-1)?.vary, "Accept-Encoding");
    assert.equal(seen.at(-1)?.setCookie, "theme=dark; Path=/");
  });

  it("a READ keeps the route's Vary and adds Cookie, without a Set-Cookie", async () => {
    const { url } = await start();
    const put = await fetchText(`${url}/own-headers`);
    const cookie = cookiePair(put.setCookie.find((c) => c.startsWith("session=")));
    const read = await fetchText(`${url}/read-vary`, { headers: { cookie } });
    assert.equal(read.body, "v");
    assert.deepEqual(read.setCookie, []);
    const vary = String(read.headers.vary);
    assert.match(vary, /\bOrigin\b/);
    assert.match(vary, /\bCookie\b/);
  });

  it("a route answering on c.env.outgoing is committed before its first byte", async () => {
    const store = new RecordingStore();
    store.commitDelay = 20;
    const { url } = await start(store);
    const log = store.log;
    const reply = await fetchText(`${url}/raw`, { log });
    assert.equal(reply.body, "raw body");
    assert.match(String(reply.headers.vary), /\bAccept\b/);
    assert.match(String(reply.headers.vary), /\bCookie\b/);
    const cookie = cookiePair(reply.setCookie[0]);
    assert.deepEqual(log.slice(0, 3), ["commit-start", "commit-end", "first-byte"]);
    const read = await fetchText(`${url}/read-vary`, { headers: { cookie } });
    assert.equal(read.body, "raw");
  });

  it("an asynchronous store commits before the first byte; a failed commit reaches app.onError", async () => {
    const store = new RecordingStore();
    store.commitDelay = 15;
    const { url, errors } = await start(store);
    const log = store.log;
    const ok = await fetchText(`${url}/own-headers`, { log });
    assert.equal(ok.status, 200);
    assert.deepEqual(log.slice(0, 3), ["commit-start", "commit-end", "first-byte"]);
    store.failCommit = true;
    const failed = await fetchText(`${url}/own-headers`);
    assert.equal(failed.status, 500);
    assert.equal(failed.body, "framework error");
    assert.equal(errors.length, 1);
    // No session cookie on the error answer (the route's own cookie went with its response).
    assert.ok(!failed.setCookie.some((c) => c.startsWith("session=")));
    assert.match(String(failed.headers.vary), /\bCookie\b/);
  });

  it("a 404 commits nothing and still carries Vary: Cookie", async () => {
    const { url, store } = await start();
    const reply = await fetchText(`${url}/not-found-put`);
    assert.equal(reply.status, 404);
    assert.deepEqual(reply.setCookie, []);
    assert.match(String(reply.headers.vary), /\bCookie\b/);
    assert.equal(store.inner.size, 0);
  });

  for (const timing of ["at once", "later"] as const) {
    it(`a failed load answered by the manager's onError ${timing}: its whole answer, nothing else`, async () => {
      const store = new RecordingStore();
      store.failFind = true;
      const body = "x".repeat(1 << 20); // large enough that a second writer would show
      const sessions = new SessionManager({
        store,
        logger: { warn() {}, error() {} },
        onError: (_err, _req, res) => {
          const answer = () => {
            res.statusCode = 503;
            res.setHeader("Content-Type", "text/plain");
            res.end(body);
          };
          if (timing === "at once") answer();
          else setTimeout(answer, 20);
        },
      });
      const app = new Hono<Env>();
      app.use(honoSession(sessions));
      app.get("/get", (c) => c.text("route"));
      const server = await listen(createAdaptorServer({ fetch: app.fetch }) as Server);
      started.push(server);
      for (let i = 0; i < 2; i++) {
        const reply = await fetchText(`${server.url}/get`, {
          headers: { cookie: `session=${generateToken()}` },
        });
        assert.equal(reply.status, 503);
        assert.equal(reply.body.length, body.length);
        assert.equal(reply.headers["x-hono-already-sent"], undefined);
      }
    });
  }
});
