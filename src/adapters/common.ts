/**
 * What the framework adapters share: the typing of declaration-merged session data and the
 * rule for responses that must not commit a session.
 * @module
 */
import type { SessionData } from "../session.ts";

/**
 * The session data type an adapter's registry interface declares, or the untyped
 * `SessionData` while the registry is empty (nothing was declared).
 */
export type RegisteredData<Registry extends object> = keyof Registry extends never
  ? SessionData
  : Registry;

/**
 * Whether a response status says the request failed, so a session changed on the way is not
 * committed: the framework's 404 (no route answered) or a 5xx (a thrown or failed handler).
 * @returns true for 404 and every status from 500 up.
 */
export function isFailedStatus(statusCode: number): boolean {
  return statusCode === 404 || statusCode >= 500;
}
