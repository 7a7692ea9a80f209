import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemStore, type MemStoreOptions } from "../../src/stores/memstore.ts";

/** A store on a fake clock that tests move by hand; no background sweep. */
function fakeClockStore(options: MemStoreOptions = {}) {
  const clock = { now: 1_700_000_000_000 };
  const store = new MemStore({ cleanupInterval: 0, now: () => clock.now, ...options });
  const at = (ms: number) => new Date(clock.now + ms);
  return { store, clock, at };
}
const bytes = (s: string) => new TextEncoder().encode(s);

describe("MemStore expiry", () => {
  it("never returns data once its expiry has passed, before any sweep", () => {
    const { store, clock, at } = fakeClockStore();
    store.commit("t", bytes("x"), at(1000));
    assert.deepEqual(store.find("t"), bytes("x"));
    clock.now += 999;
    assert.deepEqual(store.find("t"), bytes("x"));
    clock.now += 1;
    assert.equal(store.find("t"), undefined);
  });

  it("find drops the expired entry it meets", () => {
    const { store, clock, at } = fakeClockStore();
    store.commit("a", bytes("a"), at(10));
    store.commit("b", bytes("b"), at(10));
    clock.now += 10;
    assert.equal(store.size, 2);
    assert.equal(store.find("a"), undefined);
    assert.equal(store.size, 1);
  });

  it("treats an invalid Date as already expired", () => {
    const { store } = fakeClockStore();
    store.commit("t", bytes("x"), new Date(Number.NaN));
    assert.equal(store.find("t"), undefined);
  });

  it("all() leaves out expired sessions without dropping them", () => {
    const { store, clock, at } = fakeClockStore();
    store.commit("short", bytes("s"), at(5));
    store.commit("long", bytes("l"), at(500));
    clock.now += 5;
    assert.deepEqual([...store.all().keys()], ["long"]);
    assert.equal(store.size, 2);
  });
});

describe("MemStore data and size", () => {
  it("returns the very Uint8Array committed when it is its buffer's only view, over 64 bytes", () => {
    const { store, at } = fakeClockStore();
    const data = bytes("same object ".repeat(6));
    store.commit("t", data, at(1000));
    assert.equal(store.find("t"), data);
  });

  it("returns an equal copy of a view of a larger buffer, the same stored copy on every find", () => {
    const { store, at } = fakeClockStore();
    const data = Buffer.from("a pooled slice"); // a view of Node's 8 KiB pool slab
    assert.ok(data.buffer.byteLength > data.byteLength);
    store.commit("t", data, at(1000));
    const got = store.find("t")!;
    assert.notEqual(got, data);
    assert.deepEqual([...got], [...data]);
    assert.equal(got.buffer.byteLength, data.byteLength);
    assert.equal(store.find("t"), got);
  });

  it("answers synchronously, not with Promises", () => {
    const { store, at } = fakeClockStore();
    assert.equal(store.commit("t", bytes("x"), at(1000)), undefined);
    assert.ok(store.find("t") instanceof Uint8Array);
    assert.ok(store.all() instanceof Map);
    assert.equal(store.delete("t"), undefined);
  });

  it("size counts sessions held, expired but not yet swept included", () => {
    const { store, clock, at } = fakeClockStore();
    assert.equal(store.size, 0);
    store.commit("a", bytes("a"), at(10));
    store.commit("b", bytes("b"), at(1000));
    store.commit("a", bytes("a2"), at(10));
    assert.equal(store.size, 2);
    clock.now += 100;
    assert.equal(store.size, 2);
    store.delete("b");
    store.delete("b");
    assert.equal(store.size, 1);
  });

  it("save is commit under its SCS v1 name", () => {
    const { store, at } = fakeClockStore();
    store.save("t", bytes("v1"), at(1000));
    assert.deepEqual(store.find("t"), bytes("v1"));
    store.save("t", bytes("v1 again"), at(-1));
    assert.equal(store.find("t"), undefined);
  });

  it("keeps working after every session is gone and new ones arrive", () => {
    const { store, at } = fakeClockStore();
    for (let i = 0; i < 100; i++) store.commit(`t${i}`, bytes(`${i}`), at(1000));
    for (let i = 0; i < 100; i++) store.delete(`t${i}`);
    assert.equal(store.size, 0);
    store.commit("again", bytes("yes"), at(1000));
    store.commit("t5", bytes("five"), at(1000));
    assert.deepEqual(store.find("again"), bytes("yes"));
    assert.deepEqual(store.find("t5"), bytes("five"));
    assert.equal(store.find("t6"), undefined);
    assert.equal(store.size, 2);
  });
});

describe("MemStore options", () => {
  const bad: [MemStoreOptions, RegExp][] = [
    [{ cleanupInterval: -1 }, /option cleanupInterval is invalid: -1/],
    [{ cleanupInterval: Number.NaN }, /option cleanupInterval is invalid: NaN/],
    [{ cleanupInterval: Number.POSITIVE_INFINITY }, /option cleanupInterval is invalid: Infinity/],
    [{ cleanupInterval: 2 ** 31 }, /option cleanupInterval is invalid: 2147483648/],
    [{ cleanupInterval: "10" as unknown as number }, /option cleanupInterval is invalid: 10/],
    [{ maxSessions: 0 }, /option maxSessions is invalid: 0/],
    [{ maxSessions: -5 }, /option maxSessions is invalid: -5/],
    [{ maxSessions: 1.5 }, /option maxSessions is invalid: 1.5/],
    [{ maxSessions: Number.NaN }, /option maxSessions is invalid: NaN/],
    [{ maxSessions: Number.POSITIVE_INFINITY }, /option maxSessions is invalid: Infinity/],
    [{ maxBytes: 0 }, /option maxBytes is invalid: 0 \(expected a positive integer/],
    [{ maxBytes: -1 }, /option maxBytes is invalid: -1/],
    [{ maxBytes: 1.5 }, /option maxBytes is invalid: 1.5/],
    [{ maxBytes: Number.NaN }, /option maxBytes is invalid: NaN/],
    [{ maxBytes: Number.NEGATIVE_INFINITY }, /option maxBytes is invalid: -Infinity/],
    [{ maxBytes: "64MB" as unknown as number }, /option maxBytes is invalid: 64MB/],
    [{ maxBytes: 10n as unknown as number }, /option maxBytes is invalid: 10/],
    [{ now: 5 as unknown as () => number }, /option now is invalid: 5/],
  ];
  for (const [options, message] of bad) {
    it(`throws TypeError "${message.source}"`, () => {
      assert.throws(
        () => new MemStore(options),
        (err: unknown) => {
          assert.ok(err instanceof TypeError);
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }

  it("accepts the defaults, 0, a maxSessions of 1 and maxBytes of 1 or Infinity", () => {
    new MemStore().close();
    new MemStore({ cleanupInterval: 0, maxSessions: 1 }).close();
    new MemStore({ maxBytes: 1 }).close();
    new MemStore({ maxBytes: Number.POSITIVE_INFINITY }).close();
  });
});
