// The security review of issue 6, one test per point.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { describe, it } from "node:test";
import { createDemoApp } from "../examples/demo/app.ts";
import { CookieTooLargeError } from "../src/errors.ts";
import { SessionManager } from "../src/manager.ts";
import { MemStore } from "../src/stores/memstore.ts";
import { generateToken, hashToken } from "../src/token.ts";
import { cookiePair, cookieToken, listen, request } from "./helpers/http.ts";
import { FailingCommitStore, UnavailableStore } from "./helpers/stores.ts";

const TOKEN_SHAPE = /[A-Za-z0-9_-]{43}/;

async function startDemo(options: ConstructorParameters<typeof SessionManager>[0] = {}) {
  const store = new MemStore({ cleanupInterval: 0 });
  const { server } = createDemoApp({ sessions: { store, ...options } });
  const { url, close } = await listen(server);
  const form = (body: string, cookie?: string) =>
    request(url, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...(cookie ? { cookie } : {}),
      },
      body,
    });
  return {
    store,
    url,
    close,
    get: (cookie?: string) => request(`${url}/`, cookie ? { headers: { cookie } } : {}),
    signIn: (cookie?: string) =>
      request(`${url}/signin`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          ...(cookie ? { cookie } : {}),
        },
        body: "username=ada",
      }),
    signOut: (cookie: string) =>
      request(`${url}/signout`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie },
        body: "",
      }),
    form,
  };
}

describe("security review", () => {
  it("tokens are 256-bit CSPRNG values: 43 base64url characters decoding to 32 bytes, all distinct", async () => {
    const demo = await startDemo();
    try {
      const tokens = new Set<string>();
      for (let i = 0; i < 50; i++) {
        const token = cookieToken(await demo.get())!;
        assert.equal(Buffer.from(token, "base64url").length, 32);
        tokens.add(token);
      }
      assert.equal(tokens.size, 50);
    } finally {
      await demo.close();
    }
  });

  it("the demo renews the token on sign-in and on sign-out, and old tokens are dead", async () => {
    const demo = await startDemo();
    try {
      const anonymous = cookiePair(await demo.get())!;
      const signedIn = await demo.signIn(anonymous);
      assert.equal(signedIn.status, 303);
      const signedInCookie = cookiePair(signedIn)!;
      assert.notEqual(signedInCookie, anonymous, "sign-in renews the token");
      assert.match((await demo.get(signedInCookie)).body, /id="user">ada</);
      assert.doesNotMatch(
        (await demo.get(anonymous)).body,
        /id="user"/,
        "pre-sign-in token is dead",
      );

      const signedOut = await demo.signOut(signedInCookie);
      const signedOutCookie = cookiePair(signedOut)!;
      assert.notEqual(signedOutCookie, signedInCookie, "sign-out renews the token");
      assert.doesNotMatch(
        (await demo.get(signedInCookie)).body,
        /id="user"/,
        "signed-in token is dead",
      );
      assert.equal(demo.store.find(signedInCookie.slice("session=".length)), undefined);
    } finally {
      await demo.close();
    }
  });

  it("a session fixation attempt fails: a planted token is never adopted", async () => {
    const demo = await startDemo();
    try {
      const planted = generateToken();
      const res = await demo.signIn(`session=${planted}`);
      const issued = cookieToken(res)!;
      assert.notEqual(issued, planted);
      assert.equal(demo.store.find(planted), undefined);
      assert.doesNotMatch((await demo.get(`session=${planted}`)).body, /id="user"/);
    } finally {
      await demo.close();
    }
  });

  it("hashTokenInStore leaves no usable token in the store", async () => {
    const demo = await startDemo({ hashTokenInStore: true });
    try {
      const cookie = cookiePair(await demo.signIn())!;
      const token = cookie.slice("session=".length);
      const keys = [...demo.store.all().keys()];
      assert.deepEqual(keys, [hashToken(token)]);
      for (const key of keys) {
        assert.notEqual(key, token);
        const stolen = await demo.get(`session=${key}`);
        assert.doesNotMatch(
          stolen.body,
          /id="user"/,
          "a stored key used as a cookie is no session",
        );
      }
      assert.match((await demo.get(cookie)).body, /id="user">ada</);
    } finally {
      await demo.close();
    }
  });

  it('__Host- names need secure and path "/", and SameSite=None needs secure (TypeError at construction)', () => {
    assert.throws(() => new SessionManager({ cookie: { name: "__Host-session" } }), TypeError);
    assert.throws(
      () => new SessionManager({ cookie: { name: "__Host-session", secure: true, path: "/x" } }),
      TypeError,
    );
    assert.throws(() => new SessionManager({ cookie: { sameSite: "none" } }), TypeError);
    assert.doesNotThrow(
      () => new SessionManager({ cookie: { name: "__Host-session", secure: true } }),
    );
    assert.doesNotThrow(() => new SessionManager({ cookie: { sameSite: "none", secure: true } }));
  });

  it("cookies over 4096 bytes are refused at commit with a clear error, not dropped silently", async () => {
    const errors: unknown[] = [];
    const sessions = new SessionManager({
      cookie: { path: `/${"p".repeat(4096)}` },
      onError: (err, _req, res) => {
        errors.push(err);
        res.statusCode = 500;
        res.end();
      },
    });
    const { url, close } = await listen(
      createServer(
        sessions.handler((req, res) => {
          sessions.from(req).put("k", 1);
          res.end("ok");
        }),
      ),
    );
    try {
      const res = await request(url);
      assert.equal(res.status, 500);
      assert.deepEqual(res.setCookies, []);
      assert.ok(errors[0] instanceof CookieTooLargeError);
      assert.match((errors[0] as Error).message, /4096/);
    } finally {
      await close();
    }
  });

  it("tokens never appear in logs, error messages or error responses", async () => {
    const lines: string[] = [];
    const logger = { warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
    const bodies: string[] = [];
    const token = generateToken();
    const cookie = `session=${token}`;
    const route = (sessions: SessionManager) =>
      sessions.handler((req, res) => {
        sessions.from(req).put("k", 1);
        res.end("ok");
      });
    // a store whose errors quote the token, one that is down, and corrupt stored data
    const failing = new SessionManager({ store: new FailingCommitStore(), logger });
    const down = new SessionManager({ store: new UnavailableStore(), logger });
    const corruptStore = new MemStore({ cleanupInterval: 0 });
    corruptStore.commit(token, new Uint8Array([1, 2, 3]), new Date(Date.now() + 60_000));
    const corrupt = new SessionManager({ store: corruptStore, logger });
    for (const sessions of [failing, down, corrupt]) {
      const { url, close } = await listen(createServer(route(sessions)));
      try {
        const res = await request(url, { headers: { cookie } });
        bodies.push(res.body);
      } finally {
        await close();
      }
    }
    assert.ok(lines.length >= 3, "each failure was logged");
    for (const text of [...lines, ...bodies]) {
      assert.ok(!text.includes(token), `token leaked: ${text}`);
      assert.doesNotMatch(text, TOKEN_SHAPE);
    }
  });

  it("iterate with hashTokenInStore can destroy the sessions it visits (SCS hashes twice here)", async () => {
    const store = new MemStore({ cleanupInterval: 0 });
    const sessions = new SessionManager({ store, hashTokenInStore: true });
    const s = await sessions.load(undefined);
    s.put("user", "ada");
    const { token } = await sessions.commit(s);
    await sessions.iterate((visited) => visited.destroy());
    assert.equal(store.size, 0);
    assert.equal((await sessions.load(token)).get("user"), undefined);
  });
});
