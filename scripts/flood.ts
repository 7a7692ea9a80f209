/**
 * `npm run flood`: a flood of cookieless session-creating requests (`GET /`, which counts a
 * visit and so writes a new session each time) against the demo app on MemStore, with the
 * server in a child process whose RSS is sampled, while a "loyal" client signed in at the start
 * keeps using its session. Bounded in count and in time; stops by itself.
 *
 * Usage: tsx scripts/flood.ts [--requests 2000000] [--seconds 1800] [--max-bytes N]
 *        [--connections 32] [--out bench/flood]
 * Without --max-bytes the demo runs exactly as `npm start` does (MemStore's default bound).
 * Writes <out>.svg (the RSS curve) and <out>.csv, and prints the figures.
 * test/load/flood.test.ts runs a short version with a small maxBytes.
 * @module
 */
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = fileURLToPath(import.meta.url);
const require = createRequire(import.meta.url);

/** What {@link runFlood} does. */
export interface FloodOptions {
  /** Cookieless requests to send. */
  requests: number;
  /** Stop the flood after this many seconds even if not all were sent. */
  maxSeconds: number;
  /** MemStore maxBytes of the server; undefined: the demo's default store. */
  maxBytes?: number;
  /** Concurrent keep-alive connections of the flood. @default 32 */
  connections?: number;
  /** Milliseconds between two RSS samples. @default 500 */
  sampleEveryMs?: number;
  /** Milliseconds between two requests of the loyal client. @default 100 */
  loyalEveryMs?: number;
  /** Cookieless requests before the baseline RSS is taken. @default 5000 */
  warmup?: number;
  /** Progress lines. @default nothing */
  log?: (line: string) => void;
}

/** One sample of the server process. */
export interface FloodSample {
  /** ms since the flood started. */
  t: number;
  /** Flood responses received so far. */
  requests: number;
  rss: number;
  heapUsed: number;
  external: number;
  /** MemStore size and bytes (as maxBytes counts them). */
  sessions: number;
  storeBytes: number;
}

/** What a flood run measured. */
export interface FloodReport {
  /** Cookieless requests of the warm-up, before the baseline RSS. */
  warmup: number;
  requests: number;
  seconds: number;
  /** Flood responses by status code. */
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  maxBytes: number;
  /** The stated margin over the RSS before the flood plus maxBytes. */
  marginBytes: number;
  baselineRss: number;
  /** Heap used + external after a full GC, before the flood and after it. */
  liveBefore: number;
  liveAfter: number;
  maxRss: number;
  maxStoreBytes: number;
  finalSessions: number;
  samples: FloodSample[];
  loyal: {
    requests: number;
    failures: string[];
    signedIn: boolean;
    visits: number;
    slowestMs: number;
  };
}

/** The margin over (RSS before the flood + maxBytes) the RSS must stay under. */
export function floodMargin(maxBytes: number): number {
  // The bound counts the live bytes of the sessions (heap + external after a full GC: measured
  // within 10 % of it). RSS adds the garbage collector's headroom: every evicted session is old
  // garbage by the time it is evicted, and V8 lets the old generation grow to up to 4 times the
  // live heap before its next full collection; plus the young generation and code. Measured at
  // 64 MiB on a quiet machine (~8,000 req/s): RSS up to 5.1 × maxBytes over the RSS before the
  // flood, just before the first full collection. Four times the bound plus 64 MiB.
  return 4 * maxBytes + 64 * 1_048_576;
}

type ToChild = { type: "sample"; id: number; gc?: boolean } | { type: "stop" };
type FromChild =
  | { type: "listening"; port: number; maxBytes: number }
  | { type: "sample"; id: number; sample: Omit<FloodSample, "t" | "requests"> };

// ------------------------------------------------------------------ the server child

async function serve(maxBytes: number | undefined): Promise<void> {
  const { createDemoApp } = await import("../examples/demo/app.ts");
  const { MemStore } = await import("../src/stores/memstore.ts");
  const { MEMSTORE_DEFAULT_MAX_BYTES } = await import("../src/stores/memstore.ts");
  const store = maxBytes === undefined ? undefined : new MemStore({ maxBytes });
  const { server, sessions } = createDemoApp({ sessions: store ? { store } : {} });
  const held = sessions.store as InstanceType<typeof MemStore>;
  const send = (m: FromChild) => process.send?.(m);
  process.on("message", (m: ToChild) => {
    if (m.type === "sample") {
      if (m.gc === true) {
        const gc = (globalThis as { gc?: () => void }).gc;
        gc?.();
        gc?.();
      }
      const mem = process.memoryUsage();
      send({
        type: "sample",
        id: m.id,
        sample: {
          rss: mem.rss,
          heapUsed: mem.heapUsed,
          external: mem.external,
          sessions: held.size,
          storeBytes: held.bytes,
        },
      });
    } else {
      server.close();
      server.closeAllConnections();
      void sessions.close().then(() => process.disconnect());
    }
  });
  process.on("disconnect", () => process.exit(0));
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo;
    send({ type: "listening", port, maxBytes: maxBytes ?? MEMSTORE_DEFAULT_MAX_BYTES });
  });
}

// ------------------------------------------------------------------ the load (parent)

/** The part of autocannon's instance this script uses (it ships no types). */
interface Cannon {
  on(event: "response", fn: (client: unknown, status: number) => void): void;
  on(event: "done", fn: (result: { errors: number; timeouts: number }) => void): void;
  stop(): void;
}
const autocannon = require("autocannon") as (opts: Record<string, unknown>) => Cannon;

/** `promise`, or a rejection with `message` after `ms` (the timer is cleared either way). */
async function within<T>(ms: number, message: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends `amount` cookieless GET / (stopped after `maxMs`). */
function cannon(
  url: string,
  amount: number,
  connections: number,
  maxMs: number,
  onResponse: (status: number) => void,
): Promise<{ errors: number; timeouts: number }> {
  const instance = autocannon({ url, amount, connections, timeout: 10 });
  instance.on("response", (_client, status) => onResponse(status));
  const timer = setTimeout(() => instance.stop(), maxMs);
  return new Promise((resolve) =>
    instance.on("done", (result) => {
      clearTimeout(timer);
      resolve({ errors: result.errors, timeouts: result.timeouts });
    }),
  );
}

interface Reply {
  status: number;
  body: string;
  cookie: string | undefined;
}

function call(
  agent: Agent,
  port: number,
  method: string,
  path: string,
  cookie: string | undefined,
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (cookie !== undefined) headers.cookie = cookie;
    if (body !== undefined) headers["content-type"] = "application/x-www-form-urlencoded";
    const req = request(
      { host: "127.0.0.1", port, method, path, agent, headers, timeout: 10_000 },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => {
          const set = res.headers["set-cookie"]?.[0];
          resolve({ status: res.statusCode ?? 0, body: text, cookie: set?.split(";")[0] });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out after 10 s")));
    req.on("error", reject);
    req.end(body);
  });
}

/** A client signed in as "loyal" that loads `/` every `everyMs` until stopped. */
function loyalClient(port: number, everyMs: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const state = { requests: 0, failures: [] as string[], visits: 0, slowestMs: 0 };
  let cookie: string | undefined;
  let stopped = false;
  let loop: Promise<void> = Promise.resolve();
  const visit = async (): Promise<boolean> => {
    const start = performance.now();
    try {
      const r = await call(agent, port, "GET", "/", cookie);
      state.requests++;
      state.slowestMs = Math.max(state.slowestMs, performance.now() - start);
      if (r.cookie !== undefined) cookie = r.cookie;
      const visits = Number(/id="visits">(\d+)</.exec(r.body)?.[1] ?? Number.NaN);
      const signedIn = r.body.includes('Signed in as <strong id="user">loyal</strong>');
      if (r.status !== 200 || !signedIn || visits !== state.visits + 1) {
        state.failures.push(`status ${r.status}, signed in ${signedIn}, visits ${visits}`);
        return false;
      }
      state.visits = visits;
      return true;
    } catch (err) {
      state.failures.push(String(err));
      return false;
    }
  };
  return {
    state,
    async signIn(): Promise<void> {
      const r = await call(agent, port, "POST", "/signin", undefined, "username=loyal");
      if (r.status !== 303 || r.cookie === undefined) throw new Error(`sign-in got ${r.status}`);
      cookie = r.cookie;
      if (!(await visit())) throw new Error(`the loyal client: ${state.failures.join("; ")}`);
    },
    start(): void {
      loop = (async () => {
        while (!stopped) {
          await visit();
          await new Promise((r) => setTimeout(r, everyMs));
        }
      })();
    },
    /** Stops the loop; one last visit says whether the session is still there. */
    async stop(): Promise<boolean> {
      stopped = true;
      await loop;
      const ok = await visit();
      agent.destroy();
      return ok;
    },
  };
}

/**
 * Runs one flood against the demo in a child process.
 * @returns the figures, the RSS samples and what the loyal client saw.
 */
export async function runFlood(o: FloodOptions): Promise<FloodReport> {
  const log = o.log ?? (() => {});
  const serveArgs = ["--serve", ...(o.maxBytes === undefined ? [] : [String(o.maxBytes)])];
  const child: ChildProcess = fork(here, serveArgs, {
    execArgv: ["--expose-gc", "--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill);
  try {
    const ready = (await within(30_000, "no server in 30 s", once(child, "message"))) as [
      FromChild,
    ];
    const first = ready[0];
    if (first.type !== "listening") throw new Error("the server child did not start");
    const url = `http://127.0.0.1:${first.port}/`;
    const connections = o.connections ?? 32;

    let nextId = 0;
    const waiting = new Map<number, (s: FloodSample) => void>();
    let floodStart = performance.now();
    let requests = 0;
    child.on("message", (m: FromChild) => {
      if (m.type !== "sample") return;
      const done = waiting.get(m.id);
      waiting.delete(m.id);
      done?.({ t: performance.now() - floodStart, requests, ...m.sample });
    });
    /** A sample; with `gc`, taken after a full collection (heap used is then the live heap). */
    const sample = (gc = false): Promise<FloodSample> =>
      new Promise((resolve) => {
        const id = nextId++;
        waiting.set(id, resolve);
        child.send({ type: "sample", id, gc } satisfies ToChild);
      });

    const loyal = loyalClient(first.port, o.loyalEveryMs ?? 100);
    await loyal.signIn();
    const warmup = o.warmup ?? 5000;
    await cannon(url, warmup, connections, 60_000, () => {});
    const live0 = await sample(true);
    const baseline = await sample();
    log(`baseline RSS ${(baseline.rss / 1_048_576).toFixed(1)} MiB after ${warmup} requests`);

    const statuses: Record<string, number> = {};
    const samples: FloodSample[] = [];
    floodStart = performance.now();
    samples.push(await sample());
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await new Promise((r) => setTimeout(r, o.sampleEveryMs ?? 500));
        const s = await sample();
        samples.push(s);
        if (samples.length % 20 === 0) {
          log(
            `${(s.t / 1000).toFixed(0)} s: ${s.requests} requests, RSS ${(s.rss / 1_048_576).toFixed(1)} MiB, ${s.sessions} sessions`,
          );
        }
      }
    })();
    loyal.start();
    const result = await cannon(url, o.requests, connections, o.maxSeconds * 1000, (status) => {
      requests++;
      statuses[status] = (statuses[status] ?? 0) + 1;
    });
    const seconds = (performance.now() - floodStart) / 1000;
    const signedIn = await loyal.stop();
    sampling = false;
    await sampler;
    samples.push(await sample());
    const live1 = await sample(true);
    child.send({ type: "stop" } satisfies ToChild);
    await within(5000, "", once(child, "exit")).catch(() => {}); // killed below if still there
    const maxBytes = first.maxBytes;
    return {
      warmup,
      requests,
      seconds,
      statuses,
      errors: result.errors,
      timeouts: result.timeouts,
      maxBytes,
      marginBytes: floodMargin(maxBytes),
      baselineRss: baseline.rss,
      liveBefore: live0.heapUsed + live0.external,
      liveAfter: live1.heapUsed + live1.external,
      maxRss: Math.max(...samples.map((s) => s.rss)),
      maxStoreBytes: Math.max(...samples.map((s) => s.storeBytes)),
      finalSessions: samples[samples.length - 1]!.sessions,
      samples,
      loyal: { ...loyal.state, signedIn },
    };
  } finally {
    kill();
    process.removeListener("exit", kill);
  }
}

/** The figures of a run, as lines for the terminal and the README. */
export function formatFlood(r: FloodReport): string {
  const mib = (n: number) => `${(n / 1_048_576).toFixed(1)} MiB`;
  return [
    `requests ${r.requests} in ${r.seconds.toFixed(1)} s (${Math.round(r.requests / r.seconds)} req/s), statuses ${JSON.stringify(r.statuses)}, errors ${r.errors}, timeouts ${r.timeouts}`,
    `maxBytes ${mib(r.maxBytes)}; store bytes at most ${mib(r.maxStoreBytes)}; sessions held at the end ${r.finalSessions}`,
    `RSS before the flood ${mib(r.baselineRss)}, at most ${mib(r.maxRss)} (+${mib(r.maxRss - r.baselineRss)}); limit ${mib(r.baselineRss + r.maxBytes + r.marginBytes)} (margin ${mib(r.marginBytes)})`,
    `live heap + external after a full GC: ${mib(r.liveBefore)} before, ${mib(r.liveAfter)} after (+${mib(r.liveAfter - r.liveBefore)})`,
    `loyal client: ${r.loyal.requests} requests, ${r.loyal.failures.length} failures, visits ${r.loyal.visits}, slowest ${r.loyal.slowestMs.toFixed(0)} ms, signed in at the end: ${r.loyal.signedIn}`,
  ].join("\n");
}

// ------------------------------------------------------------------ command line

if (process.argv[1] === here) {
  const serveAt = process.argv.indexOf("--serve");
  if (serveAt !== -1) {
    const arg = process.argv[serveAt + 1];
    await serve(arg === undefined ? undefined : Number(arg));
  } else {
    const { values } = parseArgs({
      options: {
        requests: { type: "string", default: "2000000" },
        seconds: { type: "string", default: "1800" },
        "max-bytes": { type: "string" },
        connections: { type: "string", default: "32" },
        out: { type: "string", default: "bench/flood" },
      },
    });
    const report = await runFlood({
      requests: Number(values.requests),
      maxSeconds: Number(values.seconds),
      maxBytes: values["max-bytes"] === undefined ? undefined : Number(values["max-bytes"]),
      connections: Number(values.connections),
      log: (line) => console.log(line),
    });
    const { floodChart, floodCsv } = await import("./flood-chart.ts");
    writeFileSync(`${values.out}.csv`, floodCsv(report));
    writeFileSync(
      `${values.out}.svg`,
      floodChart(report, "Flood of cookieless session-creating requests: server RSS"),
    );
    console.log(formatFlood(report));
    console.log(`wrote ${values.out}.svg and ${values.out}.csv`);
  }
}
