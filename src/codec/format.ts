/**
 * Wire format of the default session codec: constants shared by the encoder and decoder.
 *
 * ```
 * session  = MAGIC VERSION deadline:f64 value          (value must be a plain object)
 * value    = 0x80..0xFF                                 integer 0..127 in the tag itself
 *          | NULL | UNDEFINED | FALSE | TRUE
 *          | INT zigzag-varint                          integer in int32 range
 *          | FLOAT f64                                  any other number (NaN, ±Infinity, -0)
 *          | STRING varuint(bytes) utf8                 well-formed strings
 *          | STRING16 varuint(units) u16*               strings with lone surrogates
 *          | ARRAY varuint(n) value*n
 *          | OBJECT varuint(n) (key value)*n            prototype Object.prototype
 *          | NULL_OBJECT varuint(n) (key value)*n       prototype null
 *                                                       (key: a STRING or STRING16 value)
 *          | DATE f64                                   getTime(); NaN for an invalid Date
 *          | BYTES varuint(n) byte*n                    Uint8Array
 *          | BUFFER varuint(n) byte*n                   Buffer
 *          | BIGINT_POS varuint(n) byte*n               magnitude, big-endian
 *          | BIGINT_NEG varuint(n) byte*n
 *          | MAP varuint(n) (value value)*n
 *          | SET varuint(n) value*n
 * ```
 * f64 is IEEE 754 little-endian; varuint is LEB128 of at most 5 bytes (< 2^32); a string's
 * length may be padded (0x80 continuation bytes) because the encoder reserves its room first.
 * @module
 */

/** First byte of every encoding ("S" with the high bit set), so foreign bytes are told apart. */
export const MAGIC = 0xd3;
/** Second byte: the format version. A future format gets a new number. */
export const VERSION = 1;
/** Bytes before the first value: magic, version, deadline. */
export const HEADER_SIZE = 10;

/** Value tags. Tags 0x80..0xFF are the integers 0..127. */
export const Tag = {
  NULL: 0x00,
  UNDEFINED: 0x01,
  FALSE: 0x02,
  TRUE: 0x03,
  INT: 0x04,
  FLOAT: 0x05,
  STRING: 0x06,
  STRING16: 0x07,
  ARRAY: 0x08,
  OBJECT: 0x09,
  NULL_OBJECT: 0x0a,
  DATE: 0x0b,
  BYTES: 0x0c,
  BUFFER: 0x0d,
  BIGINT_POS: 0x0e,
  BIGINT_NEG: 0x0f,
  MAP: 0x10,
  SET: 0x11,
  FIXINT: 0x80,
} as const;

/**
 * Deepest nesting of containers (arrays, objects, maps, sets) the codec writes or reads.
 * Far above real session data, far below what would overflow the call stack.
 */
export const MAX_DEPTH = 256;

/** Largest encoding the codec produces (64 MiB): beyond it a session is a bug, not data. */
export const MAX_SIZE = 64 * 1024 * 1024;

/** True when this machine stores multi-byte numbers little-endian (the wire order). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
