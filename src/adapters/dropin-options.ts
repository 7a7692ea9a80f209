/**
 * The options of the drop-in entries: `{ sessions }` (a SessionManager) or SessionManager
 * options, plus the peer's own option names, mapped where they have an scs-ts meaning,
 * accepted and ignored where scs-ts does not need them, refused (TypeError) where honouring
 * them is impossible and ignoring them would change what the application asked for.
 * @module
 */
import type { CookieOptions } from "../cookie.ts";
import { coreOf } from "../http/core.ts";
import { SessionManager } from "../manager.ts";
import {
  resolveTransport,
  type SessionManagerOptions,
  type Transport,
  type TransportOptions,
} from "../options.ts";
import { MemStore } from "../stores/memstore.ts";
import { type PeerExpiry, setPeerExpiry } from "./dropin-state.ts";

/** Browsers cap a cookie's lifetime at 400 days (RFC 6265bis §5.5): a rolling session's lifetime. */
export const ROLLING_LIFETIME = 400 * 86_400_000;

/** The cookie options the drop-ins take: scs-ts's, plus the peers' `maxAge` and friends. */
export interface DropInCookieOptions extends Omit<CookieOptions, "sameSite" | "secure"> {
  /** Lifetime of the session in ms (the peers' name for `lifetime`); absent or null: see each entry. */
  maxAge?: number | null | undefined;
  /** `true` means "strict", as in the peers; strings are case-insensitive. @default "lax" */
  sameSite?: boolean | "lax" | "strict" | "none" | "Lax" | "Strict" | "None" | undefined;
  /** HTTPS only. `"auto"` is refused: the attribute cannot depend on the request in scs-ts. */
  secure?: boolean | undefined;
  /** Accepted and ignored: tokens are 256-bit random and need no signature. */
  signed?: boolean | undefined;
}

/** Options every drop-in takes besides its peer's: a manager, or what to build one from. */
export interface DropInBaseOptions<Data extends object>
  extends Omit<SessionManagerOptions, "cookie">,
    TransportOptions {
  /** The session manager; without it the entry builds one from the other options. */
  sessions?: SessionManager<Data>;
  /** Cookie attributes (scs-ts's names and the peer's). */
  cookie?: DropInCookieOptions;
  /** Accepted and ignored: tokens are 256-bit random and need no signature. */
  secret?: unknown;
}

/** How one peer's options map onto scs-ts. */
export interface PeerOptionTable {
  /** The entry, for messages ("scs-ts/express-session"). */
  entry: string;
  /** The peer's cookie name option, and its default. */
  nameOption: string;
  defaultName: string;
  /** Where the peer reads the lifetime: `cookie.maxAge` or a top-level `maxAge`. */
  maxAgeAt: "cookie" | "top";
  /** Whether a cookie without maxAge is a browser-session cookie in the peer. */
  sessionCookieByDefault: boolean;
  /** The peer's default lifetime when maxAge is absent (koa-session: one day). */
  defaultMaxAge?: number;
  /** The peer's default for `rolling` and for `cookie.secure`. */
  rollingByDefault: boolean;
  secureByDefault: boolean;
  /** Peer options accepted and ignored. */
  ignored: readonly string[];
  /** Peer options refused, with the reason. */
  refused: Readonly<Record<string, string>>;
}

const MANAGER_KEYS = [
  "store",
  "lifetime",
  "idleTimeout",
  "cookie",
  "codec",
  "hashTokenInStore",
  "onError",
  "logger",
  "concurrency",
  "now",
] as const;

const COOKIE_KEYS = new Set([
  "name",
  "domain",
  "path",
  "httpOnly",
  "secure",
  "sameSite",
  "partitioned",
  "persist",
  "maxAge",
  "signed",
]);

const REFUSED_COOKIE_KEYS: Readonly<Record<string, string>> = {
  expires: "a fixed expiry date for every session; use cookie.maxAge",
  priority: "scs-ts does not write the Priority attribute",
  encode: "scs-ts writes the token as is",
};

function invalid(entry: string, option: string, value: unknown, why: string): TypeError {
  let shown: string;
  try {
    shown = typeof value === "function" ? "a function" : (JSON.stringify(value) ?? String(value));
  } catch {
    shown = typeof value;
  }
  return new TypeError(`${entry}: option ${option} is invalid: ${shown} (${why})`);
}

function isManager(value: unknown): boolean {
  try {
    coreOf(value as object);
    return true;
  } catch {
    return false;
  }
}

/** An express-session (or koa-session, @fastify/session) store: callbacks, not find/commit. */
function isPeerStore(store: unknown): boolean {
  if (typeof store !== "object" || store === null) return false;
  const s = store as Record<string, unknown>;
  return typeof s.find !== "function" && typeof s.get === "function";
}

function mapSameSite(entry: string, value: unknown): "lax" | "strict" | "none" | false | undefined {
  if (value === undefined) return undefined;
  if (value === true) return "strict";
  if (value === false) return false;
  if (typeof value === "string") {
    const lower = value.toLowerCase();
    if (lower === "lax" || lower === "strict" || lower === "none") return lower;
  }
  throw invalid(
    entry,
    "cookie.sameSite",
    value,
    'expected true, false, "lax", "strict" or "none"; "auto" cannot depend on the request',
  );
}

/** The resolved drop-in options: the manager and the token transport. */
export interface ResolvedDropIn<Data extends object> {
  sessions: SessionManager<Data>;
  transport: Transport;
}

/**
 * Resolves a drop-in's options: takes `sessions` or builds a SessionManager from the rest.
 * @param options what the application passed.
 * @param table the peer's option names.
 * @param extra the entry's own options (read by the entry itself, e.g. `unset`).
 * @returns the manager and transport.
 * @throws TypeError naming the option for a bad, refused, unknown or conflicting one.
 */
export function resolveDropIn<Data extends object>(
  options: unknown,
  table: PeerOptionTable,
  extra: readonly string[] = [],
): ResolvedDropIn<Data> {
  const entry = table.entry;
  if (options === undefined) options = {};
  if (typeof options !== "object" || options === null) {
    throw invalid(entry, "options", options, "expected an object");
  }
  const given = options as Record<string, unknown>;
  const transport = resolveTransport({ header: given.header as string | undefined });
  const building: string[] = [];
  for (const key of Object.keys(given)) {
    const value = given[key];
    if (value === undefined) continue;
    if (key === "sessions" || key === "header" || key === "secret") continue;
    if (table.ignored.includes(key) || extra.includes(key)) continue;
    const refusal = table.refused[key];
    if (refusal !== undefined) throw invalid(entry, key, value, refusal);
    if (
      (MANAGER_KEYS as readonly string[]).includes(key) ||
      key === table.nameOption ||
      key === "rolling" ||
      (table.maxAgeAt === "top" && key === "maxAge")
    ) {
      building.push(key);
      continue;
    }
    throw new TypeError(`${entry}: unknown option ${key}`);
  }
  if (given.sessions !== undefined) {
    if (!isManager(given.sessions)) {
      throw invalid(entry, "sessions", typeof given.sessions, "expected a SessionManager");
    }
    if (building.length > 0) {
      throw new TypeError(
        `${entry}: option ${building[0]} cannot be combined with sessions (the SessionManager's own options apply: set it there)`,
      );
    }
    return { sessions: given.sessions as SessionManager<Data>, transport };
  }
  const { options: built, expiry } = managerOptions(given, table);
  const sessions = new SessionManager<Data>(built);
  if (expiry !== undefined) setPeerExpiry(sessions, expiry);
  return { sessions, transport };
}

/**
 * The manager's options built from the peer's, and the peers' expiry when the application
 * left expiry to the peer's options (no `lifetime`, `idleTimeout` or `cookie.persist`).
 */
function managerOptions(
  given: Record<string, unknown>,
  table: PeerOptionTable,
): { options: SessionManagerOptions; expiry: PeerExpiry | undefined } {
  const entry = table.entry;
  const out: Record<string, unknown> = {};
  for (const key of MANAGER_KEYS) {
    if (key !== "cookie" && given[key] !== undefined) out[key] = given[key];
  }
  if (isPeerStore(out.store)) {
    throw invalid(
      entry,
      "store",
      "a callback store",
      "expected an scs-ts Store (find/commit/delete): MemStore, RqliteStore or your own",
    );
  }
  const cookieIn = (given.cookie ?? {}) as Record<string, unknown>;
  if (typeof cookieIn !== "object" || cookieIn === null) {
    throw invalid(entry, "cookie", cookieIn, "expected an object");
  }
  const cookie: CookieOptions = {};
  for (const key of Object.keys(cookieIn)) {
    const value = cookieIn[key];
    if (value === undefined) continue;
    const refusal = REFUSED_COOKIE_KEYS[key];
    if (refusal !== undefined) throw invalid(entry, `cookie.${key}`, value, refusal);
    if (!COOKIE_KEYS.has(key)) throw new TypeError(`${entry}: unknown option cookie.${key}`);
    if (value === "auto") {
      throw invalid(entry, `cookie.${key}`, value, "it cannot depend on the request in scs-ts");
    }
  }
  const peerName = given[table.nameOption];
  if (peerName !== undefined && cookieIn.name !== undefined) {
    throw new TypeError(`${entry}: give ${table.nameOption} or cookie.name, not both`);
  }
  cookie.name = (peerName ?? cookieIn.name ?? table.defaultName) as string;
  for (const key of ["domain", "path", "httpOnly", "partitioned"] as const) {
    if (cookieIn[key] !== undefined) (cookie as Record<string, unknown>)[key] = cookieIn[key];
  }
  cookie.secure = (cookieIn.secure ?? table.secureByDefault) as boolean;
  const sameSite = mapSameSite(entry, cookieIn.sameSite);
  if (sameSite !== undefined) cookie.sameSite = sameSite;

  const maxAgeName = table.maxAgeAt === "top" ? "maxAge" : "cookie.maxAge";
  let maxAge = table.maxAgeAt === "top" ? given.maxAge : cookieIn.maxAge;
  if (maxAge === undefined && table.defaultMaxAge !== undefined) maxAge = table.defaultMaxAge;
  const browserSession =
    maxAge === "session" ||
    maxAge === null ||
    (maxAge === undefined && table.sessionCookieByDefault);
  if (maxAge !== undefined && maxAge !== null && maxAge !== "session") {
    if (typeof maxAge !== "number" || !(maxAge > 0)) {
      throw invalid(entry, maxAgeName, maxAge, "expected a positive number of milliseconds");
    }
  }
  const ms = typeof maxAge === "number" ? maxAge : undefined;
  if (ms !== undefined && out.lifetime !== undefined) {
    throw new TypeError(`${entry}: give ${maxAgeName} or lifetime, not both`);
  }
  const rolling = given.rolling ?? table.rollingByDefault;
  if (typeof rolling !== "boolean") {
    throw invalid(entry, "rolling", rolling, "expected a boolean");
  }
  out.cookie = cookie;
  if (
    out.lifetime === undefined &&
    out.idleTimeout === undefined &&
    cookieIn.persist === undefined
  ) {
    // The peers' expiry: each session lives maxAge (its own, once set) from its latest save; the
    // drop-in sets the deadline and the cookie's persistence at each save (see PeerExpiry).
    cookie.persist = false;
    if (ms !== undefined) out.lifetime = ms;
    return { options: out as SessionManagerOptions, expiry: { maxAge: ms ?? "session", rolling } };
  }
  cookie.persist = (cookieIn.persist ?? !browserSession) as boolean;
  // rolling: the session lives maxAge after the last request (scs-ts's idle timeout).
  if (rolling && ms !== undefined) {
    if (out.idleTimeout !== undefined) {
      throw new TypeError(`${entry}: give rolling or idleTimeout, not both`);
    }
    out.idleTimeout = ms;
    out.lifetime = ROLLING_LIFETIME;
  } else if (ms !== undefined) {
    out.lifetime = ms;
  }
  return { options: out as SessionManagerOptions, expiry: undefined };
}

/** The in-memory store, for `session.MemoryStore` as express-session exports it. */
export { MemStore };
