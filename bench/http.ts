/**
 * Section 1, HTTP overhead: the same handler body on node:http, Express 5, Fastify 5, Koa 3 and
 * Hono 4 (on @hono/node-server), each bare, with scs-ts (its adapter, and its drop-in where
 * there is one) and with that framework's usual session library, in READ and WRITE modes.
 * Hono also runs its WRITE ceiling: bare Hono plus one response header set after `next()`.
 *
 * Every server runs in its own child process pinned to core 0; the load generator (wrk, one
 * thread, or autocannon when wrk cannot be had) runs pinned to core 1. Each round runs every
 * block (one framework and mode: its bare baseline before and after each variant) back to
 * back; ratios are taken against the baselines around each run. A block during which the
 * machine was noisy (hypervisor steal, other processes' CPU: see lib/noise.ts) is run again,
 * up to {@link MAX_RETRIES} times; one that stays noisy is kept and marked.
 *
 * Usage: npx tsx bench/http.ts [--quick] [--groups=node,express,fastify,koa,hono]
 * @module
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { httpChart } from "./lib/charts.ts";
import { cookieFrom, LoadGenerator, type LoadResult, type Probe, probe } from "./lib/load.ts";
import { table } from "./lib/markdown.ts";
import { MAX_OTHERS, MAX_STEAL, type Noise, noiseBetween, sampleCpu } from "./lib/noise.ts";
import { buildServers, hasTaskset, type ServerHandle, startServer } from "./lib/proc.ts";
import type { Mode } from "./lib/server-common.ts";
import { fmt, median, range } from "./lib/stats.ts";
import { ensureWrk, type Load, WrkLoad } from "./lib/wrk.ts";

const GROUPS = ["node:http", "Express 5", "Fastify 5", "Koa 3", "Hono 4"] as const;
type Group = (typeof GROUPS)[number];

/** One server program. */
interface Variant {
  id: string;
  label: string;
  group: Group;
  /**
   * base: the bare framework; ceiling: bare plus the least a session response must add (its
   * headers; on Hono one header after `next()`); reference: bare plus something else every
   * session layer pays (Hono: one middleware), for reading the figures, no goal.
   */
  kind: "base" | "ours" | "peer" | "ceiling" | "reference";
  /** The modes it runs in. @default both */
  modes?: readonly Mode[];
}

const VARIANTS: Variant[] = [
  { id: "node-bare", label: "bare node:http", group: "node:http", kind: "base" },
  {
    id: "node-ceiling",
    label: "bare node:http + the session headers alone (ceiling)",
    group: "node:http",
    kind: "ceiling",
  },
  { id: "node-scs", label: "scs-ts handler + MemStore", group: "node:http", kind: "ours" },
  { id: "express-bare", label: "bare Express", group: "Express 5", kind: "base" },
  { id: "express-scs", label: "scs-ts/express + MemStore", group: "Express 5", kind: "ours" },
  {
    id: "express-session-dropin",
    label: "scs-ts/express-session (drop-in) + MemStore",
    group: "Express 5",
    kind: "ours",
  },
  {
    id: "express-session-memory",
    label: "express-session + MemoryStore",
    group: "Express 5",
    kind: "peer",
  },
  { id: "fastify-bare", label: "bare Fastify", group: "Fastify 5", kind: "base" },
  { id: "fastify-scs", label: "scs-ts/fastify + MemStore", group: "Fastify 5", kind: "ours" },
  {
    id: "fastify-session-dropin",
    label: "scs-ts/fastify-session (drop-in) + MemStore",
    group: "Fastify 5",
    kind: "ours",
  },
  {
    id: "fastify-session-peer",
    label: "@fastify/session + @fastify/cookie",
    group: "Fastify 5",
    kind: "peer",
  },
  { id: "koa-bare", label: "bare Koa", group: "Koa 3", kind: "base" },
  {
    id: "koa-ceiling",
    label: "bare Koa + the session headers alone (ceiling)",
    group: "Koa 3",
    kind: "ceiling",
  },
  { id: "koa-scs", label: "scs-ts/koa + MemStore", group: "Koa 3", kind: "ours" },
  {
    id: "koa-session-dropin",
    label: "scs-ts/koa-session (drop-in) + MemStore",
    group: "Koa 3",
    kind: "ours",
  },
  {
    id: "koa-session-peer",
    label: "koa-session + external in-memory store",
    group: "Koa 3",
    kind: "peer",
  },
  { id: "hono-bare", label: "bare Hono", group: "Hono 4", kind: "base" },
  {
    id: "hono-ceiling",
    label: "bare Hono + one header after next() (WRITE ceiling)",
    group: "Hono 4",
    kind: "ceiling",
    modes: ["write"],
  },
  {
    id: "hono-middleware",
    label: "bare Hono + one middleware that awaits next() (reference)",
    group: "Hono 4",
    kind: "reference",
  },
  { id: "hono-scs", label: "scs-ts/hono + MemStore", group: "Hono 4", kind: "ours" },
  {
    id: "hono-sessions-peer",
    label: "hono-sessions + MemoryStore",
    group: "Hono 4",
    kind: "peer",
  },
];
const MODES: Mode[] = ["read", "write"];

/** Goals of issue 15: ratio of scs-ts to the bare framework ("ceiling": to Hono's ceiling). */
const TARGETS: Record<string, Record<Mode, { ratio: number; of: "bare" | "ceiling" }>> = {
  "node-scs": { read: { ratio: 0.9, of: "bare" }, write: { ratio: 0.8, of: "bare" } },
  "express-scs": { read: { ratio: 0.9, of: "bare" }, write: { ratio: 0.8, of: "bare" } },
  "fastify-scs": { read: { ratio: 0.9, of: "bare" }, write: { ratio: 0.8, of: "bare" } },
  "koa-scs": { read: { ratio: 0.9, of: "bare" }, write: { ratio: 0.8, of: "bare" } },
  "hono-scs": { read: { ratio: 0.8, of: "bare" }, write: { ratio: 0.9, of: "ceiling" } },
};

/** Go's SCS on Go's net/http on this machine, quoted from issue 15 (not measured by this bench). */
const GO_SCS = { read: 0.3, write: 0.24 };

const SERVER_CORE = 0;
const LOAD_CORE = 1;
const CONNECTIONS = 50;
/** How often a block run on a noisy machine is repeated before it is kept (and marked). */
const MAX_RETRIES = 3;
/**
 * A server idle for longer than this gets one unmeasured run of the same length before its
 * measured one. Between two rounds a server waits minutes while the other blocks run, and V8
 * shrinks an idle process's heap (memory-reducer GCs): its next seconds ran at 0.5–0.8 of its
 * warm req/s. Bare servers run again within seconds in their block, so without this a
 * variant's single run was always a cold one and its ratio was biased down.
 */
const IDLE_REWARM_MS = 10_000;
/** Load time spent on repeated blocks, at most, in one bench run: past it noisy blocks are kept. */
const RETRY_BUDGET_S = 90;
/** The cookie the bare baselines receive, shaped like a session cookie, so every request is the same size. */
const BARE_COOKIE = `session=${"A".repeat(43)}`;

/** One (variant, mode) pair and what it measured. */
interface Cell {
  variant: Variant;
  mode: Mode;
  server: ServerHandle;
  headers: Record<string, string>;
  rps: number[];
  /** Per round: req/s ÷ the mean of the bare runs around it. */
  ratio: number[];
  /** Per round (Hono ceiling goal): req/s ÷ the ceiling's req/s of the same round. */
  ofCeiling: number[];
  /**
   * Per round: the bare framework's server CPU time per request (mean of the runs around it) ÷
   * this variant's. What the layer costs a server-bound deployment; steadier than req/s on a
   * shared machine, since time the server waits for a core is not counted.
   */
  cpuRatio: number[];
  p99: number[];
  problems: number;
  /** Rounds kept although the machine stayed noisy. */
  noisyRounds: number;
  /** When its last load ended (performance.now()), for {@link IDLE_REWARM_MS}. */
  lastLoadEnd: number;
}

/** What {@link runHttpBench} returns. */
export interface HttpBenchResult {
  markdown: string;
  svg: string;
  /** One line per scs-ts variant and peer: label, median ratio, target. */
  headline: {
    label: string;
    ratio: number;
    target: number | undefined;
    of?: string;
    /** For scs-ts rows: whether it is ahead of the framework's peer. */
    note?: string;
  }[];
}

const log = (msg: string): void => void process.stderr.write(`[http] ${msg}\n`);

/** A checked request, tried up to three times (a server may still be busy starting). */
async function probeRetrying(
  name: string,
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<Probe> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await probe(port, path, headers);
    } catch (err) {
      if (attempt === 3) throw new Error(`${name}: GET ${path} failed: ${String(err)}`);
      log(`${name}: GET ${path} failed (${String(err)}), trying again`);
    }
  }
}

/** Creates the session (for session variants) and checks READ/WRITE cookie behaviour once. */
async function prepare(cell: Cell): Promise<void> {
  const { variant, mode, server } = cell;
  const name = `${variant.id} ${mode}`;
  const bare =
    variant.kind === "base" || variant.kind === "ceiling" || variant.kind === "reference";
  if (bare) {
    cell.headers = { cookie: BARE_COOKIE };
  } else {
    const init = await probeRetrying(name, server.port, "/init", {});
    const cookie = cookieFrom(init.setCookie);
    if (init.status !== 200 || cookie === "") {
      log(`WARNING ${name}: /init gave status ${init.status} and no session cookie`);
    }
    cell.headers = { cookie };
  }
  const check = await probeRetrying(name, server.port, "/", cell.headers);
  if (check.status !== 200) log(`WARNING ${name}: status ${check.status}`);
  if (bare) return;
  if (mode === "read" && check.setCookie.length > 0) {
    log(`NOTE ${name}: READ response carries Set-Cookie (${variant.kind})`);
  }
  if (mode === "write" && check.setCookie.length === 0) {
    log(`WARNING ${name}: WRITE response carries no Set-Cookie`);
  }
  if (mode === "write" && check.body.trim() !== "count 1") {
    log(
      `WARNING ${name}: WRITE did not increment the session counter (body "${check.body.trim()}")`,
    );
  }
}

/** The cells of one framework and mode: its bare baseline and the variants measured against it. */
function blocksOf(cells: Cell[]): { base: Cell; others: Cell[] }[] {
  const bases = cells.filter((c) => c.variant.kind === "base");
  return bases.map((base) => ({
    base,
    others: cells.filter(
      (c) => c !== base && c.mode === base.mode && c.variant.group === base.variant.group,
    ),
  }));
}

/** One run of a block: per variant its result and the baselines around it. */
interface BlockRun {
  results: {
    cell: Cell;
    res: LoadResult;
    before: LoadResult;
    after: LoadResult;
    /** Server CPU µs per request of res, before and after. */
    cpu: { res: number; before: number; after: number };
  }[];
  noise: Noise[];
}

/** A server's user + system CPU time so far, in clock ticks (0 where /proc is missing). */
function serverTicks(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/**
 * Runs one server/variant pair under load.
 * @returns the load's result and the noise on the machine meanwhile.
 */
async function measure(
  gen: Load,
  cell: Cell,
  seconds: number,
): Promise<{ res: LoadResult; noise: Noise; cpuUs: number }> {
  const load = {
    url: `http://127.0.0.1:${cell.server.port}/`,
    connections: CONNECTIONS,
    durationS: seconds,
    headers: cell.headers,
  };
  if (performance.now() - cell.lastLoadEnd > IDLE_REWARM_MS) await gen.run(load);
  const pids = [cell.server.pid, ...gen.pids];
  const a = sampleCpu(pids);
  const ticks = serverTicks(cell.server.pid);
  const res = await gen.run(load);
  cell.lastLoadEnd = performance.now();
  const noise = noiseBetween(a, sampleCpu(pids));
  // Clock ticks are 10 ms: a 2 s run at one core is 200 of them, 0.5 % resolution.
  const cpuUs = ((serverTicks(cell.server.pid) - ticks) * 10_000) / Math.max(1, res.requests);
  return { res, noise, cpuUs };
}

async function runBlock(gen: Load, base: Cell, seq: Cell[], seconds: number): Promise<BlockRun> {
  const run: BlockRun = { results: [], noise: [] };
  let first = await measure(gen, base, seconds);
  run.noise.push(first.noise);
  for (const cell of seq) {
    const m = await measure(gen, cell, seconds);
    const after = await measure(gen, base, seconds);
    run.noise.push(m.noise, after.noise);
    run.results.push({
      cell,
      res: m.res,
      before: first.res,
      after: after.res,
      cpu: { res: m.cpuUs, before: first.cpuUs, after: after.cpuUs },
    });
    first = after;
  }
  return run;
}

function describe(noise: Noise[]): string {
  const worst = noise.reduce((w, n) => (n.others + n.steal > w.others + w.steal ? n : w));
  return `others ${fmt(worst.others * 100, 0)} % of a core, steal ${fmt(worst.steal * 100, 1)} %`;
}

/**
 * Runs the HTTP bench.
 * @param opts quick: 3 short rounds (CI smoke).
 * @returns the markdown section, its chart and the headline figures.
 */
export async function runHttpBench(opts: {
  quick: boolean;
  /** Only these frameworks (GROUPS names, matched by prefix, case-insensitive). @default all */
  groups?: readonly string[];
}): Promise<HttpBenchResult> {
  const wanted = (v: Variant): boolean =>
    opts.groups === undefined ||
    opts.groups.some((g) => v.group.toLowerCase().startsWith(g.toLowerCase()));
  const rounds = opts.quick ? 3 : 5;
  const durationS = opts.quick ? 1 : 2;
  const warmS = 1;
  if (!hasTaskset()) log("taskset not found: server and load generator are not pinned");
  const gen: Load = ensureWrk(log) ? new WrkLoad(LOAD_CORE) : new LoadGenerator(LOAD_CORE);
  log(`load generator: ${gen.tool}`);
  const cells: Cell[] = [];
  let retried = 0;
  let retrySeconds = 0;
  let built: Map<string, string> | undefined;
  try {
    const pairs = MODES.flatMap((mode) =>
      VARIANTS.filter((v) => wanted(v) && (v.modes === undefined || v.modes.includes(mode))).map(
        (variant) => ({
          mode,
          variant,
        }),
      ),
    );
    const programs = [...new Set(pairs.map(({ variant }) => programOf(variant)))];
    try {
      built = await buildServers(programs);
    } catch (err) {
      log(`NOTE: could not build the servers (${String(err)}); running them through tsx`);
    }
    log(`starting ${pairs.length} servers`);
    // A few at a time: dozens of tsx start-ups at once on a small machine would time out.
    for (let i = 0; i < pairs.length; i += 4) {
      const batch = pairs.slice(i, i + 4);
      const started = await Promise.allSettled(
        batch.map(({ mode, variant }) =>
          startServer(
            programOf(variant),
            mode,
            SERVER_CORE,
            120_000,
            built?.get(programOf(variant)),
          ),
        ),
      );
      for (const [j, s] of started.entries()) {
        if (s.status === "fulfilled") {
          const { mode, variant } = batch[j]!;
          cells.push({
            variant,
            mode,
            server: s.value,
            headers: {},
            rps: [],
            ratio: [],
            ofCeiling: [],
            cpuRatio: [],
            p99: [],
            problems: 0,
            noisyRounds: 0,
            lastLoadEnd: Number.NEGATIVE_INFINITY,
          });
        }
      }
      const failed = started.find((s) => s.status === "rejected");
      if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    }
    for (const cell of cells) await prepare(cell);
    for (const c of cells) await measure(gen, c, warmS);
    log(`warmed up ${cells.length} servers (${warmS} s each)`);
    const blocks = blocksOf(cells);
    for (let r = 0; r < rounds; r++) {
      // Reverse the order every other round so slow drift hits every variant alike.
      const order = r % 2 === 0 ? blocks : [...blocks].reverse();
      for (const { base, others } of order) {
        const seq = r % 2 === 0 ? others : [...others].reverse();
        let run = await runBlock(gen, base, seq, durationS);
        let tries = 0;
        while (
          run.noise.some((n) => n.noisy) &&
          tries < MAX_RETRIES &&
          retrySeconds < RETRY_BUDGET_S
        ) {
          tries++;
          retried++;
          retrySeconds += (1 + 2 * seq.length) * durationS;
          log(
            `round ${r + 1} ${base.mode} ${base.variant.group}: noisy machine (${describe(run.noise)}), run again (${tries}/${MAX_RETRIES})`,
          );
          run = await runBlock(gen, base, seq, durationS);
        }
        const noisy = run.noise.some((n) => n.noisy);
        const ceiling = run.results.find((x) => x.cell.variant.kind === "ceiling");
        const bareRuns = run.results.map((x) => x.after);
        if (run.results[0] !== undefined) bareRuns.unshift(run.results[0].before);
        for (const b of bareRuns) keep(base, b);
        if (noisy) base.noisyRounds++;
        for (const { cell, res, before, after, cpu } of run.results) {
          keep(cell, res);
          if (noisy) cell.noisyRounds++;
          cell.ratio.push(res.rps / ((before.rps + after.rps) / 2));
          if (cpu.res > 0) cell.cpuRatio.push((cpu.before + cpu.after) / 2 / cpu.res);
          if (ceiling !== undefined) cell.ofCeiling.push(res.rps / ceiling.res.rps);
          log(
            `round ${r + 1}/${rounds} ${cell.mode} ${cell.variant.id}: ${fmt(res.rps)} req/s, ${base.variant.id} ${fmt(before.rps)} / ${fmt(after.rps)} → ${fmt(cell.ratio.at(-1)!, 2)}${noisy ? " (noisy)" : ""}`,
          );
        }
      }
    }
  } finally {
    await gen.close();
    await Promise.all(cells.map((c) => c.server.stop()));
  }
  return report(cells, {
    rounds,
    durationS,
    warmS,
    tool: gen.tool,
    retried,
    built: built !== undefined,
  });
}

function programOf(variant: Variant): string {
  return `bench/http-servers/${variant.id}.ts`;
}

/** Keeps one run's figures. */
function keep(cell: Cell, r: LoadResult): void {
  cell.rps.push(r.rps);
  cell.p99.push(r.p99);
  const problems = r.errors + r.non2xx;
  if (problems > 0) {
    cell.problems += problems;
    log(`WARNING ${cell.variant.id} ${cell.mode}: ${r.errors} errors, ${r.non2xx} non-2xx`);
  }
}

function report(
  cells: Cell[],
  run: {
    rounds: number;
    durationS: number;
    warmS: number;
    tool: string;
    retried: number;
    built: boolean;
  },
): HttpBenchResult {
  const get = (id: string, mode: Mode): Cell | undefined =>
    cells.find((c) => c.variant.id === id && c.mode === mode);
  const parts: string[] = [];
  const headline: HttpBenchResult["headline"] = [];
  const verdict = (id: string, mode: Mode): { text: string; met?: boolean } => {
    const target = TARGETS[id]?.[mode];
    const c = get(id, mode);
    if (target === undefined || c === undefined) return { text: "" };
    const value = median(target.of === "ceiling" ? c.ofCeiling : c.ratio);
    const met = value >= target.ratio;
    const what =
      target.of === "ceiling"
        ? `${fmt(value, 2)} of ceiling, ≥ ${fmt(target.ratio, 2)}`
        : `≥ ${fmt(target.ratio, 2)}`;
    return { text: `${what} ${met ? "✓" : "✗ missed"}`, met };
  };
  for (const group of GROUPS.filter((g) => cells.some((c) => c.variant.group === g))) {
    const variants = VARIANTS.filter((v) => v.group === group);
    const peer = variants.find((v) => v.kind === "peer");
    const rows = variants.map((v) => {
      const row = [v.label];
      for (const mode of MODES) {
        const c = get(v.id, mode);
        if (c === undefined) {
          row.push("–", "–", "–", "", "–");
          continue;
        }
        const [lo, hi] = range(c.ratio);
        const ratio = median(c.ratio);
        const peerRatio = peer === undefined ? Number.NaN : median(get(peer.id, mode)?.ratio ?? []);
        const notes: string[] = [];
        const goal = verdict(v.id, mode).text;
        if (goal !== "") notes.push(goal);
        if (
          v.kind === "ours" &&
          c.ofCeiling.length > 0 &&
          TARGETS[v.id]?.[mode]?.of !== "ceiling"
        ) {
          notes.push(`${fmt(median(c.ofCeiling), 2)} of the ceiling`);
        }
        if (v.kind === "ours" && Number.isFinite(peerRatio)) {
          notes.push(ratio > peerRatio ? "ahead of peer ✓" : "behind peer ✗");
        }
        if (c.noisyRounds > 0) notes.push(`${c.noisyRounds} noisy round(s) kept`);
        row.push(
          fmt(median(c.rps)),
          v.kind === "base" ? "1.00" : `**${fmt(ratio, 2)}** (${fmt(lo, 2)}–${fmt(hi, 2)})`,
          v.kind === "base" || c.cpuRatio.length === 0
            ? v.kind === "base"
              ? "1.00"
              : "–"
            : `${fmt(median(c.cpuRatio), 2)} (${fmt(range(c.cpuRatio)[0], 2)}–${fmt(range(c.cpuRatio)[1], 2)})`,
          notes.join("; "),
          fmt(median(c.p99), 1),
        );
      }
      return row;
    });
    parts.push(
      `### ${group}`,
      "",
      table(
        [
          "variant",
          "READ req/s",
          "READ ratio (min–max)",
          "READ CPU ratio",
          "READ goal",
          "READ p99 ms",
          "WRITE req/s",
          "WRITE ratio (min–max)",
          "WRITE CPU ratio",
          "WRITE goal",
          "WRITE p99 ms",
        ],
        rows,
      ),
      "",
    );
    for (const mode of MODES) {
      for (const v of variants.filter((x) => x.kind === "ours" || x.kind === "peer")) {
        const c = get(v.id, mode);
        if (c === undefined) continue;
        const target = TARGETS[v.id]?.[mode];
        const peerCell = peer === undefined ? undefined : get(peer.id, mode);
        const ahead =
          v.kind !== "ours" || peerCell === undefined
            ? undefined
            : median(c.ratio) > median(peerCell.ratio)
              ? "ahead of peer ✓"
              : "behind peer ✗";
        headline.push({
          label: `${group} ${mode.toUpperCase()}: ${v.label}`,
          ratio: median(target?.of === "ceiling" ? c.ofCeiling : c.ratio),
          target: target?.ratio,
          of: target?.of === "ceiling" ? "of Hono's ceiling" : "of bare",
          note: ahead ?? (v.kind === "peer" ? "(peer)" : undefined),
        });
      }
    }
  }
  const problems = cells.reduce((n, c) => n + c.problems, 0);
  const noisy = cells.reduce((n, c) => n + c.noisyRounds, 0);
  parts.push(
    `For scale (quoted from issue 15, measured on this machine, not by this bench): Go's SCS costs **${fmt(GO_SCS.read, 2)}** (READ) / **${fmt(GO_SCS.write, 2)}** (WRITE) of Go's bare net/http.`,
    "",
    `Median of ${run.rounds} rounds; each round runs every block (one framework and mode) back to back: the bare framework for ${run.durationS} s before and after each variant's ${run.durationS} s (order reversed every other round), after a ${run.warmS} s warm-up per server; a server idle for over ${IDLE_REWARM_MS / 1000} s (every variant, in every round: the other blocks run meanwhile) first gets one unmeasured run of the same length, because V8 shrinks an idle process's heap and its next seconds run slower. Ratio = variant req/s ÷ mean of the two bare runs around it, **in the same round**; the table shows the median ratio and its range over the rounds (bare req/s: median of all its runs). CPU ratio = the bare runs' server CPU time per request (user + system, /proc) ÷ the variant's, same pairing: what the layer costs a server that is CPU-bound, and steadier than req/s when the host takes CPU from this VM (time a server waits for a core is not counted); the goals are judged on the req/s ratio, as issue 15 defines them. Hono's WRITE goal is against its ceiling (bare Hono plus one header set after \`next()\`, which takes @hono/node-server off its fast path), run in the same block: scs-ts req/s ÷ ceiling req/s, median over the rounds. Servers: ${run.built ? "each bench/http-servers program bundled with esbuild as tsup builds the package (packages external, no `keepNames`), run by plain node" : "run through tsx (the esbuild build failed)"}, Node ${process.version}. Load: ${run.tool === "wrk" ? "wrk, one thread" : "autocannon (wrk was not available)"}, ${CONNECTIONS} connections, keep-alive, 127.0.0.1, ${hasTaskset() ? "pinned to core 1 (`taskset -c 1`), servers pinned to core 0" : "not pinned (taskset not available)"}. Noise: during every run the bench reads /proc/stat and its own processes' CPU time; a block with a run where the hypervisor stole more than ${fmt(MAX_STEAL * 100, 0)} % of a core or other processes used more than ${fmt(MAX_OTHERS * 100, 0)} % of a core is run again (at most ${MAX_RETRIES} times, and ${RETRY_BUDGET_S} s of load in all); ${run.retried} block run(s) were repeated${noisy > 0 ? `, and **${noisy} (variant, round) figures were kept from blocks that stayed noisy** (marked in the goal column)` : ", none stayed noisy"}. READ: the request carries the cookie of an existing session and the handler reads a value (checked before the run: no Set-Cookie). WRITE: the handler increments a counter in the session, so every response commits it and sets the cookie (checked). The bare baselines run the same body with a process-wide counter and receive a session-shaped cookie. Peers are configured to send the cookie only when the session changed where they can (\`resave: false, saveUninitialized: false\`, \`rolling: false\`), with 24 h lifetimes like scs-ts's; hono-sessions re-sends its cookie on every response (it has no option not to) and runs without an encryptionKey.${problems > 0 ? ` **${problems} errors or non-2xx responses were seen; see stderr.**` : ""}`,
  );
  const markdown = parts.join("\n");
  return { markdown, svg: httpChart(markdown) ?? "", headline };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const groups = process.argv.find((a) => a.startsWith("--groups="))?.slice(9);
  const result = await runHttpBench({
    quick: process.argv.includes("--quick"),
    groups: groups?.split(","),
  });
  console.log(result.markdown);
}
