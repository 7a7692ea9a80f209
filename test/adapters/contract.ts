/**
 * The behaviour every framework adapter must show, run by each adapter's test file against
 * the real framework over 127.0.0.1. The app a test file builds answers these routes:
 *
 * - GET /put?v=x      puts "value" = x
 * - GET /put-redirect puts "value", answers 303 to /dashboard with its own cookie "auth",
 *                     Cache-Control: public and X-Frame-Options
 * - GET /get          answers the "value" (or "none")
 * - GET /noop         answers without touching the session
 * - GET /renew        renewToken, answers "renewed"
 * - GET /destroy      destroy, answers "destroyed"
 * - GET /same         "same" when the framework's session is `sessions.from(...)`'s
 * - GET /stream       puts "value" = "streamed", then streams "a", "b", "c" in separate chunks
 * - GET /throw        puts "value" = "half", then throws
 * - GET /touch-missing   a middleware puts "value" = "half"; no route answers (404)
 *
 * Errors reaching the framework's error path are pushed to `errors` and answered 500
 * "framework error".
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { StoreUnavailableError } from "../../src/errors.ts";
import { SessionManager } from "../../src/manager.ts";
import type { SessionManagerOptions } from "../../src/options.ts";
import { generateToken } from "../../src/token.ts";
import { cookiePair, fetchText, type Listening, RecordingStore, tokenOf } from "./helpers.ts";

/** Builds and starts the test app for one adapter. */
export type BuildApp = (
  sessions: SessionManager,
  options: { header?: string },
  errors: unknown[],
) => Promise<Listening>;

interface Harness {
  app: Listening;
  store: RecordingStore;
  sessions: SessionManager;
  errors: unknown[];
}

/** Runs the adapter contract for `name`. */
export function adapterContract(name: string, build: BuildApp): void {
  describe(`${name}: the adapter contract`, () => {
    const started: Listening[] = [];
    after(async () => {
      await Promise.all(started.map((app) => app.close()));
    });

    async function start(
      options: { header?: string } = {},
      managerOptions: SessionManagerOptions = {},
    ): Promise<Harness> {
      const store = new RecordingStore();
      const sessions = new SessionManager({ store, ...managerOptions });
      const errors: unknown[] = [];
      const app = await build(sessions, options, errors);
      started.push(app);
      return { app, store, sessions, errors };
    }

    it("put then get round-trips through the cookie, with Vary and Cache-Control", async () => {
      const { app, store } = await start();
      const put = await fetchText(`${app.url}/put?v=hello`);
      assert.equal(put.status, 200);
      assert.equal(put.setCookie.length, 1);
      const cookie = put.setCookie[0] as string;
      assert.match(cookie, /^session=[\w-]{43}; /);
      for (const attribute of ["Path=/", "Max-Age=86400", "HttpOnly", "SameSite=Lax"]) {
        assert.ok(cookie.split("; ").includes(attribute), `${attribute} in ${cookie}`);
      }
      assert.match(String(put.headers.vary), /\bCookie\b/);
      assert.match(String(put.headers["cache-control"]), /no-cache="Set-Cookie"/);
      assert.equal(store.size, 1);
      const got = await fetchText(`${app.url}/get`, {
        headers: { cookie: cookiePair(put.setCookie[0]) },
      });
      assert.equal(got.body, "hello");
    });

    it("an unmodified session sends no Set-Cookie but still Vary: Cookie", async () => {
      const { app, store } = await start();
      const put = await fetchText(`${app.url}/put?v=x`);
      const noop = await fetchText(`${app.url}/noop`, {
        headers: { cookie: cookiePair(put.setCookie[0]) },
      });
      assert.equal(noop.status, 200);
      assert.deepEqual(noop.setCookie, []);
      assert.match(String(noop.headers.vary), /\bCookie\b/);
      assert.doesNotMatch(String(noop.headers["cache-control"]), /no-cache="Set-Cookie"/);
      const fresh = await fetchText(`${app.url}/noop`);
      assert.deepEqual(fresh.setCookie, []);
      assert.equal(store.size, 1);
    });

    it("the framework's session is the one sessions.from returns", async () => {
      const { app } = await start();
      assert.equal((await fetchText(`${app.url}/same`)).body, "same");
    });

    it("renewToken changes the token and the old token is dead", async () => {
      const { app, store } = await start();
      const put = await fetchText(`${app.url}/put?v=kept`);
      const oldCookie = cookiePair(put.setCookie[0]);
      const renewed = await fetchText(`${app.url}/renew`, { headers: { cookie: oldCookie } });
      assert.equal(renewed.body, "renewed");
      const newToken = tokenOf(renewed.setCookie[0]);
      assert.notEqual(newToken, tokenOf(put.setCookie[0]));
      assert.equal(store.size, 1);
      const withNew = await fetchText(`${app.url}/get`, {
        headers: { cookie: cookiePair(renewed.setCookie[0]) },
      });
      assert.equal(withNew.body, "kept");
      const withOld = await fetchText(`${app.url}/get`, { headers: { cookie: oldCookie } });
      assert.equal(withOld.body, "none");
    });

    it("destroy sends a deletion cookie and empties the store", async () => {
      const { app, store } = await start();
      const put = await fetchText(`${app.url}/put?v=gone`);
      const destroyed = await fetchText(`${app.url}/destroy`, {
        headers: { cookie: cookiePair(put.setCookie[0]) },
      });
      assert.equal(destroyed.body, "destroyed");
      assert.equal(destroyed.setCookie.length, 1);
      assert.match(destroyed.setCookie[0] as string, /^session=; /);
      assert.match(destroyed.setCookie[0] as string, /Max-Age=0/);
      assert.match(destroyed.setCookie[0] as string, /Expires=Thu, 01 Jan 1970 00:00:00 GMT/);
      assert.equal(store.size, 0);
    });

    it("the header transport carries the token in X-Session instead of a cookie", async () => {
      const { app } = await start({ header: "X-Session" });
      const put = await fetchText(`${app.url}/put?v=api`);
      assert.deepEqual(put.setCookie, []);
      const token = put.headers["x-session"];
      assert.equal(typeof token, "string");
      assert.match(String(put.headers.vary), /\bX-Session\b/);
      assert.match(String(put.headers["cache-control"]), /no-cache="X-Session"/);
      const got = await fetchText(`${app.url}/get`, { headers: { "x-session": String(token) } });
      assert.equal(got.body, "api");
      assert.equal(got.headers["x-session"], undefined);
      const withCookie = await fetchText(`${app.url}/get`, {
        headers: { cookie: `session=${String(token)}` },
      });
      assert.equal(withCookie.body, "none");
    });

    it("a failing commit reaches the framework's error path and sends no Set-Cookie", async () => {
      const { app, store, errors } = await start();
      store.failCommit = true;
      const put = await fetchText(`${app.url}/put?v=lost`);
      assert.equal(put.status, 500);
      assert.equal(put.body, "framework error");
      assert.deepEqual(put.setCookie, []);
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof StoreUnavailableError);
      assert.equal(store.size, 0);
    });

    it("a failing commit's error answer carries none of the route's cookies, caching or redirect", async () => {
      const { app, store } = await start();
      store.failCommit = true;
      const res = await fetchText(`${app.url}/put-redirect`);
      assert.equal(res.status, 500);
      assert.deepEqual(res.setCookie, [], "neither the session's cookie nor the route's");
      assert.equal(res.headers.location, undefined);
      assert.doesNotMatch(String(res.headers["cache-control"]), /public|max-age=3600/);
      assert.equal(store.size, 0);
      // Without the failure the same route answers as it was written, session cookie added.
      store.failCommit = false;
      const ok = await fetchText(`${app.url}/put-redirect`);
      assert.equal(ok.status, 303);
      assert.equal(ok.headers.location, "/dashboard");
      assert.equal(ok.setCookie.length, 2, ok.setCookie.join(" | "));
    });

    it("a failing load reaches the framework's error path", async () => {
      const { app, store, errors } = await start();
      store.failFind = true;
      const got = await fetchText(`${app.url}/get`, {
        headers: { cookie: `session=${generateToken()}` },
      });
      assert.equal(got.status, 500);
      assert.equal(got.body, "framework error");
      assert.ok(errors[0] instanceof StoreUnavailableError);
    });

    it("onError, when the manager has one, handles a failing commit instead", async () => {
      const seen: unknown[] = [];
      const { app, store, errors } = await start(
        {},
        {
          onError: (err, _req, res) => {
            seen.push(err);
            res.statusCode = 503;
            res.end("onError");
          },
        },
      );
      store.failCommit = true;
      const put = await fetchText(`${app.url}/put?v=lost`);
      assert.equal(put.status, 503);
      assert.equal(put.body, "onError");
      assert.deepEqual(put.setCookie, []);
      assert.equal(seen.length, 1);
      assert.deepEqual(errors, []);
    });

    it("onError, when the manager has one, handles a failing load instead", async () => {
      const seen: unknown[] = [];
      const { app, store, errors } = await start(
        {},
        {
          onError: (err, _req, res) => {
            seen.push(err);
            res.statusCode = 503;
            res.end("onError");
          },
        },
      );
      store.failFind = true;
      const got = await fetchText(`${app.url}/get`, {
        headers: { cookie: `session=${generateToken()}` },
      });
      assert.equal(got.status, 503);
      assert.equal(got.body, "onError");
      assert.ok(seen[0] instanceof StoreUnavailableError);
      assert.deepEqual(errors, []);
    });

    it("a streamed response is committed (slow store) before its first byte", async () => {
      const { app, store } = await start();
      store.commitDelay = 50;
      const got = await fetchText(`${app.url}/stream`, { log: store.log });
      assert.equal(got.body, "abc");
      assert.equal(got.setCookie.length, 1);
      assert.deepEqual(store.log, ["commit-start", "commit-end", "first-byte"]);
      const again = await fetchText(`${app.url}/get`, {
        headers: { cookie: cookiePair(got.setCookie[0]) },
      });
      assert.equal(again.body, "streamed");
    });

    it("a thrown route commits nothing", async () => {
      const { app, store, errors } = await start();
      const got = await fetchText(`${app.url}/throw`);
      assert.equal(got.status, 500);
      assert.deepEqual(got.setCookie, []);
      assert.equal(store.size, 0);
      assert.equal(errors.length, 1);
    });

    it("a 404 commits nothing, even when a middleware changed the session", async () => {
      const { app, store } = await start();
      const got = await fetchText(`${app.url}/touch-missing`);
      assert.equal(got.status, 404);
      assert.deepEqual(got.setCookie, []);
      assert.equal(store.size, 0);
    });
  });
}
