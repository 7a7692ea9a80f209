import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Store } from "../../src/store.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { storeConformance } from "../../src/testing/index.ts";

storeConformance("MemStore", {
  makeStore: () => new MemStore(),
  closeStore: (store) => (store as MemStore).close(),
  startsEmpty: true,
});

storeConformance("MemStore with maxSessions and a 10 ms sweep", {
  makeStore: () => new MemStore({ cleanupInterval: 10, maxSessions: 1000 }),
  closeStore: (store) => (store as MemStore).close(),
  startsEmpty: true,
});

/** Runs the suite with a collecting runner against `makeStore`; gives the failed test titles. */
async function failuresOf(makeStore: () => Store): Promise<string[]> {
  const tests: { title: string; fn: () => Promise<void> }[] = [];
  storeConformance("probe", {
    makeStore,
    startsEmpty: true,
    describe: (_name, fn) => fn(),
    it: (title, fn) => tests.push({ title, fn }),
  });
  const failed: string[] = [];
  for (const { title, fn } of tests) await fn().catch(() => failed.push(title));
  assert.ok(tests.length >= 15, `the suite declares its tests (${tests.length})`);
  return failed;
}

/** A store that forgets to check expiry. */
class NoExpiryStore extends MemStore {
  #all = new Map<string, Uint8Array>();
  override find(token: string): Uint8Array | undefined {
    return this.#all.get(token);
  }
  override commit(token: string, data: Uint8Array): void {
    this.#all.set(token, data);
  }
  override delete(token: string): void {
    this.#all.delete(token);
  }
}

/** A store that stores text, as a careless string-based store would. */
class TextStore extends MemStore {
  override commit(token: string, data: Uint8Array, expiry: Date): void {
    super.commit(token, new TextEncoder().encode(new TextDecoder().decode(data)), expiry);
  }
}

describe("storeConformance", () => {
  it("passes with any runner that has describe and it", async () => {
    assert.deepEqual(await failuresOf(() => new MemStore({ cleanupInterval: 0 })), []);
  });

  it("fails a store that returns expired data", async () => {
    const failed = await failuresOf(() => new NoExpiryStore({ cleanupInterval: 0 }));
    assert.ok(failed.includes("commit with an expiry in the past is never found"), String(failed));
    assert.ok(failed.includes("commit of an existing token replaces its expiry"), String(failed));
  });

  it("fails a store that mangles binary data", async () => {
    const failed = await failuresOf(() => new TextStore({ cleanupInterval: 0 }));
    assert.ok(failed.includes("every byte value 0x00-0xFF round-trips exactly"), String(failed));
  });
});
