/**
 * Drop-in replacement for koa-session 7 (Koa 2 and 3): change the import, keep the rest.
 * `ctx.session` has koa-session's shape — data as plain properties, `ctx.session = null`
 * destroys, `regenerate()`, `save()`, `manuallyCommit()`, `maxAge`, `isNew`, `populated` — so
 * koa-passport works unchanged. Underneath it is scs-ts: sessions live in a server-side store
 * (not in the cookie), the session is committed before Koa writes the body and only when its
 * data changed, regenerate deletes the old token.
 *
 * Type the data by declaring it in {@link KoaDropInData}. koa-session 7 has no way to type it:
 * it neither exports its `Session` nor declares `ctx.session` on Koa's context (its
 * `ctx.session` is untyped), so there is no peer declaration to keep.
 *
 * @example
 * import Koa from "koa";
 * import session from "scs-ts/koa-session"; // was: import session from "koa-session"
 * import { SessionManager } from "scs-ts";
 *
 * const app = new Koa();
 * app.use(session({ sessions: new SessionManager() }, app));
 * app.use((ctx) => {
 *   ctx.session.views = ((ctx.session.views as number) ?? 0) + 1;
 *   ctx.body = `views: ${ctx.session.views}`;
 * });
 * @module
 */
import { inspect } from "node:util";
import type { Middleware } from "koa";
import { coreOf } from "../http/core.ts";
import { defineOwnData } from "../own-data.ts";
import type { SessionData } from "../session.ts";
import type { RegisteredData } from "./common.ts";
import { type DropInBaseOptions, type PeerOptionTable, resolveDropIn } from "./dropin-options.ts";
import { type Callback, callbackOrPromise, DropInState } from "./dropin-state.ts";
import { koaSessionChain } from "./koa-chain.ts";

/**
 * The type of `ctx.session`'s data. Empty (untyped values) until you declare your keys:
 * `declare module "scs-ts/koa-session" { interface KoaDropInData { views: number } }`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by the application's declaration merging
export interface KoaDropInData {}

/** The methods of `ctx.session` (koa-session's `Session`); the data sits beside them. */
export interface KoaDropInSession {
  /** Whether the session was not in the store when the request began. */
  readonly isNew: boolean;
  /** How many data keys the session holds. */
  readonly length: number;
  /** Whether the session holds any data. */
  readonly populated: boolean;
  /** The session's lifetime in ms, or "session" for a browser-session cookie; setting it extends the session from now. */
  maxAge: number | "session";
  /** The session token (koa-session's external key). */
  readonly externalKey: string;
  /** Takes the data in; committed before the body, only if changed. */
  save(callback?: Callback): Promise<void> | undefined;
  /** A new token for the same data; the old one is deleted when the response is committed. */
  regenerate(callback?: Callback): Promise<void> | undefined;
  /** Takes the data in (the commit happens before the body whatever `autoCommit` says). */
  manuallyCommit(): Promise<void>;
  /** The data, as a plain object. */
  toJSON(): Record<string, unknown>;
}

/** `ctx.session`, typed by {@link KoaDropInData}. */
export type KoaSession = KoaDropInSession & Partial<RegisteredData<KoaDropInData>>;

/** What the entry adds to Koa's context (a base of `ExtendableContext`). */
export interface KoaDropInContext {
  get session(): KoaSession;
  set session(value: KoaSession | Record<string, unknown> | null);
}

declare module "koa" {
  interface ExtendableContext extends KoaDropInContext {}
}

/** Options of `session(options, app)`: koa-session's, where they have a meaning here. */
export interface KoaSessionOptions<Data extends object = SessionData>
  extends DropInBaseOptions<Data> {
  /** The cookie name. @default "koa.sess" (when the entry builds the manager) */
  key?: string;
  /** Lifetime in ms, or "session" for a browser-session cookie. @default 86_400_000 */
  maxAge?: number | "session";
  /** Resend the cookie on every response and expire `maxAge` after the last request (with `lifetime` or `idleTimeout` given: scs-ts's `idleTimeout`). @default false */
  rolling?: boolean;
  /** Accepted and ignored: the session is always committed before the body. */
  autoCommit?: boolean;
  /** Accepted and ignored. */
  overwrite?: boolean;
  /** Accepted and ignored: tokens need no signature. */
  signed?: boolean;
  /** Accepted and ignored (use `rolling`, or the manager's `idleTimeout`). */
  renew?: boolean;
  /** Cookie attributes at the top level, as koa-session takes them. */
  httpOnly?: boolean;
  secure?: boolean;
  sameSite?: "lax" | "strict" | "none" | boolean;
}

const KOA_OPTIONS: PeerOptionTable = {
  entry: "scs-ts/koa-session",
  nameOption: "key",
  defaultName: "koa.sess",
  maxAgeAt: "top",
  sessionCookieByDefault: false,
  defaultMaxAge: 86_400_000,
  rollingByDefault: false,
  secureByDefault: false,
  ignored: ["autoCommit", "overwrite", "signed", "renew"],
  refused: {
    externalKey: "the token travels in the cookie, or in a header with the header option",
    ContextStore: "use an scs-ts store",
    encode: "sessions are stored server-side; use the manager's codec",
    decode: "sessions are stored server-side; use the manager's codec",
    genid: "tokens are 256-bit random and cannot be chosen",
    prefix: "tokens are 256-bit random and cannot be chosen",
    valid: "not supported",
    beforeSave: "not supported",
  },
};

const TOP_LEVEL_COOKIE = ["httpOnly", "secure", "sameSite"] as const;

/** koa-session's top-level cookie attributes moved into `cookie`, where the resolver reads them. */
function normalise(options: Record<string, unknown>): Record<string, unknown> {
  if (!TOP_LEVEL_COOKIE.some((key) => options[key] !== undefined)) return options;
  const out: Record<string, unknown> = { ...options };
  const cookie: Record<string, unknown> = { ...((options.cookie as object) ?? {}) };
  for (const key of TOP_LEVEL_COOKIE) {
    if (out[key] === undefined) continue;
    if (cookie[key] !== undefined) {
      throw new TypeError(`scs-ts/koa-session: give ${key} or cookie.${key}, not both`);
    }
    cookie[key] = out[key];
    delete out[key];
  }
  out.cookie = cookie;
  return out;
}

/** `ctx.session`: koa-session's `Session`, methods on the prototype, data as own properties. */
class KoaSessionObject implements KoaDropInSession {
  readonly #state: DropInState;
  /** The maxAge set during this request, shown back as koa-session does. */
  #maxAge: number | undefined;

  constructor(state: DropInState) {
    this.#state = state;
  }

  get isNew(): boolean {
    return this.#state.isNew;
  }

  get length(): number {
    return Object.keys(this.#state.data()).length;
  }

  get populated(): boolean {
    return this.length > 0;
  }

  get maxAge(): number | "session" {
    const state = this.#state;
    if (!state.persistent) return "session";
    return this.#maxAge ?? state.originalMaxAge ?? 0;
  }

  set maxAge(value: number | "session") {
    if (value === "session") {
      this.#state.setMaxAge(null);
      this.#maxAge = undefined;
      return;
    }
    this.#state.setMaxAge(value);
    this.#maxAge = value;
  }

  get externalKey(): string {
    return this.#state.token();
  }

  /** Writes the session to the store now, as koa-session 7 does. */
  save(callback?: Callback): Promise<void> | undefined {
    return callbackOrPromise(
      () => (this.#state.target === this ? this.#state.commitNow() : undefined),
      callback,
    );
  }

  regenerate(callback?: Callback): Promise<void> | undefined {
    return callbackOrPromise(() => {
      this.#state.renew(false);
      return undefined;
    }, callback);
  }

  manuallyCommit(): Promise<void> {
    return this.save() ?? Promise.resolve();
  }

  toJSON(): Record<string, unknown> {
    return this.#state.data();
  }

  [inspect.custom](): Record<string, unknown> {
    return this.toJSON();
  }
}

/** `ctx.session = value`: null destroys, an object becomes the data. */
function assign(state: DropInState, value: unknown): void {
  if (value === null) {
    if (state.target !== null) void state.destroy();
    return;
  }
  if (typeof value !== "object") {
    throw new Error("this.session can only be set as null or an object.");
  }
  if (value === state.target) return;
  const next = new KoaSessionObject(state);
  const from = value as Record<string, unknown>;
  for (const key of Object.keys(value)) {
    if (key in next) continue;
    defineOwnData(next, key, from[key]);
  }
  state.adopt(next);
}

/** Where a context keeps its drop-in state, for the shared `ctx.session` accessor below. */
const kDropIn = Symbol("scs-ts.koa-session");

type DropInContext = { [kDropIn]?: DropInState };

// One getter and one setter for every context: V8 shares the map transition of an accessor
// defined with the same functions, while a pair of closures per request gave each context a
// map of its own (a garbage-collector cost of about a fifth of the server's time).
function getSession(this: DropInContext): object | null {
  return this[kDropIn]?.target ?? null;
}
function setSession(this: DropInContext, value: unknown): void {
  const state = this[kDropIn];
  if (state !== undefined) assign(state, value);
}

/** A Koa application, as far as the entry looks at it. */
export interface KoaApplication {
  use(...args: never[]): unknown;
}

function isApp(value: unknown): value is KoaApplication {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { use?: unknown }).use === "function"
  );
}

/**
 * Builds the middleware, in place of koa-session's `session(options, app)` (or
 * `session(app, options)`). Load and commit errors are thrown into Koa's error path unless the
 * manager has `onError`. A 404 or a 5xx never commit a session changed on the way; after a
 * thrown downstream middleware the answer an upstream error handler makes decides, by its
 * status, as koa-session commits after a throw too (a flash set before a redirect is kept).
 * @param options `{ sessions }`, or SessionManager options with koa-session's names (`key`,
 *   `maxAge`, `rolling`...). See {@link KoaSessionOptions}.
 * @param app the Koa application, accepted as koa-session takes it (not needed).
 * @returns the middleware for `app.use`.
 * @throws TypeError naming an invalid, refused or unknown option.
 */
function session<Data extends object = SessionData>(
  options?: KoaSessionOptions<Data>,
  app?: KoaApplication,
): Middleware;
function session<Data extends object = SessionData>(
  app: KoaApplication,
  options?: KoaSessionOptions<Data>,
): Middleware;
function session<Data extends object = SessionData>(
  options?: KoaSessionOptions<Data> | KoaApplication,
  app?: KoaApplication | KoaSessionOptions<Data>,
): Middleware {
  const given = (isApp(options) ? app : options) ?? {};
  if (typeof given !== "object" || given === null) {
    throw new TypeError(`scs-ts/koa-session: option options is invalid: ${String(given)}`);
  }
  const { sessions, transport } = resolveDropIn<Data>(
    normalise(given as Record<string, unknown>),
    KOA_OPTIONS,
  );
  const core = coreOf<Data>(sessions);

  return koaSessionChain(
    core,
    transport,
    (ctx, loaded) => {
      const state = new DropInState(sessions, loaded) as unknown as DropInState;
      state.fill(new KoaSessionObject(state));
      (ctx as DropInContext)[kDropIn] = state;
      Object.defineProperty(ctx, "session", {
        get: getSession,
        set: setSession,
        enumerable: true,
        configurable: true,
      });
      return () => state.prepareSave();
    },
    true,
  );
}

export default session;
export { session };
