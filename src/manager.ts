/**
 * SessionManager: loads sessions from a store, commits them, and builds their cookies.
 * @module
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { type Codec, defaultCodec } from "./codec.ts";
import { reconcileWithStored } from "./concurrency.ts";
import { readTokenFromCookieHeader, readTokenFromHeader, serializeCookie } from "./cookie.ts";
import { CodecError, NotIterableError, SessionError } from "./errors.ts";
import type { RequestLike } from "./fetch/request.ts";
import { commitCookie, commitHeaders, loadRequest } from "./fetch/two-step.ts";
import { registerCore, type SessionCore, type SessionHeader } from "./http/core.ts";
import { defaultOnError } from "./http/error-response.ts";
import { createHandler, type HandlerOptions } from "./http/handler.ts";
import { sessionOf } from "./http/request-state.ts";
import {
  type ResolvedOptions,
  resolveOptions,
  type SessionManagerOptions,
  type Transport,
  type TransportOptions,
} from "./options.ts";
import { redact } from "./redact.ts";
import { RetiredTokens } from "./retired-tokens.ts";
import {
  REMEMBER_ME_KEY,
  Session,
  type SessionData,
  type SessionHost,
  sessionInternals,
} from "./session.ts";
import { type Awaitable, isIterableStore, isPromiseLike, type Store } from "./store.ts";
import { MemStore } from "./stores/memstore.ts";
import { generateToken, hashToken, isWellFormedToken } from "./token.ts";

/** What `commit` returns: the token the session is stored under and when it expires. */
export interface CommitResult {
  token: string;
  expiry: Date;
}

/** What a commit of a session whose token was retired meanwhile returns: nothing written. */
const NOT_WRITTEN: CommitResult = Object.freeze({ token: "", expiry: new Date(0) });

/**
 * The session manager, as SCS's `SessionManager`: one per application (or per cookie name).
 *
 * @example
 * const sessions = new SessionManager<{ userId: string }>({ lifetime: 3_600_000 });
 * http.createServer(sessions.handler((req, res) => {
 *   sessions.from(req).put("userId", "u1");
 *   res.end("ok");
 * }));
 */
export class SessionManager<Data extends object = SessionData> {
  /** The store sessions live in. */
  readonly store: Store;
  /** The codec that turns values into bytes. */
  readonly codec: Codec;
  #options: ResolvedOptions;
  #host: SessionHost;
  readonly #retired = new RetiredTokens();
  readonly #core: SessionCore<Data>;

  /**
   * @param options see {@link SessionManagerOptions}; all optional.
   * @throws TypeError naming the option when one is invalid.
   */
  constructor(options: SessionManagerOptions = {}) {
    this.#options = resolveOptions(options);
    const opts = this.#options;
    // The default store keeps time with the manager, so an injected clock works end to end.
    this.store = options.store ?? new MemStore({ now: opts.now });
    this.codec = options.codec ?? defaultCodec;
    this.#host = {
      now: opts.now,
      lifetime: opts.lifetime,
      newToken: () => this.#newToken(),
      storeKeyOf: (token) => (opts.hashTokenInStore ? hashToken(token) : token),
      storeDelete: (storeKey) => this.store.delete(storeKey),
      trackKeys: opts.concurrency === "merge",
      retire: (storeKey) => this.#retired.retire(storeKey),
      findValues: async (token) => {
        if (!isWellFormedToken(token)) return undefined;
        const data = await this.store.find(this.#host.storeKeyOf(token));
        return data === undefined ? undefined : this.codec.decode(data).values;
      },
    };
    this.#core = {
      // readToken's tokens are well-formed already: the check is not run twice per request.
      load: (token) => (token === undefined ? this.#fresh() : this.#loadWellFormed(token)),
      save: (session, transport) => this.#save(session, transport),
      saveLate: (session) => this.#saveLate(session),
      readToken: (headers, transport) => this.#readToken(headers, transport),
      handleError: (err, req, res) => this.#handleError(err, req, res),
      hasErrorHandler: opts.onError !== undefined,
      logger: opts.logger,
    };
    registerCore(this, this.#core);
  }

  /** The resolved options (cookie attributes, lifetime, ...). */
  get options(): Readonly<ResolvedOptions> {
    return this.#options;
  }

  /**
   * Loads the session for `token`. An absent, malformed, unknown or expired token gives a fresh
   * session (a client-chosen token is never adopted). Stored bytes that do not decode are
   * deleted, logged once, and also give a fresh session.
   * @returns the session.
   * @throws (rejects) when the store fails, e.g. `StoreUnavailableError`.
   */
  async load(token: string | undefined): Promise<Session<Data>> {
    return this.#load(token);
  }

  /** `load`, answering synchronously when the store does. */
  #load(token: string | undefined): Awaitable<Session<Data>> {
    if (token === undefined || !isWellFormedToken(token)) return this.#fresh();
    return this.#loadWellFormed(token);
  }

  #loadWellFormed(token: string): Awaitable<Session<Data>> {
    const storeKey = this.#options.hashTokenInStore ? hashToken(token) : token;
    const found = this.store.find(storeKey);
    if (isPromiseLike(found)) return found.then((data) => this.#fromData(token, storeKey, data));
    return this.#fromData(token, storeKey, found);
  }

  #fresh(): Session<Data> {
    const deadline = this.#options.now() + this.#options.lifetime;
    return new Session<Data>(this.#host, "", "", deadline, {}, "unmodified");
  }

  #fromData(token: string, storeKey: string, data: Uint8Array | undefined): Session<Data> {
    // Retired by a renewal or sign-out (its delete may not have landed yet): gone.
    if (data === undefined || this.#retired.has(storeKey)) return this.#fresh();
    let decoded: { deadline: Date; values: SessionData };
    try {
      decoded = this.codec.decode(data);
    } catch (err) {
      this.#dropCorrupt(storeKey, err);
      return this.#fresh();
    }
    const deadline = decoded.deadline.getTime();
    if (!(deadline > this.#options.now())) return this.#fresh();
    // With an idle timeout every loaded session is re-committed so activity extends it (SCS).
    const status = this.#options.idleTimeout > 0 ? "modified" : "unmodified";
    return new Session<Data>(this.#host, token, storeKey, deadline, decoded.values, status, data);
  }

  #dropCorrupt(storeKey: string, err: unknown): void {
    const reason = err instanceof CodecError ? err.message : "decode failed";
    this.#options.logger.warn(
      `scs-ts: stored session data could not be decoded (${redact(reason)}); deleted it and started a fresh session`,
    );
    try {
      const deleted = this.store.delete(storeKey);
      if (isPromiseLike(deleted)) {
        deleted.then(undefined, (e: unknown) =>
          this.#options.logger.error(`scs-ts: deleting a corrupt session failed: ${redact(e)}`),
        );
      }
    } catch (e) {
      this.#options.logger.error(`scs-ts: deleting a corrupt session failed: ${redact(e)}`);
    }
  }

  #newToken(): { token: string; storeKey: string } {
    const token = generateToken();
    return { token, storeKey: this.#options.hashTokenInStore ? hashToken(token) : token };
  }

  /**
   * Saves the session to the store, giving it a token first if it has none. The expiry is the
   * deadline, or now + idleTimeout when that is sooner.
   * @returns the token and expiry.
   */
  async commit(session: Session<Data>): Promise<CommitResult> {
    return this.#commit(session);
  }

  /**
   * `commit`, answering synchronously when the store does. A session whose token was retired
   * by a concurrent renewal or sign-out is not written (it would resurrect the token): the
   * result then has an empty token.
   */
  #commit(session: Session<Data>): Awaitable<CommitResult> {
    if (this.#retired.has(sessionInternals.storeKey(session))) return NOT_WRITTEN;
    let storeKey = sessionInternals.storeKey(session);
    let token = session.token;
    if (storeKey === "") {
      const fresh = this.#newToken();
      token = fresh.token;
      storeKey = fresh.storeKey;
      sessionInternals.assignToken(session, token, storeKey);
    }
    if (
      this.#options.concurrency !== "last-write-wins" &&
      sessionInternals.loaded(session) !== undefined
    ) {
      return this.#commitChecked(session, token, storeKey);
    }
    return this.#write(session, token, storeKey);
  }

  #write(session: Session<Data>, token: string, storeKey: string): Awaitable<CommitResult> {
    const deadline = sessionInternals.deadline(session);
    const data = this.codec.encode(new Date(deadline), sessionInternals.values(session));
    let expiryMs = deadline;
    if (this.#options.idleTimeout > 0) {
      expiryMs = Math.min(expiryMs, this.#options.now() + this.#options.idleTimeout);
    }
    const expiry = new Date(expiryMs);
    const result: CommitResult = { token, expiry };
    const committed = this.store.commit(storeKey, data, expiry);
    const track = this.#options.concurrency !== "last-write-wins";
    if (isPromiseLike(committed)) {
      return committed.then(() => {
        // Retired while our write was in flight: it may have landed after the retiring delete.
        if (this.#retired.has(storeKey)) return this.#unwrite(storeKey);
        if (track) sessionInternals.setLoaded(session, data);
        return this.#deleteRetired(session, result);
      });
    }
    if (track) sessionInternals.setLoaded(session, data);
    return this.#deleteRetired(session, result);
  }

  /** Deletes what a write of a just-retired key may have brought back. */
  async #unwrite(storeKey: string): Promise<CommitResult> {
    await this.store.delete(storeKey);
    return NOT_WRITTEN;
  }

  /**
   * After a commit under a renewed token: the old tokens die before the response leaves. They
   * are retired at once for every in-flight request that loaded them; if a delete fails the
   * retirement is undone (the old token stays valid, and the commit fails: 5xx).
   */
  #deleteRetired(session: Session<Data>, result: CommitResult): Awaitable<CommitResult> {
    const retired = sessionInternals.takeRetired(session);
    if (retired === undefined) return result;
    let pending: Promise<void>[] | undefined;
    for (const key of retired) {
      const undo = this.#retired.retire(key);
      let deleted: Awaitable<void>;
      try {
        deleted = this.store.delete(key);
      } catch (err) {
        undo();
        throw err;
      }
      if (isPromiseLike(deleted)) {
        pending ??= [];
        pending.push(
          deleted.then(undefined, (err: unknown) => {
            undo();
            throw err;
          }),
        );
      }
    }
    if (pending === undefined) return result;
    return Promise.all(pending).then(() => result);
  }

  /** `concurrency: "merge" | "reject"`: reconcile with the stored session, then write. */
  async #commitChecked(
    session: Session<Data>,
    token: string,
    storeKey: string,
  ): Promise<CommitResult> {
    const mode = this.#options.concurrency === "reject" ? "reject" : "merge";
    const outcome = await reconcileWithStored(this.store, this.codec, mode, session, storeKey);
    if (outcome === "gone") return NOT_WRITTEN;
    return this.#write(session, token, storeKey);
  }

  /**
   * Builds the `Set-Cookie` value for `token`. `expiry` null gives a deletion cookie. With
   * `cookie.persist: false` the cookie has no Expires/Max-Age unless `session.rememberMe(true)`.
   * @returns the header value.
   * @throws CookieTooLargeError when the cookie would exceed 4096 bytes.
   */
  cookieHeader(token: string, expiry: Date | null, session?: Session<Data>): string {
    const opts = this.#options;
    const persistent =
      opts.cookie.persist ||
      (session !== undefined && sessionInternals.values(session)[REMEMBER_ME_KEY] === true);
    return serializeCookie(opts.cookie, token, expiry, persistent, opts.now());
  }

  /** The well-formed token a request carries (cookie or header transport), or undefined. */
  #readToken(headers: IncomingHttpHeaders, transport: Transport): string | undefined {
    if (transport.header === undefined) {
      return readTokenFromCookieHeader(headers.cookie, this.#options.cookie.name);
    }
    return readTokenFromHeader(headers[transport.headerKey]);
  }

  /**
   * Before the response head: waits for the session's store work (destroy, mergeSession),
   * commits a modified session, and says which header to send — the cookie, a deletion cookie
   * for a destroyed session (an empty transport header), nothing when unmodified or when the
   * token was retired by a concurrent request (it must not be handed back).
   */
  #save(session: Session<Data>, transport: Transport): Awaitable<SessionHeader | undefined> {
    const pending = sessionInternals.takePending(session);
    if (pending !== undefined) return pending.then(() => this.#save(session, transport));
    const status = session.status;
    if (status === "unmodified") return undefined;
    if (status === "destroyed") {
      const value = transport.header === undefined ? this.cookieHeader("", null, session) : "";
      return { name: transport.responseHeader, value };
    }
    const committed = this.#commit(session);
    if (isPromiseLike(committed)) {
      return committed.then((result) => this.#headerFor(session, transport, result));
    }
    return this.#headerFor(session, transport, committed);
  }

  #headerFor(
    session: Session<Data>,
    transport: Transport,
    result: CommitResult,
  ): SessionHeader | undefined {
    if (result.token === "") return undefined; // not written: retired or gone meanwhile
    const value =
      transport.header === undefined
        ? this.cookieHeader(result.token, result.expiry, session)
        : result.token;
    return { name: transport.responseHeader, value };
  }

  /** After the response head went out: the session's store work and commit, no header. */
  #saveLate(session: Session<Data>): Awaitable<void> {
    const pending = sessionInternals.takePending(session);
    if (pending !== undefined) return pending.then(() => this.#saveLate(session));
    if (session.status !== "modified" || sessionInternals.storeKey(session) === "") return;
    const committed = this.#commit(session);
    if (isPromiseLike(committed)) return committed.then(() => undefined);
  }

  /**
   * Calls `fn` with every active session in the store (an `IterableStore` is required), then
   * commits sessions that `fn` modified. With `hashTokenInStore` the sessions' `token` is ""
   * (only the hash is stored) but `destroy`, `put` and `renewToken` still work.
   * @returns a Promise settled when every session was visited.
   * @throws NotIterableError when the store has no `all` method.
   */
  async iterate(fn: (session: Session<Data>) => Awaitable<void>): Promise<void> {
    const store = this.store;
    if (!isIterableStore(store)) {
      throw new NotIterableError("iterate needs a store with an all() method (an IterableStore)");
    }
    const all = await store.all();
    for (const [storeKey, data] of all) {
      let decoded: { deadline: Date; values: SessionData };
      try {
        decoded = this.codec.decode(data);
      } catch (err) {
        this.#dropCorrupt(storeKey, err);
        continue;
      }
      const token = this.#options.hashTokenInStore ? "" : storeKey;
      const deadline = decoded.deadline.getTime();
      const session = new Session<Data>(
        this.#host,
        token,
        storeKey,
        deadline,
        decoded.values,
        "unmodified",
      );
      await fn(session);
      const pending = sessionInternals.takePending(session);
      if (pending !== undefined) await pending;
      if (session.status === "modified") await this.#commit(session);
    }
  }

  /**
   * node:http middleware (SCS's LoadAndSave): loads the session before `next`, commits it
   * before the response is sent, and writes the cookie. See {@link HandlerOptions}.
   * @returns a `(req, res)` request listener.
   */
  handler(
    next: (req: IncomingMessage, res: ServerResponse) => unknown,
    options?: HandlerOptions,
  ): (req: IncomingMessage, res: ServerResponse) => void {
    return createHandler<Data>(this.#core, next, options);
  }

  /**
   * The session of this request, in `handler` and every adapter: pass the node request or
   * response, or the framework's own request object (Express `req`, Fastify `request`, Koa
   * `ctx`, Hono `c`).
   * @returns the session.
   * @throws SessionError when the request did not pass through this manager's middleware.
   */
  from(req: object): Session<Data> {
    const session =
      typeof req === "object" && req !== null ? sessionOf(req, this.#core) : undefined;
    if (session === undefined) {
      throw new SessionError("no session on this request: is the session middleware installed?");
    }
    return session;
  }

  /**
   * Two-step form for Fetch API frameworks that build their own Response (React Router / Remix
   * loaders and actions, SvelteKit, Astro): the session of a `Request`, from its `Cookie` (or,
   * with `{ header }`, that header). `sessions.from(request)` finds it afterwards. Send its
   * changes with {@link commitCookie} or {@link commitHeaders}.
   * @returns the session (fresh for an absent, malformed, unknown or expired token).
   * @throws TypeError when `request` has no `headers`; rejects when the store fails.
   * @example const session = await sessions.loadRequest(request);
   */
  loadRequest(request: RequestLike, options?: TransportOptions): Promise<Session<Data>> {
    return loadRequest(this.#core, request, options);
  }

  /**
   * Commits a session from {@link loadRequest} (when modified) and gives the header value to
   * send: a `Set-Cookie` value, a deletion cookie when destroyed, or `undefined` when there is
   * nothing to send (unmodified). With `{ header }`: the token ("" when destroyed). Call it
   * once, last: the token is locked afterwards (renewToken throws).
   * @returns the header value, or undefined.
   * @throws (rejects) when the store or codec fails.
   * @example
   * const cookie = await sessions.commitCookie(session);
   * if (cookie !== undefined) headers.append("Set-Cookie", cookie);
   */
  commitCookie(session: Session<Data>, options?: TransportOptions): Promise<string | undefined> {
    return commitCookie(this.#core, session, options);
  }

  /**
   * {@link commitCookie} as ready-made response headers: `Vary: Cookie` always, and when there
   * is a cookie to send, `Set-Cookie` plus `Cache-Control: no-cache="Set-Cookie"`, as `handler`
   * sends them.
   * @returns a new Headers object, e.g. for React Router's `data(value, { headers })`.
   * @throws (rejects) when the store or codec fails.
   */
  commitHeaders(session: Session<Data>, options?: TransportOptions): Promise<Headers> {
    return commitHeaders(this.#core, session, options);
  }

  /**
   * The error path: `onError`, or log + 500/503. Never throws; an `onError` that throws, or
   * returns a Promise that rejects, is logged and the connection closed.
   */
  #handleError(err: unknown, req: IncomingMessage, res: ServerResponse): void {
    const onError = this.#options.onError;
    try {
      if (onError === undefined) {
        defaultOnError(this.#options.logger, err, res);
        return;
      }
      // ErrorHandler returns void, which an async function satisfies too: catch its rejection.
      const result: unknown = onError(err, req, res);
      if (isPromiseLike(result)) {
        result.then(undefined, (thrown: unknown) => this.#errorHandlerFailed(thrown, res));
      }
    } catch (thrown) {
      this.#errorHandlerFailed(thrown, res);
    }
  }

  #errorHandlerFailed(thrown: unknown, res: ServerResponse): void {
    try {
      this.#options.logger.error(`scs-ts: the error handler threw: ${redact(thrown)}`);
    } catch {
      // nothing more to do
    }
    if (!res.destroyed) res.destroy();
  }

  /**
   * Stops the store's background cleanup, when it has one.
   * @returns a Promise settled when done.
   */
  async close(): Promise<void> {
    const store = this.store as Store & { stopCleanup?: () => void };
    if (typeof store.stopCleanup === "function") store.stopCleanup();
  }

  /** `await using sessions = new SessionManager()` closes it at scope end. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
