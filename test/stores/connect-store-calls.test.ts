import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { StoreUnavailableError } from "../../src/errors.ts";
import { isIterableStore } from "../../src/store.ts";
import { type ExpressSessionStoreLike, fromExpressStore } from "../../src/stores/connect-store.ts";
import type { ExpressStoreCallback } from "../../src/stores/connect-store-call.ts";
import { SyncCallbackStore } from "./connect-store-stores.ts";

const HOUR = 3_600_000;
const bytes = (s: string) => new TextEncoder().encode(s);
const TOKEN = "tok_must_not_leak_2f8Hq0aZ1xYbP3c_-kLm9oRsTuV";
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);
before(() => process.on("unhandledRejection", onUnhandled));
after(() => {
  process.off("unhandledRejection", onUnhandled);
  assert.deepEqual(unhandled, [], "no unhandled rejection");
});

/** A store whose every method answers as `answer` says. */
function storeAnswering(answer: (cb: ExpressStoreCallback) => unknown): ExpressSessionStoreLike {
  return {
    get: (_sid, cb) => answer(cb),
    set: (_sid, _s, cb) => answer(cb),
    destroy: (_sid, cb) => answer(cb),
    all: (cb) => answer(cb),
  };
}

/** Runs every bridge operation against `store`, returning each outcome. */
async function everyOperation(store: ExpressSessionStoreLike, deadline?: number) {
  const bridge = fromExpressStore(store, deadline === undefined ? {} : { deadline });
  return Promise.allSettled([
    bridge.find(TOKEN),
    bridge.commit(TOKEN, bytes("x"), new Date(Date.now() + HOUR)),
    bridge.delete(TOKEN),
    isIterableStore(bridge) ? bridge.all() : assert.fail("the bridge has all()"),
  ]);
}

function assertAllUnavailable(results: PromiseSettledResult<unknown>[], cause?: unknown): void {
  assert.equal(results.length, 4);
  for (const [i, r] of results.entries()) {
    assert.equal(r.status, "rejected", `operation #${i}`);
    const err = (r as PromiseRejectedResult).reason as StoreUnavailableError;
    assert.ok(err instanceof StoreUnavailableError, `operation #${i}: ${String(err)}`);
    assert.ok(!err.message.includes(TOKEN), `no token in: ${err.message}`);
    if (cause !== undefined) assert.equal(err.cause, cause);
  }
}

describe("fromExpressStore: failures become StoreUnavailableError", () => {
  it("an error passed to the callback (cause attached, no token in the message)", async () => {
    const cause = new Error(`connection refused for ${TOKEN}`);
    assertAllUnavailable(await everyOperation(storeAnswering((cb) => cb(cause))), cause);
  });

  it("a rejected Promise, also one rejected with nothing", async () => {
    const cause = new Error("down");
    assertAllUnavailable(await everyOperation(storeAnswering(() => Promise.reject(cause))), cause);
    assertAllUnavailable(await everyOperation(storeAnswering(() => Promise.reject(undefined))));
  });

  it("a synchronous throw, also of a non-Error", async () => {
    const cause = new TypeError("client is closed");
    assertAllUnavailable(
      await everyOperation(
        storeAnswering(() => {
          throw cause;
        }),
      ),
      cause,
    );
    assertAllUnavailable(
      await everyOperation(
        storeAnswering(() => {
          throw "a string";
        }),
      ),
    );
  });

  it("no answer at all: rejects once the deadline passes", async () => {
    const started = performance.now();
    const results = await everyOperation(
      storeAnswering(() => undefined),
      50,
    );
    assertAllUnavailable(results);
    assert.ok(performance.now() - started >= 45, "not before the deadline");
    const err = (results[0] as PromiseRejectedResult).reason as Error;
    assert.match(err.message, /get did not answer within 50 ms/);
  });

  it("a Promise that never settles: rejects once the deadline passes", async () => {
    assertAllUnavailable(
      await everyOperation(
        storeAnswering(() => new Promise(() => {})),
        50,
      ),
    );
  });

  it("a get failing with ENOENT is 'not found', but other operations failing with it are errors", async () => {
    const enoent = () => Object.assign(new Error("gone"), { code: "ENOENT" });
    const [find, commit, del] = await everyOperation(storeAnswering((cb) => cb(enoent())));
    assert.deepEqual(find, { status: "fulfilled", value: undefined });
    assert.equal(commit?.status, "rejected");
    assert.equal(del?.status, "rejected");
  });
});

describe("fromExpressStore: odd callback conventions", () => {
  it("a callback called twice counts once: the first answer stands", async () => {
    const memory = new SyncCallbackStore();
    const bridge = fromExpressStore({
      get(sid: string, cb: ExpressStoreCallback) {
        memory.get(sid, cb);
        cb(new Error("second call"));
      },
      set(sid: string, sess: unknown, cb: ExpressStoreCallback) {
        memory.set(sid, sess, cb);
        cb(new Error("second call"));
        cb();
      },
      destroy(sid: string, cb: ExpressStoreCallback) {
        cb(new Error("first call fails"));
        memory.destroy(sid, cb);
      },
    });
    await bridge.commit("k", bytes("x"), new Date(Date.now() + HOUR));
    assert.deepEqual(await bridge.find("k"), bytes("x"));
    await assert.rejects(bridge.delete("k"), StoreUnavailableError);
  });

  it("a method calling back and also returning a Promise that rejects later (connect-redis when the callback throws) leaves no unhandled rejection", async () => {
    const memory = new SyncCallbackStore();
    const bridge = fromExpressStore({
      async get(sid: string, cb: ExpressStoreCallback) {
        memory.get(sid, cb);
        await new Promise((r) => setTimeout(r, 5));
        throw new Error("late");
      },
      set: (sid: string, sess: unknown, cb: ExpressStoreCallback) => memory.set(sid, sess, cb),
      destroy: (sid: string, cb: ExpressStoreCallback) => memory.destroy(sid, cb),
    });
    await bridge.commit("k", bytes("x"), new Date(Date.now() + HOUR));
    assert.deepEqual(await bridge.find("k"), bytes("x"));
    await new Promise((r) => setTimeout(r, 20));
  });

  it("an async method that calls back on a later tick (its Promise fulfilled with undefined first) is heard", async () => {
    const memory = new SyncCallbackStore();
    const bridge = fromExpressStore({
      async get(sid: string, cb: ExpressStoreCallback) {
        process.nextTick(() => memory.get(sid, cb));
      },
      async set(sid: string, sess: unknown, cb: ExpressStoreCallback) {
        setImmediate(() => memory.set(sid, sess, cb));
      },
      async destroy(sid: string, cb: ExpressStoreCallback) {
        process.nextTick(() => memory.destroy(sid, cb));
      },
    });
    await bridge.commit("k", bytes("x"), new Date(Date.now() + HOUR));
    assert.deepEqual(await bridge.find("k"), bytes("x"));
  });
});
