/**
 * The RSS curve of `npm run flood` as an SVG line chart (hand-written, no dependency, in the
 * look of bench/*.svg) and as CSV.
 * @module
 */
import type { FloodReport } from "./flood.ts";

const WIDTH = 820;
const HEIGHT = 380;
const LEFT = 70;
const RIGHT = 20;
const TOP = 58;
const BOTTOM = 60;
const MB = 1_048_576;

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A round step for about `n` ticks over `0..max`. */
function step(max: number, n: number): number {
  const raw = max / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? raw;
}

/**
 * Draws RSS, heap and the store's counted bytes against requests sent.
 * @returns the SVG document.
 */
export function floodChart(r: FloodReport, title: string): string {
  const xs = r.samples.map((s) => s.requests);
  const xMax = Math.max(...xs, 1);
  const limit = r.baselineRss + r.maxBytes + r.marginBytes;
  const yMax = Math.max(limit, ...r.samples.map((s) => s.rss)) * 1.08;
  const w = WIDTH - LEFT - RIGHT;
  const h = HEIGHT - TOP - BOTTOM;
  const x = (v: number) => LEFT + (v / xMax) * w;
  const y = (v: number) => TOP + h - (v / yMax) * h;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" role="img" aria-labelledby="chart-title">`,
    `<title id="chart-title">${esc(title)}</title>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="12" y="24" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text x="12" y="44" font-size="12" fill="#4b5563">${esc(
      `maxBytes ${(r.maxBytes / MB).toFixed(0)} MiB; ${r.requests.toLocaleString("en-US")} cookieless session-creating requests in ${r.seconds.toFixed(0)} s; a loyal client ${r.loyal.signedIn ? "still signed in" : "SIGNED OUT"} at the end`,
    )}</text>`,
  ];
  const yStep = step(yMax / MB, 6);
  for (let v = 0; v * MB <= yMax; v += yStep) {
    out.push(
      `<line x1="${LEFT}" y1="${y(v * MB).toFixed(1)}" x2="${WIDTH - RIGHT}" y2="${y(v * MB).toFixed(1)}" stroke="#e5e7eb"/>`,
      `<text x="${LEFT - 6}" y="${(y(v * MB) + 4).toFixed(1)}" text-anchor="end" font-size="11">${v}</text>`,
    );
  }
  const xStep = step(xMax, 8);
  for (let v = 0; v <= xMax; v += xStep) {
    const label = xMax >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : `${(v / 1e3).toFixed(0)}k`;
    out.push(
      `<text x="${x(v).toFixed(1)}" y="${TOP + h + 16}" text-anchor="middle" font-size="11">${label}</text>`,
    );
  }
  const hline = (v: number, text: string, color: string) =>
    out.push(
      `<line x1="${LEFT}" y1="${y(v).toFixed(1)}" x2="${WIDTH - RIGHT}" y2="${y(v).toFixed(1)}" stroke="${color}" stroke-dasharray="4 3"/>`,
      `<text x="${WIDTH - RIGHT - 4}" y="${(y(v) - 4).toFixed(1)}" text-anchor="end" font-size="11" fill="${color}">${esc(text)}</text>`,
    );
  hline(limit, "limit: RSS before the flood + maxBytes + margin", "#b91c1c");
  hline(r.baselineRss + r.maxBytes, "RSS before the flood + maxBytes", "#6b7280");
  // At most ~600 points per line: of each run of samples, the one with the highest RSS.
  const every = Math.max(1, Math.ceil(r.samples.length / 600));
  const shown = r.samples.filter((s, i) => {
    const from = i - (i % every);
    const run = r.samples.slice(from, from + every);
    return s === run.reduce((a, b) => (b.rss > a.rss ? b : a));
  });
  const line = (pick: (s: FloodReport["samples"][number]) => number, color: string) => {
    const pts = shown.map((s) => `${x(s.requests).toFixed(1)},${y(pick(s)).toFixed(1)}`);
    out.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(" ")}"/>`,
    );
  };
  line((s) => s.rss, "#0f766e");
  line((s) => s.heapUsed + s.external, "#2563eb");
  line((s) => s.storeBytes, "#9ca3af");
  const legend: [string, string][] = [
    ["#0f766e", "server RSS"],
    ["#2563eb", "heap used + external"],
    ["#9ca3af", "MemStore bytes (as maxBytes counts them)"],
  ];
  let lx = LEFT;
  for (const [color, text] of legend) {
    out.push(
      `<rect x="${lx}" y="${HEIGHT - 22}" width="10" height="10" fill="${color}"/>`,
      `<text x="${lx + 14}" y="${HEIGHT - 13}" font-size="11">${esc(text)}</text>`,
    );
    lx += 30 + text.length * 6;
  }
  out.push(
    `<text x="${LEFT}" y="${TOP + h + 32}" font-size="11" fill="#4b5563">requests sent →   (y: MiB)</text>`,
    "</svg>",
    "",
  );
  return out.join("\n");
}

/**
 * The samples as CSV, one row per sample.
 * @returns the CSV text with a header row.
 */
export function floodCsv(r: FloodReport): string {
  const rows = r.samples.map((s) =>
    [
      (s.t / 1000).toFixed(1),
      s.requests,
      (s.rss / MB).toFixed(1),
      (s.heapUsed / MB).toFixed(1),
      (s.external / MB).toFixed(1),
      s.sessions,
      (s.storeBytes / MB).toFixed(1),
    ].join(","),
  );
  return `${["seconds", "requests", "rss_mib", "heap_used_mib", "external_mib", "sessions", "store_mib"].join(",")}\n${rows.join("\n")}\n`;
}
