/**
 * Session tokens: 256-bit values from the CSPRNG, base64url-encoded (43 characters).
 * @module
 */
import { createHash, randomFillSync } from "node:crypto";

/** Bytes of randomness in a token (256 bits). */
export const TOKEN_BYTES = 32;
/** Length of a token's base64url text: ceil(32 * 8 / 6). */
export const TOKEN_LENGTH = 43;

// Randomness is drawn in blocks and handed out 32 bytes at a time: one CSPRNG call per
// 128 tokens instead of one per token. Bytes are never handed out twice.
const POOL_SIZE = TOKEN_BYTES * 128;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

/**
 * A new session token: 32 bytes from the CSPRNG as base64url without padding.
 * @returns a 43-character string over `A–Z a–z 0–9 - _`.
 */
export function generateToken(): string {
  if (poolOffset >= POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const token = pool.toString("base64url", poolOffset, poolOffset + TOKEN_BYTES);
  // Wipe what was handed out so the pool never holds a live token's bytes.
  pool.fill(0, poolOffset, poolOffset + TOKEN_BYTES);
  poolOffset += TOKEN_BYTES;
  return token;
}

// 32 bytes = 256 bits = 42 full base64 characters (252 bits) and 4 bits in the 43rd, whose two
// low bits are therefore zero: only A E I M Q U Y c g k o s w 0 4 8 can end a real token.
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/**
 * Whether `value` has the exact shape of a token this library issues (43 base64url characters
 * encoding 32 bytes). Anything else a client sends is treated as "no session" and never reaches
 * the store.
 * @returns true for a well-formed token.
 */
export function isWellFormedToken(value: string): boolean {
  return value.length === TOKEN_LENGTH && TOKEN_PATTERN.test(value);
}

/**
 * The key a token is stored under when `hashTokenInStore` is on: SHA-256 of the token,
 * base64url. A database leak then yields no usable token.
 * @returns a 43-character base64url digest.
 */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}
