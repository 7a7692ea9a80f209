/**
 * The contract of the Fetch API session layer, driven over HTTP against a test server of
 * test/runtimes/server.ts (on whichever runtime serves it). `prefix` names a setup of that
 * server: `mem`/`rq` run `fetchSession`, `hono`/`honorq` the Hono adapter.
 * @module
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { generateToken } from "../../src/token.ts";
import { cookiePair, fetchText, tokenOf } from "../adapters/helpers.ts";

/** Where the server under test is: its base URL, known once it has started. */
export type BaseUrl = () => Promise<string>;

const TOKEN_SHAPE = /[\w-]{43}/;

/**
 * The session cases every setup must pass: put/get, unmodified, `sessions.from`, renew,
 * destroy, a streamed body committed before its first byte, a redirect Response, a Response
 * from `fetch()` (immutable headers), and a throwing handler.
 */
export function sessionCases(base: BaseUrl, prefix: string, failedBody: RegExp | undefined): void {
  const url = async (route: string) => `${await base()}/${prefix}/${route}`;

  it(`${prefix}: put then get round-trips through the cookie, with Vary and Cache-Control`, async () => {
    const put = await fetchText(await url("put?v=hello"));
    assert.equal(put.status, 200);
    assert.equal(put.setCookie.length, 1);
    const cookie = put.setCookie[0] as string;
    assert.match(cookie, /^session=[\w-]{43}; /);
    for (const attribute of ["Path=/", "HttpOnly", "SameSite=Lax"]) {
      assert.ok(cookie.split("; ").includes(attribute), `${attribute} in ${cookie}`);
    }
    // The lifetime left when the cookie is built: a second less when the store (rqlite on a
    // busy machine) took over half a second to commit.
    const maxAge = Number(/; Max-Age=(\d+)/.exec(cookie)?.[1]);
    assert.ok(maxAge >= 86_398 && maxAge <= 86_400, `Max-Age of a day in ${cookie}`);
    assert.match(String(put.headers.vary), /\bCookie\b/);
    assert.match(String(put.headers["cache-control"]), /no-cache="Set-Cookie"/);
    const got = await fetchText(await url("get"), { headers: { cookie: cookiePair(cookie) } });
    assert.equal(got.body, "hello");
  });

  it(`${prefix}: an unmodified session sends no Set-Cookie, only Vary: Cookie`, async () => {
    const put = await fetchText(await url("put?v=x"));
    const noop = await fetchText(await url("noop"), {
      headers: { cookie: cookiePair(put.setCookie[0]) },
    });
    assert.equal(noop.body, "noop");
    assert.deepEqual(noop.setCookie, []);
    assert.match(String(noop.headers.vary), /\bCookie\b/);
    assert.doesNotMatch(String(noop.headers["cache-control"]), /Set-Cookie/);
    assert.deepEqual((await fetchText(await url("noop"))).setCookie, []);
  });

  it(`${prefix}: the handler's session is the one sessions.from(request) returns`, async () => {
    assert.equal((await fetchText(await url("same"))).body, "same");
  });

  it(`${prefix}: renewToken changes the token and the old token is dead`, async () => {
    const put = await fetchText(await url("put?v=kept"));
    const oldCookie = cookiePair(put.setCookie[0]);
    const renewed = await fetchText(await url("renew"), { headers: { cookie: oldCookie } });
    assert.equal(renewed.body, "renewed");
    assert.notEqual(tokenOf(renewed.setCookie[0]), tokenOf(put.setCookie[0]));
    const withNew = await fetchText(await url("get"), {
      headers: { cookie: cookiePair(renewed.setCookie[0]) },
    });
    assert.equal(withNew.body, "kept");
    const withOld = await fetchText(await url("get"), { headers: { cookie: oldCookie } });
    assert.equal(withOld.body, "none");
  });

  it(`${prefix}: destroy sends a deletion cookie and the token is dead`, async () => {
    const put = await fetchText(await url("put?v=gone"));
    const cookie = cookiePair(put.setCookie[0]);
    const destroyed = await fetchText(await url("destroy"), { headers: { cookie } });
    assert.equal(destroyed.body, "destroyed");
    assert.equal(destroyed.setCookie.length, 1);
    assert.match(destroyed.setCookie[0] as string, /^session=; /);
    assert.match(destroyed.setCookie[0] as string, /Max-Age=0/);
    assert.match(destroyed.setCookie[0] as string, /Expires=Thu, 01 Jan 1970 00:00:00 GMT/);
    assert.equal((await fetchText(await url("get"), { headers: { cookie } })).body, "none");
  });

  it(`${prefix}: a streamed body is committed before its first byte`, async () => {
    const got = await fetchText(await url("stream"));
    assert.equal(got.body, "committed:abc");
    assert.equal(got.setCookie.length, 1);
    const again = await fetchText(await url("get"), {
      headers: { cookie: cookiePair(got.setCookie[0]) },
    });
    assert.equal(again.body, "streamed");
  });

  it(`${prefix}: a Response.redirect() keeps its status and Location and gets the cookie`, async () => {
    const got = await fetchText(await url("redirect"));
    assert.equal(got.status, 302);
    assert.match(String(got.headers.location), /\/mem\/get$/);
    assert.equal(got.setCookie.length, 1);
    assert.match(String(got.headers.vary), /\bCookie\b/);
    const again = await fetchText(await url("get"), {
      headers: { cookie: cookiePair(got.setCookie[0]) },
    });
    assert.equal(again.body, "redirected");
  });

  it(`${prefix}: a Response from fetch() (immutable headers) is sent with the cookie added`, async () => {
    const got = await fetchText(await url("fetched"));
    assert.equal(got.status, 200);
    assert.equal(got.body, "from upstream");
    assert.equal(got.headers["x-upstream"], "yes");
    assert.equal(got.setCookie.length, 1);
    assert.match(String(got.headers["cache-control"]), /no-cache="Set-Cookie"/);
    const again = await fetchText(await url("get"), {
      headers: { cookie: cookiePair(got.setCookie[0]) },
    });
    assert.equal(again.body, "fetched");
  });

  it(`${prefix}: a handler that throws commits nothing and gets the error path's 500`, async () => {
    const got = await fetchText(await url("throw"));
    assert.equal(got.status, 500);
    assert.deepEqual(got.setCookie, []);
    if (failedBody !== undefined) assert.match(got.body, failedBody);
  });
}

/**
 * The cases of the other setups of test/runtimes/server.ts: the header transport, a slow
 * store, a failing store (default and own onError), and with rqlite an unreachable node.
 */
export function setupCases(base: BaseUrl, withRqlite: boolean): void {
  const url = async (path: string) => `${await base()}/${path}`;

  it("header transport: the token travels in X-Session, never in a cookie", async () => {
    const put = await fetchText(await url("header/put?v=api"));
    assert.deepEqual(put.setCookie, []);
    const token = String(put.headers["x-session"]);
    assert.match(token, TOKEN_SHAPE);
    assert.match(String(put.headers.vary), /\bX-Session\b/);
    assert.match(String(put.headers["cache-control"]), /no-cache="X-Session"/);
    const got = await fetchText(await url("header/get"), { headers: { "x-session": token } });
    assert.equal(got.body, "api");
    assert.equal(got.headers["x-session"], undefined);
    const withCookie = await fetchText(await url("header/get"), {
      headers: { cookie: `session=${token}` },
    });
    assert.equal(withCookie.body, "none");
  });

  it("a streamed body on a slow store (50 ms commits) is committed before its first byte", async () => {
    const started = performance.now();
    const got = await fetchText(await url("slow/stream"));
    assert.equal(got.body, "committed:abc");
    assert.ok(performance.now() - started >= 45, "the response waited for the commit");
    const again = await fetchText(await url("slow/get"), {
      headers: { cookie: cookiePair(got.setCookie[0]) },
    });
    assert.equal(again.body, "streamed");
  });

  const failing = (setup: string, status: number, body: RegExp) => {
    it(`${setup}: a failing commit answers ${status} without a cookie or token`, async () => {
      const put = await fetchText(await url(`${setup}/put?v=lost`));
      assert.equal(put.status, status);
      assert.match(put.body, body);
      assert.deepEqual(put.setCookie, []);
      assert.doesNotMatch(put.body, TOKEN_SHAPE);
    });
    it(`${setup}: a failing load answers ${status}`, async () => {
      const got = await fetchText(await url(`${setup}/get`), {
        headers: { cookie: `session=${generateToken()}` },
      });
      assert.equal(got.status, status);
      assert.match(got.body, body);
      assert.doesNotMatch(got.body, TOKEN_SHAPE);
    });
  };
  failing("fail", 503, /^Service Unavailable\n$/);
  failing("custom", 503, /^custom: true$/);
  if (withRqlite) failing("rqdown", 503, /^Service Unavailable\n$/);

  it("the default error answer says Retry-After and no-store", async () => {
    const put = await fetchText(await url("fail/put?v=lost"));
    assert.equal(put.headers["retry-after"], "1");
    assert.equal(put.headers["cache-control"], "no-store");
  });
}
