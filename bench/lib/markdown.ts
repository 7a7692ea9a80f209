/**
 * Markdown tables: building them for RESULTS.md, and reading back the tables that the other
 * bench modules return (to chart them).
 * @module
 */

/** Column alignment: left for labels, right for numbers. */
export type Align = "left" | "right";

/**
 * Builds a markdown table.
 * @param head the header cells.
 * @param rows the body rows (cells as text).
 * @param align per column; missing columns are right-aligned except the first.
 * @returns the table as markdown lines joined by "\n".
 * @example table(["variant", "req/s"], [["bare", "65,000"]])
 */
export function table(head: string[], rows: string[][], align: Align[] = []): string {
  const rule = head.map((_, i) =>
    (align[i] ?? (i === 0 ? "left" : "right")) === "left" ? "---" : "---:",
  );
  const line = (cells: string[]): string => `| ${cells.join(" | ")} |`;
  return [line(head), line(rule), ...rows.map(line)].join("\n");
}

/** A table read back from markdown, with the nearest heading above it. */
export interface ParsedTable {
  heading: string;
  head: string[];
  rows: string[][];
}

/**
 * Finds every pipe table in `md`.
 * @returns the tables in order, each with the last heading (`#…`) seen before it ("" if none).
 */
export function parseTables(md: string): ParsedTable[] {
  const out: ParsedTable[] = [];
  const lines = md.split("\n");
  let heading = "";
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line.startsWith("#")) heading = line.replace(/^#+\s*/, "");
    const next = lines[i + 1]?.trim() ?? "";
    if (!line.startsWith("|") || !/^\|[\s:|-]+\|$/.test(next)) continue;
    const cells = (l: string): string[] =>
      l
        .replace(/^\|/, "")
        .replace(/\|$/, "")
        .split("|")
        .map((c) => c.trim());
    const head = cells(line);
    const rows: string[][] = [];
    i += 2;
    while (i < lines.length && lines[i]!.trim().startsWith("|"))
      rows.push(cells(lines[i++]!.trim()));
    i--;
    out.push({ heading, head, rows });
  }
  return out;
}

/**
 * Reads a number from a table cell: "12,345", "0.87×", "50 %", "1.2 ms" all work.
 * @returns the number, or NaN when the cell holds none.
 */
export function cellNumber(cell: string | undefined): number {
  const m = /-?[\d,]*\.?\d+(?:e[+-]?\d+)?/i.exec(cell ?? "");
  return m === null ? Number.NaN : Number(m[0].replace(/,/g, ""));
}

/**
 * The index of the first column whose header contains `text` (case-insensitive).
 * @returns the index, or -1.
 */
export function column(t: ParsedTable, text: string): number {
  const needle = text.toLowerCase();
  return t.head.findIndex((h) => h.toLowerCase().includes(needle));
}
