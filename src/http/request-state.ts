/**
 * The one place per-request state lives: one record with the request's sessions and its
 * response guard, linked from the request's objects (the node request and response, and a
 * framework's own request or context object) by one symbol-keyed own property. Own
 * properties survive what frameworks do to prototypes (Express sub-apps reset them), and no
 * prototype is touched. (A WeakMap would do the same, but its entries cost the garbage
 * collector about a fifth of the server's time at bench load.)
 * @module
 */
import type { Transport } from "../options.ts";
import type { Session } from "../session.ts";
import type { SessionCore } from "./core.ts";

/** One manager's session on one request (several when managers are nested). */
export interface SessionEntry<Data extends object = object> {
  readonly core: SessionCore<Data>;
  readonly session: Session<Data>;
  readonly transport: Transport;
  /** The request failed or its commit failed: never commit this session again. */
  abandoned: boolean;
  /** Receives a failed commit instead of the manager's error path (e.g. Express `next`). */
  readonly fail: ((err: unknown) => void) | undefined;
  /** True for a response status that must not commit the session (adapters: 404, 5xx). */
  readonly abandonWhen: ((statusCode: number) => boolean) | undefined;
  /**
   * Called just before the session is saved (before the head, and again before a late commit
   * at the end): a drop-in adapter copies its property-style data into the session here.
   */
  readonly beforeSave?: (() => void) | undefined;
}

/** Everything scs-ts keeps for one request. */
export interface RequestState {
  readonly entries: SessionEntry[];
  /** The response guard's state, when the response is guarded. */
  guard: object | undefined;
}

const kState = Symbol("scs-ts.request");

type Linked = { [kState]?: RequestState };

/**
 * The state of the request `key` belongs to (its node request or response, or a framework
 * object bound with {@link bindRequestState}).
 * @returns the state, or undefined when the request has none.
 */
export function requestStateOf(key: object): RequestState | undefined {
  return (key as Linked)[kState];
}

/**
 * Adds a session entry to the request's state, creating the state on first use, and binds it
 * to every object given, so `sessions.from(any of them)` finds it.
 * @returns the request's state.
 */
export function addSessionEntry(entry: SessionEntry, keys: readonly object[]): RequestState {
  let state: RequestState | undefined;
  for (const key of keys) {
    state = (key as Linked)[kState];
    if (state !== undefined) break;
  }
  if (state === undefined) state = { entries: [], guard: undefined };
  state.entries.push(entry);
  for (const key of keys) (key as Linked)[kState] = state;
  return state;
}

/**
 * Links a new, empty state to every object given (before any session is added), so that
 * adding sessions later sets no new property on them: for adapters that can reach a request's
 * objects before their framework changes their prototypes (Express), after which V8 makes
 * every added property copy the object's map.
 * @returns the state.
 */
export function linkRequestState(keys: readonly object[]): RequestState {
  const state: RequestState = { entries: [], guard: undefined };
  for (const key of keys) (key as Linked)[kState] = state;
  return state;
}

/** What an adapter may add to a session entry (see {@link SessionEntry}). */
export interface EntryOptions {
  fail?: (err: unknown) => void;
  abandonWhen?: (statusCode: number) => boolean;
  beforeSave?: () => void;
}

/** The default of {@link bindSession}'s options: one object, not one per request. */
const NO_OPTIONS: EntryOptions = Object.freeze({});

/**
 * Puts one manager's session on a request, bound to every object given (see
 * {@link addSessionEntry}).
 * @returns the request's state.
 */
export function bindSession<Data extends object>(
  core: SessionCore<Data>,
  session: Session<Data>,
  transport: Transport,
  keys: readonly object[],
  options: EntryOptions = NO_OPTIONS,
): RequestState {
  return addSessionEntry(
    {
      core: core as unknown as SessionCore,
      session: session as unknown as Session<object>,
      transport,
      abandoned: false,
      fail: options.fail,
      abandonWhen: options.abandonWhen,
      beforeSave: options.beforeSave,
    },
    keys,
  );
}

/**
 * The session entry `core`'s manager put on the request `key` belongs to.
 * @returns the entry, or undefined.
 */
export function sessionEntryOf<Data extends object>(
  key: object,
  core: SessionCore<Data>,
): SessionEntry | undefined {
  const state = (key as Linked)[kState];
  if (state === undefined) return undefined;
  for (const entry of state.entries) {
    if (entry.core === (core as unknown as SessionCore)) return entry;
  }
  return undefined;
}

/**
 * The session `core`'s manager gave the request `key` belongs to.
 * @returns the session, or undefined.
 */
export function sessionOf<Data extends object>(
  key: object,
  core: SessionCore<Data>,
): Session<Data> | undefined {
  const state = (key as Linked)[kState];
  if (state === undefined) return undefined;
  for (const entry of state.entries) {
    if (entry.core === (core as unknown as SessionCore)) {
      return entry.session as unknown as Session<Data>;
    }
  }
  return undefined;
}
