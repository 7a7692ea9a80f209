/**
 * The stores' `onError` (a failed background cleanup), called so that nothing escapes.
 * @module
 */
import { redact } from "../redact.ts";
import { type Awaitable, isPromiseLike } from "../store.ts";

/**
 * Wraps a store's `onError` handler: one that throws, or returns a Promise that rejects, is
 * logged (console.error, token-free) instead of escaping as an uncaught exception or an
 * unhandled rejection from the store's timer.
 * @param store the store's name, for the message ("postgresstore").
 * @param handler the application's handler, or the store's default.
 * @returns the handler to call with each cleanup failure; it never throws.
 */
export function cleanupHandler(
  store: string,
  handler: (err: unknown) => unknown,
): (err: unknown) => void {
  const failed = (thrown: unknown): void => {
    console.error(`scs-ts ${store}: the onError handler failed: ${redact(thrown)}`);
  };
  return (err) => {
    try {
      const result = handler(err) as Awaitable<unknown>;
      if (isPromiseLike(result)) result.then(undefined, failed);
    } catch (thrown) {
      failed(thrown);
    }
  };
}
