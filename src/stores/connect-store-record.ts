/**
 * The session object the bridge hands an express-session store, and how it reads one back:
 * the expiry where those stores look for their TTL, the session bytes as base64 in one field.
 * @module
 */

/**
 * The `cookie` of a bridged record: the fields express-session stores read for their TTL.
 * `expires` is a Date, as in express-session's own Cookie (JSON turns it into an ISO string);
 * `maxAge` and `originalMaxAge` are the milliseconds left at commit time, for stores that
 * compute the TTL from them.
 */
export interface BridgedCookie {
  /** Milliseconds from the commit to the expiry. */
  originalMaxAge: number;
  /** The same: what stores reading `cookie.maxAge` (memorystore, session-file-store) use. */
  maxAge: number;
  /** The expiry; connect-redis, connect-pg-simple, MemoryStore and connect-mongo read it. */
  expires: Date;
}

/**
 * What `fromExpressStore` stores under each key: an express-session-shaped session object.
 *
 * @example
 * // JSON as MemoryStore or connect-redis hold it
 * {"cookie":{"originalMaxAge":86400000,"maxAge":86400000,"expires":"2026-12-03T00:00:00.000Z"},
 *  "scs":"AQID","scsKey":"<the key it is stored under>"}
 */
export interface BridgedSessionRecord {
  /** The expiry, for the store's TTL. */
  cookie: BridgedCookie;
  /** The session bytes, base64. */
  scs: string;
  /**
   * The key the record is stored under (the token, or its hash with `hashTokenInStore`): lets
   * `all()` key stores whose `all` lists sessions without their ids, and lets `find` refuse a
   * record some store returned for another key.
   */
  scsKey: string;
}

/** @returns the record for `data` under `key`, expiring at `expiry` (ms since the epoch). */
export function toRecord(
  key: string,
  data: Uint8Array,
  expiry: number,
  now: number,
): BridgedSessionRecord {
  const left = expiry - now;
  return {
    cookie: { originalMaxAge: left, maxAge: left, expires: new Date(expiry) },
    scs: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64"),
    scsKey: key,
  };
}

function expiryOf(cookie: unknown): number {
  if (typeof cookie !== "object" || cookie === null) return Number.NaN;
  const expires = (cookie as { expires?: unknown }).expires;
  if (expires instanceof Date) return expires.getTime();
  if (typeof expires === "string" || typeof expires === "number") {
    return new Date(expires).getTime();
  }
  return Number.NaN;
}

/**
 * Reads back what a store returned for a session.
 *
 * @param value - the store's answer: a session object (or its JSON text).
 * @param key - the key it was asked for, or undefined to take the record's own `scsKey`.
 * @param now - the clock, ms since the epoch.
 * @returns the key and bytes; undefined for anything that is not a live record of ours
 * (missing, another application's session, malformed, expired, stored under another key).
 */
export function fromRecord(
  value: unknown,
  key: string | undefined,
  now: number,
): { key: string; data: Uint8Array } | undefined {
  try {
    if (typeof value === "string") value = JSON.parse(value);
    if (typeof value !== "object" || value === null) return undefined;
    const { scs, scsKey, cookie } = value as Partial<Record<keyof BridgedSessionRecord, unknown>>;
    if (typeof scs !== "string" || typeof scsKey !== "string") return undefined;
    if (key !== undefined && scsKey !== key) return undefined;
    const expiry = expiryOf(cookie);
    // NaN (no or a bad expiry) fails this too.
    if (!(expiry > now)) return undefined;
    if (scs.length % 4 !== 0) return undefined;
    const bytes = Buffer.from(scs, "base64");
    // Buffer skips characters outside base64 (and stops at a "=" inside): any such character
    // leaves fewer bytes than a well-formed string of this length gives. Cheaper than a regex.
    const padding = scs.endsWith("==") ? 2 : scs.endsWith("=") ? 1 : 0;
    if (bytes.byteLength !== (scs.length / 4) * 3 - padding) return undefined;
    return { key: scsKey, data: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
  } catch {
    // JSON that does not parse, a getter that throws: not a session of ours.
    return undefined;
  }
}

/**
 * Reads what a store's `all` returned: an object keyed by session id (MemoryStore), an array
 * of sessions (connect-redis adds their `id`; others do not, hence `scsKey`), a Map, or
 * nothing.
 * @returns the live records of ours, keyed by the key each is stored under.
 */
export function fromAll(value: unknown, now: number): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  if (typeof value !== "object" || value === null) return out;
  const add = (record: unknown, key: string | undefined): void => {
    const found = fromRecord(record, key, now);
    if (found !== undefined) out.set(found.key, found.data);
  };
  if (Array.isArray(value)) {
    for (const record of value) add(record, undefined);
  } else if (value instanceof Map) {
    for (const [key, record] of value) add(record, typeof key === "string" ? key : undefined);
  } else {
    for (const key of Object.keys(value)) add((value as Record<string, unknown>)[key], key);
  }
  return out;
}
