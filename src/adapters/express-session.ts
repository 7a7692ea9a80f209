/**
 * Drop-in replacement for express-session (Express 4 and 5): change the import, keep the rest.
 * `req.session` has express-session's shape — data as plain properties, `regenerate`, `save`,
 * `destroy`, `reload`, `touch`, `id`, `cookie` — and `req.sessionID`, so passport,
 * connect-flash, csrf-sync and the like work unchanged. Underneath it is scs-ts: the session is
 * committed before the first byte of the response and only when its data changed, regenerate
 * deletes the old token, and any scs-ts store works.
 *
 * Types: `req.session` and `req.sessionID` are typed by `@types/express-session` (keep it
 * installed: it is types only), exactly as before, your
 * `declare module "express-session" { interface SessionData { ... } }` included.
 *
 * @example
 * import express from "express";
 * import session from "scs-ts/express-session"; // was: import session from "express-session"
 * import { SessionManager } from "scs-ts";
 *
 * const app = express();
 * app.use(session({ sessions: new SessionManager() }));
 * app.get("/", (req, res) => {
 *   req.session.views = (req.session.views ?? 0) + 1;
 *   res.send(`views: ${req.session.views}`);
 * });
 * @module
 */
// biome-ignore-all assist/source/organizeImports: the first import must stay first (see there)
// In this repository's one TypeScript program scs-ts/express declares req.session too; loading
// it before express-session's types keeps that conflict inside their .d.ts (skipLibCheck).
import type {} from "./express.ts";
// express-session's types (types only) type req.session and req.sessionID for the application.
import type { Session as PeerSession, SessionData as PeerSessionData } from "express-session";
import type { IncomingMessage, ServerResponse } from "node:http";
import { coreOf, type SessionCore } from "../http/core.ts";
import { attachSession, loadSession } from "../http/handler.ts";
import { sessionOf } from "../http/request-state.ts";
import { prepareExpressApp } from "./express.ts";
import type { Session, SessionData } from "../session.ts";
import { isFailedStatus } from "./common.ts";
import {
  type DropInBaseOptions,
  MemStore,
  type PeerOptionTable,
  resolveDropIn,
} from "./dropin-options.ts";
import { type Callback, DropInState, dropInToken, SessionCookie } from "./dropin-state.ts";
import { ExpressSessionStore } from "./express-session-store.ts";

/** `req.session.cookie`, as express-session's `Cookie` types it. */
export interface ExpressDropInCookie {
  originalMaxAge: number | null;
  maxAge?: number | null | undefined;
  expires?: Date | null | undefined;
  httpOnly?: boolean | undefined;
  path?: string | undefined;
  domain?: string | undefined;
  secure?: boolean | "auto" | undefined;
  sameSite?: boolean | "lax" | "strict" | "none" | undefined;
}

/** The methods of `req.session` (express-session's `Session`); the data sits beside them. */
export interface ExpressDropInSession {
  /** The session token (`req.sessionID`). A fresh session has one at once; it is stored only if the session changes. */
  readonly id: string;
  cookie: ExpressDropInCookie;
  regenerate(callback: Callback): this;
  save(callback?: Callback): this;
  destroy(callback?: Callback): this;
  reload(callback: Callback): this;
  touch(): this;
  resetMaxAge(): this;
}

/**
 * The type of `req.session` (express-session's, from `@types/express-session`): your
 * `declare module "express-session" { interface SessionData { ... } }` types its data.
 */
export type ExpressSession = PeerSession & Partial<PeerSessionData>;

/** Options of `session(options)`: express-session's, where they have a meaning here. */
export interface ExpressSessionOptions<Data extends object = SessionData>
  extends DropInBaseOptions<Data> {
  /** The cookie name. @default "connect.sid" (when the entry builds the manager) */
  name?: string;
  /** Resend the cookie on every response and expire `cookie.maxAge` after the last request (with `lifetime` or `idleTimeout` given: scs-ts's `idleTimeout`). @default false */
  rolling?: boolean;
  /** `"destroy"`: `req.session = null` (or `delete req.session`) destroys the session. @default "keep" */
  unset?: "keep" | "destroy";
  /** Accepted and ignored: scs-ts writes a session only when it changed. */
  resave?: boolean;
  /** Accepted and ignored: scs-ts never stores an empty, unchanged session. */
  saveUninitialized?: boolean;
  /** Accepted and ignored: the Secure attribute does not depend on the request. */
  proxy?: boolean;
}

const EXPRESS_OPTIONS: PeerOptionTable = {
  entry: "scs-ts/express-session",
  nameOption: "name",
  defaultName: "connect.sid",
  maxAgeAt: "cookie",
  sessionCookieByDefault: true,
  rollingByDefault: false,
  secureByDefault: false,
  ignored: ["resave", "saveUninitialized", "proxy"],
  refused: {
    genid: "tokens are 256-bit random and cannot be chosen",
  },
};

/** Express's `next`, as far as the middleware calls it. */
export type ExpressNext = (err?: unknown) => void;

/** The middleware (accepted by `app.use` of Express 4 and 5). */
export type ExpressSessionMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: ExpressNext,
) => void;

type SessionRequest = IncomingMessage & { session?: unknown; sessionStore?: unknown };

function later(callback: Callback | undefined, err?: unknown): void {
  if (typeof callback === "function") process.nextTick(callback, err);
}

/**
 * `req.session`: express-session's `Session`. Its methods live on the prototype and are not
 * enumerable, so `Object.keys(req.session)` and passport's `keepSessionInfo` merge see the
 * data only.
 */
class ExpressSessionObject implements ExpressDropInSession {
  readonly #state: DropInState;
  readonly #req: SessionRequest;
  #cookie: SessionCookie | undefined;

  constructor(state: DropInState, req: SessionRequest) {
    this.#state = state;
    this.#req = req;
  }

  get id(): string {
    return this.#state.token();
  }

  get cookie(): SessionCookie {
    this.#cookie ??= new SessionCookie(this.#state as DropInState<object>);
    return this.#cookie;
  }

  /**
   * Replaces `req.session` with a new, empty session object under a new token; the old token
   * is deleted from the store when the response is committed.
   */
  regenerate(callback: Callback): this {
    let error: unknown;
    try {
      this.#state.renew(true);
      const next = new ExpressSessionObject(this.#state, this.#req);
      this.#state.adopt(next);
      this.#req.session = next;
    } catch (err) {
      error = err;
    }
    later(callback, error);
    return this;
  }

  /**
   * Writes the session to the store now, as express-session does; the callback gets the
   * store's error, if any. The response commits it again only if it changes after this.
   */
  save(callback?: Callback): this {
    let saving: Promise<void> | undefined;
    try {
      if (this.#state.target === this) saving = this.#state.commitNow();
    } catch (err) {
      later(callback, err);
      return this;
    }
    if (saving === undefined) later(callback);
    else {
      saving.then(
        () => later(callback),
        (err: unknown) => later(callback, err),
      );
    }
    return this;
  }

  /** Deletes the session from the store and unsets `req.session`; the response clears the cookie. */
  destroy(callback?: Callback): this {
    if (this.#req.session === this) delete this.#req.session;
    this.#state.destroy().then(
      () => later(callback),
      (err: unknown) => later(callback, err),
    );
    return this;
  }

  /** Replaces `req.session` with the session as the store has it now. */
  reload(callback: Callback): this {
    const next = new ExpressSessionObject(this.#state, this.#req);
    this.#state.reload(next).then(
      () => {
        this.#req.session = next;
        later(callback);
      },
      (err: unknown) => later(callback, err),
    );
    return this;
  }

  /** Nothing to do: each save (every request with `rolling` or `idleTimeout`) moves the expiry. */
  touch(): this {
    return this;
  }

  /** Nothing to do, as {@link touch}. */
  resetMaxAge(): this {
    return this;
  }
}

/**
 * Builds the middleware, in place of express-session's `session(options)`. Load and commit
 * errors go to Express's error path (`next(err)`) unless the manager has `onError`.
 * Responses with status 404 or 5xx never commit a session changed on the way.
 * @param options `{ sessions }`, or SessionManager options with express-session's names
 *   (`name`, `cookie.maxAge`, `cookie.secure`...). See {@link ExpressSessionOptions}.
 * @returns the middleware for `app.use`.
 * @throws TypeError naming an invalid, refused or unknown option.
 */
function session<Data extends object = SessionData>(
  options?: ExpressSessionOptions<Data>,
): ExpressSessionMiddleware {
  const { sessions, transport } = resolveDropIn<Data>(options, EXPRESS_OPTIONS, ["unset"]);
  const unset = options?.unset ?? "keep";
  if (unset !== "keep" && unset !== "destroy") {
    throw new TypeError(
      `scs-ts/express-session: option unset is invalid: ${String(unset)} (expected "keep" or "destroy")`,
    );
  }
  const core = coreOf<Data>(sessions);
  const sessionStore = new ExpressSessionStore<Data>(sessions);
  const requestProperties = Object.freeze({ sessionStore });
  // One getter for every request (V8 shares the map transition of an accessor defined with the
  // same function; a closure per request gave each request a map of its own, which cost the
  // garbage collector more than the rest of the drop-in). It finds the request's session the
  // way `sessions.from(req)` does.
  const sessionID = function sessionID(this: IncomingMessage): string | undefined {
    const session = sessionOf(this, core);
    return session === undefined ? undefined : dropInToken(sessions, session);
  };

  const start = (
    req: SessionRequest,
    res: ServerResponse,
    next: ExpressNext,
    loaded: Session<Data>,
  ): void => {
    const state = new DropInState(sessions, loaded) as unknown as DropInState;
    const object = new ExpressSessionObject(state, req);
    state.fill(object);
    // Own properties: they survive the prototype resets of mounted sub-apps.
    req.session = object;
    // Set before Express's prototypes from the app's second request on (prepareExpressApp).
    if (req.sessionStore !== sessionStore) req.sessionStore = sessionStore;
    Object.defineProperty(req, "sessionID", {
      get: sessionID,
      enumerable: true,
      configurable: true,
    });
    attachSession(core, transport, req, res, loaded, {
      fail: (err) => fail(core, req, res, next, err),
      abandonWhen: isFailedStatus,
      beforeSave: () => {
        const current = req.session;
        if (current !== state.target && state.target !== null) {
          // req.session was unset or replaced by something that is not a session.
          if (current == null && unset === "destroy") void state.destroy();
          else state.target = null;
        }
        state.prepareSave();
      },
    });
    next();
  };

  return function scsExpressSessionDropIn(req: SessionRequest, res, next): void {
    prepareExpressApp(req, requestProperties);
    if (req.session instanceof ExpressSessionObject) {
      next(); // already loaded, by this middleware mounted twice (express-session does so too)
      return;
    }
    loadSession(
      core,
      transport,
      req.headers,
      (session) => start(req, res, next, session),
      (err) => fail(core, req, res, next, err),
    );
  };
}

/** express-session's `session.MemoryStore`: here scs-ts's MemStore (`store: new session.MemoryStore()` works). */
session.MemoryStore = MemStore;

function fail<Data extends object>(
  core: SessionCore<Data>,
  req: IncomingMessage,
  res: ServerResponse,
  next: ExpressNext,
  err: unknown,
): void {
  if (core.hasErrorHandler) core.handleError(err, req, res);
  else next(err);
}

export default session;
export { session };
