/**
 * `req.sessionStore`, on scs-ts/express-session and on express-session alike: reaching other
 * sessions by id — list them, read one, and "sign out my other devices" by destroying them.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { describe, test } from "node:test";
import express, { type Request } from "express";
import expressDropIn from "../../src/adapters/express-session.ts";
import { ExpressSessionStore } from "../../src/adapters/express-session-store.ts";
import { SessionError } from "../../src/errors.ts";
import { SessionManager } from "../../src/manager.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { start, TEST_TIMEOUT, VARIANTS, type Variant } from "./harness.ts";

const require = createRequire(import.meta.url);
const expressSession = require("express-session") as typeof import("express-session");

type Callback<T> = (err: unknown, result?: T) => void;
interface PeerStore {
  get(sid: string, cb: Callback<Record<string, unknown> | null>): void;
  set(sid: string, session: Record<string, unknown>, cb: Callback<void>): void;
  destroy(sid: string, cb: Callback<void>): void;
  all(cb: Callback<Record<string, Record<string, unknown>>>): void;
  length(cb: Callback<number>): void;
}
const promised = <T>(call: (cb: Callback<T>) => void) =>
  new Promise<T | undefined>((resolve, reject) =>
    call((err, result) => (err ? reject(err) : resolve(result))),
  );

function app(variant: Variant) {
  const application = express();
  if (variant === "ours") application.use(expressDropIn({ store: new MemStore() }));
  else {
    application.use(
      expressSession({ secret: "a test secret", resave: false, saveUninitialized: false }),
    );
  }
  /** The application's own record of each user's sessions, as such apps keep one. */
  const devices = new Map<string, string[]>();
  const sessionOf = (req: Request) =>
    (req as unknown as { session: Record<string, unknown> }).session;
  const storeOf = (req: Request) => (req as unknown as { sessionStore: PeerStore }).sessionStore;
  application.get("/login", (req, res) => {
    sessionOf(req).user = "alice";
    devices.set("alice", [...(devices.get("alice") ?? []), req.sessionID]);
    res.json({ id: req.sessionID });
  });
  application.get("/me", (req, res) => {
    res.json({ user: sessionOf(req).user ?? null });
  });
  application.get("/inspect", async (req, res, next) => {
    try {
      const store = storeOf(req);
      const other = String(req.query.id);
      const found = await promised<Record<string, unknown> | null>((cb) => store.get(other, cb));
      const missing = await promised<Record<string, unknown> | null>((cb) =>
        store.get("no-such-session", cb),
      );
      const all = await promised<Record<string, Record<string, unknown>>>((cb) => store.all(cb));
      const length = await promised<number>((cb) => store.length(cb));
      res.json({
        user: found?.user ?? null,
        hasCookie: typeof found?.cookie === "object",
        missing: missing ?? null,
        ids: Object.keys(all ?? {}).sort(),
        length,
      });
    } catch (err) {
      next(err);
    }
  });
  application.get("/logout-others", async (req, res, next) => {
    try {
      const store = storeOf(req);
      const others = (devices.get("alice") ?? []).filter((id) => id !== req.sessionID);
      for (const id of others) await promised<void>((cb) => store.destroy(id, cb));
      res.json({ signedOut: others.length });
    } catch (err) {
      next(err);
    }
  });
  return application;
}

for (const variant of VARIANTS) {
  const label = variant === "ours" ? "scs-ts/express-session" : "express-session";
  describe(`req.sessionStore, ${label}`, { timeout: TEST_TIMEOUT }, () => {
    test("lists and reads other sessions by id, and destroys them: the other devices are signed out", async () => {
      const server = await start(createServer(app(variant)), "connect.sid");
      try {
        const phone = server.browser();
        const laptop = server.browser();
        const phoneId = (await phone.send("/login")).json().id as string;
        const laptopId = (await laptop.send("/login")).json().id as string;
        const seen = (await laptop.send(`/inspect?id=${encodeURIComponent(phoneId)}`)).json();
        assert.deepEqual(seen, {
          user: "alice",
          hasCookie: true,
          missing: null,
          ids: [phoneId, laptopId].sort(),
          length: 2,
        });
        assert.deepEqual((await laptop.send("/logout-others")).json(), { signedOut: 1 });
        assert.deepEqual((await phone.send("/me")).json(), { user: null });
        assert.deepEqual((await laptop.send("/me")).json(), { user: "alice" });
      } finally {
        await server.close();
      }
    });
  });
}

describe("req.sessionStore.set, scs-ts/express-session", () => {
  test("replaces an existing session's data; an unknown id is a SessionError, never a new session", async () => {
    const sessions = new SessionManager({ store: new MemStore() });
    const session = await sessions.load(undefined);
    session.put("user", "alice");
    session.put("cart", [1]);
    const { token } = await sessions.commit(session);
    const store = new ExpressSessionStore(sessions) as unknown as PeerStore;
    await promised<void>((cb) => store.set(token, { user: "bob", cookie: { maxAge: 1 } }, cb));
    const read = await promised<Record<string, unknown> | null>((cb) => store.get(token, cb));
    assert.equal(read?.user, "bob");
    assert.equal(read?.cart, undefined, "keys the given session lacks are removed");
    await assert.rejects(
      promised<void>((cb) => store.set("chosen-by-the-client", { user: "eve" }, cb)),
      (err: unknown) => err instanceof SessionError,
    );
    assert.equal(await promised<number>((cb) => store.length(cb)), 1);
  });
});

describe("scs-ts/express-session: scs-ts's own keys are not data", () => {
  test("__maxAge and __rememberMe set as data (or through sessionStore.set) are ignored; a bad cookie.maxAge is a TypeError that leaves the session working", async () => {
    const application = express();
    application.use(expressDropIn({ store: new MemStore(), cookie: { maxAge: 60_000 } }));
    const sessionOf = (req: Request) =>
      (req as unknown as { session: Record<string, unknown> & { cookie: { maxAge: number } } })
        .session;
    application.get("/set", (req, res) => {
      const session = sessionOf(req);
      session.__maxAge = 1e20;
      session.__rememberMe = false;
      session.n = ((session.n as number | undefined) ?? 0) + 1;
      res.json({ n: session.n });
    });
    application.get("/store-set", (req, res, next) => {
      const store = (req as unknown as { sessionStore: PeerStore }).sessionStore;
      store.set(req.sessionID, { n: 10, __maxAge: 1e20 }, (err) =>
        err ? next(err) : res.json({}),
      );
    });
    application.get("/forever", (req, res) => {
      sessionOf(req).cookie.maxAge = Number.POSITIVE_INFINITY;
      res.json({});
    });
    application.use(((err, _req, res, _next) => {
      res.status(500).json({ error: (err as Error).name });
    }) as express.ErrorRequestHandler);
    const server = await start(createServer(application), "connect.sid");
    try {
      const browser = server.browser();
      for (const n of [1, 2]) {
        const res = await browser.send("/set");
        assert.deepEqual({ status: res.status, body: res.json() }, { status: 200, body: { n } });
        assert.match(res.setCookies[0] ?? "", /; Max-Age=60; /);
      }
      assert.equal((await browser.send("/store-set")).status, 200);
      assert.deepEqual((await browser.send("/set")).json(), { n: 11 });
      assert.deepEqual((await browser.send("/forever")).json(), { error: "TypeError" });
      assert.deepEqual((await browser.send("/set")).json(), { n: 12 });
    } finally {
      await server.close();
    }
  });
});
