/**
 * The express-session bridge side by side with MemStore and with the store it wraps, in one
 * process: commit+find round-trips of `fromExpressStore(new MemoryStore())` against MemStore
 * (what the bridge costs compared with a native store) and against express-session's
 * MemoryStore called directly with an express-session-shaped object of the same size (what the
 * bridge adds to the store itself). Contestants alternate within each round; the figures are
 * medians over the rounds, ratios taken within a round.
 *
 * Part (b) does the same over the network: the bridge over connect-redis against RedisStore,
 * one node-redis client, one redis-server started for the run on a free loopback port.
 *
 * Usage: npx tsx bench/connect-store.ts [--quick] [--only=a|b]
 * @module
 */
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { RedisStore as ConnectRedisStore } from "connect-redis";
import { createClient } from "redis";
import type { Store } from "../src/store.ts";
import { fromExpressStore } from "../src/stores/connect-store.ts";
import { MemStore } from "../src/stores/memstore.ts";
import { RedisStore } from "../src/stores/redisstore.ts";
import { startRedis } from "../test/helpers/redis.ts";

const require = createRequire(import.meta.url);
const here = fileURLToPath(import.meta.url);
const HOUR = 3_600_000;

interface CallbackStore {
  get(sid: string, cb: (err: unknown, sess?: unknown) => void): void;
  set(sid: string, sess: unknown, cb: (err?: unknown) => void): void;
  destroy(sid: string, cb: (err?: unknown) => void): void;
  all(cb: (err: unknown, all?: unknown) => void): void;
}
const expressSession = require("express-session") as {
  MemoryStore: new () => CallbackStore;
};
const esVersion = (require("express-session/package.json") as { version: string }).version;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const fmt = (n: number, digits = 0): string =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
let sink = 0;
/**
 * This process's CPU time since `from`, in seconds. Rates are per CPU-second: the machine's
 * two cores are shared with other work, and wall-clock rates move with it far more.
 */
const cpuSeconds = (from: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
};

/** `count` commit+find round-trips, `concurrency` at a time, over the tokens in `ids`. */
type Run = (ids: string[], from: number, count: number) => Promise<void>;

function contestants(concurrency: number): { name: string; make: () => Run }[] {
  // About 1 KB: a typical session, as bytes and as the express-session object of the same size.
  const data = new Uint8Array(randomBytes(1024));
  const expiry = new Date(Date.now() + HOUR);
  const sessionObject = {
    cookie: { originalMaxAge: HOUR, expires: expiry, httpOnly: true, path: "/" },
    payload: Buffer.from(data).toString("base64"),
  };
  /** Runs `step` for each token, `concurrency` at once. */
  const batches =
    (step: (token: string) => Promise<void>): Run =>
    async (ids, from, count) => {
      for (let i = from; i < from + count; i += concurrency) {
        const batch: Promise<void>[] = [];
        for (let j = i; j < Math.min(i + concurrency, from + count); j++) {
          batch.push(step(ids[j % ids.length]!));
        }
        await Promise.all(batch);
      }
    };
  return [
    {
      name: "MemStore",
      make: () => {
        const store = new MemStore({ cleanupInterval: 0 });
        return batches(async (t) => {
          await store.commit(t, data, expiry);
          sink += (await store.find(t))?.length ?? 0;
        });
      },
    },
    {
      name: "fromExpressStore(MemoryStore)",
      make: () => {
        const store = fromExpressStore(new expressSession.MemoryStore());
        return batches(async (t) => {
          await store.commit(t, data, expiry);
          sink += (await store.find(t))?.length ?? 0;
        });
      },
    },
    {
      name: "MemoryStore set+get, direct",
      make: () => {
        const store = new expressSession.MemoryStore();
        return batches(async (t) => {
          await new Promise<void>((resolve, reject) =>
            store.set(t, sessionObject, (err) => (err ? reject(err) : resolve())),
          );
          const got = await new Promise<unknown>((resolve, reject) =>
            store.get(t, (err, sess) => (err ? reject(err) : resolve(sess))),
          );
          sink += got === undefined ? 0 : 1;
        });
      },
    },
  ];
}

async function measure(concurrency: number, quick: boolean): Promise<string[]> {
  const rounds = quick ? 3 : 7;
  const budgetMs = quick ? 100 : 400;
  const raw = randomBytes(32 * 10_000);
  const ids = Array.from({ length: 10_000 }, (_, i) =>
    raw.toString("base64url", i * 32, i * 32 + 32),
  );
  const list = contestants(concurrency);
  const rates = new Map<string, number[]>(list.map((c) => [c.name, []]));
  const vsMem: number[] = [];
  const vsDirect: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const thisRound = new Map<string, number>();
    // Alternate the order, so no contestant always runs first (or last) in a round.
    const order = round % 2 === 0 ? list : [...list].reverse();
    for (const c of order) {
      const run = c.make();
      await run(ids, 0, ids.length); // every token exists, and the code is warm
      let ops = 0;
      const started = performance.now();
      const cpu = process.cpuUsage();
      while (performance.now() - started < budgetMs) {
        await run(ids, ops, 1000);
        ops += 1000;
      }
      const rate = ops / cpuSeconds(cpu);
      thisRound.set(c.name, rate);
      rates.get(c.name)!.push(rate);
    }
    const bridge = thisRound.get("fromExpressStore(MemoryStore)")!;
    vsMem.push(bridge / thisRound.get("MemStore")!);
    vsDirect.push(bridge / thisRound.get("MemoryStore set+get, direct")!);
  }
  return list.map((c) => {
    const r = median(rates.get(c.name)!);
    const ratio =
      c.name === "fromExpressStore(MemoryStore)"
        ? `${fmt(median(vsMem), 2)} of MemStore (${fmt(Math.min(...vsMem), 2)}–${fmt(Math.max(...vsMem), 2)}), ${fmt(median(vsDirect), 2)} of MemoryStore direct (${fmt(Math.min(...vsDirect), 2)}–${fmt(Math.max(...vsDirect), 2)})`
        : "";
    return `| ${concurrency} | ${c.name} | ${fmt(r)} | ${ratio} |`;
  });
}

/** (b) The bridge over connect-redis against RedisStore, on one redis-server and one client. */
async function overRedis(quick: boolean): Promise<string> {
  const rounds = quick ? 3 : 7;
  const budgetMs = quick ? 150 : 500;
  const concurrency = 16;
  const server = await startRedis();
  const client = createClient({ url: server.url });
  client.on("error", () => {});
  await client.connect();
  try {
    const data = new Uint8Array(randomBytes(1024));
    const expiry = new Date(Date.now() + HOUR);
    const ids = Array.from({ length: 1000 }, (_, i) => `bench-${i}`);
    const stores: [string, Store][] = [
      ["RedisStore", new RedisStore(client)],
      ["fromExpressStore(connect-redis)", fromExpressStore(new ConnectRedisStore({ client }))],
    ];
    const ops = {
      find: (s: Store, t: string) => s.find(t),
      commit: (s: Store, t: string) => s.commit(t, data, expiry),
    };
    for (const [, s] of stores) for (const t of ids) await s.commit(t, data, expiry);
    const rows: string[] = [];
    for (const [op, call] of Object.entries(ops)) {
      const rates = new Map<string, number[]>(stores.map(([n]) => [n, []]));
      const ratios: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? stores : [...stores].reverse();
        const thisRound = new Map<string, number>();
        for (const [name, store] of order) {
          let done = 0;
          const started = performance.now();
          const cpu = process.cpuUsage();
          const worker = async (w: number) => {
            for (let i = w; performance.now() - started < budgetMs; i += concurrency) {
              await call(store, ids[i % ids.length]!);
              done++;
            }
          };
          await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
          const rate = done / cpuSeconds(cpu);
          thisRound.set(name, rate);
          rates.get(name)!.push(rate);
        }
        ratios.push(
          thisRound.get("fromExpressStore(connect-redis)")! / thisRound.get("RedisStore")!,
        );
      }
      rows.push(
        `| ${op} | ${fmt(median(rates.get("RedisStore")!))} | ${fmt(median(rates.get("fromExpressStore(connect-redis)")!))} | **${fmt(median(ratios), 2)}** (${fmt(Math.min(...ratios), 2)}–${fmt(Math.max(...ratios), 2)}) |`,
      );
    }
    return [
      `### (b) fromExpressStore over connect-redis vs RedisStore (median of ${rounds} rounds, ${budgetMs} ms each)`,
      "",
      `${concurrency} concurrent calls, one node-redis client, one local redis-server; 1,000 tokens, 1 KB data.`,
      "",
      "| op | RedisStore ops per client CPU-second | bridge over connect-redis | ratio (range) |",
      "|---|---:|---:|---:|",
      ...rows,
    ].join("\n");
  } finally {
    client.destroy();
    await server.stop();
  }
}

/** Runs the comparison and returns a markdown report. */
export async function runConnectStoreBench(opts: {
  quick: boolean;
  only?: string;
}): Promise<string> {
  const part = (id: string) => opts.only === undefined || opts.only.split(",").includes(id);
  const rounds = opts.quick ? 3 : 7;
  const out = [`Node ${process.version}.`];
  if (part("a")) {
    const rows = [...(await measure(1, opts.quick)), ...(await measure(100, opts.quick))];
    out.push(
      [
        `### (a) fromExpressStore over express-session ${esVersion} MemoryStore (median of ${rounds} rounds)`,
        "",
        "commit+find round-trips of 1 KB sessions over 10,000 tokens; " +
          "concurrency 1 awaits each call before the next, 100 runs batches of 100 at once.",
        "",
        "| concurrent | store | round-trips per CPU-second | bridge ratio (range) |",
        "|---:|---|---:|---|",
        ...rows,
      ].join("\n"),
    );
  }
  if (part("b")) out.push(await overRedis(opts.quick));
  return out.join("\n\n");
}

if (process.argv[1] === here) {
  const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);
  console.log(await runConnectStoreBench({ quick: process.argv.includes("--quick"), only }));
  if (sink === -1) console.error(sink);
}
