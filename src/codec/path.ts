/**
 * Key paths for codec error messages: `user.greet`, `cart[2].price`, `prefs[theme]`.
 * @module
 */

/** The kind of step a path segment is. */
export type PathKind = 0 | 1 | 2 | 3;
/** An object key: `.key`. */
export const SEG_KEY = 0;
/** An array or Set position: `[3]`. */
export const SEG_INDEX = 1;
/** The n-th key of a Map itself: `[key #n]`. */
export const SEG_MAP_KEY = 2;
/** The value of a Map under a key: `[key]`. */
export const SEG_MAP_VALUE = 3;

/** Longest path segment shown; keys can be client-influenced, so messages stay bounded. */
const MAX_SEGMENT = 64;

function clip(s: string): string {
  return s.length > MAX_SEGMENT ? `${s.slice(0, MAX_SEGMENT)}…` : s;
}

function mapKey(k: unknown): string {
  switch (typeof k) {
    case "string":
      return JSON.stringify(clip(k));
    case "number":
    case "boolean":
      return String(k);
    case "bigint":
      return `${k}n`;
    default:
      return k === null ? "null" : k === undefined ? "undefined" : `<${typeof k}>`;
  }
}

/** Longest path shown in full; a longer one keeps its start and end. */
const MAX_PATH = 240;

/** Renders the first `depth` segments as a path (empty string for the top level). */
export function formatPath(segs: unknown[], kinds: ArrayLike<PathKind>, depth: number): string {
  let out = "";
  for (let d = 0; d < depth; d++) {
    const seg = segs[d];
    switch (kinds[d]) {
      case SEG_KEY:
        out += d === 0 ? clip(String(seg)) : `.${clip(String(seg))}`;
        break;
      case SEG_INDEX:
        out += `[${String(seg)}]`;
        break;
      case SEG_MAP_KEY:
        out += `[key #${String(seg)}]`;
        break;
      default:
        out += `[${mapKey(seg)}]`;
    }
  }
  return out.length > MAX_PATH ? `${out.slice(0, MAX_PATH / 2)}…${out.slice(-MAX_PATH / 2)}` : out;
}
