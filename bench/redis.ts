/**
 * RedisStore side by side with what it is built on and with its peer, in one run, against one
 * redis-server started for the run on a free loopback port (no persistence):
 * (a) RedisStore find and commit against the raw client calls they make (`getBuffer` / `eval`
 * of the store's write script on ioredis; `get` on a Buffer-mapped client / `eval` on
 * node-redis), 16 concurrent calls on one client, counted per CPU-second of this process (the
 * client side, which is where the store adds work); store and raw alternate within each round,
 * ratios are taken within a round and the median is reported (goal ≥ 0.9); and what the
 * late-write guard costs: the script's `eval` against a plain `SET ... PXAT`, per CPU-second
 * of the client and in redis-server CPU per write;
 * (b) HTTP req/s of Express 5 with scs-ts/express on RedisStore against express-session with
 * connect-redis, both on a node-redis client, one session per run (READ: the session is read;
 * WRITE: its counter is incremented and saved), autocannon in its own process; the two
 * alternate within each round.
 *
 * Usage: npx tsx bench/redis.ts [--quick] [--only=ops,http]
 * @module
 */
import { Buffer } from "node:buffer";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { SET_SCRIPT } from "../src/stores/redis-clients.ts";
import { RedisStore } from "../src/stores/redisstore.ts";
import { ensureRedis, startRedis } from "../test/helpers/redis.ts";
import { cookieFrom, LoadGenerator, probe } from "./lib/load.ts";
import { machineLine } from "./lib/machine.ts";
import { startServer } from "./lib/proc.ts";
import { fmt, median, sideBySide } from "./lib/stats.ts";

const here = fileURLToPath(import.meta.url);
const require = createRequire(import.meta.url);
const HOUR = 3_600_000;
const DATA = new Uint8Array(200).map((_, i) => (i * 7) & 0xff);
const CONCURRENCY = 16;
const log = (msg: string) => void process.stderr.write(`[bench redis] ${msg}\n`);
/** A package's version, read from its package.json (found next to its entry: not every package exports it). */
function version(pkg: string): string {
  const entry = require.resolve(pkg);
  const root = entry.slice(
    0,
    entry.lastIndexOf(`node_modules/${pkg}/`) + `node_modules/${pkg}/`.length,
  );
  return (JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { version: string }).version;
}

/**
 * Runs `op` from {@link CONCURRENCY} workers for `ms`.
 * @returns ops per second of this process's CPU time (user + system): the client side is what
 * the store adds to, and on a shared machine wall-clock rates move with whatever else runs.
 */
async function asyncRate(ms: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let n = 0;
  const start = performance.now();
  const cpu = process.cpuUsage();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) await op(n++);
    }),
  );
  const used = process.cpuUsage(cpu);
  return n / ((used.user + used.system) / 1e6);
}

/** The raw calls RedisStore makes, for one client library. */
interface Raw {
  name: string;
  store: RedisStore;
  find(key: string): Promise<unknown>;
  /** The store's write as it sends it: its script, with the deadline as not-after. */
  commit(key: string, value: Buffer, at: number): Promise<unknown>;
  /** A plain `SET key value PXAT at`, without the late-write guard. */
  set(key: string, value: Buffer, at: number): Promise<unknown>;
  close(): Promise<void>;
}

async function clients(port: number): Promise<Raw[]> {
  const io = new Redis(port, "127.0.0.1");
  const nr = await createClient({ url: `redis://127.0.0.1:${port}` }).connect();
  const bytes = nr.withTypeMapping({ 36: Buffer });
  return [
    {
      name: `ioredis ${version("ioredis")}`,
      store: new RedisStore(io, { prefix: "" }),
      find: (key) => io.getBuffer(key),
      commit: (key, value, at) => io.eval(SET_SCRIPT, 1, key, value, at, Date.now() + 5_000),
      set: (key, value, at) => io.set(key, value, "PXAT", at),
      close: async () => void (await io.quit()),
    },
    {
      name: `node-redis ${version("redis")}`,
      store: new RedisStore(nr, { prefix: "" }),
      find: (key) => bytes.get(key),
      commit: (key, value, at) =>
        nr.eval(SET_SCRIPT, {
          keys: [key],
          arguments: [value, String(at), String(Date.now() + 5_000)],
        }),
      set: (key, value, at) => nr.set(key, value, { expiration: { type: "PXAT", value: at } }),
      close: () => nr.close(),
    },
  ];
}

/** CPU time (user + system) a process has used, in µs, from /proc (0 where there is none). */
function processCpuUs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    // utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
  } catch {
    return 0;
  }
}

/**
 * The late-write guard's cost: the store's write script against a plain SET, alternating
 * within each round. @returns the client-side ratio (script ÷ SET ops per CPU-second) and
 * redis-server's CPU µs per write for each.
 */
async function guardCost(
  raw: Raw,
  rounds: number,
  ms: number,
  serverPid: number,
  key: (i: number) => string,
): Promise<{ ratio: number; ratios: number[]; scriptUs: number; setUs: number }> {
  const value = Buffer.from(DATA);
  const at = Date.now() + HOUR;
  const ratios: number[] = [];
  const scriptUs: number[] = [];
  const setUs: number[] = [];
  const measure = async (op: (i: number) => Promise<unknown>) => {
    let n = 0;
    const wrapped = (i: number) => {
      n++;
      return op(i);
    };
    const server = processCpuUs(serverPid);
    const rate = await asyncRate(ms, wrapped);
    return { rate, serverUs: (processCpuUs(serverPid) - server) / n };
  };
  for (let k = 0; k < rounds; k++) {
    const order = k % 2 === 0 ? ["script", "set"] : ["set", "script"];
    const got: Record<string, { rate: number; serverUs: number }> = {};
    for (const which of order) {
      got[which] = await measure((i) =>
        which === "script" ? raw.commit(key(i), value, at) : raw.set(key(i), value, at),
      );
    }
    ratios.push(got.script!.rate / got.set!.rate);
    scriptUs.push(got.script!.serverUs);
    setUs.push(got.set!.serverUs);
  }
  return { ratio: median(ratios), ratios, scriptUs: median(scriptUs), setUs: median(setUs) };
}

async function storeOps(quick: boolean, port: number, serverPid: number): Promise<string> {
  const rounds = quick ? 3 : 7;
  const ms = quick ? 200 : 700;
  const ids = Array.from({ length: 2_000 }, () => randomBytes(32).toString("base64url"));
  const at = (i: number) => ids[i % ids.length] as string;
  const rows: string[] = [];
  const guardRows: string[] = [];
  for (const raw of await clients(port)) {
    const expiry = new Date(Date.now() + HOUR);
    for (const t of ids) await raw.store.commit(t, DATA, expiry);
    const value = Buffer.from(DATA);
    const find = await sideBySide(rounds, (which) =>
      which === "store"
        ? asyncRate(ms, (i) => raw.store.find(at(i)))
        : asyncRate(ms, (i) => raw.find(at(i))),
    );
    const commit = await sideBySide(rounds, (which) =>
      which === "store"
        ? asyncRate(ms, (i) => raw.store.commit(at(i), DATA, expiry))
        : asyncRate(ms, (i) => raw.commit(at(i), value, expiry.getTime())),
    );
    for (const [op, r] of [
      ["find", find],
      ["commit", commit],
    ] as const) {
      rows.push(
        `| ${raw.name} | ${op} | ${fmt(r.store)} | ${fmt(r.raw)} | **${fmt(r.ratio, 2)}** (${fmt(Math.min(...r.ratios), 2)}–${fmt(Math.max(...r.ratios), 2)}) | ${r.ratio >= 0.9 ? "✓" : "✗"} |`,
      );
    }
    const g = await guardCost(raw, rounds, ms, serverPid, at);
    guardRows.push(
      `| ${raw.name} | **${fmt(g.ratio, 2)}** (${fmt(Math.min(...g.ratios), 2)}–${fmt(Math.max(...g.ratios), 2)}) | ${fmt(g.scriptUs, 1)} | ${fmt(g.setUs, 1)} |`,
    );
    await raw.close();
    log(`ops: ${raw.name} done`);
  }
  return [
    `### RedisStore against raw client calls (${CONCURRENCY} concurrent, 200-byte sessions, ops per CPU-second of the client process, median of ${rounds} rounds)`,
    "",
    "| client | op | RedisStore ops/CPU-s | raw client ops/CPU-s | ratio (range) | ≥ 0.9 |",
    "| --- | --- | ---: | ---: | ---: | :---: |",
    ...rows,
    "",
    `### The late-write guard: the store's write script (\`eval\`) against a plain \`SET ... PXAT\` (median of ${rounds} rounds)`,
    "",
    "| client | client ops/CPU-s, script ÷ SET (range) | redis-server CPU µs per write, script | same, SET |",
    "| --- | ---: | ---: | ---: |",
    ...guardRows,
  ].join("\n");
}

const SERVERS = [
  { id: "express-scs-redis", label: "scs-ts/express + RedisStore" },
  { id: "express-session-connect-redis", label: `express-session + connect-redis` },
] as const;

async function http(quick: boolean, port: number): Promise<string> {
  const rounds = quick ? 2 : 5;
  const seconds = quick ? 1 : 3;
  process.env.REDIS_PORT = String(port);
  const gen = new LoadGenerator(undefined);
  const rows: string[] = [];
  try {
    for (const mode of ["read", "write"] as const) {
      const runs = new Map<string, number[]>(SERVERS.map((s) => [s.id, []]));
      const ratios: number[] = [];
      const servers = await Promise.all(
        SERVERS.map((s) => startServer(`bench/http-servers/${s.id}.ts`, mode, undefined)),
      );
      try {
        const cookies = await Promise.all(
          servers.map(async (s) => cookieFrom((await probe(s.port, "/init", {})).setCookie)),
        );
        const run = async (i: number) => {
          const server = servers[i]!;
          const res = await gen.run({
            url: `http://127.0.0.1:${server.port}/`,
            connections: 16,
            durationS: seconds,
            headers: { cookie: cookies[i]! },
          });
          if (res.non2xx > 0 || res.errors > 0) {
            log(`WARNING ${SERVERS[i]!.id} ${mode}: ${res.non2xx} non-2xx, ${res.errors} errors`);
          }
          runs.get(SERVERS[i]!.id)!.push(res.rps);
          return res.rps;
        };
        await run(0);
        await run(1); // warm-up
        runs.forEach((v) => {
          v.length = 0;
        });
        for (let k = 0; k < rounds; k++) {
          const order = k % 2 === 0 ? [0, 1] : [1, 0];
          const got: number[] = [];
          for (const i of order) got[i] = await run(i);
          ratios.push(got[0]! / got[1]!);
        }
      } finally {
        await Promise.all(servers.map((s) => s.stop()));
      }
      const [ours, peer] = SERVERS.map((s) => median(runs.get(s.id)!));
      rows.push(
        `| ${mode.toUpperCase()} | ${fmt(ours!)} | ${fmt(peer!)} | **${fmt(median(ratios), 2)}** (${fmt(Math.min(...ratios), 2)}–${fmt(Math.max(...ratios), 2)}) |`,
      );
      log(`http ${mode} done`);
    }
  } finally {
    await gen.close();
  }
  return [
    `### HTTP req/s on Redis: ${SERVERS[0].label} against ${SERVERS[1].label} (Express ${version("express")}, express-session ${version("express-session")}, connect-redis ${version("connect-redis")}, redis ${version("redis")}; 16 connections, ${seconds} s runs, median of ${rounds} rounds)`,
    "",
    "| mode | scs-ts + RedisStore req/s | express-session + connect-redis req/s | ratio (range) |",
    "| --- | ---: | ---: | ---: |",
    ...rows,
  ].join("\n");
}

/**
 * Runs the Redis bench against a redis-server it starts and stops.
 * @returns the markdown section.
 */
export async function runRedisBench(opts: { quick: boolean; only?: string }): Promise<string> {
  const part = (p: string) => opts.only === undefined || opts.only.split(",").includes(p);
  const server = await startRedis();
  const redisVersion = /v=(\S+)/.exec(
    execFileSync(ensureRedis().server, ["--version"], { encoding: "utf8" }),
  )?.[1];
  const out = [
    "## RedisStore",
    "",
    `- Machine: ${machineLine()}; redis-server ${redisVersion ?? "(Debian)"} on 127.0.0.1, no persistence.`,
  ];
  try {
    if (part("ops")) out.push("", await storeOps(opts.quick, server.port, server.pid));
    if (part("http")) out.push("", await http(opts.quick, server.port));
  } finally {
    await server.stop();
  }
  return out.join("\n");
}

if (process.argv[1] === here) {
  const args = process.argv.slice(2);
  const only = args.find((a) => a.startsWith("--only="))?.slice(7);
  console.log(await runRedisBench({ quick: args.includes("--quick"), only }));
}
