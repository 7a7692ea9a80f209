/**
 * RqliteStore against raw HTTP, side by side in one run, on rqlited nodes the harness starts:
 * (a) find and commit throughput at 16 and 64 concurrent operations on one node, RqliteStore
 * vs raw requests with the same statements through the same client library (undici), plus the
 * same raw requests through node:http with a keep-alive Agent (the road not taken);
 * (b) commit throughput through a 3-node cluster (sent to the leader, and to a follower that
 * forwards); (c) failover: the leader SIGKILLed under 16 concurrent writers, how long until
 * writes are acknowledged again; (d) what the safety costs on a 3-node cluster: commit and delete
 * with tombstones vs without (SCS's plain upsert and delete), and find at each read consistency.
 *
 * Usage: npx tsx bench/rqlite.ts [--quick] [--only-cost]
 * @module
 */
import http from "node:http";
import { fileURLToPath } from "node:url";
import { Pool } from "undici";
import { RqliteConnection } from "../src/stores/rqlite-client.ts";
import { julianDay, RqliteStore } from "../src/stores/rqlitestore.ts";
import { startCluster } from "../test/helpers/rqlite.ts";

const HOUR = 3_600_000;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

/** Runs `op` from `concurrency` workers for `ms`; returns operations per second. */
async function throughput(
  concurrency: number,
  ms: number,
  op: (i: number) => Promise<unknown>,
): Promise<number> {
  let count = 0;
  const end = performance.now() + ms;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) await op(count++);
    }),
  );
  return count / ((performance.now() - start) / 1000);
}

const TABLE = "bench_sessions";
const FIND = `SELECT data, typeof(data) FROM "${TABLE}" WHERE token = ? AND ? < expiry`;
const COMMIT = `INSERT INTO "${TABLE}" (token, data, expiry) VALUES (?, unhex(?), ?) ON CONFLICT(token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry`;
const DATA = new Uint8Array(200).map((_, i) => (i * 7) & 0xff);
const HEX = Buffer.from(DATA).toString("hex");
const KEYS = 1000;
const token = (i: number) =>
  `bench-token-${(i % KEYS).toString().padStart(6, "0")}-${"x".repeat(24)}`;

type Raw = (path: string, body: string) => Promise<void>;

function undiciRaw(url: string): { send: Raw; close: () => Promise<void> } {
  const pool = new Pool(url, { connections: 128, pipelining: 1 });
  const headers = { "content-type": "application/json" };
  return {
    async send(path, body) {
      const res = await pool.request({ method: "POST", path, headers, body });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${text}`);
    },
    close: () => pool.close(),
  };
}

function nodeHttpRaw(url: string): { send: Raw; close: () => Promise<void> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
  const { hostname, port } = new URL(url);
  return {
    send: (path, body) =>
      new Promise<void>((resolve, reject) => {
        const req = http.request(
          {
            agent,
            hostname,
            port,
            path,
            method: "POST",
            headers: { "content-type": "application/json" },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
              const text = Buffer.concat(chunks).toString("utf8");
              if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}: ${text}`));
              else resolve();
            });
            res.on("error", reject);
          },
        );
        req.on("error", reject);
        req.end(body);
      }),
    close: async () => agent.destroy(),
  };
}

/** (a) one node: RqliteStore vs raw undici vs raw node:http, find and commit, 16 and 64 concurrent. */
async function singleNode(quick: boolean): Promise<string> {
  const cluster = await startCluster(1);
  const url = cluster.urls[0] as string;
  const store = new RqliteStore(url, { table: TABLE, cleanupInterval: 0 });
  const raw = undiciRaw(url);
  const rawHttp = nodeHttpRaw(url);
  const rounds = quick ? 5 : 7;
  const ms = quick ? 400 : 1500;
  const lines = [
    "| op | concurrency | RqliteStore ops/s | raw undici ops/s | ratio | raw node:http ops/s |",
    "|---|---:|---:|---:|---:|---:|",
  ];
  try {
    for (let i = 0; i < KEYS; i++) await store.commit(token(i), DATA, new Date(Date.now() + HOUR));
    const expiry = () => julianDay(Date.now() + HOUR);
    const ops = {
      find: {
        store: (i: number) => store.find(token(i)),
        raw: (send: Raw) => (i: number) =>
          send("/db/query?level=weak", JSON.stringify([[FIND, token(i), julianDay(Date.now())]])),
      },
      commit: {
        store: (i: number) => store.commit(token(i), DATA, new Date(Date.now() + HOUR)),
        raw: (send: Raw) => (i: number) =>
          send("/db/execute", JSON.stringify([[COMMIT, token(i), HEX, expiry()]])),
      },
    };
    for (const [name, op] of Object.entries(ops)) {
      for (const c of [16, 64]) {
        const s: number[] = [];
        const r: number[] = [];
        const h: number[] = [];
        await throughput(c, 200, op.store); // warm-up: sockets open, JIT
        await throughput(c, 200, op.raw(raw.send));
        await throughput(c, 200, op.raw(rawHttp.send));
        for (let k = 0; k < rounds; k++) {
          // Alternate so drift (compaction, GC, snapshots) hits all three alike.
          s.push(await throughput(c, ms, op.store));
          r.push(await throughput(c, ms, op.raw(raw.send)));
          h.push(await throughput(c, ms, op.raw(rawHttp.send)));
        }
        const [ms1, mr, mh] = [median(s), median(r), median(h)];
        lines.push(
          `| ${name} | ${c} | ${fmt(ms1)} | ${fmt(mr)} | ${(ms1 / mr).toFixed(2)} | ${fmt(mh)} |`,
        );
      }
    }
  } finally {
    await store.close();
    await raw.close();
    await rawHttp.close();
    await cluster.close();
  }
  return `Median of ${rounds} rounds of ${ms} ms each; same statements, 200-byte data, ${KEYS} tokens.\n\n${lines.join("\n")}`;
}

/** (b) + (c): a 3-node cluster. */
async function cluster3(quick: boolean): Promise<string> {
  const out: string[] = [];
  const cluster = await startCluster(3);
  try {
    const leader = await cluster.leader();
    const follower = cluster.nodes.find((n) => n !== leader);
    const rounds = quick ? 5 : 7;
    const ms = quick ? 400 : 1500;
    out.push("| commit via | concurrency | RqliteStore ops/s |", "|---|---:|---:|");
    for (const [via, url] of [
      ["leader", leader.url],
      ["follower (forwards to leader)", follower?.url as string],
    ] as const) {
      const store = new RqliteStore(url, { table: TABLE, cleanupInterval: 0 });
      await store.find("warm-up");
      for (const c of [16, 64]) {
        const op = (i: number) => store.commit(token(i), DATA, new Date(Date.now() + HOUR));
        await throughput(c, 200, op);
        const xs: number[] = [];
        for (let k = 0; k < rounds; k++) xs.push(await throughput(c, ms, op));
        out.push(`| ${via} | ${c} | ${fmt(median(xs))} |`);
      }
      await store.close();
    }
  } finally {
    await cluster.close();
  }
  out.push("", await failover(quick ? 3 : 5, true));
  if (!quick) out.push("", await failover(2, false));
  return out.join("\n");
}

/** Leader SIGKILL under 16 concurrent writers: time until the next acknowledged write. */
async function failover(trials: number, fast: boolean): Promise<string> {
  const gaps: number[] = [];
  const firstAcks: number[] = [];
  let lostAcks = 0;
  let errors = 0;
  const cluster = await startCluster(3, { fastRaft: fast });
  try {
    for (let t = 0; t < trials; t++) {
      const conn = new RqliteConnection({ nodes: cluster.urls, timeout: 1000, deadline: 10_000 });
      const store = new RqliteStore(conn, { table: `failover_${t}`, cleanupInterval: 0 });
      await store.find("warm-up");
      const acked: string[] = [];
      const ackTimes: number[] = [];
      let stop = false;
      const writers = Promise.all(
        Array.from({ length: 16 }, async (_, w) => {
          for (let i = 0; !stop && i < 100_000; i++) {
            const tk = `f${w}-${i}`;
            try {
              await store.commit(tk, DATA, new Date(Date.now() + HOUR));
              acked.push(tk);
              ackTimes.push(performance.now());
            } catch {
              errors++;
            }
          }
        }),
      );
      await sleep(300);
      const leader = await cluster.leader();
      const killedAt = performance.now();
      await leader.kill();
      const deadline = killedAt + 20_000;
      while (performance.now() < deadline && !ackTimes.some((x) => x > killedAt + 50))
        await sleep(5);
      await sleep(300);
      stop = true;
      await writers;
      const after = ackTimes.filter((x) => x > killedAt).sort((a, b) => a - b);
      const before = ackTimes.filter((x) => x <= killedAt);
      firstAcks.push((after[0] ?? Number.NaN) - killedAt);
      // Longest stretch with no acknowledgement around the kill.
      let prev = before.length ? Math.max(...before) : killedAt;
      let gap = 0;
      for (const x of after) {
        gap = Math.max(gap, x - prev);
        prev = x;
      }
      gaps.push(gap);
      const all = await store.all();
      lostAcks += acked.filter((x) => !all.has(x)).length;
      await store.close();
      leader.spawn();
      await Promise.all(cluster.nodes.map((n) => n.waitReady()));
    }
  } finally {
    await cluster.close();
  }
  const f = (xs: number[]) => xs.map((x) => Math.round(x)).join(", ");
  return [
    `Failover (${fast ? "fast Raft flags: 100 ms timeouts" : "rqlited default Raft timeouts"}), leader SIGKILLed under 16 concurrent writers, ${trials} trials:`,
    `- kill → first write acknowledged after it: ${f(firstAcks)} ms (median ${Math.round(median(firstAcks))})`,
    `- longest stretch without an acknowledged write: ${f(gaps)} ms (median ${Math.round(median(gaps))})`,
    `- acknowledged writes missing afterwards: ${lostAcks}; calls that failed (StoreUnavailableError): ${errors}`,
  ].join("\n");
}

/**
 * (d) On a 3-node cluster, through the leader, 16 concurrent operations, the variants alternated
 * round by round: commit and delete with tombstones (the default) and without; find at each
 * read consistency (default = weak, strong only while the cluster may be recovering).
 */
async function safetyCost(quick: boolean): Promise<string> {
  const cluster = await startCluster(3);
  const rounds = quick ? 5 : 7;
  const ms = quick ? 400 : 1500;
  const c = 16;
  const lines = ["| op | variant | ops/s | vs first row |", "|---|---|---:|---:|"];
  try {
    const leader = await cluster.leader();
    const on = new RqliteStore(leader.url, { table: "cost_on", cleanupInterval: 0 });
    const off = new RqliteStore(leader.url, {
      table: "cost_off",
      cleanupInterval: 0,
      versions: false,
    });
    const reads = (["weak", "none", "linearizable", "strong"] as const).map(
      (level) =>
        [
          level,
          new RqliteStore(leader.url, {
            table: "cost_on",
            cleanupInterval: 0,
            readConsistency: level,
          }),
        ] as const,
    );
    const stores = [on, off, ...reads.map(([, st]) => st)];
    for (const st of [on, off]) {
      for (let i = 0; i < KEYS; i++) await st.commit(token(i), DATA, new Date(Date.now() + HOUR));
    }
    for (const st of stores) await st.find("warm-up");
    let n = 0;
    const groups: [string, [string, (i: number) => Promise<unknown>][]][] = [
      [
        "commit",
        [
          ["versions (default)", (i) => on.commit(token(i), DATA, new Date(Date.now() + HOUR))],
          ["no versions", (i) => off.commit(token(i), DATA, new Date(Date.now() + HOUR))],
        ],
      ],
      [
        // Each delete retires a token never used before: the tombstone is a new row every time.
        "delete",
        [
          ["versions (default)", () => on.delete(`gone-${n++}`)],
          ["no versions", () => off.delete(`gone-${n++}`)],
        ],
      ],
      [
        "find",
        [
          ["default (weak)", (i) => on.find(token(i))],
          ...reads.map(
            ([level, st]) =>
              [level, (i: number) => st.find(token(i))] as [
                string,
                (i: number) => Promise<unknown>,
              ],
          ),
        ],
      ],
    ];
    for (const [name, variants] of groups) {
      const xs = variants.map(() => [] as number[]);
      for (const [, op] of variants) await throughput(c, 200, op);
      for (let k = 0; k < rounds; k++) {
        for (const [j, [, op]] of variants.entries()) xs[j]?.push(await throughput(c, ms, op));
      }
      const first = median(xs[0] ?? []);
      for (const [j, [label]] of variants.entries()) {
        const m = median(xs[j] ?? []);
        lines.push(`| ${name} | ${label} | ${fmt(m)} | ${(m / first).toFixed(2)} |`);
      }
    }
    for (const st of stores) await st.close();
  } finally {
    await cluster.close();
  }
  return `Median of ${rounds} rounds of ${ms} ms, ${c} concurrent, through the leader of a 3-node cluster (fast Raft flags).\n\n${lines.join("\n")}`;
}

/** Runs every part and returns a markdown report. */
export async function runRqliteBench(opts: {
  quick: boolean;
  onlyCost?: boolean;
}): Promise<string> {
  if (opts.onlyCost) return `### Safety costs\n\n${await safetyCost(opts.quick)}`;
  const parts = [
    "### RqliteStore vs raw HTTP (one rqlited node)",
    await singleNode(opts.quick),
    "### 3-node cluster",
    await cluster3(opts.quick),
    "### Safety costs: tombstones and read consistency",
    await safetyCost(opts.quick),
  ];
  return parts.join("\n\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(
    await runRqliteBench({
      quick: process.argv.includes("--quick"),
      onlyCost: process.argv.includes("--only-cost"),
    }),
  );
}
