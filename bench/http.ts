/**
 * Section 1, HTTP overhead: the same handler body behind bare node:http, scs-ts `handler`,
 * bare Express 5, the scs-ts Express adapter and express-session (MemoryStore, memorystore),
 * in READ and WRITE modes. Every server runs in its own child process pinned to core 0;
 * autocannon runs in another pinned to core 1. Each round runs every variant back to back and
 * ratios are taken against the baseline of the same round.
 *
 * Usage: npx tsx bench/http.ts [--quick]
 * @module
 */
import { fileURLToPath } from "node:url";
import { httpChart } from "./lib/charts.ts";
import { cookieFrom, LoadGenerator, type LoadResult, probe } from "./lib/load.ts";
import { table } from "./lib/markdown.ts";
import { hasTaskset, type ServerHandle, startServer } from "./lib/proc.ts";
import type { Mode } from "./lib/server-common.ts";
import { fmt, median, range } from "./lib/stats.ts";

/** One server program. */
interface Variant {
  id: string;
  label: string;
  group: "node:http" | "Express 5";
  kind: "base" | "ours" | "peer";
}

const VARIANTS: Variant[] = [
  { id: "node-bare", label: "bare node:http", group: "node:http", kind: "base" },
  { id: "node-scs", label: "scs-ts handler + MemStore", group: "node:http", kind: "ours" },
  { id: "express-bare", label: "bare Express", group: "Express 5", kind: "base" },
  {
    id: "express-scs",
    label: "scs-ts Express adapter + MemStore",
    group: "Express 5",
    kind: "ours",
  },
  {
    id: "express-session-dropin",
    label: "scs-ts/express-session + MemStore",
    group: "Express 5",
    kind: "ours",
  },
  {
    id: "express-session-memory",
    label: "express-session + MemoryStore",
    group: "Express 5",
    kind: "peer",
  },
  {
    id: "express-session-memorystore",
    label: "express-session + memorystore",
    group: "Express 5",
    kind: "peer",
  },
];
const MODES: Mode[] = ["read", "write"];

/** Targets from issue 5: ratio of scs-ts to the bare baseline. */
const TARGETS: Record<string, Record<Mode, number>> = {
  "node-scs": { read: 0.85, write: 0.7 },
  "express-scs": { read: 0.9, write: 0.9 },
};

const SERVER_CORE = 0;
const LOAD_CORE = 1;
const CONNECTIONS = 50;
/** The cookie the bare baselines receive, shaped like a session cookie, so every request is the same size. */
const BARE_COOKIE = `session=${"A".repeat(43)}`;

/** One (variant, mode) pair and what it measured. */
interface Cell {
  variant: Variant;
  mode: Mode;
  server: ServerHandle;
  headers: Record<string, string>;
  rps: number[];
  ratio: number[];
  p99: number[];
  problems: number;
}

/** What {@link runHttpBench} returns. */
export interface HttpBenchResult {
  markdown: string;
  svg: string;
  /** One line per target: label, median ratio, target, met. */
  headline: { label: string; ratio: number; target: number | undefined }[];
}

const log = (msg: string): void => void process.stderr.write(`[http] ${msg}\n`);

/** Creates the session (for session variants) and checks READ/WRITE cookie behaviour once. */
async function prepare(cell: Cell): Promise<void> {
  const { variant, mode, server } = cell;
  const name = `${variant.id} ${mode}`;
  if (variant.kind === "base") {
    cell.headers = { cookie: BARE_COOKIE };
  } else {
    const init = await probe(server.port, "/init", {});
    const cookie = cookieFrom(init.setCookie);
    if (init.status !== 200 || cookie === "") {
      log(`WARNING ${name}: /init gave status ${init.status} and no session cookie`);
    }
    cell.headers = { cookie };
  }
  const check = await probe(server.port, "/", cell.headers);
  if (check.status !== 200) log(`WARNING ${name}: status ${check.status}`);
  if (variant.kind === "base") return;
  if (mode === "read" && check.setCookie.length > 0) {
    log(`WARNING ${name}: READ response carries Set-Cookie, so READ writes`);
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

/** Keeps one run's figures; @returns its req/s. */
function record(cell: Cell, r: LoadResult): number {
  cell.rps.push(r.rps);
  cell.p99.push(r.p99);
  if (r.errors > 0 || r.non2xx > 0) {
    cell.problems += r.errors + r.non2xx;
    log(`WARNING ${cell.variant.id} ${cell.mode}: ${r.errors} errors, ${r.non2xx} non-2xx`);
  }
  return r.rps;
}

/**
 * Runs section 1.
 * @param opts.quick 3 rounds of 1 s instead of 5 rounds of 5 s.
 * @returns markdown, an SVG chart, and the headline ratios.
 */
export async function runHttpBench(opts: { quick: boolean }): Promise<HttpBenchResult> {
  const rounds = opts.quick ? 3 : 5;
  const durationS = opts.quick ? 1 : 5;
  const warmS = opts.quick ? 1 : 3;
  if (!hasTaskset()) log("taskset not found: server and load generator are not pinned");
  const cells: Cell[] = [];
  const gen = new LoadGenerator(LOAD_CORE);
  try {
    log(`starting ${MODES.length * VARIANTS.length} servers`);
    const pairs = MODES.flatMap((mode) => VARIANTS.map((variant) => ({ mode, variant })));
    const started = await Promise.allSettled(
      pairs.map(({ mode, variant }) =>
        startServer(`bench/http-servers/${variant.id}.ts`, mode, SERVER_CORE),
      ),
    );
    for (const [i, s] of started.entries()) {
      if (s.status === "fulfilled") {
        const { mode, variant } = pairs[i]!;
        cells.push({
          variant,
          mode,
          server: s.value,
          headers: {},
          rps: [],
          ratio: [],
          p99: [],
          problems: 0,
        });
      }
    }
    const failed = started.find((s) => s.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    for (const cell of cells) await prepare(cell);
    const url = (c: Cell): string => `http://127.0.0.1:${c.server.port}/`;
    const load = async (c: Cell, seconds: number): Promise<LoadResult> =>
      gen.run({ url: url(c), connections: CONNECTIONS, durationS: seconds, headers: c.headers });
    for (const c of cells) {
      log(`warm-up ${c.variant.id} ${c.mode} (${warmS} s)`);
      await load(c, warmS);
    }
    const blocks = blocksOf(cells);
    for (let r = 0; r < rounds; r++) {
      // Reverse the order every other round so slow drift hits every variant alike.
      const order = r % 2 === 0 ? blocks : [...blocks].reverse();
      for (const { base, others } of order) {
        const seq = r % 2 === 0 ? others : [...others].reverse();
        let before = record(base, await load(base, durationS));
        for (const c of seq) {
          const res = await load(c, durationS);
          record(c, res);
          const after = record(base, await load(base, durationS));
          c.ratio.push(res.rps / ((before + after) / 2));
          log(
            `round ${r + 1}/${rounds} ${c.mode} ${c.variant.id}: ${fmt(res.rps)} req/s, ${base.variant.id} ${fmt(before)} / ${fmt(after)} → ratio ${fmt(c.ratio.at(-1)!, 2)}`,
          );
          before = after;
        }
      }
    }
  } finally {
    await gen.close();
    await Promise.all(cells.map((c) => c.server.stop()));
  }
  return report(cells, { rounds, durationS, warmS });
}

function report(
  cells: Cell[],
  run: { rounds: number; durationS: number; warmS: number },
): HttpBenchResult {
  const get = (id: string, mode: Mode): Cell =>
    cells.find((c) => c.variant.id === id && c.mode === mode)!;
  const parts: string[] = [];
  const headline: HttpBenchResult["headline"] = [];
  for (const group of ["node:http", "Express 5"] as const) {
    const variants = VARIANTS.filter((v) => v.group === group);
    const rows = variants.map((v) => {
      const row = [v.label];
      for (const mode of MODES) {
        const c = get(v.id, mode);
        const [lo, hi] = range(c.ratio);
        const target = TARGETS[v.id]?.[mode];
        const ratio = median(c.ratio);
        row.push(
          fmt(median(c.rps)),
          v.kind === "base" ? "1.00" : `**${fmt(ratio, 2)}** (${fmt(lo, 2)}–${fmt(hi, 2)})`,
          target === undefined ? "" : `≥ ${fmt(target, 2)} ${ratio >= target ? "✓" : "✗ missed"}`,
          fmt(median(c.p99)),
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
          "READ target",
          "READ p99 ms",
          "WRITE req/s",
          "WRITE ratio (min–max)",
          "WRITE target",
          "WRITE p99 ms",
        ],
        rows,
      ),
      "",
    );
    for (const mode of MODES) {
      for (const v of variants.filter((x) => x.kind !== "base")) {
        headline.push({
          label: `${v.label}, ${mode.toUpperCase()}`,
          ratio: median(get(v.id, mode).ratio),
          target: TARGETS[v.id]?.[mode],
        });
      }
    }
  }
  const problems = cells.reduce((n, c) => n + c.problems, 0);
  parts.push(
    `Median of ${run.rounds} rounds; each round runs every (variant, mode) pair back to back for ${run.durationS} s each, with the bare baseline of the same framework and mode run before and after each variant (order reversed every other round), after a ${run.warmS} s warm-up per server. Ratio = variant req/s ÷ mean of the two baseline runs around it, **in the same round**; the table shows the median ratio and its range over the rounds (baseline req/s: median of all its runs). Load: autocannon, ${CONNECTIONS} connections, pipelining 1, 127.0.0.1, from its own process${hasTaskset() ? " pinned to core 1 (`taskset -c 1`), servers pinned to core 0" : " (taskset not available: not pinned)"}. READ: the request carries the cookie of an existing session and the handler reads a value (checked before the run: no Set-Cookie). WRITE: the handler increments a counter in the session, so every response commits it and sets the cookie (checked). The bare baselines run the same body with a process-wide counter and receive a session-shaped cookie. express-session: \`resave: false, saveUninitialized: false\`, a secret, \`cookie.maxAge\` 24 h (scs-ts's lifetime) so a modified session re-sends its cookie as scs-ts does.${problems > 0 ? ` **${problems} errors or non-2xx responses were seen; see stderr.**` : ""}`,
  );
  const markdown = parts.join("\n");
  return { markdown, svg: httpChart(markdown) ?? "", headline };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await runHttpBench({ quick: process.argv.includes("--quick") });
  console.log(result.markdown);
}
