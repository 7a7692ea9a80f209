/**
 * Charts for the sections other modules produce (store operations, codec, memory, sweep,
 * rqlite), drawn from the markdown tables they return.
 * @module
 */
import { cellNumber, column, type ParsedTable, parseTables } from "./markdown.ts";
import { fmt } from "./stats.ts";
import { type Bar, type BarGroup, barChart } from "./svg.ts";

const kindOf = (label: string): Bar["kind"] => {
  const l = label.toLowerCase();
  if (l.startsWith("memstore") || l.startsWith("scs-ts") || l.startsWith("rqlitestore"))
    return "ours";
  if (
    l.startsWith("raw map<") ||
    l === "map" ||
    l.startsWith("json") ||
    l.startsWith("raw undici") ||
    l.startsWith("bare")
  )
    return "base";
  return "peer";
};

/**
 * Section 2: commit+find round-trips, ratio to the raw Map.
 * @returns the SVG, or undefined when the table is not found.
 */
export function storeOpsChart(md: string): string | undefined {
  const t = parseTables(md).find((x) => column(x, "round-trips/s") >= 0);
  if (t === undefined) return undefined;
  const ops = column(t, "round-trips/s");
  const ratio = column(t, "ratio");
  return barChart({
    title: "Store operations: commit+find round-trips of a ~1 KB session",
    subtitle: "ratio to a raw Map<string, Buffer> in the same round (median of the rounds)",
    axis: "ratio to raw Map (higher is better)",
    groups: [
      {
        title: "in-memory stores",
        bars: t.rows.map((r) => ({
          label: r[0]!,
          value: cellNumber(r[ratio]),
          kind: kindOf(r[0]!),
          text: `${fmt(cellNumber(r[ratio]), 2)}  (${r[ops]}/s)`,
        })),
      },
    ],
    marks: [
      { value: 1, label: "raw Map" },
      { value: 0.8, label: "target 0.8" },
    ],
  });
}

/**
 * Section 3: encode+decode time per codec, one group per data shape.
 * @returns the SVG, or undefined when no codec table is found.
 */
export function codecChart(md: string): string | undefined {
  const tables = parseTables(md).filter((x) => column(x, "encode+decode ns") >= 0);
  if (tables.length === 0) return undefined;
  const groups: BarGroup[] = tables.map((t) => {
    const ns = column(t, "encode+decode ns");
    const bytes = column(t, "bytes");
    return {
      title: t.heading,
      bars: t.rows.map((r) => ({
        label: r[0]!,
        value: cellNumber(r[ns]),
        kind: kindOf(r[0]!),
        text: `${r[ns]} ns, ${r[bytes]} bytes`,
      })),
    };
  });
  return barChart({
    title: "Codec: encode+decode of a session",
    subtitle: "median ns per encode+decode; bytes = encoded size",
    axis: "ns per encode+decode (lower is better)",
    groups,
  });
}

/**
 * Section 4: bytes per session relative to a raw Map.
 * @returns the SVG, or undefined when the table is not found.
 */
export function memoryChart(md: string): string | undefined {
  const t = parseTables(md).find((x) => column(x, "B/session") >= 0);
  if (t === undefined) return undefined;
  const he = column(t, "heap+external");
  const ratio = column(t, "ratio");
  const bySize = new Map<string, string[][]>();
  for (const r of t.rows) bySize.set(r[0]!, [...(bySize.get(r[0]!) ?? []), r]);
  return barChart({
    title: "Memory per session (200-byte data)",
    subtitle: "heap + external bytes per session after forced GC, as a ratio to a raw Map",
    axis: "ratio to raw Map<string, Buffer> (lower is better)",
    groups: [...bySize].map(([size, rows]) => ({
      title: `${size} sessions`,
      bars: rows.map((r) => ({
        label: r[1]!,
        value: cellNumber(r[ratio]),
        kind: kindOf(r[1]!),
        text: `${fmt(cellNumber(r[ratio]), 2)}  (${r[he]} B)`,
      })),
    })),
    marks: [
      { value: 1, label: "raw Map" },
      { value: 1.1, label: "target 1.1" },
    ],
  });
}

/**
 * Section 5: longest event-loop block during the expiry sweep (log scale).
 * @returns the SVG, or undefined when the table is not found.
 */
export function sweepChart(md: string): string | undefined {
  const t = parseTables(md).find((x) => column(x, "event-loop block") >= 0);
  if (t === undefined) return undefined;
  const block = column(t, "event-loop block");
  const total = column(t, "total ms");
  const byExpired = new Map<string, string[][]>();
  for (const r of t.rows) byExpired.set(r[0]!, [...(byExpired.get(r[0]!) ?? []), r]);
  return barChart({
    title: `Expiry sweep: longest event-loop block (${t.heading.replace(/^\(c\)\s*/, "")})`,
    subtitle: "max of monitorEventLoopDelay while the sweep runs; total sweep time in brackets",
    axis: "longest block, ms (lower is better)",
    scale: "log",
    groups: [...byExpired].map(([expired, rows]) => ({
      title: `${expired} expired`,
      bars: rows.map((r) => ({
        label: r[1]!,
        value: Math.max(cellNumber(r[block]), 0.01),
        kind: kindOf(r[1]!),
        text: `${r[block]} ms  (total ${r[total]} ms)`,
      })),
    })),
    marks: [{ value: 10, label: "target 10 ms" }],
  });
}

/**
 * Section 6: RqliteStore vs raw HTTP ops/s on one node.
 * @returns the SVG, or undefined when the table is not found.
 */
export function rqliteChart(md: string): string | undefined {
  const t: ParsedTable | undefined = parseTables(md).find(
    (x) => column(x, "rqlitestore ops/s") >= 0 && column(x, "raw undici") >= 0,
  );
  if (t === undefined) return undefined;
  const cols = [
    ["RqliteStore", column(t, "rqlitestore ops/s")],
    ["raw undici", column(t, "raw undici")],
    ["raw node:http", column(t, "raw node:http")],
  ] as const;
  return barChart({
    title: "rqlite: RqliteStore vs raw HTTP requests to the same node",
    subtitle: "operations per second, same statements, median of the rounds",
    axis: "operations per second (higher is better)",
    groups: t.rows.map((r) => ({
      title: `${r[0]}, ${r[1]} concurrent`,
      bars: cols
        .filter(([, i]) => i >= 0)
        .map(([label, i]) => ({
          label,
          value: cellNumber(r[i]),
          kind: kindOf(label),
          text: `${r[i]} ops/s`,
        })),
    })),
  });
}

/**
 * Section 1: req/s relative to the bare framework, from the tables bench/http.ts writes
 * (headings "node:http" and "Express 5", columns "READ ratio", "WRITE ratio", "… req/s").
 * @returns the SVG, or undefined when the tables are not found.
 */
export function httpChart(md: string): string | undefined {
  const tables = parseTables(md).filter((t) => column(t, "READ ratio") >= 0);
  if (tables.length === 0) return undefined;
  const groups: BarGroup[] = [];
  for (const t of tables) {
    for (const mode of ["READ", "WRITE"]) {
      const ratio = column(t, `${mode} ratio`);
      const rps = column(t, `${mode} req/s`);
      groups.push({
        title: `${t.heading}, ${mode}`,
        bars: t.rows.map((r) => {
          const v = cellNumber(r[ratio]);
          return {
            label: r[0]!,
            value: v,
            kind: kindOf(r[0]!),
            text: `${fmt(v, 2)}  (${r[rps]} req/s)`,
          };
        }),
      });
    }
  }
  const rounds = /Median of (\d+) rounds/.exec(md)?.[1];
  return barChart({
    title: "HTTP overhead: req/s relative to the bare framework",
    subtitle: `same handler body, one session cookie${rounds === undefined ? "" : `; median of ${rounds} rounds`}, ratios within each round`,
    axis: "ratio to the bare framework in the same round (higher is better)",
    groups,
    marks: [
      { value: 1, label: "bare = 1.0" },
      { value: 0.9, label: "READ goal 0.90" },
      { value: 0.8, label: "WRITE goal 0.80" },
    ],
  });
}
