/**
 * SessionManager: loads sessions from a store, commits them, and builds their cookies.
 * @module
 */
import { IncomingMessage, type ServerResponse } from "node:http";
import { type Codec, defaultCodec } from "./codec.ts";
import { reconcileWithStored } from "./concurrency.ts";
import { readTokenFromCookieHeader, readTokenFromHeader, serializeCookie } from "./cookie.ts";
import { CodecError, NotIterableError } from "./errors.ts";
import { createHandler, type HandlerOptions } from "./middleware.ts";
import {
  type ResolvedOptions,
  resolveOptions,
  type SessionManagerOptions,
  type Transport,
} from "./options.ts";
import { redact } from "./redact.ts";
import { defaultOnError } from "./respond-error.ts";
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

/** A response header an adapter must set after the handler ran. */
export interface SessionHeader {
  name: string;
  value: string;
}

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
  /**
   * Request → session, per manager (nested managers each find their own): a symbol property on
   * plain node:http requests (cheapest there), a WeakMap for requests a framework gave its own
   * prototype (Express), where each added property costs microseconds.
   */
  readonly #requestKey = Symbol("scs-ts.session");
  readonly #requests = new WeakMap<object, Session<Data>>();

  /**
   * @param options see {@link SessionManagerOptions}; all optional.
   * @throws TypeError naming the option when one is invalid.
   */
  constructor(options: SessionManagerOptions = {}) {
    this.#options = resolveOptions(options);
    this.store = options.store ?? new MemStore();
    this.codec = options.codec ?? defaultCodec;
    const opts = this.#options;
    this.#host = {
      now: opts.now,
      lifetime: opts.lifetime,
      newToken: () => this.#newToken(),
      storeKeyOf: (token) => (opts.hashTokenInStore ? hashToken(token) : token),
      storeDelete: (storeKey) => this.store.delete(storeKey),
      trackKeys: opts.concurrency === "merge",
      findValues: async (token) => {
        if (!isWellFormedToken(token)) return undefined;
        const data = await this.store.find(this.#host.storeKeyOf(token));
        return data === undefined ? undefined : this.codec.decode(data).values;
      },
    };
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
    return this.loadAwaitable(token);
  }

  /**
   * `load`, answering synchronously when the store does: the building block for adapters.
   * @returns the session, or a Promise of it.
   */
  loadAwaitable(token: string | undefined): Awaitable<Session<Data>> {
    if (token === undefined || !isWellFormedToken(token)) return this.#fresh();
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
    if (data === undefined) return this.#fresh();
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
    return this.commitAwaitable(session);
  }

  /**
   * `commit`, answering synchronously when the store does: the building block for adapters.
   * @returns the token and expiry, or a Promise of them.
   */
  commitAwaitable(session: Session<Data>): Awaitable<CommitResult> {
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
        if (track) sessionInternals.setLoaded(session, data);
        return this.#deleteRetired(session, result);
      });
    }
    if (track) sessionInternals.setLoaded(session, data);
    return this.#deleteRetired(session, result);
  }

  /** After a commit under a renewed token: the old tokens die before the response leaves. */
  #deleteRetired(session: Session<Data>, result: CommitResult): Awaitable<CommitResult> {
    const retired = sessionInternals.takeRetired(session);
    if (retired === undefined) return result;
    let pending: Promise<void>[] | undefined;
    for (const key of retired) {
      const deleted = this.store.delete(key);
      if (isPromiseLike(deleted)) {
        pending ??= [];
        pending.push(deleted);
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
    if (outcome === "destroyed") return { token: "", expiry: new Date(0) };
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

  /**
   * Reads the token a request carries (cookie or header transport). Malformed values are ignored.
   * @returns a well-formed token, or undefined.
   */
  readToken(headers: IncomingMessage["headers"], transport: Transport): string | undefined {
    if (transport.header === undefined) {
      return readTokenFromCookieHeader(headers.cookie, this.#options.cookie.name);
    }
    return readTokenFromHeader(headers[transport.headerKey]);
  }

  /**
   * After the handler ran: commits a modified session and says which header to send
   * (Set-Cookie or the transport header); a destroyed session gets a deletion cookie (or an
   * empty header); an unmodified one gets nothing.
   * @returns the header to set, undefined for none, or a Promise of either.
   */
  saveAwaitable(
    session: Session<Data>,
    transport: Transport,
  ): Awaitable<SessionHeader | undefined> {
    const status = session.status;
    if (status === "unmodified") return undefined;
    if (status === "destroyed") {
      const value = transport.header === undefined ? this.cookieHeader("", null, session) : "";
      return { name: transport.responseHeader, value };
    }
    const committed = this.commitAwaitable(session);
    if (isPromiseLike(committed)) {
      return committed.then((result) => this.#headerFor(session, transport, result));
    }
    return this.#headerFor(session, transport, committed);
  }

  #headerFor(session: Session<Data>, transport: Transport, result: CommitResult): SessionHeader {
    if (session.status === "destroyed") {
      // a concurrent request destroyed it (concurrency: "merge"): clear the client's token too
      const cleared = transport.header === undefined ? this.cookieHeader("", null, session) : "";
      return { name: transport.responseHeader, value: cleared };
    }
    const value =
      transport.header === undefined
        ? this.cookieHeader(result.token, result.expiry, session)
        : result.token;
    return { name: transport.responseHeader, value };
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
      if (session.status === "modified") await this.commitAwaitable(session);
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
    return createHandler<Data>(this, next, options);
  }

  /**
   * Attaches `session` to `req` so `from(req)` finds it. Used by `handler` and the adapters.
   */
  attach(req: object, session: Session<Data>): void {
    if (Object.getPrototypeOf(req) === IncomingMessage.prototype) {
      (req as Record<symbol, unknown>)[this.#requestKey] = session;
    } else {
      this.#requests.set(req, session);
    }
  }

  /**
   * The session of this request, in `handler` and every adapter.
   * @returns the session.
   * @throws Error when the request did not pass through the session middleware.
   */
  from(req: object): Session<Data> {
    const session =
      ((req as Record<symbol, unknown>)[this.#requestKey] as Session<Data> | undefined) ??
      this.#requests.get(req);
    if (session === undefined) {
      throw new Error("no session on this request: is the session middleware installed?");
    }
    return session;
  }

  /** Handles a request error as configured: `onError`, or log + 500/503. */
  handleError(err: unknown, req: IncomingMessage, res: ServerResponse): void {
    const onError = this.#options.onError;
    if (onError !== undefined) {
      onError(err, req, res);
      return;
    }
    defaultOnError(this.#options.logger, err, res);
  }

  /** Whether `onError` was given (adapters otherwise use their framework's error path). */
  get hasErrorHandler(): boolean {
    return this.#options.onError !== undefined;
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
