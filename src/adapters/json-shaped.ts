/**
 * What the peers' JSON stores make of a value with a `toJSON` method (a Mongoose document, an
 * ObjectId, a Decimal, a Luxon or Moment date, a URL): its `toJSON()` result. The drop-ins
 * apply it only to data the codec refused, so the common path walks nothing.
 * @module
 */
import { defineOwnData } from "../own-data.ts";

/** Deeper than any session data; past it values are left for the codec to name. */
const MAX_DEPTH = 64;

function isCodecContainer(proto: unknown): boolean {
  return (
    proto === Date.prototype ||
    proto === Map.prototype ||
    proto === Set.prototype ||
    proto === Uint8Array.prototype ||
    proto === Buffer.prototype
  );
}

function shaped(value: unknown, key: string, depth: number, seen: Set<object>): unknown {
  if (value === null || typeof value !== "object" || depth > MAX_DEPTH) return value;
  if (seen.has(value)) return value; // a cycle: the codec names it
  const proto: unknown = Object.getPrototypeOf(value);
  if (isCodecContainer(proto)) return value;
  if (proto === Array.prototype) {
    const array = value as unknown[];
    let copy: unknown[] | undefined;
    seen.add(value);
    for (let i = 0; i < array.length; i++) {
      const item = shaped(array[i], String(i), depth + 1, seen);
      if (item !== array[i]) {
        copy ??= array.slice();
        copy[i] = item;
      }
    }
    seen.delete(value);
    return copy ?? value;
  }
  if (proto === Object.prototype || proto === null) {
    const record = value as Record<string, unknown>;
    // JSON.stringify asks a plain object for its toJSON too (not the session's data itself).
    const own = record.toJSON;
    if (depth > 0 && typeof own === "function") {
      seen.add(value);
      try {
        return shaped(own.call(value, key), key, depth + 1, seen);
      } finally {
        seen.delete(value);
      }
    }
    const keys = Object.keys(record);
    let items: unknown[] | undefined;
    seen.add(value);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const item = shaped(record[k], k, depth + 1, seen);
      if (item !== record[k]) {
        items ??= keys.map((each) => record[each]);
        items[i] = item;
      }
    }
    seen.delete(value);
    if (items === undefined) return value;
    // Own data properties, as the values had: a "__proto__" key stays a key.
    const copy = Object.create(proto as object | null) as Record<string, unknown>;
    for (let i = 0; i < keys.length; i++) defineOwnData(copy, keys[i]!, items[i]);
    return copy;
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON !== "function") return value; // the codec refuses it, naming the key
  seen.add(value);
  try {
    return shaped(toJSON.call(value, key), key, depth + 1, seen);
  } finally {
    seen.delete(value);
  }
}

/**
 * Replaces every value with a `toJSON` method, at any depth of plain objects and arrays, by what
 * `toJSON()` returns (as `JSON.stringify` would store it); other values are kept as they are.
 * @returns `values` itself when nothing was replaced, else a copy.
 * @throws what a `toJSON` method throws.
 */
export function jsonShaped(values: Record<string, unknown>): Record<string, unknown> {
  return shaped(values, "", 0, new Set()) as Record<string, unknown>;
}
