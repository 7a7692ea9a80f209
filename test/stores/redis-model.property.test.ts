import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { RedisStore } from "../../src/stores/redisstore.ts";
import { type RedisServer, startRedis } from "../helpers/redis.ts";
import { connectClient, type TestClient } from "./redis-clients.ts";

/**
 * RedisStore under random interleavings of commit / find / delete / all / time passing, checked
 * step by step against a Map model. Redis expires keys by its own clock, which no test can
 * move, so time here is real: expiries are a few hundred ms, "advance" sleeps, and a key whose
 * expiry is within {@link MARGIN} ms of the moment of a check may be either way.
 */

const FUZZ = process.env.FUZZ === "1";
const MARGIN = 40;
const KEYS = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hex = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : Buffer.from(b).toString("hex");

type Op =
  | { op: "commit"; key: number; data: Uint8Array; ttl: number }
  | { op: "find"; key: number }
  | { op: "delete"; key: number }
  | { op: "all" }
  | { op: "advance"; ms: number };

const key = fc.nat({ max: KEYS - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("commit" as const),
      key,
      data: fc.uint8Array({ maxLength: 24 }),
      // Past, just-expired, near and far expiries.
      ttl: fc.oneof(
        fc.integer({ min: -1_000, max: 0 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 5_000, max: 60_000 }),
      ),
    }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("find" as const), key }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("delete" as const), key }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("all" as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("advance" as const),
      ms: fc.integer({ min: 1, max: 120 }),
    }),
  },
);

/** What the model says of a key now: its data, absent, or too close to its expiry to tell. */
type Expect = { kind: "data"; data: Uint8Array } | { kind: "none" } | { kind: "either" };

function expect(entry: { data: Uint8Array; expiry: number } | undefined, now: number): Expect {
  if (entry === undefined) return { kind: "none" };
  if (Math.abs(entry.expiry - now) < MARGIN) return { kind: "either" };
  return entry.expiry > now ? { kind: "data", data: entry.data } : { kind: "none" };
}

function check(got: Uint8Array | undefined, want: Expect, where: string): void {
  if (want.kind === "either") return;
  assert.equal(hex(got), want.kind === "data" ? hex(want.data) : undefined, where);
}

async function play(store: RedisStore, tokens: string[], ops: Op[]): Promise<void> {
  const model = new Map<string, { data: Uint8Array; expiry: number }>();
  for (const [i, step] of ops.entries()) {
    const where = `step ${i} (${step.op})`;
    switch (step.op) {
      case "commit": {
        const token = tokens[step.key] as string;
        const expiry = Date.now() + step.ttl;
        await store.commit(token, step.data, new Date(expiry));
        model.set(token, { data: step.data, expiry });
        break;
      }
      case "find": {
        const token = tokens[step.key] as string;
        const before = Date.now();
        const got = await store.find(token);
        const want = expect(model.get(token), before);
        // The answer was given somewhere between before and now.
        const late = expect(model.get(token), Date.now());
        check(got, want.kind === late.kind ? want : { kind: "either" }, `${where} ${token}`);
        break;
      }
      case "delete": {
        const token = tokens[step.key] as string;
        await store.delete(token);
        model.delete(token);
        break;
      }
      case "all": {
        const before = Date.now();
        const all = await store.all();
        const afterwards = Date.now();
        for (const token of tokens) {
          const want = expect(model.get(token), before);
          const late = expect(model.get(token), afterwards);
          check(all.get(token), want.kind === late.kind ? want : { kind: "either" }, where);
        }
        assert.ok(
          [...all.keys()].every((t) => tokens.includes(t)),
          `${where}: only this run's tokens`,
        );
        break;
      }
      case "advance":
        await sleep(step.ms);
        break;
    }
  }
}

let server: RedisServer;
const clients: TestClient[] = [];
before(async () => {
  server = await startRedis();
});
after(async () => {
  for (const c of clients) await c.quit();
  await server?.stop();
});

for (const kind of ["ioredis", "node-redis"] as const) {
  describe(`RedisStore on ${kind} against a Map model (real time, Redis's own expiry)`, () => {
    it("random commit/find/delete/all/advance sequences agree with the model", async () => {
      const c = await connectClient(kind, server.port);
      clients.push(c);
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 12, maxLength: 20 }), async (ops) => {
          // A prefix per run: all() then holds only this run's sessions.
          const store = new RedisStore(c.client, {
            prefix: `model:${randomBytes(6).toString("hex")}:`,
          });
          const tokens = Array.from({ length: KEYS }, (_, i) => `tok${i}`);
          await play(store, tokens, ops);
        }),
        { seed: 42, numRuns: FUZZ ? 400 : 30 },
      );
    });
  });
}
