/**
 * A bounded load generator for the demo app, shared by the 10 s load tests, the fault tests and
 * `npm run soak`: N clients, each with its own cookie jar and keep-alive connection, a 70 % read
 * / 25 % write / 5 % renew-or-destroy mix, stopping at a deadline AND a request budget (or an
 * abort signal). Each client knows the visit counter the server acknowledged, so a write the
 * server confirmed and later forgot shows up as a lost write.
 * @module
 */
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { createHistogram, monitorEventLoopDelay } from "node:perf_hooks";
import { Client } from "undici";
import { createDemoApp, type DemoApp } from "../../examples/demo/app.ts";
import type { SessionManagerOptions } from "../../src/index.ts";

/**
 * The demo app plus two JSON routes the load needs, on the same session manager:
 * `GET /api/visits` (a pure read: `{"visits":N}`, no commit) and `POST /api/destroy`.
 * Every other path goes to the demo unchanged (`GET /` is the write, `/signin` and `/signout`
 * renew the token).
 * @returns the demo's server (not listening) and its session manager.
 */
export function createLoadApp(sessions: SessionManagerOptions = {}): DemoApp {
  const demo = createDemoApp({ sessions });
  const [demoListener] = demo.server.listeners("request") as RequestListener[];
  if (demoListener === undefined) throw new Error("the demo server has no request listener");
  const api = demo.sessions.handler(async (req: IncomingMessage, res: ServerResponse) => {
    const session = demo.sessions.from(req);
    res.setHeader("Content-Type", "application/json");
    if (req.method === "GET" && req.url === "/api/visits") {
      res.end(JSON.stringify({ visits: session.getNumber("visits") }));
    } else if (req.method === "POST" && req.url === "/api/destroy") {
      await session.destroy();
      res.end('{"destroyed":true}');
    } else {
      res.statusCode = 404;
      res.end('{"error":"not found"}');
    }
  });
  demo.server.removeAllListeners("request");
  demo.server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith("/api/")) api(req, res);
    else demoListener(req, res);
  });
  return demo;
}

/** One look at the server process. */
export interface ServerSample {
  /** Resident set size, bytes. */
  rss: number;
  /** Event-loop delay p99 since the previous sample, ms. */
  eventLoopDelayP99: number;
}

/** A sample with the time it was taken and the load so far. */
export interface TimedSample extends ServerSample {
  /** Seconds since the load started. */
  at: number;
  /** Requests completed so far. */
  requests: number;
}

/** What a request ended with: an HTTP status, or a client-side timeout or connection error. */
export type Outcome = number | "timeout" | "error";

/** The kinds of requests the clients send. */
export type RequestKind = "read" | "write" | "renew" | "destroy" | "verify";

/** Options of {@link runLoad}. */
export interface LoadOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** Concurrent clients, each with its own cookie jar and connection. */
  clients: number;
  /** Stop sending new requests after this many ms. */
  durationMs: number;
  /** Stop after this many requests in all (the second bound). */
  maxRequests: number;
  /** Client-side limit per request, ms; a request that hits it counts as "timeout". @default 10_000 */
  requestTimeoutMs?: number;
  /** Stops the load early (the clients finish the request in flight). */
  signal?: AbortSignal;
  /** Reads the server's RSS and event-loop delay; called every `sampleEveryMs`. */
  probe?: () => ServerSample | Promise<ServerSample>;
  /** @default 5_000 */
  sampleEveryMs?: number;
  /** Seed of the clients' random mix. @default 1 */
  seed?: number;
  /** Told about every request as it ends (fault tests build their timeline from it). */
  onResult?: (result: { at: number; kind: RequestKind; outcome: Outcome; ms: number }) => void;
  /**
   * After the load, each client reads its counter once more (retrying a non-2xx answer every
   * 200 ms for up to this many ms) to check that nothing acknowledged was lost. @default 10_000
   */
  verifyWithinMs?: number;
}

/** The result of {@link runLoad}. */
export interface LoadReport {
  /** Requests sent during the load (the verification reads not included). */
  requests: number;
  durationMs: number;
  requestsPerSecond: number;
  /** Count per HTTP status, plus "timeout" and "error". */
  outcomes: Record<string, number>;
  /** Answers with a 5xx status. */
  serverErrors: number;
  /** Requests that hit the client-side timeout. */
  timeouts: number;
  /** Latency in ms over every request. */
  latency: { p50: number; p99: number; max: number };
  /** Writes the server acknowledged with a counter value. */
  acknowledgedWrites: number;
  /** Acknowledged counter increments the server later did not show (summed over clients). */
  lostWrites: number;
  /** Clients whose counter came back higher than acknowledged with no failed request to explain it. */
  unexplainedGains: number;
  /** Times a client had to take the server's value after a request whose outcome it could not know. */
  resyncs: number;
  /** Of those, how many found the counter lower than before (the session was lost in the failure). */
  resetsAfterFailure: number;
  /** Clients whose final verification read did not get a 2xx in time. */
  unverifiedClients: number;
  samples: TimedSample[];
}

/** A small seeded PRNG (mulberry32): the mix is the same from run to run. */
function prng(seed: number): () => number {
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
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface ClientState {
  http: Client;
  cookie: string | undefined;
  /** The counter value the server last confirmed. */
  acked: number;
  /** A mutating request failed: the server may or may not have applied it. */
  uncertain: boolean;
  signedIn: boolean;
}

/**
 * Runs the load until the deadline, the request budget or the abort signal, then verifies each
 * client's counter.
 * @returns counts, latency, lost writes and server samples.
 * @example
 * const report = await runLoad({ url, clients: 200, durationMs: 10_000, maxRequests: 200_000 });
 */
export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const timeout = options.requestTimeoutMs ?? 10_000;
  const origin = new URL(options.url).origin;
  const started = performance.now();
  const deadline = started + options.durationMs;
  const histogram = createHistogram();
  const outcomes: Record<string, number> = {};
  const totals = {
    requests: 0,
    acknowledgedWrites: 0,
    lostWrites: 0,
    unexplainedGains: 0,
    resyncs: 0,
    resetsAfterFailure: 0,
    unverifiedClients: 0,
  };
  let budget = options.maxRequests;
  const samples: TimedSample[] = [];

  const stopped = () =>
    budget <= 0 || performance.now() >= deadline || options.signal?.aborted === true;

  async function send(
    c: ClientState,
    kind: RequestKind,
    method: string,
    path: string,
    body?: string,
  ): Promise<{ outcome: Outcome; text: string }> {
    const t0 = performance.now();
    let outcome: Outcome;
    let text = "";
    try {
      const headers: Record<string, string> = {};
      if (c.cookie !== undefined) headers.cookie = `session=${c.cookie}`;
      if (body !== undefined) headers["content-type"] = "application/x-www-form-urlencoded";
      const res = await c.http.request({
        method,
        path,
        headers,
        body: body ?? (method === "POST" ? "" : undefined),
        signal: AbortSignal.timeout(timeout),
      });
      text = await res.body.text();
      outcome = res.statusCode;
      updateJar(c, res.headers["set-cookie"]);
    } catch (err) {
      const name = (err as { name?: string }).name;
      outcome = name === "TimeoutError" || name === "AbortError" ? "timeout" : "error";
    }
    const ms = performance.now() - t0;
    if (kind !== "verify") {
      histogram.record(Math.max(1, Math.round(ms * 1000)));
      outcomes[String(outcome)] = (outcomes[String(outcome)] ?? 0) + 1;
      totals.requests++;
    }
    options.onResult?.({ at: performance.now() - started, kind, outcome, ms });
    return { outcome, text };
  }

  /** The server shows `value` where the client expected `expected`. */
  function observe(c: ClientState, value: number, expected: number): void {
    if (c.uncertain) {
      totals.resyncs++;
      if (value < expected) totals.resetsAfterFailure++;
      c.uncertain = false;
    } else if (value < expected) {
      totals.lostWrites += expected - value;
    } else if (value > expected) {
      totals.unexplainedGains++;
    }
    c.acked = value;
  }

  const ok = (o: Outcome) => typeof o === "number" && o >= 200 && o < 400;

  async function step(c: ClientState, rand: () => number, id: number): Promise<void> {
    const r = rand();
    if (r < 0.7) {
      const { outcome, text } = await send(c, "read", "GET", "/api/visits");
      if (outcome === 200) observe(c, (JSON.parse(text) as { visits: number }).visits, c.acked);
    } else if (r < 0.95) {
      const { outcome, text } = await send(c, "write", "GET", "/");
      const m = outcome === 200 ? VISITS_HTML.exec(text) : null;
      if (m) {
        totals.acknowledgedWrites++;
        observe(c, Number(m[1]), c.acked + 1);
      } else c.uncertain = true;
    } else if (r < 0.99) {
      // Sign in or out: both renew the token and keep the counter.
      const path = c.signedIn ? "/signout" : "/signin";
      const { outcome } = await send(c, "renew", "POST", path, `username=u${id}&remember=on`);
      if (ok(outcome)) c.signedIn = !c.signedIn;
      else c.uncertain = true;
    } else {
      const { outcome } = await send(c, "destroy", "POST", "/api/destroy");
      if (outcome === 200) {
        c.acked = 0;
        c.uncertain = false;
        c.signedIn = false;
      } else c.uncertain = true;
    }
  }

  async function verify(c: ClientState): Promise<void> {
    const until = performance.now() + (options.verifyWithinMs ?? 10_000);
    for (;;) {
      const { outcome, text } = await send(c, "verify", "GET", "/api/visits");
      if (outcome === 200) {
        observe(c, (JSON.parse(text) as { visits: number }).visits, c.acked);
        return;
      }
      if (performance.now() >= until) {
        totals.unverifiedClients++;
        return;
      }
      await sleep(200);
    }
  }

  async function client(id: number): Promise<void> {
    const rand = prng((options.seed ?? 1) * 7919 + id);
    const c: ClientState = {
      http: new Client(origin, { pipelining: 1, keepAliveTimeout: 30_000 }),
      cookie: undefined,
      acked: 0,
      uncertain: false,
      signedIn: false,
    };
    try {
      while (!stopped()) {
        budget--;
        await step(c, rand, id);
      }
      await verify(c);
    } finally {
      await c.http.close().catch(() => c.http.destroy());
    }
  }

  let sampling: Promise<void> = Promise.resolve();
  const probe = options.probe;
  const sampler =
    probe === undefined
      ? undefined
      : setInterval(() => {
          sampling = sampling.then(async () => {
            const s = await probe();
            const at = Math.round((performance.now() - started) / 100) / 10;
            samples.push({ ...s, at, requests: totals.requests });
          });
        }, options.sampleEveryMs ?? 5_000);
  sampler?.unref();

  try {
    await Promise.all(Array.from({ length: options.clients }, (_, i) => client(i)));
  } finally {
    if (sampler) clearInterval(sampler);
  }
  await sampling;
  const durationMs = performance.now() - started;
  const pct = (p: number) => Math.round(histogram.percentile(p) / 10) / 100;
  return {
    ...totals,
    durationMs: Math.round(durationMs),
    requestsPerSecond: Math.round((totals.requests / durationMs) * 1000),
    outcomes,
    serverErrors: Object.entries(outcomes)
      .filter(([k]) => k.startsWith("5"))
      .reduce((n, [, v]) => n + v, 0),
    timeouts: outcomes.timeout ?? 0,
    latency: { p50: pct(50), p99: pct(99), max: Math.round(histogram.max / 10) / 100 },
    samples,
  };
}

function updateJar(c: ClientState, setCookie: string | string[] | undefined): void {
  if (setCookie === undefined) return;
  for (const line of Array.isArray(setCookie) ? setCookie : [setCookie]) {
    if (!line.startsWith("session=")) continue;
    const value = line.slice(
      "session=".length,
      line.indexOf(";") === -1 ? undefined : line.indexOf(";"),
    );
    c.cookie = value === "" || /Max-Age=0/i.test(line) ? undefined : value;
  }
}

/**
 * Samples this process: RSS and the event-loop delay p99 between samples (the in-process
 * server shares the loop with the load, so the figure includes the clients' own work).
 * @returns `sample` for {@link LoadOptions.probe}, the whole-run p99 and `stop`.
 */
export function inProcessProbe(): {
  sample: () => ServerSample;
  overallP99: () => number;
  stop: () => void;
} {
  const interval = monitorEventLoopDelay({ resolution: 10 });
  const overall = monitorEventLoopDelay({ resolution: 10 });
  interval.enable();
  overall.enable();
  const ms = (ns: number) => Math.round(ns / 10_000) / 100;
  return {
    sample: () => {
      const s = { rss: process.memoryUsage.rss(), eventLoopDelayP99: ms(interval.percentile(99)) };
      interval.reset();
      return s;
    },
    overallP99: () => ms(overall.percentile(99)),
    stop: () => {
      interval.disable();
      overall.disable();
    },
  };
}

/** Formats a report in a few lines for console output. */
export function formatReport(label: string, r: LoadReport): string {
  const mb = (b: number) => (b / 1_048_576).toFixed(0);
  const curve = r.samples.map((s) => `${s.at}s:${mb(s.rss)}MB`).join(" ");
  const elp = r.samples.map((s) => s.eventLoopDelayP99).join(" ");
  return [
    `${label}: ${r.requests} requests in ${r.durationMs} ms (${r.requestsPerSecond} req/s)`,
    `  outcomes ${JSON.stringify(r.outcomes)}; latency p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, max ${r.latency.max} ms`,
    `  acknowledged writes ${r.acknowledgedWrites}, lost ${r.lostWrites}, unexplained gains ${r.unexplainedGains}, resyncs ${r.resyncs} (resets ${r.resetsAfterFailure}), unverified clients ${r.unverifiedClients}`,
    curve === "" ? "" : `  RSS ${curve}`,
    elp === "" ? "" : `  event-loop delay p99 per sample (ms): ${elp}`,
  ]
    .filter((l) => l !== "")
    .join("\n");
}

/**
 * Starts {@link runLoad} in the background (fault tests: load flows while nodes die).
 * @returns `stop()`, which ends the load, runs the verification reads and resolves the report.
 */
export function startLoad(options: Omit<LoadOptions, "signal">): {
  stop: () => Promise<LoadReport>;
  done: Promise<LoadReport>;
} {
  const controller = new AbortController();
  const done = runLoad({ ...options, signal: controller.signal });
  return {
    done,
    stop: () => {
      controller.abort();
      return done;
    },
  };
}

/** Options of {@link loadThroughFault}. */
export interface FaultRunOptions {
  url: string;
  /** @default 20 */
  clients?: number;
  /** Client-side limit per request, ms (the store deadline times the store calls per request, plus a margin). */
  requestTimeoutMs: number;
  /** Breaks something (kill, pause). */
  fault: () => Promise<void>;
  /** How long the fault lasts before `repair`, ms. */
  faultMs: number;
  /** Puts it back (restart, resume); resolves when the repair is done. */
  repair: () => Promise<void>;
  /** Longest wait for a successful request after the repair, ms. @default 15_000 */
  recoverWithinMs?: number;
  /** Steady traffic before the fault, ms. @default 1_000 */
  warmupMs?: number;
}

/** What {@link loadThroughFault} saw. All times in ms from the start of the load. */
export interface FaultRun {
  report: LoadReport;
  faultAt: number;
  repairedAt: number;
  /** First successful request that started after the fault, or undefined. */
  firstSuccessAfterFault: number | undefined;
  /** First successful request that started after the repair, or undefined (never recovered). */
  firstSuccessAfterRepair: number | undefined;
  /** Longest time without any successful answer, from the fault on. */
  longestGap: number;
  /** Outcomes of requests that ended between the fault and the repair. */
  duringFault: Record<string, number>;
  /** Slowest request that ended during the fault or the recovery, ms. */
  slowestDuringFault: number;
}

/**
 * Runs a bounded load, applies `fault`, waits `faultMs`, applies `repair`, waits until a request
 * succeeds again (or `recoverWithinMs`), then stops the load and verifies every client's counter.
 * @returns the load report and the fault's timeline figures.
 */
export async function loadThroughFault(o: FaultRunOptions): Promise<FaultRun> {
  const events: { start: number; end: number; outcome: Outcome }[] = [];
  const okOutcome = (x: Outcome) => typeof x === "number" && x >= 200 && x < 400;
  const load = startLoad({
    url: o.url,
    clients: o.clients ?? 20,
    durationMs: 120_000,
    maxRequests: 100_000,
    requestTimeoutMs: o.requestTimeoutMs,
    onResult: (r) => {
      if (r.kind !== "verify") events.push({ start: r.at - r.ms, end: r.at, outcome: r.outcome });
    },
  });
  const t0 = performance.now();
  const clock = () => performance.now() - t0;
  await sleep(o.warmupMs ?? 1_000);
  const faultAt = clock();
  await o.fault();
  await sleep(o.faultMs);
  await o.repair();
  const repairedAt = clock();
  const until = repairedAt + (o.recoverWithinMs ?? 15_000);
  const successAfter = (t: number) => events.find((e) => e.start > t && okOutcome(e.outcome))?.end;
  while (successAfter(repairedAt) === undefined && clock() < until) await sleep(50);
  await sleep(300);
  const report = await load.stop();

  const duringFault: Record<string, number> = {};
  let slowest = 0;
  for (const e of events) {
    if (e.end >= faultAt && e.end <= repairedAt) {
      duringFault[String(e.outcome)] = (duringFault[String(e.outcome)] ?? 0) + 1;
    }
    if (e.end >= faultAt) slowest = Math.max(slowest, e.end - e.start);
  }
  const successes = events
    .filter((e) => okOutcome(e.outcome) && e.end >= faultAt)
    .map((e) => e.end)
    .sort((a, b) => a - b);
  let longestGap = 0;
  let last = faultAt;
  for (const t of successes) {
    longestGap = Math.max(longestGap, t - last);
    last = t;
  }
  const round = (n: number | undefined) => (n === undefined ? undefined : Math.round(n));
  return {
    report,
    faultAt: Math.round(faultAt),
    repairedAt: Math.round(repairedAt),
    firstSuccessAfterFault: round(successAfter(faultAt)),
    firstSuccessAfterRepair: round(successAfter(repairedAt)),
    longestGap: Math.round(longestGap),
    duringFault,
    slowestDuringFault: Math.round(slowest),
  };
}
