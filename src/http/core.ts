/**
 * What the HTTP layer (handler, guard, adapters) needs from a SessionManager, kept off the
 * manager's public surface: loads and saves that answer synchronously when the store does,
 * the token transport, and the error path. The manager registers its core when constructed;
 * this module imports nothing at run time, so the manager and the HTTP layer do not form a
 * cycle.
 * @module
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Logger, Transport } from "../options.ts";
import type { Session } from "../session.ts";
import type { Awaitable } from "../store.ts";

/** A response header the HTTP layer sets for a session: Set-Cookie or the transport header. */
export interface SessionHeader {
  name: string;
  value: string;
}

/** @internal The request cycle of one manager, for the HTTP layer. */
export interface SessionCore<Data extends object = object> {
  /**
   * `load`, without a microtask hop when the store answers synchronously. `token` is what
   * {@link SessionCore.readToken} returned (well-formed, or undefined): it is not checked again.
   */
  load(token: string | undefined): Awaitable<Session<Data>>;
  /**
   * Waits for the session's pending store work, commits it when modified, and says which header
   * to send (undefined: none).
   */
  save(session: Session<Data>, transport: Transport): Awaitable<SessionHeader | undefined>;
  /** Commits a session changed after its headers went out (no header can be sent any more). */
  saveLate(session: Session<Data>): Awaitable<void>;
  /** The well-formed token a request carries, or undefined. */
  readToken(headers: IncomingHttpHeaders, transport: Transport): string | undefined;
  /** The manager's error path: `onError`, or log + 500/503 (abort once the headers went out). */
  handleError(err: unknown, req: IncomingMessage, res: ServerResponse): void;
  /** Whether the user gave `onError` (adapters otherwise use their framework's error path). */
  readonly hasErrorHandler: boolean;
  readonly logger: Logger;
}

const cores = new WeakMap<object, SessionCore>();

/** Called by the SessionManager constructor. @internal */
export function registerCore<Data extends object>(manager: object, core: SessionCore<Data>): void {
  cores.set(manager, core as unknown as SessionCore);
}

/**
 * The core of a SessionManager.
 * @returns the core.
 * @throws TypeError when `manager` is not a SessionManager.
 */
export function coreOf<Data extends object>(manager: object): SessionCore<Data> {
  const core = typeof manager === "object" && manager !== null ? cores.get(manager) : undefined;
  if (core === undefined) {
    throw new TypeError(
      `option sessions is invalid: ${String(manager)} (expected a SessionManager)`,
    );
  }
  return core as unknown as SessionCore<Data>;
}
