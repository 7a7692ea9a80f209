/**
 * `npm run bench`: runs every section side by side on this machine and writes bench/RESULTS.md
 * plus one SVG chart per section (bench/*.svg). With `--quick` (CI) it runs few, short rounds
 * and writes to bench/out/ instead, leaving the committed results alone.
 *
 * Sections: 1 HTTP overhead (bench/http.ts), 2 store operations, 4 memory and 5 expiry sweep
 * (bench/memstore.ts), 3 codec (bench/codec.ts), 6 rqlite (bench/rqlite.ts), 7 scs-ts/fetch on
 * Node, Bun and Deno (bench/fetch.ts), 8 the express-session bridge (bench/connect-store.ts).
 * A section whose
 * module or export is missing, or that fails, is skipped with a printed note.
 *
 * Usage: npm run bench [-- --quick] [-- --only=http,store,codec,memory,sweep,rqlite,fetch,bridge]
 *        npm run bench -- --redraw [--quick]   (redraws the SVGs from an existing RESULTS.md)
 * @module
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  codecChart,
  httpChart,
  memoryChart,
  rqliteChart,
  storeOpsChart,
  sweepChart,
} from "./lib/charts.ts";
import { machineLine, ROOT, versionsLine } from "./lib/machine.ts";
import { cellNumber, column, parseTables, table } from "./lib/markdown.ts";
import { fmt } from "./lib/stats.ts";
import { ensureWrk } from "./lib/wrk.ts";

const SECTIONS = [
  "http",
  "store",
  "codec",
  "memory",
  "sweep",
  "rqlite",
  "fetch",
  "bridge",
  "sql",
  "redis",
] as const;
type SectionId = (typeof SECTIONS)[number];

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const onlyArg = args.find((a) => a.startsWith("--only="))?.slice(7);
const only = onlyArg === undefined ? undefined : new Set(onlyArg.split(","));
// Only a full, complete run replaces the committed results.
const outDir = quick || only !== undefined ? join(ROOT, "bench", "out") : join(ROOT, "bench");
const command = `npm run bench${args.length > 0 ? ` -- ${args.join(" ")}` : ""}`;
const log = (msg: string): void => void process.stderr.write(`[bench] ${msg}\n`);

/** What one section contributed. */
interface Section {
  id: SectionId;
  title: string;
  markdown: string;
  svg?: string;
  /** Headline rows: what, measured, target. */
  headline: string[][];
}

type Bench = (opts: { quick: boolean; only?: string }) => Promise<string>;

/** Imports `file` and returns its `name` export, or undefined (with a note) when missing. */
async function load(file: string, name: string): Promise<Bench | undefined> {
  try {
    const mod = (await import(file)) as Record<string, unknown>;
    const fn = mod[name];
    if (typeof fn === "function") return fn as Bench;
    log(`NOTE: ${file} has no export ${name}; section skipped`);
  } catch (err) {
    log(`NOTE: ${file} could not be loaded (${String(err)}); section skipped`);
  }
  return undefined;
}

/** Drops the "## MemStore" head and versions line that runMemstoreBench prepends to every part. */
function memstorePart(md: string): string {
  return md.replace(/^## MemStore\n\n[^\n]*\n*/, "").trim();
}

async function section(
  id: SectionId,
  title: string,
  run: () => Promise<Omit<Section, "id" | "title">>,
): Promise<Section> {
  if (only !== undefined && !only.has(id)) {
    return { id, title, markdown: "_Not run (--only)._", headline: [] };
  }
  const started = performance.now();
  log(`section ${id}: ${title}`);
  try {
    const s = await run();
    log(`section ${id} done in ${fmt((performance.now() - started) / 1000, 1)} s`);
    return { id, title, ...s };
  } catch (err) {
    log(
      `NOTE: section ${id} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    return { id, title, markdown: `_Skipped: the section failed (${String(err)})._`, headline: [] };
  }
}

const skipped = (what: string) => ({
  markdown: `_Skipped: ${what} is not available._`,
  headline: [],
});
const rowOf = (md: string, header: string, label: string): string[] | undefined =>
  parseTables(md)
    .find((t) => column(t, header) >= 0)
    ?.rows.find((r) => r[0] === label || r[1] === label);

const svgName = (id: SectionId): string => `${id === "store" ? "store-ops" : id}.svg`;
const CHARTS: Record<SectionId, (md: string) => string | undefined> = {
  http: httpChart,
  store: storeOpsChart,
  codec: codecChart,
  memory: memoryChart,
  sweep: sweepChart,
  rqlite: rqliteChart,
  fetch: () => undefined,
  bridge: () => undefined,
  sql: () => undefined,
  redis: () => undefined,
};

if (args.includes("--redraw")) {
  // Charts only: reread the numbers of the last run, measure nothing.
  const md = readFileSync(join(outDir, "RESULTS.md"), "utf8");
  const parts = md.split(/^## \d+\. .*$/m).slice(1);
  for (const [i, id] of SECTIONS.entries()) {
    const svg = parts[i] === undefined ? undefined : CHARTS[id](parts[i]);
    if (svg !== undefined) writeFileSync(join(outDir, svgName(id)), svg);
    log(svg === undefined ? `no chart for ${id}` : `redrew ${svgName(id)}`);
  }
  process.exit(0);
}

const sections: Section[] = [];
const started = new Date();
// The HTTP section's load generator is installed first, so the versions line names it.
if (only === undefined || only.has("http")) ensureWrk(log);
// Taken before anything runs: the code measured, even if the tree changes during the run.
const versions = versionsLine();

sections.push(
  await section("http", "HTTP overhead", async () => {
    const { runHttpBench } = await import("./http.ts");
    const r = await runHttpBench({ quick });
    return {
      markdown: r.markdown,
      svg: r.svg,
      headline: r.headline.map((h) => [
        `HTTP: ${h.label}`,
        `${fmt(h.ratio, 2)} ${h.of ?? "of bare"}`,
        h.target === undefined
          ? (h.note ?? "(peer)")
          : `≥ ${fmt(h.target, 2)} ${h.ratio >= h.target ? "✓" : "✗"}${h.note === undefined ? "" : `; ${h.note}`}`,
      ]),
    };
  }),
);

const memstoreBench = await load("./memstore.ts", "runMemstoreBench");
sections.push(
  await section("store", "Store operations", async () => {
    if (memstoreBench === undefined) return skipped("bench/memstore.ts runMemstoreBench");
    const md = memstorePart(await memstoreBench({ quick, only: "a" }));
    // The honest limit is a raw Map that checks expiry as MemStore must (issue 15), not the
    // unchecked Map: the headline is MemStore's round-trips ÷ that Map's, same run.
    const row = rowOf(md, "round-trips/s", "MemStore");
    const checked = rowOf(md, "round-trips/s", "raw Map + expiry check (Date.now)");
    const ratio = cellNumber(row?.[1]) / cellNumber(checked?.[1]);
    return {
      markdown: md,
      svg: storeOpsChart(md),
      headline: [
        [
          "Store ops: MemStore commit+find vs a raw Map checking expiry the same way",
          `${fmt(ratio, 2)} of it (${fmt(cellNumber(row?.[2]), 2)} of the unchecked Map)`,
          `≥ 0.80 ${ratio >= 0.8 ? "✓" : "✗"}`,
        ],
      ],
    };
  }),
);

sections.push(
  await section("codec", "Codec", async () => {
    const codecBench = await load("./codec.ts", "runCodecBench");
    if (codecBench === undefined) return skipped("bench/codec.ts runCodecBench");
    const md = (await codecBench({ quick })).trim();
    const typical = parseTables(md).find((t) => t.heading.startsWith("typical"));
    const row = typical?.rows.find((r) => r[0] === "scs-ts default");
    const headline =
      typical === undefined || row === undefined
        ? []
        : [
            [
              "Codec: default codec, typical session, encode+decode",
              `${row[column(typical, "vs JSON time")]} JSON's time, ${row[column(typical, "vs JSON bytes")]} JSON's bytes`,
              "(reported)",
            ],
          ];
    return { markdown: md, svg: codecChart(md), headline };
  }),
);

sections.push(
  await section("memory", "Memory per session", async () => {
    if (memstoreBench === undefined) return skipped("bench/memstore.ts runMemstoreBench");
    const md = memstorePart(await memstoreBench({ quick, only: "b" }));
    const t = parseTables(md).find((x) => column(x, "B/session") >= 0);
    const rows = t?.rows.filter((r) => r[1] === "memstore") ?? [];
    return {
      markdown: md,
      svg: memoryChart(md),
      headline: rows.map((r) => {
        const ratio = cellNumber(r[3]);
        return [
          `Memory: MemStore at ${r[0]} sessions`,
          `${fmt(ratio, 2)} × raw Map`,
          `≤ 1.10 ${ratio <= 1.1 ? "✓" : "✗"}`,
        ];
      }),
    };
  }),
);

sections.push(
  await section("sweep", "Expiry sweep", async () => {
    if (memstoreBench === undefined) return skipped("bench/memstore.ts runMemstoreBench");
    const md = memstorePart(await memstoreBench({ quick, only: "c" }));
    const t = parseTables(md).find((x) => column(x, "event-loop block") >= 0);
    const ours = t?.rows.filter((r) => r[1]?.startsWith("MemStore")) ?? [];
    const worst = Math.max(...ours.map((r) => cellNumber(r[3])));
    return {
      markdown: md,
      svg: sweepChart(md),
      headline:
        ours.length === 0
          ? []
          : [
              [
                "Sweep: MemStore longest event-loop block",
                `${fmt(worst, 1)} ms`,
                `≤ 10 ms ${worst <= 10 ? "✓" : "✗"}`,
              ],
            ],
    };
  }),
);

sections.push(
  await section("rqlite", "rqlite", async () => {
    const rqliteBench = await load("./rqlite.ts", "runRqliteBench");
    if (rqliteBench === undefined) return skipped("bench/rqlite.ts runRqliteBench");
    const md = (await rqliteBench({ quick })).trim();
    const t = parseTables(md).find((x) => column(x, "raw undici") >= 0);
    const ratio = t === undefined ? -1 : column(t, "ratio");
    return {
      markdown: md,
      svg: rqliteChart(md),
      headline: (t?.rows ?? []).map((r) => {
        const v = cellNumber(r[ratio]);
        return [
          `rqlite: RqliteStore ${r[0]}, ${r[1]} concurrent`,
          `${fmt(v, 2)} of raw`,
          `≥ 0.90 ${v >= 0.9 ? "✓" : "✗"}`,
        ];
      }),
    };
  }),
);

sections.push(
  await section("fetch", "scs-ts/fetch on Node, Bun and Deno", async () => {
    const fetchBench = await load("./fetch.ts", "runFetchBench");
    if (fetchBench === undefined) return skipped("bench/fetch.ts runFetchBench");
    const md = (await fetchBench({ quick })).trim();
    const t = parseTables(md).find((x) => column(x, "of bare (req/s)") >= 0);
    const at = t === undefined ? -1 : column(t, "of bare (req/s)");
    return {
      markdown: md,
      headline: (t?.rows ?? [])
        .filter((r) => !(r[1] ?? "").startsWith("bare"))
        .map((r) => [`fetch: ${r[0]}, ${r[1]}`, `${r[at]} of bare`, "(reported)"]),
    };
  }),
);

sections.push(
  await section("bridge", "express-session bridge (scs-ts/connect-store)", async () => {
    const bridgeBench = await load("./connect-store.ts", "runConnectStoreBench");
    if (bridgeBench === undefined) return skipped("bench/connect-store.ts runConnectStoreBench");
    const md = (await bridgeBench({ quick })).trim();
    const tables = parseTables(md);
    const overMemory = tables.find((x) => column(x, "bridge ratio (range)") >= 0);
    const overRedis = tables.find((x) => column(x, "bridge over connect-redis") >= 0);
    return {
      markdown: md,
      headline: [
        ...(overMemory?.rows ?? [])
          .filter((r) => r[1] === "fromExpressStore(MemoryStore)")
          .map((r) => [`Bridge over MemoryStore, ${r[0]} concurrent`, r[3] ?? "", "(reported)"]),
        ...(overRedis?.rows ?? []).map((r) => [
          `Bridge over connect-redis: ${r[0]}`,
          `${(r[3] ?? "").replace(/\*\*/g, "")} of RedisStore (client CPU per op)`,
          "(reported)",
        ]),
      ],
    };
  }),
);

/** Headline rows from a table whose "ratio (range)" cell is a bold median: `what: <label>`. */
function ratioRows(md: string, header: string, label: (row: string[]) => string): string[][] {
  const t = parseTables(md).find((x) => column(x, header) >= 0);
  const at = t === undefined ? -1 : column(t, "ratio (range)");
  return (t?.rows ?? [])
    .filter((r) => Number.isFinite(cellNumber(r[at]))) // e.g. "driver not on this Node"
    .map((r) => {
      const v = cellNumber(r[at]);
      return [label(r), `${fmt(v, 2)} of raw`, `≥ 0.90 ${v >= 0.9 ? "✓" : "✗"}`];
    });
}

sections.push(
  await section("sql", "SQL stores (SqliteStore, PostgresStore)", async () => {
    const sqlBench = await load("./sql.ts", "runSqlBench");
    if (sqlBench === undefined) return skipped("bench/sql.ts runSqlBench");
    const md = (await sqlBench({ quick })).trim();
    const sweep = parseTables(md).find((x) => column(x, "longest block (CPU time)") >= 0);
    const cpu = sweep === undefined ? -1 : column(sweep, "longest block (CPU time)");
    return {
      markdown: md,
      headline: [
        ...ratioRows(
          md,
          "raw statement ops per CPU-second",
          (r) => `SqliteStore ${r[1]} (${r[0]})`,
        ),
        ...ratioRows(md, "PostgresStore ops/s", (r) => `PostgresStore ${r[0]}`),
        ...(sweep?.rows ?? []).map((r) => {
          const v = cellNumber(r[cpu]);
          return [
            `SqliteStore sweep, ${r[0]} expired: longest event-loop block (main thread CPU)`,
            `${fmt(v, 1)} ms`,
            `≤ 10 ms ${v <= 10 ? "✓" : "✗"}`,
          ];
        }),
      ],
    };
  }),
);

sections.push(
  await section("redis", "RedisStore", async () => {
    const redisBench = await load("./redis.ts", "runRedisBench");
    if (redisBench === undefined) return skipped("bench/redis.ts runRedisBench");
    const md = (await redisBench({ quick })).trim();
    const http = parseTables(md).find((x) => column(x, "scs-ts + RedisStore req/s") >= 0);
    const at = http === undefined ? -1 : column(http, "ratio (range)");
    return {
      markdown: md,
      headline: [
        ...ratioRows(md, "RedisStore ops/CPU-s", (r) => `RedisStore ${r[1]} (${r[0]})`),
        ...(http?.rows ?? []).map((r) => [
          `RedisStore ${r[0]} req/s ÷ express-session + connect-redis`,
          (r[at] ?? "").replace(/\*\*/g, ""),
          "(reported)",
        ]),
      ],
    };
  }),
);

// ---------------------------------------------------------------- RESULTS.md and charts
mkdirSync(outDir, { recursive: true });
for (const s of sections) {
  if (s.svg !== undefined) writeFileSync(join(outDir, svgName(s.id)), s.svg);
}
const headline = sections.flatMap((s) => s.headline);
const doc = [
  "# scs-ts benchmark results",
  "",
  `Generated by \`${command}\` on ${started.toISOString().slice(0, 16).replace("T", " ")} UTC${quick ? " (**quick run**: few, short rounds; indicative only)" : ""}.`,
  "",
  `- Machine: ${machineLine()}`,
  `- Versions: ${versions}`,
  "- Everything in one run on one machine; ratios are taken pair by pair within a round, so slow drift and other load on the machine affect both sides of a ratio alike. Absolute numbers are for scale only.",
  "",
  "## Headline",
  "",
  headline.length === 0
    ? "_No section produced a headline figure._"
    : table(["what", "measured", "target"], headline),
  "",
  ...sections.flatMap((s, i) => [
    `## ${i + 1}. ${s.title}`,
    "",
    ...(s.svg === undefined ? [] : [`![${s.title}](${svgName(s.id)})`, ""]),
    s.markdown,
    "",
  ]),
].join("\n");
writeFileSync(join(outDir, "RESULTS.md"), doc);
log(`wrote ${join(outDir, "RESULTS.md")} in ${fmt((Date.now() - started.getTime()) / 1000, 0)} s`);
