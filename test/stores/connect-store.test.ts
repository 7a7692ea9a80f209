import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, it } from "node:test";
import session from "express-session";
import { NotIterableError } from "../../src/errors.ts";
import { SessionManager } from "../../src/manager.ts";
import { type IterableStore, isIterableStore, type Store } from "../../src/store.ts";
import {
  type BridgedStore,
  type ExpressSessionStoreLike,
  type ExpressStoreBridge,
  fromExpressStore,
} from "../../src/stores/connect-store.ts";
import type { ExpressStoreCallback } from "../../src/stores/connect-store-call.ts";
import { storeConformance } from "../../src/testing/conformance.ts";
import { hashToken } from "../../src/token.ts";
import { cookiePair, cookieToken, listen, request } from "../helpers/http.ts";
import { PromiseStore, SyncCallbackStore } from "./connect-store-stores.ts";

const HOUR = 3_600_000;
const bytes = (s: string) => new TextEncoder().encode(s);
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);
before(() => process.on("unhandledRejection", onUnhandled));
after(() => {
  process.off("unhandledRejection", onUnhandled);
  assert.deepEqual(unhandled, [], "no unhandled rejection");
});

/** The raw JSON MemoryStore holds for a key (it keeps `JSON.stringify(session)`). */
function rawOf(memory: session.MemoryStore, key: string): Record<string, unknown> | undefined {
  const text = (memory as unknown as { sessions: Record<string, string> }).sessions[key];
  return text === undefined ? undefined : JSON.parse(text);
}

storeConformance("fromExpressStore(express-session MemoryStore)", {
  makeStore: () => fromExpressStore(new session.MemoryStore()),
  startsEmpty: true,
});

storeConformance("fromExpressStore(a Promise-style store)", {
  makeStore: () => fromExpressStore(new PromiseStore()),
  startsEmpty: true,
});

storeConformance("fromExpressStore(a store calling back synchronously)", {
  makeStore: () => fromExpressStore(new SyncCallbackStore()),
});

describe("fromExpressStore: what the store is given", () => {
  it("set gets an express-session-shaped session: cookie.expires (a Date), maxAge and originalMaxAge in ms, bytes as base64", async () => {
    const now = 1_800_000_000_000;
    const seen: { sid: string; sess: unknown }[] = [];
    const store = new SyncCallbackStore();
    const set = store.set.bind(store);
    store.set = (sid, sess, cb) => {
      seen.push({ sid, sess });
      set(sid, sess, cb);
    };
    const bridge = fromExpressStore(store, { now: () => now });
    const data = Uint8Array.from([0, 1, 2, 250, 255]);
    await bridge.commit("k1", data, new Date(now + HOUR));
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.sid, "k1");
    const sess = seen[0]?.sess as {
      cookie: { expires: unknown; maxAge: unknown; originalMaxAge: unknown };
      scs: unknown;
    };
    assert.ok(sess.cookie.expires instanceof Date);
    assert.equal(sess.cookie.expires.getTime(), now + HOUR);
    assert.equal(sess.cookie.maxAge, HOUR);
    assert.equal(sess.cookie.originalMaxAge, HOUR);
    assert.equal(sess.scs, Buffer.from(data).toString("base64"));
  });

  it("MemoryStore holds JSON with the expiry as an ISO string and the bytes intact", async () => {
    const memory = new session.MemoryStore();
    const bridge = fromExpressStore(memory);
    const expiry = new Date(Date.now() + HOUR);
    const data = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);
    await bridge.commit("k1", data, expiry);
    const raw = rawOf(memory, "k1") as { cookie: { expires: string }; scs: string };
    assert.equal(raw.cookie.expires, expiry.toISOString());
    assert.deepEqual(new Uint8Array(Buffer.from(raw.scs, "base64")), data);
    // MemoryStore's own get (what express-session would call) sees a live session too.
    const got = await new Promise((resolve) => memory.get("k1", (_e, s) => resolve(s)));
    assert.equal((got as { scs: string }).scs, raw.scs);
  });

  it("an expiry already past calls destroy, not set with a negative TTL", async () => {
    const store = new SyncCallbackStore();
    const bridge = fromExpressStore(store);
    await bridge.commit("k", bytes("x"), new Date(Date.now() + HOUR));
    let sets = 0;
    const set = store.set.bind(store);
    store.set = (sid, sess, cb) => {
      sets++;
      set(sid, sess, cb);
    };
    await bridge.commit("k", bytes("y"), new Date(Date.now() - 1));
    await bridge.commit("k", bytes("z"), new Date(Number.NaN));
    assert.equal(sets, 0);
    assert.equal(store.data.has("k"), false);
  });
});

describe("fromExpressStore: what find makes of the store's answer", () => {
  it("a record the store still returns past our expiry is not found (TTLs are rounded to seconds)", async () => {
    const clock = { now: Date.now() };
    const memory = new session.MemoryStore();
    const bridge = fromExpressStore(memory, { now: () => clock.now });
    await bridge.commit("k", bytes("x"), new Date(clock.now + 1000));
    // The store's clock (the real one) is behind ours: it still returns the record.
    clock.now += 999;
    assert.deepEqual(await bridge.find("k"), bytes("x"));
    clock.now += 1;
    assert.ok(rawOf(memory, "k") !== undefined, "the store still has it");
    assert.equal(await bridge.find("k"), undefined);
  });

  it("another application's session, null, garbage and broken records are 'not found'", async () => {
    const store = new SyncCallbackStore();
    const bridge = fromExpressStore(store);
    const expires = new Date(Date.now() + HOUR);
    const ours = { cookie: { expires }, scs: "AQID", scsKey: "k" };
    const answers: [string, unknown][] = [
      ["express-session app", { cookie: { expires, originalMaxAge: HOUR }, user: "ann" }],
      ["null", null],
      ["a number", 42],
      ["JSON text that is not ours", '{"cookie":{},"views":3}'],
      ["text that is not JSON", "{not json"],
      ["scs not a string", { ...ours, scs: 123 }],
      ["scs not base64", { ...ours, scs: "AQ!D" }],
      ["scs base64 of a bad length", { ...ours, scs: "AQI" }],
      ["scs with a padding inside", { ...ours, scs: "A=QD" }],
      ["scs all padding", { ...ours, scs: "====" }],
      ["scs with a line break", { ...ours, scs: "AQ\nD" }],
      ["no cookie", { scs: "AQID", scsKey: "k" }],
      ["no expiry", { ...ours, cookie: {} }],
      ["an unparseable expiry", { ...ours, cookie: { expires: "soon" } }],
      ["stored under another key", { ...ours, scsKey: "other" }],
      [
        "a getter that throws",
        Object.defineProperty({}, "scs", {
          enumerable: true,
          get() {
            throw new Error("boom");
          },
        }),
      ],
    ];
    for (const [what, value] of answers) {
      store.data.set("k", value);
      assert.equal(await bridge.find("k"), undefined, what);
    }
    store.data.set("k", ours);
    assert.deepEqual(await bridge.find("k"), Uint8Array.from([1, 2, 3]), "ours");
    store.data.set("k", JSON.stringify(ours));
    assert.deepEqual(await bridge.find("k"), Uint8Array.from([1, 2, 3]), "ours as JSON text");
    store.data.set("k", { ...ours, cookie: { expires: expires.getTime() } });
    assert.deepEqual(await bridge.find("k"), Uint8Array.from([1, 2, 3]), "expiry as a number");
  });

  it("a get error with code ENOENT is 'not found', as express-session reads it", async () => {
    const bridge = fromExpressStore({
      get: (_sid: string, cb: ExpressStoreCallback) =>
        cb(Object.assign(new Error("no such file"), { code: "ENOENT" })),
      set: (_sid: string, _s: unknown, cb: ExpressStoreCallback) => cb(),
      destroy: (_sid: string, cb: ExpressStoreCallback) => cb(),
    });
    assert.equal(await bridge.find("k"), undefined);
  });
});

describe("fromExpressStore: all()", () => {
  it("exists only when the store has all: MemoryStore yes, a store without it no", async () => {
    const withAll = fromExpressStore(new session.MemoryStore());
    const without = fromExpressStore(new SyncCallbackStore());
    assert.ok(isIterableStore(withAll));
    assert.ok("all" in withAll);
    assert.ok(!isIterableStore(without));
    assert.ok(!("all" in without));
    const sessions = new SessionManager({ store: without });
    await assert.rejects(
      sessions.iterate(() => {}),
      NotIterableError,
    );
  });

  it("skips other applications' sessions and our expired ones (MemoryStore gives an object)", async () => {
    const clock = { now: Date.now() };
    const memory = new session.MemoryStore();
    const bridge = fromExpressStore(memory, { now: () => clock.now });
    await bridge.commit("live", bytes("live"), new Date(clock.now + HOUR));
    await bridge.commit("brief", bytes("brief"), new Date(clock.now + 1000));
    await new Promise<void>((resolve, reject) =>
      memory.set(
        "theirs",
        { cookie: { originalMaxAge: HOUR, expires: new Date(clock.now + HOUR) } } as never,
        (err) => (err ? reject(err) : resolve()),
      ),
    );
    clock.now += 1000;
    const all = await bridge.all();
    assert.deepEqual([...all.keys()], ["live"]);
    assert.deepEqual(all.get("live"), bytes("live"));
  });

  it("keys sessions from a store whose all gives an array without ids", async () => {
    const bridge = fromExpressStore(new PromiseStore());
    await bridge.commit("a", bytes("A"), new Date(Date.now() + HOUR));
    await bridge.commit("b", bytes("B"), new Date(Date.now() + HOUR));
    const all = await bridge.all();
    assert.deepEqual([...all.keys()].sort(), ["a", "b"]);
    assert.deepEqual(all.get("b"), bytes("B"));
  });

  it("an all that gives null or undefined is an empty Map", async () => {
    for (const answer of [null, undefined]) {
      const bridge = fromExpressStore({
        ...new SyncCallbackStore(),
        get: (_s: string, cb: ExpressStoreCallback) => cb(null, null),
        set: (_s: string, _x: unknown, cb: ExpressStoreCallback) => cb(),
        destroy: (_s: string, cb: ExpressStoreCallback) => cb(),
        all: (cb: ExpressStoreCallback) => cb(null, answer),
      });
      assert.deepEqual(await bridge.all(), new Map());
    }
  });
});

describe("fromExpressStore: options and the store's life", () => {
  it("a store without get/set/destroy is a TypeError naming what is expected", () => {
    for (const bad of [null, undefined, 42, {}, { get() {}, set() {} }]) {
      assert.throws(
        () => fromExpressStore(bad as unknown as ExpressSessionStoreLike),
        (err: Error) =>
          err instanceof TypeError && /store is invalid: .*get, set and destroy/.test(err.message),
      );
    }
  });

  it("a bad deadline or now is a TypeError naming the option and value", () => {
    const store = new SyncCallbackStore();
    for (const deadline of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, "5000", 2 ** 31]) {
      assert.throws(
        () => fromExpressStore(store, { deadline: deadline as number }),
        (err: Error) =>
          err instanceof TypeError &&
          err.message.startsWith(
            `option deadline is invalid: ${typeof deadline === "string" ? `"${deadline}"` : String(deadline)}`,
          ),
      );
    }
    assert.throws(
      () => fromExpressStore(store, { now: 5 as unknown as () => number }),
      /option now is invalid: 5/,
    );
  });

  it("close() and the manager's close() leave the user's store open and working", async () => {
    const memory = new session.MemoryStore();
    let closed = 0;
    Object.assign(memory, { close: () => closed++, stopCleanup: () => closed++ });
    const bridge = fromExpressStore(memory);
    const sessions = new SessionManager({ store: bridge });
    await bridge.commit("k", bytes("x"), new Date(Date.now() + HOUR));
    bridge.close();
    await bridge[Symbol.asyncDispose]();
    await sessions.close();
    assert.equal(closed, 0);
    assert.deepEqual(await bridge.find("k"), bytes("x"));
  });
});

describe("fromExpressStore under a SessionManager over real HTTP", () => {
  it("with hashTokenInStore the store holds SHA-256 keys, never the token, and sessions round-trip and iterate", async () => {
    const memory = new session.MemoryStore();
    const sessions = new SessionManager({
      store: fromExpressStore(memory),
      hashTokenInStore: true,
      logger: { warn() {}, error() {} },
    });
    const server = createServer(
      sessions.handler((req, res) => {
        const s = sessions.from(req);
        if (req.url === "/put") s.put("n", s.getNumber("n") + 1);
        res.end(String(s.getNumber("n")));
      }),
    );
    const { url, close } = await listen(server);
    try {
      const first = await request(`${url}/put`);
      const token = cookieToken(first);
      assert.ok(token !== undefined && token.length > 0);
      const cookie = cookiePair(first) as string;
      assert.equal((await request(`${url}/put`, { headers: { cookie } })).body, "2");
      assert.equal((await request(`${url}/get`, { headers: { cookie } })).body, "2");
      const keys = Object.keys((memory as unknown as { sessions: object }).sessions);
      assert.deepEqual(keys, [hashToken(token)]);
      assert.ok(!JSON.stringify(rawOf(memory, hashToken(token))).includes(token));
      const seen: number[] = [];
      await sessions.iterate((s) => {
        seen.push(s.getNumber("n"));
      });
      assert.deepEqual(seen, [2]);
      // A store that fails answers 503, never as if the session were saved.
      memory.set = (_sid, _sess, cb) => cb?.(new Error("disk full"));
      assert.equal((await request(`${url}/put`, { headers: { cookie } })).status, 503);
    } finally {
      await close();
    }
  });
});

// Types: the result is an IterableStore exactly when the store's type declares all.
{
  const memory: BridgedStore<session.MemoryStore> = fromExpressStore(new session.MemoryStore());
  const iterable: IterableStore = memory;
  const noAll = fromExpressStore(new SyncCallbackStore());
  const plain: Store = noAll;
  const bridge: ExpressStoreBridge = noAll;
  // @ts-expect-error a store without all gives no all()
  noAll.all;
  const promiseStyle: IterableStore = fromExpressStore(new PromiseStore());
  void [iterable, plain, bridge, promiseStyle];
}
