/**
 * Hand-written SVG bar charts (no dependency) for RESULTS.md and the README: horizontal bars
 * in titled groups, optional reference lines (1.0 = baseline, targets), linear or log scale.
 * @module
 */

/** One bar. `kind` picks the colour: scs-ts, a peer, or the baseline. */
export interface Bar {
  label: string;
  value: number;
  /** Text printed after the bar. @default the value with 2 decimals */
  text?: string;
  /** @default "peer" */
  kind?: "ours" | "peer" | "base";
}

/** Bars under one group title (e.g. "node:http, READ"). */
export interface BarGroup {
  title: string;
  bars: Bar[];
}

/** A vertical reference line across the chart. */
export interface Mark {
  value: number;
  label: string;
}

/** What {@link barChart} draws. */
export interface ChartSpec {
  title: string;
  subtitle?: string;
  groups: BarGroup[];
  /** Axis caption, e.g. "ratio to bare node:http (higher is better)". */
  axis: string;
  marks?: Mark[];
  /** @default "linear" */
  scale?: "linear" | "log";
}

const COLORS = { ours: "#0f766e", peer: "#9ca3af", base: "#d1d5db" } as const;
const WIDTH = 820;
const LABEL_W = 300;
const BAR_W = 400;
const ROW = 22;
const GROUP_HEAD = 24;

/** Escapes text for SVG. */
function esc(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/**
 * Draws a horizontal bar chart.
 * @returns the SVG document as a string.
 * @example barChart({ title: "HTTP", axis: "ratio", groups: [{ title: "READ", bars: [{ label: "scs-ts", value: 0.9, kind: "ours" }] }] })
 */
export function barChart(spec: ChartSpec): string {
  const values = spec.groups.flatMap((g) => g.bars.map((b) => b.value)).filter(Number.isFinite);
  const markValues = (spec.marks ?? []).map((m) => m.value);
  const log = spec.scale === "log";
  const positive = [...values, ...markValues].filter((v) => v > 0);
  const hi = Math.max(...positive, 1e-9) * 1.05;
  const lo = log ? Math.min(...positive, hi) / 2 : 0;
  const x = (v: number): number => {
    if (!Number.isFinite(v) || v <= 0) return 0;
    if (log) return (Math.log(v / lo) / Math.log(hi / lo)) * BAR_W;
    return (v / hi) * BAR_W;
  };
  const top = spec.subtitle === undefined ? 40 : 58;
  const out: string[] = [];
  let y = top;
  for (const g of spec.groups) {
    out.push(`<text x="12" y="${y + 16}" font-weight="bold" font-size="13">${esc(g.title)}</text>`);
    y += GROUP_HEAD;
    for (const b of g.bars) {
      const w = Math.max(x(b.value), 1);
      const text = b.text ?? (Number.isFinite(b.value) ? b.value.toFixed(2) : "n/a");
      out.push(
        `<text x="${LABEL_W - 8}" y="${y + 15}" text-anchor="end" font-size="12">${esc(b.label)}</text>`,
        `<rect x="${LABEL_W}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW - 6}" fill="${COLORS[b.kind ?? "peer"]}"/>`,
        `<text x="${(LABEL_W + w + 6).toFixed(1)}" y="${y + 15}" font-size="12">${esc(text)}</text>`,
      );
      y += ROW;
    }
    y += 6;
  }
  const bottom = y;
  // Labels of nearby marks alternate between two lines so they do not overlap.
  const marks = [...(spec.marks ?? [])].sort((a, b) => a.value - b.value);
  for (const [i, m] of marks.entries()) {
    const mx = LABEL_W + x(m.value);
    const ly = bottom + 14 + (i % 2) * 12;
    out.push(
      `<line x1="${mx.toFixed(1)}" y1="${top - 4}" x2="${mx.toFixed(1)}" y2="${bottom}" stroke="#b91c1c" stroke-dasharray="4 3"/>`,
      `<text x="${mx.toFixed(1)}" y="${ly}" text-anchor="middle" font-size="11" fill="#b91c1c">${esc(m.label)}</text>`,
    );
  }
  const height = bottom + 56;
  const head = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" role="img" aria-labelledby="chart-title">`,
    `<title id="chart-title">${esc(spec.title)}</title>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="12" y="24" font-size="16" font-weight="bold">${esc(spec.title)}</text>`,
  ];
  if (spec.subtitle !== undefined) {
    head.push(`<text x="12" y="44" font-size="12" fill="#4b5563">${esc(spec.subtitle)}</text>`);
  }
  const legend = [
    `<text x="12" y="${height - 10}" font-size="11" fill="#4b5563">${esc(spec.axis)}${log ? " (log scale)" : ""}</text>`,
    `<rect x="${WIDTH - 250}" y="${height - 20}" width="10" height="10" fill="${COLORS.ours}"/>`,
    `<text x="${WIDTH - 236}" y="${height - 11}" font-size="11">scs-ts</text>`,
    `<rect x="${WIDTH - 190}" y="${height - 20}" width="10" height="10" fill="${COLORS.peer}"/>`,
    `<text x="${WIDTH - 176}" y="${height - 11}" font-size="11">peer</text>`,
    `<rect x="${WIDTH - 136}" y="${height - 20}" width="10" height="10" fill="${COLORS.base}"/>`,
    `<text x="${WIDTH - 122}" y="${height - 11}" font-size="11">baseline</text>`,
  ];
  return [...head, ...out, ...legend, "</svg>", ""].join("\n");
}
