/**
 * The session codec: turns a session's deadline and values into bytes for the store and back.
 *
 * The default codec is a small binary format written for this job (see `codec/format.ts`):
 * no runtime dependency, faster than `node:v8` and JSON on session-sized data, and safe to
 * feed hostile bytes. It stores what `structuredClone` would, minus what a session should not
 * hold, and refuses the rest by name.
 * @module
 */
import { decodeSession } from "./codec/decode.ts";
import { encodeSession } from "./codec/encode.ts";

/**
 * Turns a session into bytes and back. Implementations throw `CodecError` (from `errors.ts`)
 * on failure; `decode` must throw nothing else, whatever the bytes.
 */
export interface Codec {
  /** Encodes the session's deadline and values into bytes for the store. */
  encode(deadline: Date, values: Record<string, unknown>): Uint8Array;
  /** Decodes bytes made by `encode`; throws `CodecError` for bytes it cannot read. */
  decode(data: Uint8Array): { deadline: Date; values: Record<string, unknown> };
}

/**
 * The built-in codec.
 *
 * Round-trips, nested arbitrarily (up to 256 levels of containers):
 * - string (any, lone surrogates included), number (NaN, ±Infinity and -0 included),
 *   boolean, null, undefined (in arrays, objects and Maps alike), bigint;
 * - arrays (holes come back as `undefined`; only indexed elements are kept),
 *   plain objects (prototype `Object.prototype` or `null`; each comes back with the same
 *   prototype; own enumerable string keys only);
 * - Date (an invalid Date stays invalid), Map, Set;
 * - Uint8Array comes back as a Uint8Array, Buffer as a Buffer (always copies).
 *
 * Refuses, with a `CodecError` naming the key path (`cannot encode value at "user.greet":
 * function`): functions, symbols, class instances and other built-ins (RegExp, Error, typed
 * arrays other than Uint8Array, boxed primitives), circular references, nesting deeper than
 * 256 levels, and encodings over 64 MiB. An object reached twice (not circularly) is stored
 * twice and decodes as two separate copies.
 *
 * Decoding keys `__proto__`, `constructor` and `prototype` gives plain own data properties;
 * no prototype is ever changed. Bytes that are not a valid encoding throw `CodecError`.
 *
 * `encode` returns a Buffer, which may share a pooled ArrayBuffer with other small Buffers.
 * @example
 * const bytes = defaultCodec.encode(new Date(Date.now() + 3_600_000), { userId: 42 });
 * const { deadline, values } = defaultCodec.decode(bytes);
 */
export const defaultCodec: Codec = Object.freeze({
  encode: encodeSession,
  decode: decodeSession,
});
