/**
 * The opt-in answers to overlapping requests on one session (`concurrency: "merge" | "reject"`):
 * before a commit, compare the stored session with what this request loaded.
 * @module
 */
import { Buffer } from "node:buffer";
import type { Codec } from "./codec.ts";
import { SessionConflictError } from "./errors.ts";
import { defineOwnData } from "./own-data.ts";
import { type Session, type SessionData, sessionInternals } from "./session.ts";
import type { Store } from "./store.ts";

/**
 * Re-reads the stored session and compares it with what this request loaded. Unchanged:
 * "write". Changed: with "reject" throws SessionConflictError; with "merge" applies only this
 * request's changed keys on top of the stored values and answers "write". Gone (renewed or
 * destroyed by the other request): "merge" lets that win, marks this copy destroyed and
 * answers "gone" (nothing is written and no cookie is sent: the client may hold a new token). Not atomic: it narrows the race to the gap between this read and the
 * write that follows.
 * @returns what the caller should do: write the session, or treat it as destroyed.
 * @throws SessionConflictError in "reject" mode when the stored session changed.
 */
export async function reconcileWithStored<Data extends object>(
  store: Store,
  codec: Codec,
  mode: "merge" | "reject",
  session: Session<Data>,
  storeKey: string,
): Promise<"write" | "gone"> {
  const loaded = sessionInternals.loaded(session);
  const current = await store.find(storeKey);
  if (current !== undefined && loaded !== undefined && bytesEqual(current, loaded)) {
    return "write";
  }
  if (mode === "reject") {
    throw new SessionConflictError(
      "the session was changed by a concurrent request since this request loaded it",
    );
  }
  if (current === undefined) {
    // Renewed or destroyed by the other request: writing would resurrect its token.
    sessionInternals.markDestroyed(session);
    return "gone";
  }
  let stored: SessionData;
  try {
    stored = codec.decode(current).values;
  } catch {
    return "write"; // corrupt: nothing worth keeping
  }
  const values = sessionInternals.values(session);
  for (const key of sessionInternals.changedKeys(session) ?? []) {
    if (Object.hasOwn(values, key)) {
      defineOwnData(stored, key, values[key]);
    } else {
      delete stored[key];
    }
  }
  sessionInternals.replaceValues(session, stored);
  return "write";
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}
