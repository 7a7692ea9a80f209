import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MemStore } from "../../src/stores/memstore.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

function lruStore(maxSessions: number) {
  const clock = { now: 1_700_000_000_000 };
  const store = new MemStore({ cleanupInterval: 0, maxSessions, now: () => clock.now });
  const later = new Date(clock.now + 60_000);
  const commit = (...tokens: string[]) => {
    for (const t of tokens) store.commit(t, bytes(t), later);
  };
  const held = (...tokens: string[]) => tokens.filter((t) => store.all().has(t));
  return { store, clock, commit, held };
}

describe("MemStore maxSessions", () => {
  it("evicts the least recently used session when a new token passes the bound", () => {
    const { store, commit, held } = lruStore(3);
    commit("a", "b", "c");
    commit("d");
    assert.deepEqual(held("a", "b", "c", "d"), ["b", "c", "d"]);
    commit("e");
    assert.deepEqual(held("a", "b", "c", "d", "e"), ["c", "d", "e"]);
    assert.equal(store.size, 3);
  });

  it("find refreshes recency, so the found session outlives older ones", () => {
    const { store, commit, held } = lruStore(3);
    commit("a", "b", "c");
    assert.ok(store.find("a"));
    commit("d");
    assert.deepEqual(held("a", "b", "c", "d"), ["a", "c", "d"]);
  });

  it("committing an existing token is not a new session, and refreshes its recency", () => {
    const { store, commit, held } = lruStore(2);
    commit("a", "b", "a");
    assert.equal(store.size, 2);
    assert.deepEqual(held("a", "b"), ["a", "b"]);
    commit("c");
    assert.deepEqual(held("a", "b", "c"), ["a", "c"]);
  });

  it("a deleted session frees its place without evicting another", () => {
    const { store, commit, held } = lruStore(2);
    commit("a", "b");
    store.delete("a");
    commit("c");
    assert.deepEqual(held("a", "b", "c"), ["b", "c"]);
  });

  it("a bound of 1 keeps only the newest session", () => {
    const { commit, held } = lruStore(1);
    commit("a", "b", "c");
    assert.deepEqual(held("a", "b", "c"), ["c"]);
  });

  it("behaves as a simple reference model under random operations", async () => {
    type Op =
      | { op: "commit"; t: number; ttl: number }
      | { op: "find" | "delete"; t: number }
      | { op: "tick"; ms: number }
      | { op: "sweep" };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        op: fc.constant("commit" as const),
        t: fc.nat(7),
        ttl: fc.integer({ min: -5, max: 50 }),
      }),
      fc.record({ op: fc.constantFrom("find" as const, "delete" as const), t: fc.nat(7) }),
      fc.record({ op: fc.constant("tick" as const), ms: fc.nat(20) }),
      fc.record({ op: fc.constant("sweep" as const) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
        fc.array(opArb, { maxLength: 60 }),
        async (max, ops) => {
          let now = 1_000;
          const store = new MemStore({ cleanupInterval: 0, maxSessions: max, now: () => now });
          // Model: a Map in recency order (oldest first) of token → [data, expiry].
          const model = new Map<string, [string, number]>();
          let n = 0;
          for (const o of ops) {
            if (o.op === "commit") {
              const t = `t${o.t}`;
              const data = `d${n++}`;
              if (!model.has(t) && max !== undefined && model.size >= max) {
                model.delete(model.keys().next().value!);
              }
              model.delete(t);
              model.set(t, [data, now + o.ttl]);
              store.commit(t, bytes(data), new Date(now + o.ttl));
            } else if (o.op === "find") {
              const t = `t${o.t}`;
              const entry = model.get(t);
              let want: string | undefined;
              if (entry !== undefined) {
                model.delete(t);
                if (entry[1] > now) {
                  model.set(t, entry);
                  want = entry[0];
                }
              }
              const got = store.find(t);
              assert.equal(got === undefined ? undefined : new TextDecoder().decode(got), want);
            } else if (o.op === "delete") {
              model.delete(`t${o.t}`);
              store.delete(`t${o.t}`);
            } else if (o.op === "tick") {
              now += o.ms;
            } else {
              let dropped = 0;
              for (const [t, [, exp]] of model) {
                if (!(exp > now)) {
                  model.delete(t);
                  dropped++;
                }
              }
              assert.equal(await store.sweep(), dropped);
            }
            assert.equal(store.size, model.size);
          }
          const live = [...model].filter(([, [, exp]]) => exp > now).map(([t]) => t);
          assert.deepEqual([...store.all().keys()].sort(), live.sort());
        },
      ),
      { numRuns: 300 },
    );
  });
});
