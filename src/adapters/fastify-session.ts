/**
 * Drop-in replacement for @fastify/cookie + @fastify/session 11 (Fastify 5): register it in
 * their place, keep the rest. The plugin is registered under the name `@fastify/session` and
 * decorates `request.session` with @fastify/session's shape — data as plain properties and
 * through `get`/`set`, `regenerate`, `destroy`, `reload`, `save`, `touch`, `sessionId`,
 * `cookie`, plus `data()` — so @fastify/passport, @fastify/flash and @fastify/csrf-protection
 * (`sessionPlugin: "@fastify/session"`) work unchanged. Underneath it is `scs-ts/fastify`: the
 * session is committed in `onSend`, before the first byte, only when its data changed, and
 * regenerate deletes the old token.
 *
 * Types: as with @fastify/session, declare the data in
 * `declare module "fastify" { interface Session { ... } }`; an existing declaration keeps
 * typing `request.session`, its `get` and `set`.
 *
 * @example
 * import Fastify from "fastify";
 * import fastifySession from "scs-ts/fastify-session"; // was: @fastify/cookie + @fastify/session
 * import { SessionManager } from "scs-ts";
 *
 * const app = Fastify();
 * await app.register(fastifySession, { sessions: new SessionManager() });
 * app.get("/", async (request) => {
 *   request.session.set("views", (request.session.get("views") ?? 0) + 1);
 *   return `views: ${request.session.get("views")}`;
 * });
 * @module
 */
import type {
  FastifyInstance,
  FastifyRequest,
  Session as FastifySession,
  HookHandlerDoneFunction,
} from "fastify";
import { defineOwnData } from "../own-data.ts";
import { Session, type SessionData } from "../session.ts";
import type { RegisteredData } from "./common.ts";
import { type DropInBaseOptions, type PeerOptionTable, resolveDropIn } from "./dropin-options.ts";
import { type Callback, callbackOrPromise, DropInState, SessionCookie } from "./dropin-state.ts";
import { installSessionHooks } from "./fastify-hooks.ts";

/**
 * Data keys declared under scs-ts's name; they join Fastify's `Session` (declare them there,
 * as @fastify/session users do). Kept for declarations written against earlier releases:
 * `declare module "scs-ts/fastify-session" { interface FastifyDropInData { userId: string } }`.
 * @deprecated declare the keys in `declare module "fastify" { interface Session { ... } }`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by the application's declaration merging
export interface FastifyDropInData {}

/** Fastify's `Session` as declared by the application, or untyped values until it declares a key. */
type FastifySessionData = RegisteredData<FastifySession>;

declare module "fastify" {
  /**
   * The type of `request.session`'s data, declared where @fastify/session reads it:
   * `declare module "fastify" { interface Session { userId: string } }`. Empty (untyped
   * values) until you declare your keys.
   */
  interface Session extends FastifyDropInData {}
  interface FastifyRequest extends FastifyDropInRequest {}
}

/** `request.session.cookie`, as @fastify/session types it. */
export interface FastifyDropInCookie {
  originalMaxAge: number | null;
  maxAge?: number | null | undefined;
  expires?: Date | null | undefined;
  httpOnly?: boolean | undefined;
  path?: string | undefined;
  domain?: string | undefined;
  secure?: boolean | "auto" | undefined;
  sameSite?: boolean | "lax" | "strict" | "none" | undefined;
}

/** The methods of `request.session` (@fastify/session's `FastifySessionObject`). */
export interface FastifyDropInMethods {
  /** The session token. A fresh session has one at once; it is stored only if the session changes. */
  readonly sessionId: string;
  /** The token too: nothing is signed. */
  readonly encryptedSessionId: string;
  cookie: FastifyDropInCookie;
  /** The value at `key`. */
  get<K extends keyof FastifySessionData>(key: K): FastifySessionData[K] | undefined;
  /** Sets `key`; undefined removes it. */
  set<K extends keyof FastifySessionData>(key: K, value: FastifySessionData[K] | undefined): void;
  /** Nothing to do: each save (every request with `rolling` or `idleTimeout`) moves the expiry. */
  touch(): void;
  /** A new session object under a new token, keeping only `keys`; the old token is deleted when the response is committed. */
  regenerate(callback: Callback): void;
  regenerate(keys: string[], callback: Callback): void;
  regenerate(keys?: string[]): Promise<void>;
  /** Deletes the session from the store; `request.session` becomes null. */
  destroy(callback: Callback): void;
  destroy(): Promise<void>;
  /** Re-reads the session from the store into a new `request.session`. */
  reload(callback: Callback): void;
  reload(): Promise<void>;
  /** Takes the data in; committed before the first byte, only if changed. */
  save(callback: Callback): void;
  save(): Promise<void>;
  /** Per-request cookie options: `maxAge` and `expires` only (the rest is the manager's). */
  options(options: { maxAge?: number | null; expires?: Date | null }): void;
  /** Whether this request changed the session. */
  isModified(): boolean;
  /** Whether the store holds the session as it is now (loaded and unchanged). */
  isSaved(): boolean;
  /** The data as a plain object (the @fastify/secure-session method @fastify/passport reads). */
  data(): Record<string, unknown>;
}

/**
 * `request.session`: the methods and your declared data, as @fastify/session's
 * `FastifySessionObject extends Session` (a key not always present is declared optional).
 */
export type FastifyDropInSession = FastifyDropInMethods & FastifySessionData;

/** What the plugin adds to Fastify's request (a base of `FastifyRequest`). */
export interface FastifyDropInRequest {
  session: FastifyDropInSession;
}

/** Options of `app.register(fastifySession, options)`: @fastify/session's, where they have a meaning here. */
export interface FastifySessionOptions<Data extends object = SessionData>
  extends DropInBaseOptions<Data> {
  /** The cookie name. @default "sessionId" (when the plugin builds the manager) */
  cookieName?: string;
  /** Resend the cookie on every response, expiring `cookie.maxAge` after the last request (with `lifetime` or `idleTimeout` given: scs-ts's `idleTimeout`). @default true, as in @fastify/session */
  rolling?: boolean;
  /** Accepted and ignored: scs-ts never stores an empty, unchanged session. */
  saveUninitialized?: boolean;
  /** Accepted and ignored: nothing is signed. */
  algorithm?: string;
}

const FASTIFY_OPTIONS: PeerOptionTable = {
  entry: "scs-ts/fastify-session",
  nameOption: "cookieName",
  defaultName: "sessionId",
  maxAgeAt: "cookie",
  sessionCookieByDefault: true,
  rollingByDefault: true,
  secureByDefault: true,
  // Fastify's own register options reach the plugin too.
  ignored: ["saveUninitialized", "algorithm", "prefix", "logLevel", "logSerializers"],
  refused: {
    idGenerator: "tokens are 256-bit random and cannot be chosen",
    cookiePrefix: "the cookie holds the bare token",
  },
};

// The request's drop-in state, as a symbol-keyed own property (a WeakMap entry per request
// costs the garbage collector far more).
const kDropIn = Symbol("scs-ts.fastify-session");
type DropInLinked = { [kDropIn]?: DropInState };

/** `request.session`: @fastify/session's `Session`, methods on the prototype, data as own properties. */
class FastifySessionObject {
  readonly #state: DropInState;
  readonly #request: FastifyRequest;
  #cookie: SessionCookie | undefined;

  constructor(state: DropInState, request: FastifyRequest) {
    this.#state = state;
    this.#request = request;
  }

  get sessionId(): string {
    return this.#state.token();
  }

  get encryptedSessionId(): string {
    return this.#state.token();
  }

  get cookie(): SessionCookie {
    this.#cookie ??= new SessionCookie(this.#state as DropInState<object>);
    return this.#cookie;
  }

  get(key: string): unknown {
    return (this as unknown as Record<string, unknown>)[key];
  }

  set(key: string, value: unknown): void {
    const data = this as unknown as Record<string, unknown>;
    if (value === undefined) delete data[key];
    // A new key, or one of the data's own (writable) properties, is a plain assignment: the same
    // own property as defineProperty makes, at a fraction of the cost. A key the object answers
    // from its class (a method, a getter) is defined, so it is shadowed, not called.
    else if (Object.hasOwn(this, key) || !(key in this)) data[key] = value;
    else defineOwnData(this, key, value);
  }

  touch(): void {}

  regenerate(keys?: string[] | Callback, callback?: Callback): Promise<void> | undefined {
    const kept = Array.isArray(keys) ? keys : [];
    const done = typeof keys === "function" ? keys : callback;
    return callbackOrPromise(() => {
      const state = this.#state;
      state.renew(true);
      const next = new FastifySessionObject(state, this.#request);
      for (const key of kept) {
        const value = this.get(key);
        if (value !== undefined && !(key in next)) next.set(key, value);
      }
      state.adopt(next);
      setSession(this.#request, next);
      return undefined;
    }, done);
  }

  destroy(callback?: Callback): Promise<void> | undefined {
    return callbackOrPromise(() => {
      const destroyed = this.#state.destroy();
      setSession(this.#request, null);
      return destroyed;
    }, callback);
  }

  reload(callback?: Callback): Promise<void> | undefined {
    const next = new FastifySessionObject(this.#state, this.#request);
    return callbackOrPromise(
      () => this.#state.reload(next, true).then(() => setSession(this.#request, next)),
      callback,
    );
  }

  /** Writes the session to the store now, as @fastify/session does. */
  save(callback?: Callback): Promise<void> | undefined {
    return callbackOrPromise(
      () => (this.#state.target === this ? this.#state.commitNow() : undefined),
      callback,
    );
  }

  options(options: Record<string, unknown>): void {
    const cookie = this.cookie as unknown as Record<string, unknown>;
    for (const key of Object.keys(options)) {
      if (!(key in cookie)) throw new TypeError(`session.options: unknown cookie option ${key}`);
      cookie[key] = options[key];
    }
  }

  isModified(): boolean {
    if (this.#state.target === this) {
      try {
        this.#state.sync();
      } catch {
        return true;
      }
    }
    return this.#state.changed;
  }

  isSaved(): boolean {
    return !this.#state.isNew && !this.isModified();
  }

  data(): Record<string, unknown> {
    return this.#state.data();
  }
}

function setSession(request: FastifyRequest, value: FastifySessionObject | null): void {
  (request as { session: unknown }).session = value;
}

/**
 * The Fastify plugin, in place of `@fastify/cookie` + `@fastify/session`:
 * `await app.register(fastifySession, { sessions })`. It is not encapsulated and carries the
 * name `@fastify/session`, so plugins that depend on that name or on the `session` request
 * decorator accept it. Errors are handled as `scs-ts/fastify` does; a 404 or a 5xx commits
 * nothing, and a thrown handler is judged by its error reply's status (a redirect or a 4xx
 * keeps the session's changes, as @fastify/session saves an error handler's reply).
 * @param fastify the instance `register` passes.
 * @param options `{ sessions }`, or SessionManager options with @fastify/session's names
 *   (`cookieName`, `cookie.maxAge`, `rolling`...). See {@link FastifySessionOptions}.
 * @param done called when the hooks are installed (with a TypeError for bad options).
 */
function fastifySession<Data extends object = SessionData>(
  fastify: FastifyInstance,
  options: FastifySessionOptions<Data>,
  done: (err?: Error) => void,
): void {
  let resolved: ReturnType<typeof resolveDropIn<Data>>;
  try {
    resolved = resolveDropIn<Data>(options, FASTIFY_OPTIONS);
  } catch (err) {
    done(err as Error);
    return;
  }
  const { sessions } = resolved;

  // Added before scs-ts/fastify's own onSend, so it runs first: the data is in the session
  // that hook commits.
  fastify.addHook("onSend", (request, _reply, payload, next) => {
    const state = (request as DropInLinked)[kDropIn];
    if (state !== undefined) {
      if (request.session !== state.target) state.target = null; // unset: changes not kept
      try {
        state.prepareSave();
      } catch (err) {
        state.target = null; // the error reply's own onSend must not fail again
        next(err as Error);
        return;
      }
    }
    next(null, payload);
  });

  // An error reply keeps the session changes when its status allows, as @fastify/session saves it.
  installSessionHooks(
    fastify,
    { sessions, header: options?.header },
    (err?: Error) => {
      if (err !== undefined) {
        done(err);
        return;
      }
      // After scs-ts/fastify's onRequest, which put the scs-ts session on the request.
      fastify.addHook("onRequest", (request, _reply, next: HookHandlerDoneFunction) => {
        const loaded = (request as { session: unknown }).session;
        if (loaded instanceof Session) {
          const state = new DropInState(
            sessions,
            loaded as Session<Data>,
          ) as unknown as DropInState;
          const object = new FastifySessionObject(state, request);
          state.fill(object);
          (request as DropInLinked)[kDropIn] = state;
          setSession(request, object);
        }
        next();
      });
      done();
    },
    true,
  );
}

// Not encapsulated, and named as the plugin it replaces (fastify-plugin's metadata).
const meta = fastifySession as unknown as Record<symbol, unknown>;
meta[Symbol.for("skip-override")] = true;
meta[Symbol.for("fastify.display-name")] = "@fastify/session";
meta[Symbol.for("plugin-meta")] = { name: "@fastify/session", fastify: "5.x" };

export default fastifySession;
export { fastifySession };
