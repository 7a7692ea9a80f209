/**
 * What the drop-in entries (`scs-ts/express-session`, `scs-ts/koa-session`,
 * `scs-ts/fastify-session`) share: session data kept as plain properties of a peer-shaped
 * object and mirrored into the request's scs-ts {@link Session} just before each save, the
 * token a fresh session shows before its first commit, the cookie view, and the peers'
 * callback-or-promise convention.
 *
 * Change detection is by encoding, as the peers hash their JSON: the data is encoded with the
 * manager's codec when the object is filled and again before each save; only when the bytes
 * differ are the changed keys found (one small encoding per key) and put on, or removed from,
 * the session. A session whose data did not change is left unmodified, so nothing is written
 * and no cookie is sent; in-place changes to nested values (`session.flash.info.push(m)`) are
 * seen like assignments.
 * @module
 */
import type { Codec } from "../codec.ts";
import type { SessionManager } from "../manager.ts";
import { defineOwnData } from "../own-data.ts";
import {
  isInternalKey,
  MAX_AGE_KEY,
  type Session,
  type SessionData,
  sessionInternals,
} from "../session.ts";
import { generateToken, hashToken } from "../token.ts";
import { jsonShaped } from "./json-shaped.ts";

/** The deadline every comparison encoding carries, so only the values decide. */
const EPOCH = new Date(0);

/**
 * How the sessions of a manager that a drop-in built from the peer's options expire, as the
 * peers' do: each session lives `maxAge` (its own, once it set one) from its latest save, and
 * with `rolling` every request of a stored session saves it.
 */
export interface PeerExpiry {
  /** A session's lifetime in ms unless it sets its own; "session" for a browser-session cookie. */
  maxAge: number | "session";
  /** Whether every request of a stored session saves it and resends the cookie. */
  rolling: boolean;
}

/** The managers built by a drop-in from the peer's options, and their expiry. */
const peerExpiries = new WeakMap<object, PeerExpiry>();

/**
 * Makes the drop-in sessions of `manager` (a SessionManager) expire as the peers' do (see
 * {@link PeerExpiry}). The manager must have been built without `idleTimeout` and with
 * `cookie.persist: false`: the drop-in then sets each session's deadline and persistence when
 * it is saved.
 */
export function setPeerExpiry(manager: object, expiry: PeerExpiry): void {
  peerExpiries.set(manager, Object.freeze({ ...expiry }));
}

/** The longest lifetime a Date can end (about 100 million days); beyond it no deadline exists. */
const MAX_LIFETIME = 8.64e15 / 2;

/** Whether `ms` is a lifetime a session's deadline can be computed from. */
function isLifetime(ms: unknown): ms is number {
  return typeof ms === "number" && Number.isFinite(ms) && Math.abs(ms) <= MAX_LIFETIME;
}

/** A peer method's optional callback: `(err?) => void`. */
export type Callback = (err?: unknown) => void;

/** Data as the codec takes it: no prototype, so a `__proto__` key stays data. */
type Values = Record<string, unknown>;

function emptyValues(): Values {
  return Object.create(null) as Values;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The peers' data properties of `target`: own enumerable keys whose value is not undefined
 * (JSON-based stores drop undefined values too; csrf-sync revokes a token by assigning it).
 * @returns the values, or undefined when there are none.
 */
function dataOf(target: object): Values | undefined {
  let data: Values | undefined;
  const record = target as Record<string, unknown>;
  for (const key of Object.keys(target)) {
    const value = record[key];
    if (value === undefined || isInternalKey(key)) continue;
    data ??= emptyValues();
    data[key] = value;
  }
  return data;
}

/**
 * The token a drop-in shows for `session` (`req.sessionID`, `session.id`): a fresh session gets
 * its token on first use, as the peers give an id at once; it is stored (and sent) only if the
 * session changes.
 * @returns the token; "" once the session is destroyed.
 */
export function dropInToken<Data extends object>(
  manager: SessionManager<Data>,
  session: Session<Data>,
): string {
  if (session.token !== "" || session.status === "destroyed") return session.token;
  const token = generateToken();
  const storeKey = manager.options.hashTokenInStore ? hashToken(token) : token;
  sessionInternals.assignToken(session, token, storeKey);
  return token;
}

/**
 * One request's drop-in session: the scs-ts session underneath, and the peer-shaped object
 * (the "target") whose properties are the data.
 */
export class DropInState<Data extends object = SessionData> {
  readonly manager: SessionManager<Data>;
  readonly session: Session<Data>;
  /** Whether the session was not found in the store when the request began. */
  readonly isNew: boolean;
  /** The object whose properties are the data now; null once unset or destroyed. */
  target: object | null = null;
  /** Whether this request changed the session (data, token, expiry or existence). */
  changed = false;
  readonly #codec: Codec;
  /** The encoding of the data as last mirrored; undefined when there was none. */
  #snapshot: Uint8Array | undefined;
  /** The peers' expiry, when the drop-in built the manager from the peer's options. */
  readonly #peer: PeerExpiry | undefined;
  /** The session's change count when {@link prepareSave} last moved its deadline. */
  #prepared = -1;

  constructor(manager: SessionManager<Data>, session: Session<Data>) {
    this.manager = manager;
    this.session = session;
    this.isNew = session.token === "";
    this.#codec = manager.codec;
    this.#peer = peerExpiries.get(manager);
  }

  /** The session's values as the peers' data (without scs-ts's own `__rememberMe`, `__maxAge`). */
  #sessionData(): Values | undefined {
    const values = sessionInternals.values(this.session) as Values;
    let data: Values | undefined;
    for (const key of Object.keys(values)) {
      if (isInternalKey(key)) continue;
      data ??= emptyValues();
      data[key] = values[key];
    }
    return data;
  }

  /**
   * Makes `target` the session's object and copies the session's data onto it as own
   * enumerable properties. Keys the object already answers (its methods, `cookie`, `id`) are
   * left out, as express-session does.
   */
  fill(target: object): void {
    this.target = target;
    const data = this.#sessionData();
    if (data === undefined) {
      this.#snapshot = undefined;
      return;
    }
    let shown: Values | undefined;
    const record = target as Values;
    for (const key of Object.keys(data)) {
      // A key the object answers, own or inherited (`__proto__` included), is left out; any
      // other is a plain assignment, which makes the same writable, enumerable own property as
      // defineProperty would, at a fraction of its cost.
      if (key in target) continue;
      record[key] = data[key];
      shown ??= emptyValues();
      shown[key] = data[key];
    }
    this.#snapshot = shown === undefined ? undefined : this.#codec.encode(EPOCH, shown);
  }

  /**
   * Just before the session is saved: mirrors the data ({@link sync}) and, under the peers'
   * expiry, gives a session that will be saved its deadline — now + its maxAge, as the peers
   * reset the expiry on every save — and its cookie's persistence. With `rolling`, a stored
   * session is saved on every request.
   * @throws CodecError naming the key when a value cannot be stored.
   */
  prepareSave(): void {
    this.sync();
    const peer = this.#peer;
    if (peer === undefined) return;
    const session = this.session;
    const status = session.status;
    if (status === "destroyed") return;
    if (status !== "modified" && !(peer.rolling && !this.isNew && session.token !== "")) return;
    // Once per change: the guard asks again before the head (is the session stale?), and a
    // deadline moved then would be a change of its own, and so on without end.
    if (sessionInternals.changes(session) === this.#prepared) return;
    const span = this.#span(peer);
    const persistent = span !== "session";
    if (session.remembered !== persistent) session.rememberMe(persistent);
    const options = this.manager.options;
    const ms = span === "session" ? options.lifetime : span;
    session.setDeadline(new Date(options.now() + ms));
    this.#prepared = sessionInternals.changes(session);
  }

  /**
   * The peers' `save()`: writes the session to the store now, as express-session and
   * @fastify/session do (a `reload()` then reads it back, and a session saved after its
   * response went out — a socket.io handler's — is kept). The response still commits it before
   * its first byte if it changes again, and sends the cookie.
   * @returns the store's commit, or undefined when there is nothing to write (unmodified,
   *   destroyed or detached).
   * @throws CodecError naming the key when a value cannot be stored.
   */
  commitNow(): Promise<void> | undefined {
    if (this.target === null) return undefined;
    this.prepareSave();
    const session = this.session;
    if (session.status !== "modified") return undefined;
    return this.manager.commit(session).then(() => {
      this.changed = false;
    });
  }

  /** This session's maxAge under the peers' expiry: its own when it set one, else the entry's. */
  #span(peer: PeerExpiry): number | "session" {
    const own = sessionInternals.values(this.session)[MAX_AGE_KEY];
    return own === "session" || isLifetime(own) ? own : peer.maxAge;
  }

  /**
   * Makes `target` the session's object with the data it already holds as the session's new
   * data (Koa's `ctx.session = {...}`, Fastify's regenerate with kept keys): the next
   * {@link sync} writes the difference.
   */
  adopt(target: object): void {
    this.target = target;
  }

  /**
   * Mirrors the target's data into the session: puts changed keys, removes deleted ones.
   * Called before every save, and by the peers' `save()`.
   * @throws CodecError naming the key when a value cannot be stored.
   */
  sync(): void {
    const target = this.target;
    if (target === null) return;
    let data = dataOf(target);
    const before = this.#snapshot;
    if (data === undefined && before === undefined) return;
    let bytes: Uint8Array | undefined;
    if (data !== undefined) {
      try {
        bytes = this.#codec.encode(EPOCH, data);
      } catch (err) {
        // A value the codec refuses: what the peers' JSON stores keep of it, when it has a
        // toJSON (a Mongoose document, an ObjectId...); anything else is still refused.
        const plain = jsonShaped(data);
        if (plain === data) throw err;
        data = plain;
        bytes = this.#codec.encode(EPOCH, data);
      }
    }
    if (bytes !== undefined && before !== undefined && equalBytes(bytes, before)) return;
    const old = before === undefined ? emptyValues() : this.#codec.decode(before).values;
    const session = this.session as unknown as Session<SessionData>;
    if (data !== undefined) {
      for (const key of Object.keys(data)) {
        if (Object.hasOwn(old, key) && this.#same(old[key], data[key])) continue;
        session.put(key, data[key]);
      }
    }
    for (const key of Object.keys(old)) {
      if (data === undefined || !Object.hasOwn(data, key)) session.remove(key);
    }
    this.#snapshot = bytes;
    this.changed = true;
  }

  #same(a: unknown, b: unknown): boolean {
    const aIsObject = a !== null && typeof a === "object";
    const bIsObject = b !== null && typeof b === "object";
    // A primitive equals only the same primitive; only two objects need their encodings.
    if (!aIsObject || !bIsObject) return !aIsObject && !bIsObject && Object.is(a, b);
    const one = emptyValues();
    const other = emptyValues();
    one.v = a;
    other.v = b;
    return equalBytes(this.#codec.encode(EPOCH, one), this.#codec.encode(EPOCH, other));
  }

  /**
   * The session's token. A fresh session gets its token here, on first use, as the peers give
   * an id at once; it is stored (and sent) only if the session changes.
   */
  token(): string {
    return dropInToken(this.manager, this.session);
  }

  /**
   * A new token for the same session (the old one dies when the response is committed).
   * @param clear also drop the data (express-session and @fastify/session regenerate so).
   * @throws SessionError once the response headers went out.
   */
  renew(clear: boolean): void {
    // renewToken throws synchronously when it is too late; its Promise is already settled.
    void this.session.renewToken();
    if (clear) {
      this.session.clear();
      this.#snapshot = undefined;
    }
    this.changed = true;
  }

  /**
   * Deletes the session from the store (the response sends a deletion cookie) and detaches the
   * object.
   * @returns the store's delete.
   */
  destroy(): Promise<void> {
    this.target = null;
    this.#snapshot = undefined;
    this.changed = true;
    return this.session.destroy();
  }

  /**
   * Re-reads the session from the store, dropping what this request changed and has not
   * mirrored yet, and fills `target` with it.
   * @param missingIsEmpty a session not in the store reloads as empty (@fastify/session)
   *   instead of rejecting (express-session).
   * @returns a Promise settled when done; rejects when the session is not in the store.
   */
  async reload(target: object, missingIsEmpty = false): Promise<void> {
    const token = this.session.token;
    const stored = token === "" ? undefined : await this.manager.load(token);
    let values: Values;
    if (stored !== undefined && stored.token !== "") {
      values = sessionInternals.values(stored) as Values;
    } else if (missingIsEmpty) {
      values = emptyValues();
    } else {
      throw new Error("failed to load session");
    }
    const copy: Values = {};
    for (const key of Object.keys(values)) {
      defineOwnData(copy, key, values[key]);
    }
    sessionInternals.replaceValues(this.session as unknown as Session<SessionData>, copy);
    this.fill(target);
  }

  /** Whether the session holds no data. */
  get empty(): boolean {
    const target = this.target;
    return target === null || dataOf(target) === undefined;
  }

  /** A plain copy of the data (for `toJSON`, `data()`). */
  data(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const data = this.target === null ? undefined : dataOf(this.target);
    if (data === undefined) return out;
    for (const key of Object.keys(data)) {
      defineOwnData(out, key, data[key]);
    }
    return out;
  }

  /** Whether the cookie has Expires/Max-Age (not a browser-session cookie). */
  get persistent(): boolean {
    const peer = this.#peer;
    if (peer !== undefined) return this.#span(peer) !== "session";
    return this.manager.options.cookie.persist || this.session.remembered;
  }

  /** When the cookie (and the stored session) expires; null for a browser-session cookie. */
  get expires(): Date | null {
    if (!this.persistent) return null;
    const options = this.manager.options;
    const deadline = sessionInternals.deadline(this.session);
    const idle = options.idleTimeout;
    return new Date(idle > 0 ? Math.min(deadline, options.now() + idle) : deadline);
  }

  /**
   * The lifetime of the cookie, in ms: the session's own maxAge (under the peers' expiry), else
   * the idle timeout when rolling, else the lifetime; null for a browser-session cookie.
   */
  get originalMaxAge(): number | null {
    const peer = this.#peer;
    if (peer !== undefined) {
      const span = this.#span(peer);
      return span === "session" ? null : span;
    }
    if (!this.persistent) return null;
    const options = this.manager.options;
    return options.idleTimeout > 0 ? options.idleTimeout : options.lifetime;
  }

  /**
   * Sets how long the session lives from now (the peers' `cookie.maxAge = ms`). `null` makes a
   * browser-session cookie. Under the peers' expiry the session keeps this maxAge for its later
   * saves; otherwise null needs the manager's `cookie.persist: false` (with the default
   * `persist: true` every cookie is persistent and null changes nothing).
   * @throws TypeError when `ms` is neither null nor a number.
   */
  setMaxAge(ms: number | null): void {
    const options = this.manager.options;
    if (this.#peer !== undefined) {
      if (ms !== null && !isLifetime(ms)) {
        throw new TypeError(`cookie.maxAge is invalid: ${String(ms)} (expected milliseconds)`);
      }
      const session = this.session as unknown as Session<SessionData>;
      session.put(MAX_AGE_KEY, ms === null ? "session" : ms);
      session.setDeadline(new Date(options.now() + (ms ?? options.lifetime)));
      this.changed = true;
      return;
    }
    if (ms === null) {
      if (!options.cookie.persist && this.session.remembered) {
        this.session.rememberMe(false);
        this.changed = true;
      }
      return;
    }
    if (!isLifetime(ms)) {
      throw new TypeError(`cookie.maxAge is invalid: ${String(ms)} (expected milliseconds)`);
    }
    this.session.setDeadline(new Date(options.now() + ms));
    if (!options.cookie.persist) this.session.rememberMe(true);
    this.changed = true;
  }
}

/**
 * Runs a peer method's store work with its callback (called on a later tick, as the peers'
 * stores call back) or, without one, as a Promise. Left un-awaited, a rejected Promise never
 * becomes an unhandled rejection (as `session.destroy()`'s): what failed fails again when the
 * response commits, and answers 5xx there.
 * @returns undefined with a callback, else the Promise.
 */
export function callbackOrPromise(
  work: () => Promise<void> | undefined,
  callback: Callback | undefined,
): Promise<void> | undefined {
  let promise: Promise<void>;
  try {
    promise = work() ?? Promise.resolve();
  } catch (err) {
    promise = Promise.reject(err);
  }
  if (typeof callback !== "function") {
    promise.then(undefined, () => {});
    return promise;
  }
  promise.then(
    () => callback(),
    (err: unknown) => callback(err),
  );
  return undefined;
}

/** The session cookie's attributes, as the peers show them on `session.cookie`. */
export interface CookieView {
  originalMaxAge: number | null;
  maxAge: number | null;
  expires: Date | null;
  readonly httpOnly: boolean;
  readonly secure: boolean;
  readonly sameSite: "lax" | "strict" | "none" | false;
  readonly path: string;
  readonly domain: string | undefined;
  readonly partitioned: boolean;
  toJSON(): Record<string, unknown>;
}

function fixed(name: string): never {
  throw new TypeError(
    `session.cookie.${name} is fixed by the SessionManager's cookie options; set cookie.${name} there`,
  );
}

/**
 * `session.cookie` of the Express and Fastify shapes: `maxAge` and `expires` read and set the
 * session's expiry; the other attributes come from the manager and cannot be set per session
 * (setting one throws a TypeError rather than be silently ignored).
 */
export class SessionCookie implements CookieView {
  readonly #state: DropInState<object>;

  constructor(state: DropInState<object>) {
    this.#state = state;
  }

  get originalMaxAge(): number | null {
    return this.#state.originalMaxAge;
  }
  set originalMaxAge(ms: number | null) {
    this.#state.setMaxAge(ms);
  }

  /** Milliseconds until the cookie expires; null for a browser-session cookie. */
  get maxAge(): number | null {
    const expires = this.#state.expires;
    return expires === null ? null : expires.getTime() - this.#state.manager.options.now();
  }
  set maxAge(ms: number | null) {
    this.#state.setMaxAge(ms ?? null);
  }

  get expires(): Date | null {
    return this.#state.expires;
  }
  set expires(date: Date | null) {
    if (date instanceof Date) {
      this.#state.setMaxAge(date.getTime() - this.#state.manager.options.now());
    } else if (date === null || date === undefined || (date as unknown) === false) {
      this.#state.setMaxAge(null);
    } else {
      throw new TypeError(`cookie.expires is invalid: ${String(date)} (expected a Date or null)`);
    }
  }

  get httpOnly(): boolean {
    return this.#state.manager.options.cookie.httpOnly;
  }
  set httpOnly(_: boolean) {
    fixed("httpOnly");
  }
  get secure(): boolean {
    return this.#state.manager.options.cookie.secure;
  }
  set secure(_: boolean) {
    fixed("secure");
  }
  get sameSite(): "lax" | "strict" | "none" | false {
    return this.#state.manager.options.cookie.sameSite;
  }
  set sameSite(_: "lax" | "strict" | "none" | false) {
    fixed("sameSite");
  }
  get path(): string {
    return this.#state.manager.options.cookie.path;
  }
  set path(_: string) {
    fixed("path");
  }
  get domain(): string | undefined {
    return this.#state.manager.options.cookie.domain;
  }
  set domain(_: string | undefined) {
    fixed("domain");
  }
  get partitioned(): boolean {
    return this.#state.manager.options.cookie.partitioned;
  }
  set partitioned(_: boolean) {
    fixed("partitioned");
  }

  toJSON(): Record<string, unknown> {
    return {
      originalMaxAge: this.originalMaxAge,
      expires: this.expires,
      secure: this.secure,
      httpOnly: this.httpOnly,
      domain: this.domain,
      path: this.path,
      sameSite: this.sameSite,
      partitioned: this.partitioned,
    };
  }
}
