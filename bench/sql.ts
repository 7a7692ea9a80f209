/**
 * The SQL stores against raw driver calls, side by side in one run:
 * (a) SqliteStore find and commit vs the same prepared statements called directly on the same
 * database, for each SQLite driver this Node loads (a file in WAL mode, synchronous = NORMAL);
 * (b) memory per session at 1M sessions, SqliteStore vs MemStore (fresh child process each);
 * (c) the longest event-loop block while SqliteStore sweeps 1M expired rows;
 * (d) PostgresStore find and commit vs raw `pg` queries (the same statements, named and
 * unnamed) on the same PostgreSQL server, 16 concurrent calls over a pool of 10.
 * Ratios are taken within each round (store and raw alternate) and the median is reported.
 *
 * Usage: npx tsx bench/sql.ts [--quick] [--only=sqlite,memory,sweep,postgres]
 * @module
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, openSync, readSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { DRIVERS, type DriverName, loadDriver } from "../examples/demo/sqlite.ts";
import { MemStore } from "../src/stores/memstore.ts";
import { PostgresStore } from "../src/stores/postgresstore.ts";
import { julianDay } from "../src/stores/sql-common.ts";
import { SqliteStore } from "../src/stores/sqlitestore.ts";
import { startPostgres } from "../test/helpers/postgres.ts";
import { fmt, median, sideBySide } from "./lib/stats.ts";

const here = fileURLToPath(import.meta.url);
const HOUR = 3_600_000;
const DATA = new Uint8Array(200).map((_, i) => (i * 7) & 0xff);
const log = (msg: string) => void process.stderr.write(`[bench sql] ${msg}\n`);
let sink = 0;

const tokens = (n: number): string[] => {
  const raw = randomBytes(32 * n);
  return Array.from({ length: n }, (_, i) => raw.toString("base64url", i * 32, i * 32 + 32));
};

/**
 * Runs `op` repeatedly (synchronous ops, 100 per time check) for `ms` of wall time.
 * @returns ops per second of this process's CPU time (user + system): on a shared machine that
 * is what the code costs, whatever else was scheduled meanwhile.
 */
function syncRate(ms: number, op: (i: number) => void): number {
  let n = 0;
  const start = performance.now();
  const cpu = process.cpuUsage();
  while (performance.now() - start < ms) for (let k = 0; k < 100; k++) op(n++);
  const used = process.cpuUsage(cpu);
  return n / ((used.user + used.system) / 1e6);
}

/** This process's CPU time per operation of the last {@link asyncRate} run, µs. */
let lastCpuPerOp = 0;

/** Runs `op` from `concurrency` workers for `ms`; returns ops/s (wall time). */
async function asyncRate(concurrency: number, ms: number, op: (i: number) => Promise<unknown>) {
  let n = 0;
  const start = performance.now();
  const cpu = process.cpuUsage();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) await op(n++);
    }),
  );
  const used = process.cpuUsage(cpu);
  lastCpuPerOp = (used.user + used.system) / n;
  return n / ((performance.now() - start) / 1000);
}

// ------------------------------------------------------------------- (a) SQLite find/commit

async function sqliteOps(quick: boolean, dir: string): Promise<string> {
  const rounds = quick ? 5 : 9;
  const ms = quick ? 150 : 600;
  const ids = tokens(10_000);
  const rows: string[] = [];
  for (const name of DRIVERS) {
    let open: Awaited<ReturnType<typeof loadDriver>>;
    try {
      open = await loadDriver(name);
    } catch (err) {
      rows.push(`| ${name} | not on this Node (${String(err).split("\n")[0]}) | | | |`);
      continue;
    }
    const db = open(join(dir, `ops-${name.replace(":", "-")}.db`));
    const store = new SqliteStore(db, { cleanupInterval: 0 });
    const expiry = new Date(Date.now() + HOUR);
    for (const t of ids) store.commit(t, DATA, expiry);
    const rawFind = db.prepare('SELECT data FROM "sessions" WHERE token = ? AND ? < expiry');
    const rawCommit = db.prepare(
      'INSERT INTO "sessions" (token, data, expiry) VALUES (?, ?, ?) ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry',
    );
    const at = (i: number) => ids[i % ids.length]!;
    const find = await sideBySide(rounds, (which) =>
      which === "store"
        ? syncRate(ms, (i) => {
            sink += store.find(at(i))!.length;
          })
        : syncRate(ms, (i) => {
            const row = rawFind.get(at(i), julianDay(Date.now())) as { data: Uint8Array };
            sink += row.data.length;
          }),
    );
    const commit = await sideBySide(rounds, (which) =>
      which === "store"
        ? syncRate(ms, (i) => store.commit(at(i), DATA, expiry))
        : syncRate(ms, (i) => rawCommit.run(at(i), DATA, julianDay(expiry.getTime()))),
    );
    for (const [op, r] of [
      ["find", find],
      ["commit", commit],
    ] as const) {
      rows.push(
        `| ${name} | ${op} | ${fmt(r.store)} | ${fmt(r.raw)} | **${fmt(r.ratio, 2)}** (${fmt(Math.min(...r.ratios), 2)}–${fmt(Math.max(...r.ratios), 2)}) |`,
      );
    }
    store.close();
    db.close();
  }
  return [
    `### (a) SqliteStore vs the same prepared statements (median of ${rounds} rounds, ${ms} ms each)`,
    "",
    "| driver | op | SqliteStore ops per CPU-second | raw statement ops per CPU-second | ratio (range) |",
    "|---|---|---:|---:|---:|",
    ...rows,
    "",
    "10,000 tokens, 200-byte data, a file database in WAL mode with synchronous = NORMAL; commits",
    "are updates. The raw calls bind the same values (a Julian day from Date.now()).",
  ].join("\n");
}

// --------------------------------------------------- (b) memory and (c) sweep, child processes

type ChildSpec =
  | { kind: "memory"; store: "memstore" | "sqlite"; driver?: DriverName; n: number; file?: string }
  | { kind: "sweep"; driver: DriverName; n: number; expired: number; file: string };

function runChild(spec: ChildSpec): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--expose-gc", "--import", "tsx", here, "--child", JSON.stringify(spec)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
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

async function memoryChild(spec: Extract<ChildSpec, { kind: "memory" }>) {
  const raw = randomBytes(32 * spec.n);
  const expiry = new Date(Date.now() + HOUR);
  let commit: (token: string, data: Uint8Array) => void;
  /** Reads the store after the measurement, so it is not collected before it. */
  let held: () => number;
  let close = () => {};
  if (spec.store === "memstore") {
    // Unbounded: a million sessions are measured, not evicted at the default 64 MiB.
    const store = new MemStore({ cleanupInterval: 0, maxBytes: Number.POSITIVE_INFINITY });
    commit = (t, d) => store.commit(t, d, expiry);
    held = () => store.size;
  } else {
    const db = (await loadDriver(spec.driver!))(spec.file!);
    const store = new SqliteStore(db, { cleanupInterval: 0 });
    store.find("create the table");
    commit = (t, d) => store.commit(t, d, expiry);
    held = () => (db.prepare('SELECT count(*) AS n FROM "sessions"').get() as { n: number }).n;
    close = () => {
      store.close();
      db.close();
    };
  }
  gcTwice();
  const m0 = process.memoryUsage();
  for (let i = 0; i < spec.n; i++) {
    const data = new Uint8Array(200);
    data[0] = i & 255;
    commit(raw.toString("base64url", i * 32, i * 32 + 32), data);
  }
  gcTwice();
  const m1 = process.memoryUsage();
  if (held() !== spec.n) throw new Error(`held ${held()} of ${spec.n}`);
  sink += raw.length; // the token source stays alive through the measurement too
  close();
  return {
    heapExternal: (m1.heapUsed + m1.external - m0.heapUsed - m0.external) / spec.n,
    rss: (m1.rss - m0.rss) / spec.n,
    disk: spec.file ? statSync(spec.file).size / spec.n : 0,
  };
}

/**
 * CPU time of this (the main) thread, ms: the kernel's per-thread run time, so the sweep's
 * checkpoint worker is not counted as the event loop's work (process.cpuUsage() counts every
 * thread). Read into one buffer and parsed in place: the ticker that calls it on every turn
 * allocates nothing, so it causes no garbage collection of its own. Falls back to the whole
 * process where /proc has no thread-self.
 */
const mainThreadCpuMs: () => number = (() => {
  let fd: number;
  try {
    fd = openSync("/proc/thread-self/schedstat", "r");
  } catch {
    return () => {
      const cpu = process.cpuUsage();
      return (cpu.user + cpu.system) / 1000;
    };
  }
  const buf = Buffer.alloc(64);
  return () => {
    const n = readSync(fd, buf, 0, buf.length, 0);
    let ns = 0;
    for (let i = 0; i < n; i++) {
      const c = buf[i]!;
      if (c < 48 || c > 57) break;
      ns = ns * 10 + (c - 48);
    }
    return ns / 1e6;
  };
})();

async function sweepChild(spec: Extract<ChildSpec, { kind: "sweep" }>) {
  const db = (await loadDriver(spec.driver))(spec.file);
  const store = new SqliteStore(db, { cleanupInterval: 0 });
  store.find("create the table");
  const insert = db.prepare('INSERT INTO "sessions" (token, data, expiry) VALUES (?, ?, ?)');
  let ids: string[] | undefined = tokens(spec.n);
  const dead = julianDay(Date.now() - 1000);
  const live = julianDay(Date.now() + HOUR);
  const nExpired = Math.round((spec.n * spec.expired) / 100);
  db.exec("BEGIN");
  // Expired and live rows interleaved, as sessions of different lifetimes are.
  for (const [i, t] of ids.entries()) insert.run(t, DATA, i % 100 < spec.expired ? dead : live);
  db.exec("COMMIT");
  // The tokens are in the database now: a million strings left on the heap would make every
  // major GC during the sweep tens of ms long, a cost of this bench, not of the sweep.
  ids = undefined;
  gcTwice();
  let longest = 0;
  let longestCpu = 0;
  let turns = 0;
  let last = performance.now();
  let lastCpu = mainThreadCpuMs();
  let ticking = true;
  const tick = () => {
    const now = performance.now();
    const cpu = mainThreadCpuMs();
    longest = Math.max(longest, now - last);
    longestCpu = Math.max(longestCpu, cpu - lastCpu);
    last = now;
    lastCpu = cpu;
    turns++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  const started = performance.now();
  const deleted = await store.deleteExpired();
  const ms = performance.now() - started;
  ticking = false;
  store.close();
  db.close();
  if (deleted !== nExpired) throw new Error(`deleted ${deleted} of ${nExpired}`);
  return { ms, longest, longestCpu, turns, deleted };
}

async function memoryAndSweep(
  quick: boolean,
  dir: string,
  part: (id: string) => boolean,
): Promise<string> {
  const n = quick ? 100_000 : 1_000_000;
  const out: string[] = [];
  const driver = (
    await Promise.all(
      DRIVERS.map((d) =>
        loadDriver(d).then(
          () => d,
          () => undefined,
        ),
      ),
    )
  ).find((d) => d !== undefined);
  if (driver === undefined) return "_No SQLite driver on this Node._";
  if (part("memory")) {
    log(`memory at ${fmt(n)} sessions`);
    const mem = await runChild({ kind: "memory", store: "memstore", n });
    const sql = await runChild({
      kind: "memory",
      store: "sqlite",
      driver,
      n,
      file: join(dir, "memory.db"),
    });
    out.push(
      `### (b) Memory per session at ${fmt(n)} sessions (200-byte data, fresh process each)`,
      "",
      "| store | heap + external, bytes/session | RSS growth, bytes/session | on disk, bytes/session |",
      "|---|---:|---:|---:|",
      `| MemStore | ${fmt(mem.heapExternal!)} | ${fmt(mem.rss!)} | – |`,
      `| SqliteStore (${driver}, file, WAL) | ${fmt(sql.heapExternal!)} | ${fmt(sql.rss!)} | ${fmt(sql.disk!)} |`,
      "",
      "SQLite keeps rows on disk; what it holds in memory is its page cache (2 MB by default), so",
      "its process memory does not grow with the number of sessions.",
      "",
    );
  }
  if (!part("sweep")) return out.join("\n");
  out.push(
    `### (c) Longest event-loop block while SqliteStore (${driver}) sweeps ${fmt(n)} rows`,
    "",
    "| expired | rows deleted | sweep took | event-loop turns during it | longest block (wall) | longest block (CPU time) |",
    "|---:|---:|---:|---:|---:|---:|",
  );
  for (const expired of quick ? [100] : [100, 50]) {
    log(`sweep of ${fmt(n)} rows, ${expired} % expired`);
    const r = await runChild({
      kind: "sweep",
      driver,
      n,
      expired,
      file: join(dir, `sweep-${expired}.db`),
    });
    out.push(
      `| ${expired} % | ${fmt(r.deleted!)} | ${fmt(r.ms! / 1000, 1)} s | ${fmt(r.turns!)} | **${fmt(r.longest!, 1)} ms** | ${fmt(r.longestCpu!, 1)} ms |`,
    );
  }
  out.push(
    "",
    "A file database in WAL mode with synchronous = NORMAL; expired and live rows interleaved.",
    "The longest block is the longest gap between two turns of a setImmediate ticker: in wall",
    "time (what a request waiting on the loop sees, preemption by other processes included) and",
    "in the main thread's CPU time between the two turns (the work the sweep did in one go on",
    "the event loop; the checkpoint worker's thread is not counted).",
  );
  return out.join("\n");
}

// ------------------------------------------------------------------- (d) PostgreSQL

async function postgresOps(quick: boolean): Promise<string> {
  const rounds = quick ? 5 : 7;
  const ms = quick ? 400 : 1500;
  const concurrency = 16;
  const server = await startPostgres();
  const pool = new pg.Pool({ ...server.config, max: 10 });
  pool.on("error", () => {});
  const store = new PostgresStore(pool, { cleanupInterval: 0 });
  const ids = tokens(1000);
  const rows: string[] = [];
  try {
    const expiry = new Date(Date.now() + HOUR);
    for (const t of ids) await store.commit(t, DATA, expiry);
    const buf = Buffer.from(DATA);
    const FIND = 'SELECT data FROM "sessions" WHERE token = $1 AND expiry > $2';
    const COMMIT =
      'INSERT INTO "sessions" (token, data, expiry) VALUES ($1, $2, $3) ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry';
    const at = (i: number) => ids[i % ids.length]!;
    const raw = {
      find: (named: boolean) => (i: number) =>
        pool.query({
          text: FIND,
          values: [at(i), new Date()],
          ...(named ? { name: "raw_find" } : {}),
        }),
      commit: (named: boolean) => (i: number) =>
        pool.query({
          text: COMMIT,
          values: [at(i), buf, expiry],
          ...(named ? { name: "raw_commit" } : {}),
        }),
    };
    const ops = {
      find: (i: number) => store.find(at(i)),
      commit: (i: number) => store.commit(at(i), DATA, expiry),
    };
    for (const op of ["find", "commit"] as const) {
      const cpu = { store: [] as number[], raw: [] as number[] };
      const named = await sideBySide(rounds, async (which) => {
        const rate = await asyncRate(concurrency, ms, which === "store" ? ops[op] : raw[op](true));
        cpu[which].push(lastCpuPerOp);
        return rate;
      });
      const unnamed = await sideBySide(rounds, (which) =>
        asyncRate(concurrency, ms, which === "store" ? ops[op] : raw[op](false)),
      );
      rows.push(
        `| ${op} | ${fmt(named.store)} | ${fmt(named.raw)} | **${fmt(named.ratio, 2)}** (${fmt(Math.min(...named.ratios), 2)}–${fmt(Math.max(...named.ratios), 2)}) | ${fmt(unnamed.raw)} | ${fmt(unnamed.ratio, 2)} | ${fmt(median(cpu.store), 0)} / ${fmt(median(cpu.raw), 0)} µs |`,
      );
    }
  } finally {
    await store.close();
    await pool.end();
    await server.destroy();
  }
  return [
    `### (d) PostgresStore vs raw pg queries (median of ${rounds} rounds, ${ms} ms each)`,
    "",
    `${concurrency} concurrent calls over a pool of 10 connections to one local PostgreSQL; 1,000 tokens, 200-byte data.`,
    "",
    "| op | PostgresStore ops/s | raw pg, prepared (named) ops/s | ratio (range) | raw pg, unnamed ops/s | ratio to unnamed | client CPU per op, store / raw named |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...rows,
  ].join("\n");
}

/** Runs every part and returns a markdown report. */
export async function runSqlBench(opts: { quick: boolean; only?: string }): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "scs-bench-sql-"));
  const part = (id: string) => opts.only === undefined || opts.only.split(",").includes(id);
  try {
    const out = [`Node ${process.version}.`];
    if (part("sqlite")) {
      log("SQLite find/commit");
      out.push(await sqliteOps(opts.quick, dir));
    }
    if (part("memory") || part("sweep")) out.push(await memoryAndSweep(opts.quick, dir, part));
    if (part("postgres")) {
      log("PostgreSQL find/commit");
      out.push(await postgresOps(opts.quick));
    }
    return out.join("\n\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const childAt = process.argv.indexOf("--child");
if (childAt !== -1) {
  const spec = JSON.parse(process.argv[childAt + 1] ?? "{}") as ChildSpec;
  const result = spec.kind === "memory" ? await memoryChild(spec) : await sweepChild(spec);
  process.stdout.write(JSON.stringify(result));
  if (sink === -1) console.error(sink);
} else if (process.argv[1] === here) {
  const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);
  console.log(await runSqlBench({ quick: process.argv.includes("--quick"), only }));
}
