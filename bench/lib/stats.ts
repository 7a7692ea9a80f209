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
