/**
 * Small statistics and number formatting for the bench reports.
 * @module
 */

/**
 * The median of `xs` (mean of the middle two for an even count).
 * @returns the median, or NaN for an empty list.
 * @example median([3, 1, 2]) // 2
 */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** @returns the smallest and largest of `xs` ([NaN, NaN] when empty). */
export function range(xs: readonly number[]): [number, number] {
  if (xs.length === 0) return [Number.NaN, Number.NaN];
  return [Math.min(...xs), Math.max(...xs)];
}

/**
 * Formats a number with thousands separators.
 * @param digits fraction digits. @default 0
 * @returns e.g. "12,345" or "0.87".
 */
export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return "–";
  return n.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

/** @returns a promise resolved after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Alternates a store and the raw calls it makes for `rounds` (after one warm-up of each: JIT,
 * caches, connections), flipping which goes first every round.
 * @returns the median of each side, the median of the per-round ratio store/raw, and every ratio.
 */
export async function sideBySide(
  rounds: number,
  measure: (which: "store" | "raw") => number | Promise<number>,
): Promise<{ store: number; raw: number; ratio: number; ratios: number[] }> {
  await measure("store");
  await measure("raw");
  const s: number[] = [];
  const r: number[] = [];
  const ratios: number[] = [];
  for (let k = 0; k < rounds; k++) {
    const first = k % 2 === 0 ? "store" : "raw";
    const a = await measure(first);
    const b = await measure(first === "store" ? "raw" : "store");
    const [st, rw] = first === "store" ? [a, b] : [b, a];
    s.push(st);
    r.push(rw);
    ratios.push(st / rw);
  }
  return { store: median(s), raw: median(r), ratio: median(ratios), ratios };
}
