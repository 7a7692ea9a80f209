/**
 * Test harness for real Redis servers from Debian (`redis-server`, `redis-sentinel`).
 *
 * - Installs the two packages when missing: `apt-get update -qq && apt-get install`, as root or
 *   through `sudo -n`, under `flock /tmp/scs-apt.lock` (test files start in parallel and dpkg
 *   has one lock). The packages' own services (6379, 26379) are stopped and disabled right after
 *   the install; nothing here ever talks to them: every server is our own, on a free port.
 * - {@link startRedis} runs one `redis-server` on 127.0.0.1, a free port, a new temp dir, no
 *   persistence unless asked, and resolves once it answers PING. `stop()` kills it by PID and
 *   removes its dir.
 * - {@link startSentinelSetup} runs a primary, its replicas and the sentinels watching it, with
 *   short failure-detection times, and resolves once every sentinel sees every replica and every
 *   other sentinel (so a failover can happen at once).
 * - Every process is killed by PID (SIGKILL, after SIGCONT for a paused one) when the test
 *   process exits or is interrupted, also after a failed test, and the temp dirs are removed.
 *
 * Used by test/stores/redisstore*.test.ts, test/faults/redis-sentinel.test.ts, the connect-store
 * tests and bench/redis.ts.
 *
 * @example
 * const redis = await startRedis();
 * try {
 *   const client = new Redis(redis.port, redis.host);          // ioredis
 *   // or: const client = await createClient({ url: redis.url }).connect();  // node-redis
 * } finally {
 *   await redis.stop();
 * }
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./rqlite.ts";

/** Every process started here and not yet stopped, and every temp dir not yet removed. */
const live = new Set<RedisProcess>();
const dirs = new Set<string>();
let hooksInstalled = false;

const asRoot = typeof process.getuid === "function" && process.getuid() === 0;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function which(name: string): string | undefined {
  for (const dir of ["/usr/bin", "/usr/local/bin", "/usr/sbin", "/bin"]) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** Paths of the Debian binaries this harness runs. */
export interface RedisBinaries {
  /** `redis-server`. */
  server: string;
  /** `redis-sentinel` (Debian's package; same binary, sentinel mode). */
  sentinel: string;
}

let binaries: RedisBinaries | undefined;

/**
 * Installs Debian's redis-server and redis-sentinel when they are missing (blocking; once per
 * process), and stops the services the packages start on their default ports.
 * @returns the binaries' paths.
 */
export function ensureRedis(): RedisBinaries {
  if (binaries) return binaries;
  let server = which("redis-server");
  let sentinel = which("redis-sentinel");
  if (server === undefined || sentinel === undefined) {
    console.error("redis-server is missing: installing Debian's redis-server and redis-sentinel");
    const stopServices = ["redis-server", "redis-sentinel"]
      .map(
        (s) =>
          `(systemctl disable --now ${s} || invoke-rc.d ${s} stop || service ${s} stop) >/dev/null 2>&1`,
      )
      .join("; ");
    const script = [
      "command -v redis-server >/dev/null && command -v redis-sentinel >/dev/null && exit 0",
      "apt-get update -qq",
      "apt-get install -y -qq -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef redis-server redis-sentinel",
      "status=$?",
      // Our tests never use the packaged services: leave nothing listening on 6379/26379.
      stopServices,
      "exit $status",
    ].join("; ");
    const [cmd = "", ...args] = [
      ...(asRoot ? [] : ["sudo", "-n"]),
      "flock",
      "/tmp/scs-apt.lock",
      "sh",
      "-c",
      script,
    ];
    const result = spawnSync(cmd, args, {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DEBIAN_FRONTEND: "noninteractive" },
    });
    if (result.status !== 0) {
      throw new Error(
        `could not install redis-server/redis-sentinel (${result.status ?? result.signal}): ${result.stderr}${result.stdout}\n` +
          "run `sudo apt-get install -y redis-server redis-sentinel` and try again",
      );
    }
    server = which("redis-server");
    sentinel = which("redis-sentinel");
    if (server === undefined || sentinel === undefined) {
      throw new Error("redis-server/redis-sentinel installed, but not found in /usr/bin");
    }
  }
  binaries = { server, sentinel };
  return binaries;
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const discardAll = () => {
    for (const p of live) p.killSync();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  };
  process.on("exit", discardAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      discardAll();
      process.kill(process.pid, signal);
    });
  }
}

/** A RESP reply as this harness's small client reads it. */
export type RespReply = string | number | null | Error | RespReply[];

/** Parses one RESP2 reply at `pos`. @returns the reply and the next position, or undefined if incomplete. */
function parseReply(buf: Buffer, pos: number): [RespReply, number] | undefined {
  const eol = buf.indexOf("\r\n", pos);
  if (eol < 0) return undefined;
  const head = buf.toString("utf8", pos + 1, eol);
  const next = eol + 2;
  switch (String.fromCharCode(buf[pos] ?? 0)) {
    case "+":
      return [head, next];
    case "-":
      return [new Error(head), next];
    case ":":
      return [Number(head), next];
    case "$": {
      const len = Number(head);
      if (len < 0) return [null, next];
      if (buf.length < next + len + 2) return undefined;
      return [buf.toString("utf8", next, next + len), next + len + 2];
    }
    case "*": {
      const count = Number(head);
      if (count < 0) return [null, next];
      const items: RespReply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at);
        if (!item) return undefined;
        items.push(item[0]);
        at = item[1];
      }
      return [items, at];
    }
    default:
      return [new Error(`unexpected reply: ${head}`), next];
  }
}

/**
 * Sends one command to a server on 127.0.0.1:`port` over a fresh connection (a real client, for
 * setup and checks: INFO, SENTINEL, CONFIG ...). Rejects on a connection error or after
 * `timeoutMs`; an error reply resolves as an `Error` value.
 * @returns the reply.
 */
export function redisCommand(port: number, args: string[], timeoutMs = 2000): Promise<RespReply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis ${port}: no answer to ${args[0]} in ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
    socket.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on("connect", () => {
      const parts = args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("");
      socket.write(`*${args.length}\r\n${parts}`);
    });
    socket.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      const reply = parseReply(buf, 0);
      if (reply) {
        clearTimeout(timer);
        socket.destroy();
        resolve(reply[0]);
      }
    });
  });
}

/** `INFO <section>` as a map of its `key:value` lines. */
export async function redisInfo(port: number, section: string): Promise<Map<string, string>> {
  const reply = await redisCommand(port, ["INFO", section]);
  if (typeof reply !== "string") throw new Error(`INFO ${section} on ${port}: ${String(reply)}`);
  const map = new Map<string, string>();
  for (const line of reply.split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) map.set(line.slice(0, i), line.slice(i + 1));
  }
  return map;
}

/** One redis-server or redis-sentinel process this harness started. */
export class RedisProcess {
  /** Always 127.0.0.1. */
  readonly host = "127.0.0.1" as const;
  /** The TCP port it listens on. */
  readonly port: number;
  /** Its temp dir (config, log, data). */
  readonly dir: string;
  readonly #child: ChildProcess;
  #exited = false;
  #exit: Promise<void>;

  constructor(child: ChildProcess, port: number, dir: string) {
    this.#child = child;
    this.port = port;
    this.dir = dir;
    this.#exit = new Promise((resolve) => {
      child.once("exit", () => {
        this.#exited = true;
        live.delete(this);
        resolve();
      });
    });
  }

  /** `redis://127.0.0.1:<port>`, for node-redis's `createClient({ url })`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The process id. */
  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** True once the process has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** The log's last lines, for failure messages. */
  log(lines = 30): string {
    try {
      return readFileSync(join(this.dir, "log"), "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }

  /** Sends a signal by PID (SIGKILL: a crash; SIGSTOP/SIGCONT: a hung then revived server). */
  signal(signal: NodeJS.Signals): void {
    if (this.#exited) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // already gone
    }
  }

  /** SIGKILLs the process (SIGCONT first, so a paused one dies at once). Safe in exit hooks. */
  killSync(): void {
    this.signal("SIGCONT");
    this.signal("SIGKILL");
  }

  /** SIGKILLs the process and resolves once it has exited. Keeps the dir. */
  async kill(): Promise<void> {
    if (this.#exited) return;
    // Held while we wait for the exit (the child is unref'd so it never holds the process).
    this.#child.ref();
    this.killSync();
    await this.#exit;
  }

  /** Kills the process by PID and removes its dir. Idempotent. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
    dirs.delete(this.dir);
  }
}

/** Options of {@link startRedis}. */
export interface StartRedisOptions {
  /**
   * `"none"`: no RDB snapshots, no AOF (a restart starts empty). `"aof"`: append-only file with
   * `appendfsync always`.
   * @default "none"
   */
  persistence?: "none" | "aof";
  /** Start as a replica of this primary. */
  replicaOf?: { host: string; port: number };
  /** Extra `--name value` arguments, e.g. `["--maxmemory", "10mb"]`. */
  args?: string[];
  /** Reuse this dir (and its data) instead of a new temp dir, e.g. to restart on the same data. */
  dir?: string;
  /** Listen on this port instead of a free one (a restart on the same port). */
  port?: number;
}

/** A running redis-server of {@link startRedis}: `host`, `port`, `url`, `pid`, `stop()`. */
export type RedisServer = RedisProcess;

async function waitReady(proc: RedisProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exited) throw new Error(`redis on ${proc.port} exited at start:\n${proc.log()}`);
    try {
      const reply = await redisCommand(proc.port, ["PING"], 1000);
      if (reply === "PONG") return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(
        `redis on ${proc.port} did not answer PING in ${timeoutMs} ms:\n${proc.log()}`,
      );
    }
    await sleep(20);
  }
}

function spawnRedis(bin: string, argv: string[], port: number, dir: string): RedisProcess {
  const child = spawn(bin, argv, { stdio: "ignore", cwd: dir });
  child.unref();
  child.on("error", () => {
    // reported through the exit / readiness check
  });
  const proc = new RedisProcess(child, port, dir);
  live.add(proc);
  return proc;
}

/**
 * Starts a redis-server on 127.0.0.1 on a free port with its own temp dir, and waits until it
 * answers PING. No persistence unless `options.persistence` asks for it.
 * @returns the running server; `stop()` kills it by PID and removes its dir.
 * @example
 * const redis = await startRedis();
 * const client = new Redis(redis.port, redis.host);
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const { server } = ensureRedis();
  installExitHooks();
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "scs-redis-"));
  dirs.add(dir);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = options.port ?? (await freePort());
    const argv = [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--protected-mode",
      "no",
      "--daemonize",
      "no",
      "--dir",
      dir,
      "--logfile",
      join(dir, "log"),
      "--save",
      "",
      "--appendonly",
      options.persistence === "aof" ? "yes" : "no",
      ...(options.persistence === "aof" ? ["--appendfsync", "always"] : []),
      // Replicas sync at once (the default waits 5 s for more replicas to share a transfer).
      "--repl-diskless-sync-delay",
      "0",
      ...(options.replicaOf
        ? ["--replicaof", options.replicaOf.host, String(options.replicaOf.port)]
        : []),
      ...(options.args ?? []),
    ];
    const proc = spawnRedis(server, argv, port, dir);
    try {
      await waitReady(proc, 10_000);
      return proc;
    } catch (err) {
      lastError = err;
      await proc.kill();
      if (options.port !== undefined) break;
    }
  }
  if (options.dir === undefined) {
    rmSync(dir, { recursive: true, force: true });
    dirs.delete(dir);
  }
  throw lastError;
}

/** Options of {@link startSentinelSetup}. */
export interface SentinelSetupOptions {
  /** @default 2 */
  replicas?: number;
  /** @default 3 */
  sentinels?: number;
  /** Sentinels that must agree the primary is down. @default 2 */
  quorum?: number;
  /** `sentinel down-after-milliseconds`. @default 1000 */
  downAfterMs?: number;
  /** `sentinel failover-timeout`. @default 5000 */
  failoverTimeoutMs?: number;
  /** The name clients ask the sentinels for. @default "scs-primary" */
  masterName?: string;
}

/** A primary, its replicas and the sentinels watching it (see {@link startSentinelSetup}). */
export interface SentinelSetup {
  /** The name the sentinels monitor the primary under (ioredis `name`, node-redis `name`). */
  readonly masterName: string;
  /** The primary at start. */
  readonly primary: RedisServer;
  /** The replicas at start. */
  readonly replicas: readonly RedisServer[];
  /** The sentinel processes. */
  readonly sentinels: readonly RedisProcess[];
  /** `[{ host, port }]` of the sentinels, as ioredis's `sentinels` and node-redis's `sentinelRootNodes` take it. */
  readonly sentinelAddrs: readonly { host: string; port: number }[];
  /** Every redis-server of the setup (primary first). */
  readonly servers: readonly RedisServer[];
  /** Asks the sentinels which address is the primary now. */
  masterAddress(): Promise<{ host: string; port: number }>;
  /**
   * Waits until the sentinels name a primary other than `oldPort` and that server reports
   * `role:master`. Rejects after `timeoutMs`.
   * @returns the new primary's address.
   */
  waitForFailover(oldPort: number, timeoutMs?: number): Promise<{ host: string; port: number }>;
  /** Kills every process by PID and removes the dirs. Idempotent. */
  stop(): Promise<void>;
}

/** `SENTINEL MASTER <name>` as a map of its fields. */
async function sentinelMaster(port: number, name: string): Promise<Map<string, string>> {
  const reply = await redisCommand(port, ["SENTINEL", "MASTER", name]);
  if (!Array.isArray(reply)) throw new Error(`SENTINEL MASTER on ${port}: ${String(reply)}`);
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < reply.length; i += 2) map.set(String(reply[i]), String(reply[i + 1]));
  return map;
}

/**
 * Starts a primary, `replicas` replicas and `sentinels` sentinels on free 127.0.0.1 ports, each
 * in its own temp dir, and waits until the replicas are in sync and every sentinel sees every
 * replica and every other sentinel. Detection is fast (`downAfterMs`, default 1 s), so a killed
 * primary is replaced within a few seconds.
 * @returns the setup; `stop()` kills everything by PID.
 * @example
 * const setup = await startSentinelSetup();
 * const client = new Redis({ sentinels: [...setup.sentinelAddrs], name: setup.masterName });
 * setup.primary.signal("SIGKILL");
 * await setup.waitForFailover(setup.primary.port);
 */
export async function startSentinelSetup(
  options: SentinelSetupOptions = {},
): Promise<SentinelSetup> {
  const {
    replicas: replicaCount = 2,
    sentinels: sentinelCount = 3,
    quorum = 2,
    downAfterMs = 1000,
    failoverTimeoutMs = 5000,
    masterName = "scs-primary",
  } = options;
  const { sentinel: sentinelBin } = ensureRedis();
  installExitHooks();
  const started: RedisProcess[] = [];
  const stop = async () => {
    await Promise.all(started.map((p) => p.stop()));
  };
  try {
    const primary = await startRedis();
    started.push(primary);
    const replicas = await Promise.all(
      Array.from({ length: replicaCount }, () =>
        startRedis({ replicaOf: { host: primary.host, port: primary.port } }),
      ),
    );
    started.push(...replicas);
    const deadline = Date.now() + 20_000;
    // Replicas in sync with the primary.
    for (const replica of replicas) {
      while ((await redisInfo(replica.port, "replication")).get("master_link_status") !== "up") {
        if (Date.now() > deadline) throw new Error(`replica ${replica.port} never synced`);
        await sleep(50);
      }
    }
    const sentinels: RedisProcess[] = [];
    for (let i = 0; i < sentinelCount; i++) {
      const dir = mkdtempSync(join(tmpdir(), "scs-sentinel-"));
      dirs.add(dir);
      const port = await freePort();
      const conf = join(dir, "sentinel.conf");
      writeFileSync(
        conf,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          "protected-mode no",
          "daemonize no",
          `dir ${dir}`,
          `logfile ${join(dir, "log")}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${primary.port} ${quorum}`,
          `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
          `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
          `sentinel parallel-syncs ${masterName} ${replicaCount}`,
          "",
        ].join("\n"),
      );
      const proc = spawnRedis(sentinelBin, [conf], port, dir);
      started.push(proc);
      sentinels.push(proc);
    }
    for (const s of sentinels) await waitReady(s, 10_000);
    // Every sentinel knows every replica and the other sentinels (hello messages every 2 s).
    for (const s of sentinels) {
      for (;;) {
        const m = await sentinelMaster(s.port, masterName);
        if (
          Number(m.get("num-slaves")) >= replicaCount &&
          Number(m.get("num-other-sentinels")) >= sentinelCount - 1
        )
          break;
        if (Date.now() > deadline) {
          throw new Error(`sentinel ${s.port} never saw the whole setup:\n${s.log()}`);
        }
        await sleep(100);
      }
    }
    const sentinelAddrs = sentinels.map((s) => ({ host: s.host, port: s.port }));
    const masterAddress = async () => {
      let lastError: unknown;
      for (const s of sentinels) {
        if (s.exited) continue;
        try {
          const reply = await redisCommand(s.port, [
            "SENTINEL",
            "GET-MASTER-ADDR-BY-NAME",
            masterName,
          ]);
          if (Array.isArray(reply) && reply.length === 2) {
            return { host: String(reply[0]), port: Number(reply[1]) };
          }
          lastError = new Error(`sentinel ${s.port}: ${String(reply)}`);
        } catch (err) {
          lastError = err;
        }
      }
      throw lastError ?? new Error("no sentinel answered");
    };
    const waitForFailover = async (oldPort: number, timeoutMs = 30_000) => {
      const end = Date.now() + timeoutMs;
      for (;;) {
        try {
          const addr = await masterAddress();
          if (addr.port !== oldPort) {
            const role = (await redisInfo(addr.port, "replication")).get("role");
            if (role === "master") return addr;
          }
        } catch {
          // a sentinel or the candidate is mid-change: ask again
        }
        if (Date.now() > end)
          throw new Error(`no failover away from ${oldPort} in ${timeoutMs} ms`);
        await sleep(100);
      }
    };
    return {
      masterName,
      primary,
      replicas,
      sentinels,
      sentinelAddrs,
      servers: [primary, ...replicas],
      masterAddress,
      waitForFailover,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
