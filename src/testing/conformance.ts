/**
 * The SCS store contract as a reusable test suite: every store in this repository runs it, and
 * third-party stores can too.
 * @module
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as nodeTest from "node:test";
import { type Awaitable, isIterableStore, type Store } from "../store.ts";

/** A test runner's `describe`: takes a suite name and a function that declares tests. node:test, Vitest, Jest and Mocha all fit. */
export type DescribeFn = (name: string, fn: () => void) => unknown;

/** A test runner's `it`: takes a test name and an async test body. node:test, Vitest, Jest and Mocha all fit. */
export type ItFn = (name: string, fn: () => Promise<void>) => unknown;

/** Options of {@link storeConformance}. */
export interface StoreConformanceOptions {
  /** Makes the store one test runs against. Called once per test, so each test gets a fresh store. */
  makeStore: () => Awaitable<Store>;
  /** Releases a store made by `makeStore` (stop timers, close connections). Called after each test, pass or fail. */
  closeStore?: (store: Store) => Awaitable<void>;
  /**
   * The runner's `describe`.
   * @default describe from node:test
   */
  describe?: DescribeFn;
  /**
   * The runner's `it`.
   * @default it from node:test
   */
  it?: ItFn;
  /**
   * Set when every store from `makeStore` starts with no sessions at all (no shared backend):
   * `all()` of a fresh store must then be an empty Map. Leave unset for stores over a shared
   * database, where other sessions may exist.
   * @default false
   */
  startsEmpty?: boolean;
}

const HOUR = 3_600_000;
const inAnHour = (): Date => new Date(Date.now() + HOUR);
const anHourAgo = (): Date => new Date(Date.now() - HOUR);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Every byte value 0x00–0xFF, in order. */
const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);

/** Tokens that would break a store that builds queries or keys by string concatenation. */
const ODD_SUFFIXES = [
  "quote'single",
  'quote"double',
  "semi;colon",
  "per%cent",
  "under_score",
  "back\\slash",
  "space and\ttab",
  "unicode-ключ-😀",
  "*?[glob]",
];

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function assertBytes(actual: Uint8Array | undefined, expected: Uint8Array, what: string): void {
  assert.ok(actual !== undefined, `${what}: expected data, found undefined`);
  assert.ok(actual instanceof Uint8Array, `${what}: expected a Uint8Array`);
  // Compared by hand: a deep-equal failure message of large arrays takes minutes on Node 22+.
  if (actual.length !== expected.length) {
    assert.fail(`${what}: ${actual.length} bytes, expected ${expected.length}`);
  }
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(`${what}: byte ${i} is ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

/**
 * Declares the SCS store contract as tests (with `describe`/`it`) for a store: find of a
 * missing token, commit then find, update of data and expiry, past and short expiries, delete
 * and delete of a missing token, `all()` when the store is iterable, every byte value and empty
 * data, tokens with odd characters, independent tokens and concurrent commits.
 *
 * Each test calls `makeStore` for its own store and `closeStore` after it, and uses tokens with
 * a unique random prefix, so stores over a shared backend (a database that outlives the store
 * object) pass too. One test sleeps about half a second to watch a short expiry pass; the rest
 * do not sleep.
 *
 * A third-party store calls it from a test file at top level; the suite registers its tests
 * with the runner's `describe`/`it` (node:test unless others are given).
 *
 * @param name - Suite name, e.g. the store's class name.
 * @param options - How to make and release the store, and which runner to use.
 * @returns nothing; tests are registered with the runner.
 *
 * @example
 * // test/my-store.test.ts — run with `node --test` (or through tsx)
 * import { storeConformance } from "scs-ts/testing";
 * import { MyStore } from "../src/my-store.ts";
 *
 * storeConformance("MyStore", {
 *   makeStore: () => new MyStore({ url: "redis://127.0.0.1:6379" }),
 *   closeStore: (store) => (store as MyStore).close(),
 * });
 *
 * @example
 * // with Vitest
 * import { describe, it } from "vitest";
 * storeConformance("MyStore", { makeStore: () => new MyStore(), describe, it });
 */
export function storeConformance(name: string, options: StoreConformanceOptions): void {
  const describe: DescribeFn = options.describe ?? nodeTest.describe;
  const it: ItFn = options.it ?? nodeTest.it;
  const { makeStore, closeStore, startsEmpty = false } = options;

  /** Runs `body` with a fresh store and a unique token prefix, closing the store afterwards. */
  const test = (title: string, body: (store: Store, prefix: string) => Promise<void>): void => {
    it(title, async () => {
      const store = await makeStore();
      const prefix = `scs-conformance-${randomBytes(9).toString("base64url")}`;
      try {
        await body(store, prefix);
      } finally {
        await closeStore?.(store);
      }
    });
  };

  describe(`${name} store conformance`, () => {
    test("find of a missing token gives undefined", async (store, p) => {
      assert.equal(await store.find(`${p}-missing`), undefined);
    });

    test("commit of a new token then find gives the same bytes", async (store, p) => {
      const data = bytes('{"user":42}');
      await store.commit(`${p}-a`, data, inAnHour());
      assertBytes(await store.find(`${p}-a`), data, "find after commit");
    });

    test("commit of an existing token replaces its data", async (store, p) => {
      await store.commit(`${p}-a`, bytes("first"), inAnHour());
      await store.commit(`${p}-a`, bytes("second, longer"), inAnHour());
      assertBytes(await store.find(`${p}-a`), bytes("second, longer"), "find after update");
    });

    test("commit of an existing token replaces its expiry", async (store, p) => {
      await store.commit(`${p}-a`, bytes("live"), inAnHour());
      await store.commit(`${p}-a`, bytes("live"), anHourAgo());
      assert.equal(await store.find(`${p}-a`), undefined, "expiry moved into the past");
      await store.commit(`${p}-a`, bytes("back"), inAnHour());
      assertBytes(await store.find(`${p}-a`), bytes("back"), "expiry moved into the future");
    });

    test("commit with an expiry in the past is never found", async (store, p) => {
      await store.commit(`${p}-old`, bytes("stale"), anHourAgo());
      assert.equal(await store.find(`${p}-old`), undefined);
    });

    test("a short expiry is found before it passes and not after", async (store, p) => {
      const expiry = new Date(Date.now() + 300);
      await store.commit(`${p}-short`, bytes("brief"), expiry);
      assertBytes(await store.find(`${p}-short`), bytes("brief"), "find before expiry");
      await sleep(Math.max(0, expiry.getTime() - Date.now()) + 250);
      assert.equal(await store.find(`${p}-short`), undefined, "find after expiry");
    });

    test("delete removes the token", async (store, p) => {
      await store.commit(`${p}-a`, bytes("x"), inAnHour());
      await store.delete(`${p}-a`);
      assert.equal(await store.find(`${p}-a`), undefined);
    });

    test("delete of a missing token does nothing and does not fail", async (store, p) => {
      await store.delete(`${p}-never-committed`);
      await store.commit(`${p}-a`, bytes("x"), inAnHour());
      await store.delete(`${p}-a`);
      await store.delete(`${p}-a`);
      assert.equal(await store.find(`${p}-a`), undefined);
    });

    test("every byte value 0x00-0xFF round-trips exactly", async (store, p) => {
      await store.commit(`${p}-bin`, ALL_BYTES, inAnHour());
      assertBytes(await store.find(`${p}-bin`), ALL_BYTES, "all byte values");
      const reversed = ALL_BYTES.slice().reverse();
      await store.commit(`${p}-rev`, reversed, inAnHour());
      assertBytes(await store.find(`${p}-rev`), reversed, "reversed byte values");
    });

    test("empty data round-trips as empty data, not as missing", async (store, p) => {
      await store.commit(`${p}-empty`, new Uint8Array(0), inAnHour());
      assertBytes(await store.find(`${p}-empty`), new Uint8Array(0), "empty data");
    });

    test("larger data (64 KiB) round-trips exactly", async (store, p) => {
      const data = new Uint8Array(randomBytes(65_536));
      await store.commit(`${p}-big`, data, inAnHour());
      assertBytes(await store.find(`${p}-big`), data, "64 KiB of data");
    });

    test("tokens with quotes, ';', '%', '_' and unicode are plain keys", async (store, p) => {
      const tokens = ODD_SUFFIXES.map((s) => `${p}-${s}`);
      for (const [i, token] of tokens.entries())
        await store.commit(token, bytes(`v${i}`), inAnHour());
      for (const [i, token] of tokens.entries()) {
        assertBytes(await store.find(token), bytes(`v${i}`), `token #${i}`);
      }
      // Patterns must not match other tokens.
      assert.equal(await store.find(`${p}-%`), undefined, "'%' is not a wildcard");
      assert.equal(await store.find(`${p}-*`), undefined, "'*' is not a wildcard");
      assert.equal(await store.find(`${p}-per_cent`), undefined, "'_' is not a wildcard");
      await store.delete(`${p}-%`);
      await store.delete(tokens[3]!);
      assert.equal(await store.find(tokens[3]!), undefined, "deleted odd token");
      for (const [i, token] of tokens.entries()) {
        if (i !== 3) assertBytes(await store.find(token), bytes(`v${i}`), `token #${i} kept`);
      }
    });

    test("tokens are independent: commit and delete touch only their own token", async (store, p) => {
      await store.commit(`${p}-a`, bytes("A"), inAnHour());
      await store.commit(`${p}-b`, bytes("B"), inAnHour());
      await store.commit(`${p}-a`, bytes("A2"), anHourAgo());
      assertBytes(await store.find(`${p}-b`), bytes("B"), "b after a expired");
      await store.delete(`${p}-b`);
      await store.commit(`${p}-a`, bytes("A3"), inAnHour());
      assertBytes(await store.find(`${p}-a`), bytes("A3"), "a after b deleted");
      assert.equal(await store.find(`${p}-b`), undefined, "b deleted");
      assert.equal(await store.find(p), undefined, "the prefix alone is not a token");
    });

    test("concurrent commits to different tokens all land", async (store, p) => {
      const n = 50;
      const token = (i: number): string => `${p}-c${i}`;
      await Promise.all(
        Array.from({ length: n }, (_, i) => store.commit(token(i), bytes(`d${i}`), inAnHour())),
      );
      const found = await Promise.all(Array.from({ length: n }, (_, i) => store.find(token(i))));
      for (const [i, data] of found.entries()) assertBytes(data, bytes(`d${i}`), `token #${i}`);
    });

    test("all() gives only unexpired sessions (when the store is iterable)", async (store, p) => {
      if (!isIterableStore(store)) return;
      const empty = await store.all();
      assert.ok(empty instanceof Map, "all() gives a Map");
      const ours = (m: Map<string, Uint8Array>) => [...m.keys()].filter((k) => k.startsWith(p));
      assert.deepEqual(ours(empty), [], "no sessions yet");
      if (startsEmpty) assert.equal(empty.size, 0, "a fresh store's all() is an empty Map");
      await store.commit(`${p}-live1`, bytes("one"), inAnHour());
      await store.commit(`${p}-live2`, ALL_BYTES, inAnHour());
      await store.commit(`${p}-dead`, bytes("dead"), anHourAgo());
      await store.commit(`${p}-gone`, bytes("gone"), inAnHour());
      await store.delete(`${p}-gone`);
      const all = await store.all();
      assert.ok(all instanceof Map, "all() gives a Map");
      assert.deepEqual(ours(all).sort(), [`${p}-live1`, `${p}-live2`]);
      assertBytes(all.get(`${p}-live1`), bytes("one"), "live1 in all()");
      assertBytes(all.get(`${p}-live2`), ALL_BYTES, "live2 in all()");
    });

    test("all() of a store with only expired sessions has none of them", async (store, p) => {
      if (!isIterableStore(store)) return;
      await store.commit(`${p}-dead1`, bytes("x"), anHourAgo());
      await store.commit(`${p}-dead2`, bytes("y"), anHourAgo());
      const all = await store.all();
      assert.ok(all instanceof Map, "all() gives a Map");
      assert.deepEqual(
        [...all.keys()].filter((k) => k.startsWith(p)),
        [],
      );
      if (startsEmpty) assert.equal(all.size, 0, "only expired sessions: all() is an empty Map");
    });
  });
}
