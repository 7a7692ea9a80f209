/**
 * `req.sessionStore` of the express-session drop-in: the manager's sessions behind
 * express-session's callback store methods, for the code that reaches other sessions through
 * it ("sign out my other devices", an admin's session list). Ids are scs-ts tokens; a session
 * is never created under an id the caller chose.
 * @module
 */
import { SessionError } from "../errors.ts";
import type { SessionManager } from "../manager.ts";
import { isInternalKey, type Session, type SessionData } from "../session.ts";
import { isIterableStore } from "../store.ts";
import { DropInState, SessionCookie } from "./dropin-state.ts";

/** express-session's store callback: `(err, result?)`, called on a later tick. */
export type StoreCallback<T> = (err: unknown, result?: T) => void;

/** A stored session as express-session's stores give it: the data and its `cookie`. */
export type StoredSession = Record<string, unknown> & { cookie: Record<string, unknown> };

function later<T>(work: Promise<T>, callback: StoreCallback<T> | undefined): void {
  if (typeof callback !== "function") {
    work.then(undefined, () => {}); // no callback: express-session's stores drop the result too
    return;
  }
  work.then(
    (result) => process.nextTick(callback, null, result),
    (err: unknown) => process.nextTick(callback, err),
  );
}

/**
 * express-session's `Store` methods over a SessionManager: `get`, `set`, `destroy`, `touch`,
 * and with an iterable store (MemStore, the SQL and Redis stores) `all`, `length`, `clear`.
 */
export class ExpressSessionStore<Data extends object = SessionData> {
  readonly #manager: SessionManager<Data>;

  /** @param manager the drop-in's SessionManager. */
  constructor(manager: SessionManager<Data>) {
    this.#manager = manager;
  }

  /** The session under `sid` as `{ ...data, cookie }`, or null when there is none (or it expired). */
  get(sid: string, callback?: StoreCallback<StoredSession | null>): void {
    later(
      this.#stored(sid).then((session) => (session === undefined ? null : this.#shape(session))),
      callback,
    );
  }

  /**
   * Replaces the data of the existing session `sid` with `session`'s (its `cookie` is the
   * manager's and is not taken). Fails with a SessionError when there is no such session: a
   * session is never created under a chosen id.
   */
  set(sid: string, session: Record<string, unknown>, callback?: StoreCallback<void>): void {
    later(
      this.#stored(sid).then(async (stored) => {
        if (stored === undefined) {
          throw new SessionError("sessionStore.set: no session with this id (none is created)");
        }
        const values = stored as unknown as Session<SessionData>;
        for (const key of stored.keys()) {
          if (!Object.hasOwn(session, key)) values.remove(key);
        }
        for (const key of Object.keys(session)) {
          if (key === "cookie" || isInternalKey(key) || session[key] === undefined) continue;
          values.put(key, session[key]);
        }
        await this.#manager.commit(stored);
      }),
      callback,
    );
  }

  /** Deletes the session `sid`: its token is dead from now on, also for requests in flight. */
  destroy(sid: string, callback?: StoreCallback<void>): void {
    later(
      this.#stored(sid).then((session) => session?.destroy()),
      callback,
    );
  }

  /** Nothing to do: the session's expiry moves when it is saved. */
  touch(_sid: string, _session: unknown, callback?: StoreCallback<void>): void {
    later(Promise.resolve(), callback);
  }

  /** Every active session by id (sessions stored under a hashed token have none and are left out). */
  all(callback?: StoreCallback<Record<string, StoredSession>>): void {
    later(
      this.#each().then((sessions) => {
        const out: Record<string, StoredSession> = {};
        for (const session of sessions) {
          if (session.token !== "") out[session.token] = this.#shape(session);
        }
        return out;
      }),
      callback,
    );
  }

  /** How many active sessions there are. */
  length(callback?: StoreCallback<number>): void {
    later(
      this.#each().then((sessions) => sessions.length),
      callback,
    );
  }

  /** Deletes every session. */
  clear(callback?: StoreCallback<void>): void {
    later(
      this.#manager.iterate(async (session) => {
        await session.destroy();
      }),
      callback,
    );
  }

  async #stored(sid: unknown): Promise<Session<Data> | undefined> {
    if (typeof sid !== "string") return undefined;
    const session = await this.#manager.load(sid);
    return session.token === "" ? undefined : session;
  }

  /** Every active session, those stored under a hashed token (whose token is "") included. */
  async #each(): Promise<Session<Data>[]> {
    if (!isIterableStore(this.#manager.store)) {
      throw new SessionError("sessionStore: the store cannot list its sessions (no all())");
    }
    const sessions: Session<Data>[] = [];
    await this.#manager.iterate((session) => {
      sessions.push(session);
    });
    return sessions;
  }

  #shape(session: Session<Data>): StoredSession {
    const state = new DropInState(this.#manager, session);
    state.fill(Object.create(null) as object); // a holder that answers no key: all data is taken
    const shaped = state.data() as StoredSession;
    shaped.cookie = new SessionCookie(state as unknown as DropInState<object>).toJSON();
    return shaped;
  }
}
