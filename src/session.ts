/**
 * One request's session: its values, status, token and deadline, with SCS's data methods.
 * @module
 */
import { SessionError } from "./errors.ts";
import { defineOwnData } from "./own-data.ts";
import { type Awaitable, isPromiseLike } from "./store.ts";

/** Where a session stands: untouched, changed (will be committed), or destroyed. */
export type SessionStatus = "unmodified" | "modified" | "destroyed";

/** The shape session data may take: string keys to values the codec can encode. */
export type SessionData = Record<string, unknown>;

/** String keys of `Data`. */
export type KeyOf<Data> = keyof Data & string;

/** Key under which `rememberMe` is kept with the session's values (as SCS does). */
export const REMEMBER_ME_KEY = "__rememberMe";

/**
 * Key under which the drop-in entries keep a session's own lifetime (the peers' per-session
 * `cookie.maxAge`, koa-session's `ctx.session.maxAge`): milliseconds, or "session".
 */
export const MAX_AGE_KEY = "__maxAge";

/**
 * Whether `key` is one of scs-ts's own keys in a session's values (`__rememberMe`,
 * `__maxAge`): never listed by `keys()`, never taken from a drop-in's peer-shaped data.
 * @returns true for those two keys.
 */
export function isInternalKey(key: string): boolean {
  return key === REMEMBER_ME_KEY || key === MAX_AGE_KEY;
}

/**
 * What a session needs from its manager for the operations that touch the store. Internal.
 */
export interface SessionHost {
  now(): number;
  lifetime: number;
  newToken(): { token: string; storeKey: string };
  storeDelete(storeKey: string): Awaitable<void>;
  storeKeyOf(token: string): string;
  findValues(token: string): Promise<SessionData | undefined>;
  /** Record which keys a request changed (for `concurrency: "merge"`). */
  trackKeys: boolean;
  /** Marks a store key retired for every in-flight session of it; returns the undo. */
  retire(storeKey: string): () => void;
}

/** @internal The manager's access to a session's private state, without allocating. */
export interface SessionInternals {
  values<D extends object>(session: Session<D>): SessionData;
  storeKey<D extends object>(session: Session<D>): string;
  changes<D extends object>(session: Session<D>): number;
  deadline<D extends object>(session: Session<D>): number;
  assignToken<D extends object>(session: Session<D>, token: string, storeKey: string): void;
  /** The stored bytes this session was loaded from (or last committed as). */
  loaded<D extends object>(session: Session<D>): Uint8Array | undefined;
  setLoaded<D extends object>(session: Session<D>, data: Uint8Array | undefined): void;
  /** Keys changed since load, when the host tracks them. */
  changedKeys<D extends object>(session: Session<D>): ReadonlySet<string> | undefined;
  /** Replaces the values (after a merge with the stored session). */
  replaceValues<D extends object>(session: Session<D>, values: SessionData): void;
  /** Store keys left behind by renewToken, to delete after the commit; cleared by the call. */
  takeRetired<D extends object>(session: Session<D>): string[] | undefined;
  /** Marks the session destroyed without touching the store (it is already gone there). */
  markDestroyed<D extends object>(session: Session<D>): void;
  /** Takes (and clears) the store work started by destroy/mergeSession, if any. */
  takePending<D extends object>(session: Session<D>): Promise<void> | undefined;
  /** Whether destroy/mergeSession started store work not taken yet. */
  hasPending<D extends object>(session: Session<D>): boolean;
  /** The response headers went out: from now on renewToken throws. */
  lockToken<D extends object>(session: Session<D>): void;
}

/** @internal Filled in by Session's static block. */
export let sessionInternals: SessionInternals;

/**
 * One request's session. Obtain it from `sessions.from(req)`, `sessions.load(token)` or an
 * adapter (`req.session`, `ctx.session`, ...). Changes are committed when the response is sent.
 *
 * @example
 * const session = sessions.from(req);
 * session.put("userId", "u1");
 * const id = session.getString("userId");
 */
export class Session<Data extends object = SessionData> {
  #host: SessionHost;
  #values: SessionData;
  #status: SessionStatus;
  #token: string;
  #storeKey: string;
  #deadline: number;
  #changes = 0;
  #loaded: Uint8Array | undefined;
  #changedKeys: Set<string> | undefined;
  /** Store keys this session had before renewToken, deleted once the new key is committed. */
  #retired: string[] | undefined;
  /** Store work (destroy, mergeSession) still running; the response waits for it. */
  #pending: Promise<void> | undefined;
  /** Set once the response headers went out: a new token could no longer reach the client. */
  #tokenLocked = false;

  /** @internal Created by the manager; user code never constructs sessions. */
  constructor(
    host: SessionHost,
    token: string,
    storeKey: string,
    deadline: number,
    values: SessionData,
    status: SessionStatus,
    loaded?: Uint8Array,
  ) {
    this.#loaded = loaded;
    this.#host = host;
    this.#token = token;
    this.#storeKey = storeKey;
    this.#deadline = deadline;
    this.#values = values;
    this.#status = status;
  }

  /** "unmodified", "modified" or "destroyed". */
  get status(): SessionStatus {
    return this.#status;
  }

  /** The session token; "" until the session is first committed. */
  get token(): string {
    return this.#token;
  }

  /** The absolute deadline after which the session is gone, whatever its activity. */
  get deadline(): Date {
    return new Date(this.#deadline);
  }

  /** Sets the absolute deadline and marks the session modified. */
  setDeadline(deadline: Date): void {
    const ms = deadline.getTime();
    if (Number.isNaN(ms)) throw new TypeError("setDeadline needs a valid Date");
    this.#deadline = ms;
    this.#touch();
  }

  /** The value for `key`, or undefined. Only the session's own keys: never `constructor` & co. */
  get<K extends KeyOf<Data>>(key: K): Data[K] | undefined {
    return this.#value(key) as Data[K] | undefined;
  }

  #value(key: string): unknown {
    return Object.hasOwn(this.#values, key) ? this.#values[key] : undefined;
  }

  /** Sets `key` to `value` and marks the session modified. */
  put<K extends KeyOf<Data>>(key: K, value: Data[K]): void {
    if (key === "__proto__") {
      // Plain assignment would change the prototype of the values object; keep it data.
      defineOwnData(this.#values, key, value);
    } else {
      this.#values[key] = value;
    }
    this.#touch(key);
  }

  /** Removes `key` and returns its value (undefined when absent; the session is then untouched). */
  pop<K extends KeyOf<Data>>(key: K): Data[K] | undefined {
    if (!Object.hasOwn(this.#values, key)) return undefined;
    const value = this.#values[key] as Data[K];
    delete this.#values[key];
    this.#touch(key);
    return value;
  }

  /** Removes `key`; marks the session modified only when the key was present. */
  remove(key: KeyOf<Data>): void {
    if (!Object.hasOwn(this.#values, key)) return;
    delete this.#values[key];
    this.#touch(key);
  }

  /** Removes every value (the token and deadline stay); modified unless it was already empty. */
  clear(): void {
    const keys = Object.keys(this.#values);
    if (keys.length === 0) return;
    for (const key of keys) {
      delete this.#values[key];
      this.#touch(key);
    }
  }

  /** Whether `key` holds a value. */
  has(key: KeyOf<Data>): boolean {
    return Object.hasOwn(this.#values, key);
  }

  /** Every key, sorted. */
  keys(): KeyOf<Data>[] {
    return Object.keys(this.#values)
      .filter((key) => !isInternalKey(key))
      .sort() as KeyOf<Data>[];
  }

  /** The string at `key`; "" when missing or not a string. */
  getString(key: KeyOf<Data>): string {
    const value = this.#value(key);
    return typeof value === "string" ? value : "";
  }

  /** The number at `key`; 0 when missing or not a number. */
  getNumber(key: KeyOf<Data>): number {
    const value = this.#value(key);
    return typeof value === "number" ? value : 0;
  }

  /** The boolean at `key`; false when missing or not a boolean. */
  getBoolean(key: KeyOf<Data>): boolean {
    return this.#value(key) === true;
  }

  /** The bigint at `key`; 0n when missing or not a bigint. */
  getBigInt(key: KeyOf<Data>): bigint {
    const value = this.#value(key);
    return typeof value === "bigint" ? value : 0n;
  }

  /** The Date at `key`; the zero time (1970-01-01) when missing or not a Date. */
  getDate(key: KeyOf<Data>): Date {
    const value = this.#value(key);
    return value instanceof Date ? value : new Date(0);
  }

  /** The bytes at `key`; an empty Uint8Array when missing or not bytes. */
  getBytes(key: KeyOf<Data>): Uint8Array {
    const value = this.#value(key);
    return value instanceof Uint8Array ? value : new Uint8Array(0);
  }

  /** Like getString, and removes the key when it held a string. */
  popString(key: KeyOf<Data>): string {
    return typeof this.#value(key) === "string" ? (this.pop(key) as string) : "";
  }

  /** Like getNumber, and removes the key when it held a number. */
  popNumber(key: KeyOf<Data>): number {
    return typeof this.#value(key) === "number" ? (this.pop(key) as number) : 0;
  }

  /** Like getBoolean, and removes the key when it held a boolean. */
  popBoolean(key: KeyOf<Data>): boolean {
    return typeof this.#value(key) === "boolean" ? (this.pop(key) as boolean) : false;
  }

  /** Like getDate, and removes the key when it held a Date. */
  popDate(key: KeyOf<Data>): Date {
    return this.#value(key) instanceof Date ? (this.pop(key) as Date) : new Date(0);
  }

  /** Like getBytes, and removes the key when it held bytes. */
  popBytes(key: KeyOf<Data>): Uint8Array {
    return this.#value(key) instanceof Uint8Array
      ? (this.pop(key) as Uint8Array)
      : new Uint8Array(0);
  }

  /**
   * With `cookie.persist: false`, makes this session's cookie persistent (`true`) or a browser
   * session cookie (`false`). Kept with the session, so later requests keep the choice.
   */
  rememberMe(on: boolean): void {
    this.#values[REMEMBER_ME_KEY] = on === true;
    this.#touch(REMEMBER_ME_KEY);
  }

  /** Whether `rememberMe(true)` was called on this session. */
  get remembered(): boolean {
    return this.#value(REMEMBER_ME_KEY) === true;
  }

  /**
   * Deletes the session from the store and empties it; the response clears the cookie.
   * A later `put` starts a fresh session with a new token. The response waits for the store
   * (awaited or not): if the delete fails, the client gets a 5xx and keeps its cookie, and the
   * returned Promise rejects (it never becomes an unhandled rejection when left un-awaited).
   * @returns a Promise settled when the store has deleted it.
   */
  destroy(): Promise<void> {
    const keys = this.#retired ?? [];
    if (this.#storeKey !== "") keys.push(this.#storeKey);
    this.#retired = undefined;
    this.#status = "destroyed";
    this.#token = "";
    this.#storeKey = "";
    this.#deadline = this.#host.now() + this.#host.lifetime;
    for (const key of Object.keys(this.#values)) delete this.#values[key];
    this.#changes++;
    this.#loaded = undefined;
    this.#changedKeys = undefined;
    if (keys.length === 0) return Promise.resolve();
    // Retired at once for every in-flight request of this session; undone if the delete fails.
    const undo = keys.map((key) => this.#host.retire(key));
    return this.#track(deleteAll(this.#host, keys), () => {
      for (const restore of undo) restore();
    });
  }

  /**
   * Gives the session a new token and resets the deadline; the old token is deleted from the
   * store as soon as the session is committed under the new one (before the response leaves),
   * so the old token is dead once the client has the new one. Call it whenever privileges
   * change (sign in, sign out): the session-fixation defence. If that commit fails the old
   * token stays valid — a failed sign-out does not sign the user out, and says so (503).
   * @returns a Promise settled at once (kept async for the SCS-shaped API).
   * @throws SessionError (synchronously) when the response headers already went out: the new
   *   token could never reach the client, and deleting the old one would sign the user out.
   */
  renewToken(): Promise<void> {
    if (this.#tokenLocked) {
      throw new SessionError(
        "renewToken called after the response headers were sent: the client could not receive the new token; renew before writing the response",
      );
    }
    const oldKey = this.#storeKey;
    const fresh = this.#host.newToken();
    this.#token = fresh.token;
    this.#storeKey = fresh.storeKey;
    this.#deadline = this.#host.now() + this.#host.lifetime;
    this.#loaded = undefined; // nothing is stored under the new token yet
    this.#touch();
    if (oldKey !== "") {
      this.#retired ??= [];
      this.#retired.push(oldKey);
    }
    return Promise.resolve();
  }

  /**
   * Copies the values of the session stored under `token` into this one (theirs win on
   * conflicts) and deletes that session. An unknown or malformed token does nothing. The
   * response waits for it, awaited or not.
   * @returns a Promise settled when done.
   */
  mergeSession(token: string): Promise<void> {
    if (token === this.#token) return Promise.resolve();
    return this.#track(this.#merge(token));
  }

  async #merge(token: string): Promise<void> {
    const values = await this.#host.findValues(token);
    if (values === undefined) return;
    for (const key of Object.keys(values)) {
      defineOwnData(this.#values, key, values[key]);
      this.#touch(key);
    }
    await this.#host.storeDelete(this.#host.storeKeyOf(token));
  }

  /**
   * Records store work the response must wait for. The Promise handed back to the caller is
   * marked handled, so a caller that does not await it gets no unhandled rejection; the
   * response path sees the failure through `pending` and answers 5xx.
   */
  #track(work: Promise<void>, onFailure?: () => void): Promise<void> {
    const failed =
      onFailure === undefined
        ? work
        : work.catch((err: unknown) => {
            onFailure();
            throw err;
          });
    const previous = this.#pending;
    const all = previous === undefined ? failed : Promise.all([previous, failed]).then(noop);
    this.#pending = all;
    all.catch(noop);
    failed.catch(noop);
    return failed;
  }

  #touch(key?: string): void {
    this.#status = "modified";
    this.#changes++;
    if (key !== undefined && this.#host.trackKeys) {
      this.#changedKeys ??= new Set();
      this.#changedKeys.add(key);
    }
  }

  static {
    sessionInternals = {
      values: (session) => session.#values,
      storeKey: (session) => session.#storeKey,
      changes: (session) => session.#changes,
      deadline: (session) => session.#deadline,
      assignToken(session, token, storeKey) {
        session.#token = token;
        session.#storeKey = storeKey;
      },
      loaded: (session) => session.#loaded,
      setLoaded(session, data) {
        session.#loaded = data;
        session.#changedKeys = undefined;
      },
      changedKeys: (session) => session.#changedKeys,
      replaceValues(session, values) {
        session.#values = values;
      },
      takeRetired(session) {
        const retired = session.#retired;
        session.#retired = undefined;
        return retired;
      },
      takePending(session) {
        const pending = session.#pending;
        session.#pending = undefined;
        return pending;
      },
      hasPending: (session) => session.#pending !== undefined,
      lockToken(session) {
        session.#tokenLocked = true;
      },
      markDestroyed(session) {
        session.#status = "destroyed";
        session.#token = "";
        session.#storeKey = "";
        session.#loaded = undefined;
        for (const key of Object.keys(session.#values)) delete session.#values[key];
      },
    };
  }
}

function noop(): void {}

/** Deletes every key; a synchronous store answers without a microtask hop per key. */
async function deleteAll(host: SessionHost, keys: readonly string[]): Promise<void> {
  for (const key of keys) {
    const deleted = host.storeDelete(key);
    if (isPromiseLike(deleted)) await deleted;
  }
}
