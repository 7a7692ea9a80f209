/**
 * MemStore against its peers, side by side in one run: (a) commit+find round-trips, (b) memory
 * per session, (c) the expiry sweep at scale, (d) the per-session overhead maxBytes counts and
 * what a session cut from a pooled slab holds, (e) the cost of commit's copy of the data.
 * Memory and sweep figures come from a fresh child process per measurement (run with
 * --expose-gc).
 *
 * Usage: npx tsx bench/memstore.ts [--quick] [--only=abcde]
 * @module
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { dirname, join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { LRUCache } from "lru-cache";
import { MEMSTORE_ENTRY_OVERHEAD, MemStore, type MemStoreOptions } from "../src/stores/memstore.ts";

const require = createRequire(import.meta.url);
const here = fileURLToPath(import.meta.url);
const HOUR = 3_600_000;

/** The express-session store API the peers share (callback style). */
interface CallbackStore {
  get(sid: string, cb: (err: unknown, sess?: unknown) => void): void;
  set(sid: string, sess: unknown, cb?: (err?: unknown) => void): void;
  all(cb: (err: unknown, all?: unknown) => void): void;
}
type CallbackStoreClass = new (options?: Record<string, unknown>) => CallbackStore;
const expressSession = require("express-session") as { MemoryStore: CallbackStoreClass };
const memorystore = require("memorystore") as (session: unknown) => CallbackStoreClass;
const versionOf = (pkg: string): string =>
  (
    JSON.parse(
      readFileSync(join(dirname(here), "..", "node_modules", pkg, "package.json"), "utf8"),
    ) as { version: string }
  ).version;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const fmt = (n: number, digits = 0): string =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const tokens = (n: number): string[] => {
  const raw = randomBytes(32 * n);
  return Array.from({ length: n }, (_, i) => raw.toString("base64url", i * 32, i * 32 + 32));
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Consumes results so the measured work cannot be optimized away. */
let sink = 0;

// ---------------------------------------------------------------- (a) round-trips

/** A session as express-session keeps it, about 1 KB as JSON. */
function sessionObject(): Record<string, unknown> {
  return {
    cookie: {
      originalMaxAge: HOUR,
      expires: new Date(Date.now() + HOUR),
      httpOnly: true,
      path: "/",
    },
    userId: 4242,
    roles: ["admin", "editor", "viewer"],
    flash: "Your changes were saved.",
    cart: Array.from({ length: 12 }, (_, i) => ({
      sku: `SKU-${1000 + i}`,
      qty: i + 1,
      price: 9.99 * (i + 1),
    })),
    notes: "x".repeat(200),
  };
}

/**
 * A clock read from a variable refreshed every millisecond by an unref'd timer, as lru-cache's
 * `ttlResolution` does: cheaper than Date.now(), but behind by up to 1 ms (more while the event
 * loop is blocked).
 */
function coarseClock(): () => number {
  let now = Date.now();
  setInterval(() => {
    now = Date.now();
  }, 1).unref();
  return () => now;
}

/** Runs `count` commit+find round-trips starting at token index `from`. */
type RoundTrips = (ids: string[], from: number, count: number) => void | Promise<void>;

function contestants(): { name: string; make: () => RoundTrips }[] {
  const obj = sessionObject();
  const data = Buffer.from(JSON.stringify(obj));
  // The caller (the manager) computes the expiry; the same Date goes to every store.
  const expiryDate = new Date(Date.now() + HOUR);
  const expiry = () => expiryDate;
  const memStore = (options: MemStoreOptions = {}, bytes: Uint8Array = data): RoundTrips => {
    const store = new MemStore({ cleanupInterval: 0, ...options });
    return (ids, from, count) => {
      for (let i = from; i < from + count; i++) {
        const t = ids[i % ids.length]!;
        store.commit(t, bytes, expiry());
        sink += store.find(t)!.length;
      }
    };
  };
  const callbackStore = (store: CallbackStore): RoundTrips => {
    return async (ids, from, count) => {
      const keys = Array.from({ length: count }, (_, i) => ids[(from + i) % ids.length]!);
      await Promise.all(keys.map((k) => new Promise((r) => store.set(k, obj, r))));
      const got = await Promise.all(
        keys.map((k) => new Promise((r) => store.get(k, (_e, s) => r(s)))),
      );
      sink += got.length;
    };
  };
  return [
    {
      name: "raw Map<string, Buffer>",
      make: () => {
        const map = new Map<string, Buffer>();
        return (ids, from, count) => {
          for (let i = from; i < from + count; i++) {
            const t = ids[i % ids.length]!;
            map.set(t, data);
            sink += map.get(t)!.length;
          }
        };
      },
    },
    {
      name: "raw Map + expiry check (Date.now)",
      make: () => {
        const map = new Map<string, { data: Buffer; expiry: number }>();
        return (ids, from, count) => {
          for (let i = from; i < from + count; i++) {
            const t = ids[i % ids.length]!;
            map.set(t, { data, expiry: expiry().getTime() });
            const e = map.get(t)!;
            if (e.expiry > Date.now()) sink += e.data.length;
          }
        };
      },
    },
    { name: "MemStore", make: () => memStore() },
    {
      // The codec's pooled Buffer, copied by commit (no slab pinned) vs an exact array, held.
      name: "MemStore, exact Uint8Array data (no copy)",
      make: () => memStore({}, new Uint8Array(data)),
    },
    { name: "MemStore (maxSessions)", make: () => memStore({ maxSessions: 1_000_000 }) },
    { name: "MemStore, now = 1 ms coarse clock", make: () => memStore({ now: coarseClock() }) },
    {
      name: "lru-cache (ttl per entry)",
      make: () => {
        const cache = new LRUCache<string, Buffer>({ max: 1_000_000, ttlAutopurge: false });
        return (ids, from, count) => {
          for (let i = from; i < from + count; i++) {
            const t = ids[i % ids.length]!;
            cache.set(t, data, { ttl: expiry().getTime() - Date.now() });
            sink += cache.get(t)!.length;
          }
        };
      },
    },
    {
      name: "MemStore + JSON codec",
      make: () => {
        const decoder = new TextDecoder();
        const store = new MemStore({ cleanupInterval: 0 });
        return (ids, from, count) => {
          for (let i = from; i < from + count; i++) {
            const t = ids[i % ids.length]!;
            store.commit(t, Buffer.from(JSON.stringify(obj)), expiry());
            sink += Object.keys(JSON.parse(decoder.decode(store.find(t)!))).length;
          }
        };
      },
    },
    {
      name: "express-session MemoryStore",
      make: () => callbackStore(new expressSession.MemoryStore()),
    },
    {
      name: "memorystore",
      make: () => callbackStore(new (memorystore(require("express-session")))({ checkPeriod: 0 })),
    },
  ];
}

async function roundTrips(quick: boolean): Promise<string> {
  const rounds = quick ? 5 : 7;
  const budgetMs = quick ? 100 : 500;
  const ids = tokens(10_000);
  const list = contestants();
  const opsPerSec = new Map<string, number[]>(list.map((c) => [c.name, []]));
  const ratios = new Map<string, number[]>(list.map((c) => [c.name, []]));
  for (let round = 0; round < rounds; round++) {
    const thisRound = new Map<string, number>();
    for (const c of list) {
      const run = c.make();
      await run(ids, 0, ids.length); // every token exists, and the code is warm
      let ops = 0;
      const start = performance.now();
      while (performance.now() - start < budgetMs) {
        await run(ids, ops, 100);
        ops += 100;
      }
      thisRound.set(c.name, ops / ((performance.now() - start) / 1000));
    }
    const base = thisRound.get(list[0]!.name)!;
    for (const [name, v] of thisRound) {
      opsPerSec.get(name)!.push(v);
      ratios.get(name)!.push(v / base);
    }
  }
  const rows = list.map(
    (c) =>
      `| ${c.name} | ${fmt(median(opsPerSec.get(c.name)!))} | ${fmt(median(ratios.get(c.name)!), 2)} |`,
  );
  return [
    `### (a) commit+find round-trips, ~1 KB session (median of ${rounds} rounds, ${budgetMs} ms each)`,
    "",
    "| store | round-trips/s | ratio to raw Map (per round, median) |",
    "|---|---:|---:|",
    ...rows,
    "",
    "10,000 tokens, all present (commits are updates). Callback stores (express-session's",
    "MemoryStore, memorystore) get the session object and run 100 operations in flight at a time;",
    "their cost includes their own JSON serialization, which MemStore leaves to the codec — the",
    "`MemStore + JSON codec` row adds JSON.stringify/parse for a like-for-like comparison.",
  ].join("\n");
}

// ---------------------------------------------------------------- (b) memory, (c) sweep: children

type ChildSpec =
  | { kind: "memory"; store: "map" | "memstore" | "memstore-max"; n: number }
  | { kind: "overhead"; n: number; size: number; keepEvery: number }
  | {
      kind: "sweep";
      store: "memstore" | "memorystore" | "express-session";
      n: number;
      expired: number;
    };

function runChild(spec: ChildSpec): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const args = [
      "--expose-gc",
      "--max-old-space-size=8192",
      "--import",
      "tsx",
      here,
      "--child",
      JSON.stringify(spec),
    ];
    const child = spawn(process.execPath, args, {
      cwd: join(dirname(here), ".."),
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0
        ? resolve(JSON.parse(out) as Record<string, number>)
        : reject(new Error(`child ${JSON.stringify(spec)} exited ${code}`)),
    );
  });
}

function gcTwice(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with --expose-gc");
  gc();
  gc();
}

async function memoryChild(
  spec: Extract<ChildSpec, { kind: "memory" }>,
): Promise<Record<string, number>> {
  const raw = randomBytes(32 * spec.n);
  gcTwice();
  const m0 = process.memoryUsage();
  const expiry = Date.now() + HOUR;
  const map = new Map<string, Uint8Array>();
  const store = new MemStore({
    cleanupInterval: 0,
    maxBytes: Number.POSITIVE_INFINITY, // a million 200-byte sessions pass the 64 MiB default
    maxSessions: spec.store === "memstore-max" ? spec.n : undefined,
  });
  for (let i = 0; i < spec.n; i++) {
    const token = raw.toString("base64url", i * 32, i * 32 + 32);
    const data = new Uint8Array(200);
    data[0] = i & 255;
    if (spec.store === "map") map.set(token, data);
    else store.commit(token, data, new Date(expiry));
  }
  gcTwice();
  const m1 = process.memoryUsage();
  const held = spec.store === "map" ? map.size : store.size;
  if (held !== spec.n) throw new Error(`held ${held} of ${spec.n}`);
  return {
    heapExternal: (m1.heapUsed + m1.external - m0.heapUsed - m0.external) / spec.n,
    rss: (m1.rss - m0.rss) / spec.n,
  };
}

/**
 * Commits `n` sessions of `size` bytes, each a Buffer.from() (a view of Node's 8 KiB pool slab
 * for sizes under 4 KiB), with fresh 43-character tokens; then deletes all but every
 * `keepEvery`-th. Heap + external growth after a forced GC, per session held.
 */
async function overheadChild(
  spec: Extract<ChildSpec, { kind: "overhead" }>,
): Promise<Record<string, number>> {
  const raw = randomBytes(32 * spec.n);
  const text = "x".repeat(spec.size);
  gcTwice();
  const m0 = process.memoryUsage();
  const store = new MemStore({ cleanupInterval: 0, maxBytes: Number.POSITIVE_INFINITY });
  const expiry = new Date(Date.now() + HOUR);
  const token = (i: number) => raw.toString("base64url", i * 32, i * 32 + 32);
  for (let i = 0; i < spec.n; i++) store.commit(token(i), Buffer.from(text), expiry);
  if (spec.keepEvery > 1) {
    for (let i = 0; i < spec.n; i++) if (i % spec.keepEvery !== 0) store.delete(token(i));
  }
  gcTwice();
  const m1 = process.memoryUsage();
  const per = (m1.heapUsed + m1.external - m0.heapUsed - m0.external) / store.size;
  return { per, overhead: per - spec.size - 43, counted: store.bytes / store.size };
}

async function sweepChild(
  spec: Extract<ChildSpec, { kind: "sweep" }>,
): Promise<Record<string, number>> {
  const ids = tokens(spec.n);
  const nExpired = Math.round((spec.n * spec.expired) / 100);
  const live = new Date(Date.now() + HOUR);
  const dead = new Date(Date.now() - 1000);
  let sweep: () => Promise<void>;
  let left: () => number;
  if (spec.store === "memstore") {
    const store = new MemStore({ cleanupInterval: 0, maxBytes: Number.POSITIVE_INFINITY });
    const data = new Uint8Array(200);
    for (const [i, t] of ids.entries()) store.commit(t, data, i < nExpired ? dead : live);
    sweep = async () => void (await store.sweep());
    left = () => store.size;
  } else if (spec.store === "memorystore") {
    const store = new (memorystore(require("express-session")))({
      checkPeriod: 0,
    }) as CallbackStore & {
      prune(): void;
      store: { length: number };
    };
    const sess = (maxAge: number) => ({
      cookie: { originalMaxAge: maxAge, maxAge },
      userId: 1,
      note: "x".repeat(150),
    });
    for (const [i, t] of ids.entries()) store.set(t, sess(i < nExpired ? 1 : HOUR));
    await sleep(20); // the 1 ms sessions pass their expiry
    sweep = async () => store.prune();
    left = () => store.store.length;
  } else {
    const store = new expressSession.MemoryStore() as CallbackStore & {
      sessions: Record<string, string>;
    };
    const sess = (expires: Date) => ({
      cookie: { originalMaxAge: HOUR, expires },
      userId: 1,
      note: "x".repeat(150),
    });
    for (const [i, t] of ids.entries()) store.set(t, sess(i < nExpired ? dead : live));
    sweep = () => new Promise((r) => store.all(() => r()));
    left = () => Object.keys(store.sessions).length;
  }
  await sleep(10);
  gcTwice();
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  await sleep(50);
  const start = performance.now();
  await sweep();
  const total = performance.now() - start;
  await sleep(50);
  h.disable();
  const remaining = left();
  if (remaining !== spec.n - nExpired)
    throw new Error(`left ${remaining}, expected ${spec.n - nExpired}`);
  return { totalMs: total, maxBlockMs: h.max / 1e6, remaining };
}

async function overhead(quick: boolean): Promise<string> {
  const n = quick ? 50_000 : 200_000;
  const reps = quick ? 1 : 3;
  const rows: string[] = [];
  for (const [size, keepEvery] of [
    [45, 1],
    [200, 1],
    [1000, 1],
    [45, 100],
  ] as const) {
    const runs: Record<string, number>[] = [];
    for (let r = 0; r < reps; r++)
      runs.push(await runChild({ kind: "overhead", n, size, keepEvery }));
    const held = keepEvery === 1 ? fmt(n) : `${fmt(n / keepEvery)} of ${fmt(n)} (99 % deleted)`;
    rows.push(
      `| ${size} | ${held} | ${fmt(median(runs.map((x) => x.per!)))} | ${fmt(median(runs.map((x) => x.overhead!)))} | ${fmt(median(runs.map((x) => x.counted!)))} |`,
    );
  }
  return [
    `### (d) what maxBytes counts: per-session overhead (forced GC, one child per figure, median of ${reps})`,
    "",
    "| data bytes | sessions held | heap+external B/session | overhead B (less data and 43 token chars) | counted B/session |",
    "|---:|---|---:|---:|---:|",
    ...rows,
    "",
    `Each session's data is a \`Buffer.from()\` of a string, a view of Node's shared 8 KiB pool slab; MemStore copies it, so the 99 %-deleted row holds the kept sessions' own bytes, not the slabs. The counted figure uses MEMSTORE_ENTRY_OVERHEAD = ${MEMSTORE_ENTRY_OVERHEAD}.`,
  ].join("\n");
}

async function copyCost(quick: boolean): Promise<string> {
  const rounds = quick ? 5 : 7;
  const budgetMs = quick ? 100 : 300;
  const ids = tokens(10_000);
  const expiry = new Date(Date.now() + HOUR);
  const rows: string[] = [];
  for (const size of [45, 1000]) {
    const data = Buffer.from("x".repeat(size)); // a view of the pool slab, as the codec gives
    const nsPer = (op: (i: number) => void): number => {
      for (let i = 0; i < ids.length; i++) op(i);
      let ops = 0;
      const start = performance.now();
      while (performance.now() - start < budgetMs) {
        for (let i = 0; i < 1000; i++) op(ops + i);
        ops += 1000;
      }
      return ((performance.now() - start) * 1e6) / ops;
    };
    const exact = new Uint8Array(data); // its buffer's only view: held as given
    const pooled: number[] = [];
    const kept: number[] = [];
    const copies: number[] = [];
    const shares: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const a = new MemStore({ cleanupInterval: 0 });
      const commit = nsPer((i) => a.commit(ids[i % ids.length]!, data, expiry));
      const b = new MemStore({ cleanupInterval: 0 });
      const keep = nsPer((i) => b.commit(ids[i % ids.length]!, exact, expiry));
      const copy = nsPer((i) => {
        sink += new Uint8Array(data)[i & 7]!;
      });
      pooled.push(commit);
      kept.push(keep);
      copies.push(copy);
      shares.push(commit - keep);
    }
    rows.push(
      `| ${size} | ${fmt(median(pooled))} | ${fmt(median(kept))} | ${fmt(median(copies))} | ${fmt(median(shares))} |`,
    );
  }
  return [
    `### (e) commit's copy of the data (median of ${rounds} rounds, ${budgetMs} ms each)`,
    "",
    "| data bytes | commit ns, pooled Buffer (copied) | commit ns, exact Uint8Array (held as given) | the copy alone ns | the copy's cost per commit ns (per round, median) |",
    "|---:|---:|---:|---:|---:|",
    ...rows,
    "",
    "Updates of 10,000 sessions. The pooled data is a Buffer.from() view of Node's 8 KiB slab, as the codec returns; the copy gives it an allocation of its own so no slab stays pinned. Its cost per commit is the difference of the two commit columns: the allocation and the collection of the copy it replaces (old by then), more than the copy alone.",
  ].join("\n");
}

async function memory(quick: boolean): Promise<string> {
  const sizes = [100_000, 1_000_000];
  const stores: Extract<ChildSpec, { kind: "memory" }>["store"][] = quick
    ? ["map", "memstore"]
    : ["map", "memstore", "memstore-max"];
  const reps = quick ? 1 : 3;
  const rows: string[] = [];
  for (const n of sizes) {
    const res = new Map<string, { he: number[]; rss: number[] }>();
    for (let r = 0; r < reps; r++) {
      for (const store of stores) {
        const m = await runChild({ kind: "memory", store, n });
        const e = res.get(store) ?? { he: [], rss: [] };
        e.he.push(m.heapExternal!);
        e.rss.push(m.rss!);
        res.set(store, e);
      }
    }
    const base = res.get("map")!;
    for (const store of stores) {
      const e = res.get(store)!;
      const he = median(e.he);
      const rss = median(e.rss);
      rows.push(
        `| ${fmt(n)} | ${store} | ${fmt(he)} | ${fmt(he / median(base.he), 3)} | ${fmt(rss)} | ${fmt(rss / median(base.rss), 3)} |`,
      );
    }
  }
  return [
    `### (b) memory per session, 200-byte data (forced GC, one child process per figure, median of ${reps})`,
    "",
    "| sessions | store | heap+external B/session | ratio | RSS B/session | ratio |",
    "|---:|---|---:|---:|---:|---:|",
    ...rows,
    "",
    "Includes the 43-character token and the 200-byte Uint8Array of each session, as a raw Map holds them.",
    "`memstore-max` is MemStore with `maxSessions` (its recency list costs two small integers per session).",
  ].join("\n");
}

async function sweeps(quick: boolean): Promise<string> {
  const n = quick ? 100_000 : 1_000_000;
  const rows: string[] = [];
  const reps = quick ? 1 : 3;
  for (const expired of [0, 50, 100]) {
    for (const store of ["memstore", "memorystore", "express-session"] as const) {
      const runs: Record<string, number>[] = [];
      for (let r = 0; r < reps; r++)
        runs.push(await runChild({ kind: "sweep", store, n, expired }));
      const total = median(runs.map((r) => r.totalMs!));
      const block = median(runs.map((r) => r.maxBlockMs!));
      const label = {
        memstore: "MemStore sweep()",
        memorystore: "memorystore prune()",
        "express-session": "express-session MemoryStore all()",
      }[store];
      rows.push(`| ${expired} % | ${label} | ${fmt(total, 1)} | ${fmt(block, 1)} |`);
    }
  }
  return [
    `### (c) expiry sweep at ${fmt(n)} sessions (one child process per run, median of ${reps})`,
    "",
    "| expired | sweep | total ms | longest event-loop block ms |",
    "|---:|---|---:|---:|",
    ...rows,
    "",
    "Longest block: max of perf_hooks.monitorEventLoopDelay (resolution 1 ms) over the sweep.",
  ].join("\n");
}

/**
 * Runs the MemStore benchmark: round-trips, memory and sweep, side by side with raw Map,
 * express-session's MemoryStore, memorystore and lru-cache.
 * @param opts - `quick` for a short run (about half a minute).
 * @returns the results as markdown.
 */
export async function runMemstoreBench(opts: {
  quick: boolean;
  /** Sections to run, of "a", "b", "c". @default all */
  only?: string;
}): Promise<string> {
  const run = (s: string): boolean => opts.only === undefined || opts.only.includes(s);
  const head = [
    "## MemStore",
    "",
    `Node ${process.version}, ${os.cpus()[0]?.model ?? "unknown CPU"} × ${os.cpus().length}; express-session ${versionOf("express-session")}, memorystore ${versionOf("memorystore")}, lru-cache ${versionOf("lru-cache")}. Command: \`npx tsx bench/memstore.ts${opts.quick ? " --quick" : ""}\`.`,
  ].join("\n");
  const parts = [head];
  if (run("a")) parts.push(await roundTrips(opts.quick));
  if (run("b")) parts.push(await memory(opts.quick));
  if (run("c")) parts.push(await sweeps(opts.quick));
  if (run("d")) parts.push(await overhead(opts.quick));
  if (run("e")) parts.push(await copyCost(opts.quick));
  if (sink === -1) console.log(sink);
  return parts.join("\n\n");
}

const childAt = process.argv.indexOf("--child");
if (childAt !== -1) {
  const spec = JSON.parse(process.argv[childAt + 1]!) as ChildSpec;
  const result =
    spec.kind === "memory"
      ? await memoryChild(spec)
      : spec.kind === "overhead"
        ? await overheadChild(spec)
        : await sweepChild(spec);
  process.stdout.write(JSON.stringify(result));
} else if (process.argv[1] === here) {
  const only = process.argv.find((a) => a.startsWith("--only="))?.slice(7);
  console.log(await runMemstoreBench({ quick: process.argv.includes("--quick"), only }));
}
