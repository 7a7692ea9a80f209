import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import {
  MEMSTORE_DEFAULT_MAX_BYTES,
  MEMSTORE_ENTRY_OVERHEAD,
  MemStore,
} from "../../src/stores/memstore-entry.ts";

const OVERHEAD = MEMSTORE_ENTRY_OVERHEAD;
const later = new Date(Date.now() + 3_600_000);
/** Counted size of a session with a one-character token and `n` data bytes. */
const entry = (n: number) => OVERHEAD + 1 + n;

function boundedStore(maxBytes: number, maxSessions?: number) {
  const store = new MemStore({ cleanupInterval: 0, maxBytes, maxSessions });
  const commit = (token: string, n: number) => store.commit(token, new Uint8Array(n), later);
  const held = (...tokens: string[]) => tokens.filter((t) => store.find(t) !== undefined);
  return { store, commit, held };
}

describe("MemStore maxBytes", () => {
  it("is 64 MiB by default and counts data, token and the stated overhead per session", () => {
    assert.equal(MEMSTORE_DEFAULT_MAX_BYTES, 64 * 1024 * 1024);
    const store = new MemStore({ cleanupInterval: 0 });
    store.commit("abc", new Uint8Array(45), later);
    assert.equal(store.bytes, OVERHEAD + 3 + 45);
    store.commit("abc", new Uint8Array(100), later);
    assert.equal(store.bytes, OVERHEAD + 3 + 100, "an update counts its new data only");
    store.commit("de", new Uint8Array(0), later);
    assert.equal(store.bytes, OVERHEAD * 2 + 5 + 100);
    store.delete("abc");
    assert.equal(store.bytes, OVERHEAD + 2);
    store.delete("de");
    assert.equal(store.bytes, 0);
  });

  it("the default bound evicts: a flood of 45-byte sessions stops at 64 MiB counted", () => {
    const store = new MemStore({ cleanupInterval: 0 });
    const per = OVERHEAD + 43 + 45;
    const fits = Math.floor(MEMSTORE_DEFAULT_MAX_BYTES / per);
    const data = new Uint8Array(45);
    for (let i = 0; i < fits + 1000; i++) {
      store.commit(`${i}`.padStart(43, "t"), data, later);
    }
    assert.equal(store.size, fits);
    assert.ok(store.bytes <= MEMSTORE_DEFAULT_MAX_BYTES);
    assert.equal(store.find("0".padStart(43, "t")), undefined, "the oldest was evicted");
    assert.ok(store.find(`${fits + 999}`.padStart(43, "t")), "the newest is held");
  });

  it("evicts the least recently used sessions until a commit fits, and find counts as use", () => {
    const { store, commit, held } = boundedStore(entry(100) * 3);
    commit("a", 100);
    commit("b", 100);
    commit("c", 100);
    assert.ok(store.find("a"), "a is now the most recently used");
    commit("d", 100);
    assert.deepEqual(held("a", "b", "c", "d"), ["a", "c", "d"]);
    // held() found a, c and d in that order, so a is the oldest now, then c. A session the
    // size of two evicts both.
    commit("e", 100 + entry(100));
    assert.deepEqual(held("a", "b", "c", "d", "e"), ["d", "e"]);
    assert.ok(store.bytes <= entry(100) * 3);
  });

  it("an update that grows a session evicts others, never itself", () => {
    const { store, commit, held } = boundedStore(entry(100) * 2);
    commit("a", 100);
    commit("b", 100);
    commit("a", 100 + entry(100));
    assert.deepEqual(held("a", "b"), ["a"]);
    assert.equal(store.size, 1);
    assert.equal(store.find("a")!.byteLength, 100 + entry(100));
  });

  it("refuses with a RangeError a session larger than the bound, and changes nothing", () => {
    const { store, commit, held } = boundedStore(entry(100));
    commit("a", 100);
    const token = "secret-token-value";
    assert.throws(
      () => store.commit(token, new Uint8Array(101), later),
      (err: unknown) => {
        assert.ok(err instanceof RangeError);
        assert.match(err.message, new RegExp(`over maxBytes ${entry(100)}$`));
        assert.ok(!err.message.includes(token), "no token in the message");
        return true;
      },
    );
    assert.throws(() => commit("a", 101), RangeError);
    assert.deepEqual(held("a", token), ["a"]);
    assert.equal(store.find("a")!.byteLength, 100, "the old data stays");
    assert.equal(store.bytes, entry(100));
  });

  it("with maxSessions too, both bounds hold", () => {
    const { commit, held } = boundedStore(entry(10) * 3, 2);
    commit("a", 10);
    commit("b", 10);
    commit("c", 10);
    assert.deepEqual(held("a", "b", "c"), ["b", "c"], "maxSessions bound");
    commit("d", 10 + entry(10));
    assert.deepEqual(held("b", "c", "d"), ["c", "d"], "maxSessions evicted b; c and d fit");
    commit("e", 10 + 2 * entry(10));
    assert.deepEqual(held("c", "d", "e"), ["e"], "maxSessions evicted c, maxBytes d");
  });

  it("expired sessions dropped by find or sweep give their bytes back", async () => {
    let now = 1_000;
    const store = new MemStore({ cleanupInterval: 0, maxBytes: 10_000, now: () => now });
    store.commit("a", new Uint8Array(10), new Date(now + 5));
    store.commit("b", new Uint8Array(20), new Date(now + 5));
    store.commit("c", new Uint8Array(30), new Date(now + 500));
    now += 5;
    assert.equal(store.find("a"), undefined);
    assert.equal(store.bytes, OVERHEAD * 2 + 2 + 50);
    assert.equal(await store.sweep(), 1);
    assert.equal(store.bytes, OVERHEAD + 1 + 30);
  });

  it("after shrinking to a quarter (slot arrays compacted) keeps every session and its recency", async () => {
    let now = 1_000;
    const n = 20_000;
    const store = new MemStore({ cleanupInterval: 0, maxSessions: n, now: () => now });
    const t = (i: number) => `tok-${i}`;
    const kept = (i: number) => i % 10 === 0;
    const longLived = (i: number) => i % 20 === 0;
    for (let i = 0; i < n; i++) store.commit(t(i), new Uint8Array([i & 255]), new Date(now + 10));
    // Re-commit the kept ones newest first, so their recency order is the reverse of creation.
    for (let i = n - 10; i >= 0; i -= 10) {
      const expiry = new Date(now + (longLived(i) ? 1_000 : 10));
      store.commit(t(i), new Uint8Array([i & 255, 1]), expiry);
    }
    // Deleting the rest passes a quarter of the slots in use: the arrays are compacted midway.
    for (let i = 0; i < n; i++) if (!kept(i)) store.delete(t(i));
    assert.equal(store.size, n / 10);
    now += 10;
    assert.equal(await store.sweep(), n / 20, "the short-lived half expired");
    assert.equal(store.size, n / 20);
    const all = [...store.all()];
    const counted = all.reduce((sum, [k, d]) => sum + OVERHEAD + k.length + d.byteLength, 0);
    assert.equal(store.bytes, counted);
    // Recency survived compaction: fill to the bound, the oldest (highest i) goes first.
    for (let i = 0; i < n - n / 20; i++) {
      store.commit(`new-${i}`, new Uint8Array(1), new Date(now + 1_000));
    }
    store.commit("one-more", new Uint8Array(1), new Date(now + 1_000));
    assert.equal(store.find(t(n - 20)), undefined, "the least recently used was evicted");
    for (let i = 0; i < n - 20; i += 20) {
      assert.deepEqual(store.find(t(i)), new Uint8Array([i & 255, 1]), `tok-${i} kept`);
    }
  });

  it("Infinity turns the byte bound off", () => {
    const store = new MemStore({ cleanupInterval: 0, maxBytes: Number.POSITIVE_INFINITY });
    store.commit("a", new Uint8Array(1 << 20), later);
    assert.equal(store.size, 1);
  });

  it("bytes and the bound agree with a model under random operations", () => {
    type Op = { op: "commit"; t: number; n: number } | { op: "find" | "delete"; t: number };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ op: fc.constant("commit" as const), t: fc.nat(6), n: fc.nat(120) }),
      fc.record({ op: fc.constantFrom("find" as const, "delete" as const), t: fc.nat(6) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: entry(120), max: entry(120) * 5 }),
        fc.array(opArb, { maxLength: 80 }),
        (maxBytes, ops) => {
          const store = new MemStore({ cleanupInterval: 0, maxBytes });
          // Recency order, oldest first: token → data length.
          const model = new Map<string, number>();
          const total = () => [...model.values()].reduce((s, n) => s + entry(n), 0);
          for (const o of ops) {
            const t = String(o.t);
            if (o.op === "commit") {
              model.delete(t);
              model.set(t, o.n);
              while (total() > maxBytes) model.delete(model.keys().next().value!);
              store.commit(t, new Uint8Array(o.n), later);
            } else if (o.op === "find") {
              const n = model.get(t);
              if (n !== undefined) {
                model.delete(t);
                model.set(t, n);
              }
              assert.equal(store.find(t)?.byteLength, n);
            } else {
              model.delete(t);
              store.delete(t);
            }
            assert.equal(store.bytes, total());
            assert.ok(store.bytes <= maxBytes);
            assert.equal(store.size, model.size);
          }
        },
      ),
      { numRuns: 500, seed: 42 },
    );
  });
});

describe("MemStore keeps its own copy of the data", () => {
  it("find returns an exactly sized copy, not the caller's array or its buffer", () => {
    const store = new MemStore({ cleanupInterval: 0 });
    const slab = new Uint8Array(8192);
    const view = slab.subarray(100, 145);
    view.fill(7);
    store.commit("t", view, later);
    const got = store.find("t")!;
    assert.notEqual(got, view);
    assert.equal(got.byteLength, 45);
    assert.equal(got.buffer.byteLength, 45, "no larger buffer behind it");
    view.fill(9);
    assert.deepEqual([...store.find("t")!], Array(45).fill(7), "later changes do not leak in");
    assert.equal(store.find("t"), got, "find returns the stored copy, not a new one each time");
  });

  it("copies a view at an offset, a shared or resizable buffer's view, 64 bytes or less; keeps an exact array", () => {
    const store = new MemStore({ cleanupInterval: 0 });
    const exact = new Uint8Array(65).fill(1);
    const small = new Uint8Array(new ArrayBuffer(64));
    const offset = new Uint8Array(new ArrayBuffer(101), 1);
    const shared = new Uint8Array(new SharedArrayBuffer(100));
    const Resizable = ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer;
    const resizable = new Uint8Array(new Resizable(100, { maxByteLength: 200 }), 0, 100);
    const cases: [string, Uint8Array, boolean][] = [
      ["exact", exact, true],
      ["small", small, false],
      ["offset", offset, false],
      ["shared", shared, false],
      ["resizable", resizable, false],
    ];
    for (const [token, data, kept] of cases) {
      store.commit(token, data, later);
      assert.equal(store.find(token) === data, kept, token);
      assert.deepEqual([...store.find(token)!], [...data], token);
    }
  });

  it("200,000 sessions cut from shared 8 KiB pool slabs, 99 % deleted, hold about their own size", async () => {
    // A child with --expose-gc, so the heap is measured after a full collection.
    const fixture = fileURLToPath(new URL("./fixtures/memstore-pinning.ts", import.meta.url));
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", fixture], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let text = "";
      child.stdout.on("data", (b: Buffer) => {
        text += b.toString();
      });
      child.on("error", reject);
      child.on("exit", (code) => (code === 0 ? resolve(text) : reject(new Error(`exit ${code}`))));
    });
    const r = JSON.parse(out) as { kept: number; perKept: number; slabShared: boolean };
    console.log(`  heap + external per kept session: ${r.perKept} bytes (45 bytes of data)`);
    assert.ok(r.slabShared, "the fixture's data really were views of shared pool slabs");
    assert.equal(r.kept, 2000);
    // The 2,000 kept sessions are spread over ~1,100 slabs: pinned, and with the slot arrays of
    // all 200,000 kept too, each held 9.4 KB (4.6 KB with the copy but without compaction).
    // Their own size is 45 bytes of data + 43 token characters + the ~300-byte overhead.
    assert.ok(r.perKept < 1024, `${r.perKept} bytes per kept session`);
  });
});
