import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import type { IterableStore } from "../../src/store.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { RqliteStore } from "../../src/stores/rqlitestore.ts";
import { startNode } from "../helpers/rqlite.ts";
import { type ModelBackend, sqlModelBackends } from "./sql-model-backends.ts";

/**
 * The store contract under random interleavings of commit / find / delete / all / clock moves,
 * checked step by step against a Map model. The model is an insertion-ordered Map, so it also
 * models MemStore's least-recently-used order for `maxSessions`.
 */

const FUZZ = process.env.FUZZ === "1";
const params = <T>(runs: number): fc.Parameters<T> => ({
  seed: 42,
  numRuns: FUZZ ? runs * 20 : runs,
});

/** One step of a sequence. Expiries and clock moves are in ms relative to the fake clock. */
type Op =
  | { op: "commit"; key: number; data: Uint8Array; ttl: number }
  | { op: "find"; key: number }
  | { op: "delete"; key: number }
  | { op: "all" }
  | { op: "advance"; ms: number }
  | { op: "sweep" };

const KEYS = 5;
const key = fc.nat({ max: KEYS - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("commit" as const),
      key,
      data: fc.uint8Array({ maxLength: 24 }),
      // Past, just-expired, near and far expiries.
      ttl: fc.oneof(fc.integer({ min: -5_000, max: 0 }), fc.integer({ min: 1, max: 5_000 })),
    }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("find" as const), key }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("delete" as const), key }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("all" as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("advance" as const),
      ms: fc.integer({ min: 1, max: 3_000 }),
    }),
  },
);
const memOpArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: opArb },
  { weight: 1, arbitrary: fc.constant({ op: "sweep" as const }) },
);

interface Entry {
  data: Uint8Array;
  expiry: number;
}

/** The reference: what any store must answer, plus MemStore's exact LRU/size bookkeeping. */
class Model {
  readonly entries = new Map<string, Entry>();
  /** Deleted tokens, when a delete is final (see ModelBackend.deleteIsFinal). */
  readonly #dead = new Set<string>();
  constructor(
    readonly maxSessions?: number,
    readonly deleteIsFinal = false,
  ) {}
  commit(token: string, data: Uint8Array, expiry: number): void {
    if (this.#dead.has(token)) return;
    if (!this.entries.has(token) && this.maxSessions !== undefined) {
      if (this.entries.size >= this.maxSessions) {
        const oldest = this.entries.keys().next().value as string;
        this.entries.delete(oldest);
      }
    }
    this.entries.delete(token); // re-insert: most recently used
    this.entries.set(token, { data, expiry });
  }
  find(token: string, now: number): Uint8Array | undefined {
    const entry = this.entries.get(token);
    if (entry === undefined) return undefined;
    this.entries.delete(token);
    if (!(entry.expiry > now)) return undefined; // an expired entry met by find is dropped
    this.entries.set(token, entry);
    return entry.data;
  }
  delete(token: string): void {
    this.entries.delete(token);
    if (this.deleteIsFinal) this.#dead.add(token);
  }
  all(now: number): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    for (const [token, e] of this.entries) if (e.expiry > now) out.set(token, e.data);
    return out;
  }
  sweep(now: number): void {
    for (const [token, e] of this.entries) if (!(e.expiry > now)) this.entries.delete(token);
  }
}

const hex = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : Buffer.from(b).toString("hex");
const hexMap = (m: Map<string, Uint8Array>) =>
  new Map([...m].map(([k, v]) => [k, hex(v)] as const).sort(([a], [b]) => (a < b ? -1 : 1)));

interface Run {
  store: IterableStore;
  model: Model;
  clock: { now: number };
  /** Token for key i in this run. */
  tokens: string[];
  /** Which `all()` rows belong to this run (a shared rqlite table holds earlier runs too). */
  owns?: (token: string) => boolean;
  /** Compare `size` (MemStore only). */
  size?: () => number;
  /** The store's expiry sweep, when it is not MemStore's `sweep()`. */
  sweep?: () => Promise<unknown>;
}

async function play(run: Run, ops: Op[]): Promise<void> {
  const { store, model, clock, tokens } = run;
  for (const [i, step] of ops.entries()) {
    const where = `step ${i} (${step.op})`;
    switch (step.op) {
      case "commit": {
        const token = tokens[step.key]!;
        const expiry = clock.now + step.ttl;
        await store.commit(token, step.data, new Date(expiry));
        model.commit(token, step.data, expiry);
        break;
      }
      case "find": {
        const token = tokens[step.key]!;
        assert.equal(hex(await store.find(token)), hex(model.find(token, clock.now)), where);
        break;
      }
      case "delete": {
        const token = tokens[step.key]!;
        await store.delete(token);
        model.delete(token);
        break;
      }
      case "all": {
        let got = await store.all();
        if (run.owns) got = new Map([...got].filter(([t]) => run.owns!(t)));
        assert.deepEqual(hexMap(got), hexMap(model.all(clock.now)), where);
        break;
      }
      case "advance":
        clock.now += step.ms;
        break;
      case "sweep":
        await (run.sweep ? run.sweep() : (store as MemStore).sweep());
        model.sweep(clock.now);
        break;
    }
    if (run.size) assert.equal(run.size(), model.entries.size, `${where}: size`);
  }
  // Whatever happened, every key ends as the model says.
  for (const token of tokens) {
    assert.equal(hex(await store.find(token)), hex(model.find(token, clock.now)), "final find");
  }
}

const memTokens = Array.from({ length: KEYS }, (_, i) => `tok${i}${"x".repeat(i)}`);

describe("MemStore against a Map model", () => {
  it("random commit/find/delete/all/advance/sweep sequences agree with the model", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(memOpArb, { maxLength: 40 }), async (ops) => {
        const clock = { now: 1_700_000_000_000 };
        const store = new MemStore({ cleanupInterval: 0, now: () => clock.now });
        await play(
          { store, model: new Model(), clock, tokens: memTokens, size: () => store.size },
          ops,
        );
      }),
      params(3000),
    );
  });

  it("with maxSessions, eviction of the least recently used session agrees with the model", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(memOpArb, { maxLength: 40 }),
        async (max, ops) => {
          const clock = { now: 1_700_000_000_000 };
          const store = new MemStore({
            cleanupInterval: 0,
            maxSessions: max,
            now: () => clock.now,
          });
          await play(
            { store, model: new Model(max), clock, tokens: memTokens, size: () => store.size },
            ops,
          );
          assert.ok(store.size <= max);
        },
      ),
      params(3000),
    );
  });
});

/** RqliteStore on one real rqlited node; the SQL stores come from ./sql-model-backends.ts. */
const rqliteBackend: ModelBackend = {
  name: "RqliteStore on one real rqlited node",
  // Versioned writes (the default): a tombstone outlives these runs (24 h), so a commit of a
  // deleted token is a no-op, and a signed-out token can never be brought back.
  deleteIsFinal: true,
  runs: 30,
  steps: 20,
  async open(now) {
    const node = await startNode();
    const store = new RqliteStore(node.urls, {
      table: `model_${randomBytes(4).toString("hex")}`,
      cleanupInterval: 0,
      now,
    });
    return {
      store,
      async close() {
        await store.close();
        await node.close();
      },
    };
  },
};

for (const backend of [rqliteBackend, ...(await sqlModelBackends())]) backendSuite(backend);

/** The model test for a store on a backend that outlives each sequence (a table keeps earlier runs' rows). */
function backendSuite(backend: ModelBackend): void {
  describe(`${backend.name} against a Map model`, () => {
    let opened: Awaited<ReturnType<ModelBackend["open"]>> | undefined;
    const clock = { now: 1_700_000_000_000 };

    before(async () => {
      opened = await backend.open(() => clock.now);
    });
    after(async () => {
      await opened?.close();
    });

    it("random sequences agree with the model (the store's clock is injected)", async () => {
      const { store, sweep } = opened!;
      let runId = 0;
      const steps = { minLength: backend.steps, maxLength: backend.steps };
      await fc.assert(
        fc.asyncProperty(fc.array(sweep ? memOpArb : opArb, steps), async (ops) => {
          // Fresh tokens per run (shrinking replays runs); the table keeps earlier runs' rows.
          const prefix = `r${runId++}_${randomBytes(4).toString("hex")}_`;
          const tokens = Array.from({ length: KEYS }, (_, i) => `${prefix}${i}`);
          clock.now = 1_700_000_000_000;
          const owns = (t: string) => t.startsWith(prefix);
          const model = new Model(undefined, backend.deleteIsFinal);
          await play({ store, model, clock, tokens, owns, sweep }, ops);
        }),
        params(backend.runs),
      );
    });

    it("SQL metacharacters and unicode in tokens are inert keys", async () => {
      const { store } = opened!;
      const raw = fc.string({ unit: "binary", minLength: 1, maxLength: 30 });
      // A token once deleted stays dead in RqliteStore (its tombstone): each run its own token.
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          backend.unstorable ? raw.filter((r) => !backend.unstorable!.test(r)) : raw,
          fc.uint8Array({ maxLength: 16 }),
          async (raw, data) => {
            const token = `q_${raw}'";--${run++}`;
            clock.now = 1_700_000_000_000;
            await store.commit(token, data, new Date(clock.now + 60_000));
            assert.equal(hex(await store.find(token)), hex(data));
            await store.delete(token);
            assert.equal(await store.find(token), undefined);
          },
        ),
        params(30),
      );
    });
  });
}
