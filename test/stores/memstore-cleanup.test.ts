import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { MemStore } from "../../src/stores/memstore.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const memstorePath = fileURLToPath(new URL("../../src/stores/memstore.ts", import.meta.url));

function clockAt(start = 1_700_000_000_000) {
  const clock = { now: start };
  return { clock, now: () => clock.now, at: (ms: number) => new Date(clock.now + ms) };
}

describe("MemStore sweep", () => {
  it("removes expired sessions and keeps live ones", async () => {
    const { clock, now, at } = clockAt();
    const store = new MemStore({ cleanupInterval: 0, now });
    for (let i = 0; i < 10; i++) store.commit(`dead${i}`, bytes("d"), at(100));
    for (let i = 0; i < 5; i++) store.commit(`live${i}`, bytes("l"), at(10_000));
    clock.now += 100;
    assert.equal(store.size, 15);
    assert.equal(await store.sweep(), 10);
    assert.equal(store.size, 5);
    assert.deepEqual([...store.all().keys()].sort(), ["live0", "live1", "live2", "live3", "live4"]);
  });

  it("keeps a session that was re-committed with a later expiry", async () => {
    const { clock, now, at } = clockAt();
    const store = new MemStore({ cleanupInterval: 0, now });
    store.commit("renewed", bytes("v1"), at(100));
    store.commit("dropped", bytes("x"), at(100));
    clock.now += 50;
    store.commit("renewed", bytes("v2"), at(1000));
    clock.now += 100;
    assert.equal(await store.sweep(), 1);
    assert.deepEqual(store.find("renewed"), bytes("v2"));
  });

  it("drops a session re-committed with an earlier expiry", async () => {
    const { clock, now, at } = clockAt();
    const store = new MemStore({ cleanupInterval: 0, now });
    store.commit("t", bytes("v1"), at(10_000));
    store.commit("t", bytes("v2"), at(10));
    clock.now += 10;
    assert.equal(await store.sweep(), 1);
    assert.equal(store.size, 0);
  });

  it("a sweep over many sessions, in slices, leaves sessions committed meanwhile", async () => {
    const { clock, now, at } = clockAt();
    const store = new MemStore({ cleanupInterval: 0, now });
    const data = bytes("d");
    for (let i = 0; i < 200_000; i++) store.commit(`old${i}`, data, at(10));
    clock.now += 10;
    const sweeping = store.sweep();
    assert.equal(store.sweep(), sweeping, "a second call joins the running sweep");
    store.commit("new", bytes("n"), at(1000));
    await new Promise((r) => setImmediate(r));
    store.commit("newer", bytes("n"), at(1000));
    assert.equal(await sweeping, 200_000);
    assert.deepEqual([...store.all().keys()].sort(), ["new", "newer"]);
    assert.equal(store.size, 2);
  });

  it("runs in the background every cleanupInterval", async (t) => {
    t.mock.timers.enable({ apis: ["setInterval"] });
    const { clock, now, at } = clockAt();
    const store = new MemStore({ cleanupInterval: 1000, now });
    store.commit("a", bytes("a"), at(500));
    clock.now += 500;
    t.mock.timers.tick(999);
    assert.equal(store.size, 1, "no sweep before the interval");
    t.mock.timers.tick(1);
    await store.sweep();
    assert.equal(store.size, 0);
    store.close();
  });

  it("cleanupInterval 0 never starts a timer", (t) => {
    const setIntervalSpy = t.mock.method(globalThis, "setInterval");
    new MemStore({ cleanupInterval: 0 }).close();
    assert.equal(setIntervalSpy.mock.callCount(), 0);
    new MemStore({ cleanupInterval: 1000 }).close();
    assert.equal(setIntervalSpy.mock.callCount(), 1, "the spy does see a store's timer");
  });

  it("the cleanup timer is unref'd", (t) => {
    const setIntervalSpy = t.mock.method(globalThis, "setInterval");
    const store = new MemStore({ cleanupInterval: 1000 });
    const timer = setIntervalSpy.mock.calls[0]?.result as NodeJS.Timeout;
    assert.equal(timer.hasRef(), false);
    store.close();
  });

  it("stopCleanup ends the background sweep and is idempotent", async (t) => {
    t.mock.timers.enable({ apis: ["setInterval"] });
    const { clock, now, at } = clockAt();
    const store = new MemStore({ cleanupInterval: 1000, now });
    store.commit("a", bytes("a"), at(10));
    clock.now += 10;
    store.stopCleanup();
    store.stopCleanup();
    t.mock.timers.tick(5000);
    await new Promise((r) => setImmediate(r));
    assert.equal(store.size, 1, "no sweep ran");
    assert.equal(store.find("a"), undefined, "expired data is still never returned");
  });

  it("close() and Symbol.dispose stop the background sweep too", (t) => {
    const clearIntervalSpy = t.mock.method(globalThis, "clearInterval");
    new MemStore({ cleanupInterval: 1000 }).close();
    assert.equal(clearIntervalSpy.mock.callCount(), 1);
    {
      using _store = new MemStore({ cleanupInterval: 1000 });
    }
    assert.equal(clearIntervalSpy.mock.callCount(), 2);
  });

  it("a process with a running store and a tiny interval exits by itself", async () => {
    const script = [
      `const { MemStore } = await import(${JSON.stringify(memstorePath)});`,
      "const store = new MemStore({ cleanupInterval: 5 });",
      "store.commit('t', new Uint8Array([1]), new Date(Date.now() + 60_000));",
      "globalThis.keep = store;",
    ].join("\n");
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on("exit", (c, s) => resolve([c, s])),
    );
    clearTimeout(killer);
    assert.equal(signal, null, "the child had to be killed: the timer held the process");
    assert.equal(code, 0, stderr);
  });
});
