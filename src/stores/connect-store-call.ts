/**
 * One call of an express-session store method, whatever convention the store follows: a
 * Node-style callback, a returned Promise, or both at once. Settles exactly once, within a
 * deadline, and turns every failure into a {@link StoreUnavailableError}.
 * @module
 */
import { StoreUnavailableError } from "../errors.ts";

/** A callback in express-session's style: the error first (null/undefined when none), then the result. */
export type ExpressStoreCallback = (err?: unknown, result?: unknown) => void;

/** The method names the bridge calls, for messages. */
export type ExpressStoreMethod = "get" | "set" | "destroy" | "all";

type Thenable = {
  then(onFulfilled: (value: unknown) => void, onRejected: (e: unknown) => void): unknown;
};

function isThenable(value: unknown): value is Thenable {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/**
 * Calls `invoke` with a callback and settles with the first answer the store gives:
 *
 * - the callback: an error (truthy first argument, as express-session reads it) rejects, else
 *   the second argument resolves; later calls of the same callback are ignored;
 * - a returned Promise (or thenable): a rejection rejects; a value other than `undefined`
 *   resolves. A Promise fulfilled with `undefined` is what both a Promise-only store (`set`,
 *   `destroy`, a `get` that found nothing) and an `async` method that calls its callback a
 *   little later give, so the callback gets one macrotask turn to speak first;
 * - a synchronous throw rejects;
 * - no answer within `deadline` ms rejects. That timer is not unref'd: a call in flight
 *   holds the process for at most `deadline` ms, so a script awaiting a store that never
 *   answers gets the error instead of exiting with the call unsettled.
 *
 * Whatever the store does after the call has settled (a second callback, a late rejection) is
 * swallowed: it can neither change the answer nor become an unhandled rejection.
 *
 * @returns a Promise of the store's answer; rejects with StoreUnavailableError (cause attached,
 * no session id in the message).
 */
export function callStore(
  method: ExpressStoreMethod,
  deadline: number,
  invoke: (callback: ExpressStoreCallback) => unknown,
): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
    let done = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settle = (): boolean => {
      if (done) return false;
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      return true;
    };
    const succeed = (value: unknown): void => {
      if (settle()) resolve(value);
    };
    const fail = (cause: unknown, message = `express-session store ${method} failed`): void => {
      if (settle()) reject(new StoreUnavailableError(message, { cause }));
    };
    const callback: ExpressStoreCallback = (err, result) => {
      if (err) fail(err);
      else succeed(result);
    };

    let returned: unknown;
    try {
      returned = invoke(callback);
    } catch (err) {
      fail(err ?? new Error(`${method} threw ${String(err)}`));
      return;
    }
    if (isThenable(returned)) {
      try {
        returned.then(
          (value) => {
            if (done) return;
            if (value !== undefined) succeed(value);
            else setImmediate(succeed, undefined);
          },
          (err: unknown) => fail(err ?? new Error(`${method} rejected with ${String(err)}`)),
        );
      } catch (err) {
        fail(err);
      }
    }
    if (!done) {
      timer = setTimeout(() => {
        const message = `express-session store ${method} did not answer within ${deadline} ms`;
        fail(new Error(message), message);
      }, deadline);
    }
  });
}
