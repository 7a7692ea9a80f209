/**
 * The partition tests' workload and checker, shared by test/faults/partition.test.ts and
 * `npm run chaos`: real app servers (the demo) on a 3-node rqlite cluster, clients that spread
 * their requests over two app servers per read-consistency setting (as a load balancer without
 * stickiness would: each app server is its own process as far as the session manager knows),
 * a history of every request, and a checker over it, per session:
 *
 * - no acknowledged write lost: a counter a client was acknowledged is never seen lower later,
 *   and a strong read after the partitions heal finds it;
 * - reads are monotonic per client: never older than a value it was already acknowledged;
 * - a retired token stays retired: once a sign-out (destroy) or a renewal is acknowledged, a
 *   request that starts later with the old token (replayed by the client, as a stolen or
 *   second-tab cookie would be) is never served with that token's data.
 * @module
 */
import { Pool } from "undici";
import { type ReadConsistency, RqliteConnection } from "../../src/stores/rqlite-client.ts";
import { RqliteStore, type RqliteStoreOptions } from "../../src/stores/rqlitestore.ts";
import { listen } from "../helpers/http.ts";
import { createLoadApp } from "../helpers/load.ts";

/** The app servers' own address: partitions cut it off from nodes by this address. */
export const APP_ADDRESS = "127.0.0.2";
/** The rqlite nodes' addresses. */
export const NODE_ADDRESSES = ["127.0.0.11", "127.0.0.12", "127.0.0.13"] as const;
/** The user ids the nodes run as (so their connections get their own source address). */
export const NODE_UIDS = [42_011, 42_012, 42_013] as const;
/** The store's deadline per call; a request makes at most 3 store calls. */
export const DEADLINE = 2_000;
/** A request still unanswered after this counts as hung. */
export const CLIENT_TIMEOUT = 3 * DEADLINE + 2_000;

/** The read settings the checker compares; "default" is the store without options. */
export type Setting = "default" | ReadConsistency;

/** One app server, stopped by `close`. */
interface Running {
  url: string;
  conn: RqliteConnection;
  close(): Promise<void>;
}

/** The app servers of one setting, on their own table. */
export interface SettingApps {
  setting: Setting;
  /** The two app servers the clients spread their requests over. */
  servers: Running[];
  /** A third app server with strong reads, for the final check. */
  verifier: Running;
  /** Errors the apps logged, by kind (never with a token). */
  logged: Map<string, number>;
  close(): Promise<void>;
}

async function startApp(
  nodes: readonly string[],
  table: string,
  options: RqliteStoreOptions,
  logged: Map<string, number>,
): Promise<Running> {
  const conn = new RqliteConnection({ nodes, deadline: DEADLINE, localAddress: APP_ADDRESS });
  const store = new RqliteStore(conn, { table, cleanupInterval: 0, ...options });
  const app = createLoadApp({
    store,
    logger: {
      warn: () => {},
      error: (message: string) => {
        const kind = message.replace(/\d+/g, "N").slice(0, 120);
        logged.set(kind, (logged.get(kind) ?? 0) + 1);
      },
    },
  });
  const server = await listen(app.server);
  return {
    url: server.url,
    conn,
    async close() {
      await server.close();
      await app.sessions.close();
    },
  };
}

/** Starts the two app servers and the verifier of `setting` on table `table`. */
export async function startSetting(
  nodes: readonly string[],
  setting: Setting,
  table: string,
): Promise<SettingApps> {
  const logged = new Map<string, number>();
  const options: RqliteStoreOptions = setting === "default" ? {} : { readConsistency: setting };
  // Each app server lists the nodes in its own order, as separately configured hosts would.
  const servers = [
    await startApp(nodes, table, options, logged),
    await startApp([...nodes].reverse(), table, options, logged),
  ];
  const verifier = await startApp(nodes, table, { readConsistency: "strong" }, logged);
  return {
    setting,
    servers,
    verifier,
    logged,
    async close() {
      for (const s of [...servers, verifier]) await s.close();
    },
  };
}

/** One request as the client saw it. */
export interface Op {
  kind: "write" | "read" | "renew" | "destroy" | "replay" | "verify";
  /** performance.now() at send and at the answer's end. */
  start: number;
  end: number;
  /** HTTP status, or a client-side "timeout"/"error". */
  outcome: number | "timeout" | "error";
  /** The counter the answer showed. */
  value?: number;
  /** Replays: when the replayed token's retirement was acknowledged. */
  retiredAt?: number;
  /** Replays: a write (`GET /`) rather than a read. */
  write?: boolean;
}

/** Violations found in one setting's history. */
export interface Violations {
  /** An acknowledged counter later seen lower, or not found by the final strong read. */
  lostWrites: number;
  /** A read older than a value the client had already been acknowledged. */
  staleReads: number;
  /** A request with a token whose retirement was acknowledged, served with its data. */
  retiredServed: number;
}

/** What one setting's run came to. */
export interface SettingReport {
  setting: Setting;
  requests: number;
  outcomes: Record<string, number>;
  acknowledged: { writes: number; renewals: number; signOuts: number; replays: number };
  violations: Violations;
  /** Clients whose final check never got an answer. */
  unverified: number;
  /** The app servers' logged errors, by kind. */
  logged: Record<string, number>;
}

/** A small seeded PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const VISITS_HTML = /<strong id="visits">(\d+)<\/strong>/;

function cookieOf(setCookie: string | string[] | undefined): string | null | undefined {
  for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
    if (!line.startsWith("session=")) continue;
    const value = line.slice(
      "session=".length,
      line.indexOf(";") < 0 ? undefined : line.indexOf(";"),
    );
    return value === "" || /Max-Age=0/i.test(line) ? null : value;
  }
  return undefined;
}

/** Options of {@link runWorkload}. */
export interface WorkloadOptions {
  settings: readonly SettingApps[];
  clientsPerSetting: number;
  durationMs: number;
  /** Requests in all, the second bound. */
  maxRequests: number;
  seed: number;
  /** Runs while the clients do (the partitions); the clients stop when it resolves and `durationMs` has passed. */
  scenario: () => Promise<void>;
  /** Runs after the clients stopped and before the final check (heal, wait for a leader). */
  settle: () => Promise<void>;
}

/**
 * Runs the clients of every setting at once through `scenario`, then `settle`, then the final
 * strong read of each client's counter.
 * @returns the history of each client, per setting (the final check last, as kind "verify").
 */
export async function runWorkload(o: WorkloadOptions): Promise<Map<Setting, Op[][]>> {
  const pools = new Map<string, Pool>();
  const pool = (url: string) => {
    let p = pools.get(url);
    if (!p) {
      p = new Pool(url, { connections: 64 });
      pools.set(url, p);
    }
    return p;
  };
  let budget = o.maxRequests;
  let running = true;
  const deadline = performance.now() + o.durationMs;
  const histories = new Map<Setting, Op[][]>();

  async function send(
    url: string,
    method: string,
    path: string,
    cookie: string | undefined,
  ): Promise<{ op: Omit<Op, "kind">; cookie: string | null | undefined }> {
    const start = performance.now();
    const headers: Record<string, string> = {};
    if (cookie !== undefined) headers.cookie = `session=${cookie}`;
    if (method === "POST") headers["content-type"] = "application/x-www-form-urlencoded";
    try {
      const res = await pool(url).request({
        method,
        path,
        headers,
        body: method === "POST" ? "username=u&remember=on" : undefined,
        signal: AbortSignal.timeout(CLIENT_TIMEOUT),
      });
      const text = await res.body.text();
      const op: Omit<Op, "kind"> = { start, end: performance.now(), outcome: res.statusCode };
      const m = VISITS_HTML.exec(text);
      if (res.statusCode === 200 && m) op.value = Number(m[1]);
      else if (res.statusCode === 200 && text.startsWith('{"visits"'))
        op.value = (JSON.parse(text) as { visits: number }).visits;
      return { op, cookie: cookieOf(res.headers["set-cookie"]) };
    } catch (err) {
      const name = (err as { name?: string }).name;
      const outcome = name === "TimeoutError" || name === "AbortError" ? "timeout" : "error";
      return { op: { start, end: performance.now(), outcome }, cookie: undefined };
    }
  }

  /** Runs one client until the scenario ends (or a bound); resolves with its last cookie. */
  async function client(s: SettingApps, id: number, history: Op[]): Promise<string | undefined> {
    const rand = prng(o.seed * 7919 + id);
    let cookie: string | undefined;
    let wrote = false; // the session has data (a replay of it would show)
    type Retired = { token: string; at: number; by: string };
    const retired: Retired[] = [];
    /** A retirement just acknowledged: replayed next, on the other app server. */
    let fresh: Retired | undefined;
    const pick = () => (s.servers[Math.floor(rand() * s.servers.length)] as Running).url;
    while (running && budget-- > 0 && performance.now() < deadline) {
      const r = rand();
      if (fresh !== undefined || (retired.length > 0 && r < 0.1)) {
        const old = fresh ?? (retired[Math.floor(rand() * retired.length)] as Retired);
        const other = fresh && s.servers.find((x) => x.url !== old.by);
        const url = other ? other.url : pick();
        fresh = undefined;
        const write = rand() < 0.5;
        const { op } = await send(url, "GET", write ? "/" : "/api/visits", old.token);
        history.push({ kind: "replay", ...op, retiredAt: old.at, write });
      } else if (r < 0.45 && cookie !== undefined) {
        const { op } = await send(pick(), "GET", "/api/visits", cookie);
        history.push({ kind: "read", ...op });
      } else if (r < 0.9 || !wrote || cookie === undefined) {
        const res = await send(pick(), "GET", "/", cookie);
        history.push({ kind: "write", ...res.op });
        if (typeof res.cookie === "string") cookie = res.cookie;
        if (res.op.value !== undefined) wrote = true;
      } else {
        const destroy = r >= 0.96;
        const path = destroy ? "/api/destroy" : rand() < 0.5 ? "/signin" : "/signout";
        const by = pick();
        const res = await send(by, "POST", path, cookie);
        const ok = destroy ? res.op.outcome === 200 : res.op.outcome === 303;
        history.push({ kind: destroy ? "destroy" : "renew", ...res.op });
        if (ok) {
          retired.push({ token: cookie, at: res.op.end, by });
          if (rand() < 0.5) fresh = retired[retired.length - 1];
          cookie = typeof res.cookie === "string" ? res.cookie : undefined;
          if (destroy) wrote = false;
        } else if (res.cookie !== undefined) {
          cookie = res.cookie ?? undefined;
        }
      }
    }
    return cookie;
  }

  /** The final check of one client: its counter, read at strong after the heal. */
  async function verify(s: SettingApps, history: Op[], cookie: string | undefined) {
    const until = performance.now() + 15_000;
    for (;;) {
      const { op } = await send(s.verifier.url, "GET", "/api/visits", cookie);
      if (op.outcome === 200 || performance.now() >= until) {
        history.push({ kind: "verify", ...op });
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  const runs: Promise<void>[] = [];
  const finals: (() => Promise<void>)[] = [];
  for (const s of o.settings) {
    const list: Op[][] = [];
    histories.set(s.setting, list);
    for (let i = 0; i < o.clientsPerSetting; i++) {
      const history: Op[] = [];
      list.push(history);
      runs.push(
        client(s, i, history).then((cookie) => {
          finals.push(() => verify(s, history, cookie));
        }),
      );
    }
  }
  try {
    await o.scenario();
  } finally {
    running = false;
    await Promise.all(runs);
    await o.settle();
  }
  await Promise.all(finals.map((f) => f()));
  for (const p of pools.values()) await p.close();
  return histories;
}

/**
 * Checks one setting's histories (one per client, in the order its requests ran).
 * @returns the counts and the violations.
 */
export function check(
  setting: Setting,
  histories: readonly Op[][],
  logged: Map<string, number>,
): SettingReport {
  const violations: Violations = { lostWrites: 0, staleReads: 0, retiredServed: 0 };
  const acknowledged = { writes: 0, renewals: 0, signOuts: 0, replays: 0 };
  const outcomes: Record<string, number> = {};
  let requests = 0;
  let unverified = 0;
  for (const history of histories) {
    // The lowest counter the client may see now; undefined when a request whose outcome it
    // cannot know may have replaced its session (a renewal or sign-out that failed).
    let floor: number | undefined = 0;
    for (const op of history) {
      if (op.kind !== "verify") {
        requests++;
        outcomes[String(op.outcome)] = (outcomes[String(op.outcome)] ?? 0) + 1;
      }
      const value = op.value;
      switch (op.kind) {
        case "write":
          if (value === undefined) break; // may or may not have been applied: the floor stays a floor
          acknowledged.writes++;
          if (floor !== undefined && value <= floor) violations.lostWrites++;
          floor = value;
          break;
        case "read":
          if (value === undefined) break;
          if (floor !== undefined && value < floor) violations.staleReads++;
          floor = Math.max(floor ?? 0, value);
          break;
        case "renew":
          if (op.outcome === 303) acknowledged.renewals++;
          else floor = undefined;
          break;
        case "destroy":
          if (op.outcome === 200) {
            acknowledged.signOuts++;
            floor = 0;
          } else floor = undefined;
          break;
        case "replay":
          if (op.outcome === 200) acknowledged.replays++;
          // A fresh session shows 0 (read) or 1 (write): anything more is the retired data.
          if (value !== undefined && (op.retiredAt ?? 0) < op.start && value > (op.write ? 1 : 0)) {
            violations.retiredServed++;
          }
          break;
        case "verify":
          if (value === undefined) unverified++;
          else if (floor !== undefined && value < floor) violations.lostWrites++;
          break;
      }
    }
  }
  return {
    setting,
    requests,
    outcomes,
    acknowledged,
    violations,
    unverified,
    logged: Object.fromEntries(logged),
  };
}

/** One line per setting: requests, outcomes and violations. */
export function formatReports(label: string, reports: readonly SettingReport[]): string {
  const lines = [`${label}:`];
  for (const r of reports) {
    const v = r.violations;
    lines.push(
      `  ${r.setting.padEnd(12)} ${r.requests} requests ${JSON.stringify(r.outcomes)}; acknowledged ${r.acknowledged.writes} writes, ${r.acknowledged.renewals} renewals, ${r.acknowledged.signOuts} sign-outs, ${r.acknowledged.replays} replays answered; violations: lost writes ${v.lostWrites}, stale reads ${v.staleReads}, retired token served ${v.retiredServed}; unverified ${r.unverified}`,
    );
  }
  return lines.join("\n");
}

/** Something that blocks address pairs (test/helpers/nft.ts `Partitions`). */
interface Net {
  set(pairs: readonly (readonly [string, string])[]): Promise<void>;
}

/** Every pair of hosts: the app's address and the nodes'. */
function allPairs(): [string, string][] {
  const hosts = [APP_ADDRESS, ...NODE_ADDRESSES];
  const pairs: [string, string][] = [];
  for (let i = 0; i < hosts.length; i++)
    for (let j = i + 1; j < hosts.length; j++) pairs.push([hosts[i] as string, hosts[j] as string]);
  return pairs;
}

/**
 * Random partitions for `ms` ms: every 0.5–3 s a new set of blocked pairs (one node isolated,
 * the app cut off from one or two nodes, or any pairs at random, or none), healed at the end.
 * @returns how many partitions were made.
 */
export async function randomPartitions(net: Net, ms: number, rand: () => number): Promise<number> {
  const end = performance.now() + ms;
  let changes = 0;
  try {
    while (performance.now() < end) {
      const r = rand();
      const node = NODE_ADDRESSES[Math.floor(rand() * NODE_ADDRESSES.length)] as string;
      const others = NODE_ADDRESSES.filter((n) => n !== node);
      let pairs: [string, string][];
      if (r < 0.3) pairs = others.map((o) => [node, o]);
      else if (r < 0.5) pairs = [[APP_ADDRESS, node]];
      else if (r < 0.6) pairs = others.map((o) => [APP_ADDRESS, o]);
      else if (r < 0.9) pairs = allPairs().filter(() => rand() < 0.3);
      else pairs = [];
      await net.set(pairs);
      changes++;
      const wait = Math.min(500 + rand() * 2_500, Math.max(0, end - performance.now()));
      await new Promise((res) => setTimeout(res, wait));
    }
  } finally {
    await net.set([]);
  }
  return changes;
}
