/**
 * One helper for a pattern the session data needs in several places.
 * @module
 */

/**
 * Sets `key` on `target` as an own writable, enumerable, configurable data property: what an
 * assignment to a new key makes, but also for `__proto__` (an assignment would set the
 * prototype) and for a key the prototype answers with a setter or a method (an assignment would
 * call or hit it). Session data is kept this way so every key a client or codec gives stays data.
 * @returns nothing; `target` is changed in place.
 */
export function defineOwnData(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}
