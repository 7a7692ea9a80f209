/**
 * Keeps tokens out of logs: anything shaped like a token is replaced before a message is written.
 * @module
 */

// 43 base64url characters: a token, or SHA-256 of one. Bounded by non-token characters.
const TOKEN_LIKE = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g;

/**
 * A loggable description of `value` (an error or anything) with token-shaped text replaced by
 * `[redacted]`.
 * @returns the redacted text.
 */
export function redact(value: unknown): string {
  let text: string;
  if (value instanceof Error) text = `${value.name}: ${value.message}`;
  else if (typeof value === "string") text = value;
  else text = String(value);
  return text.replace(TOKEN_LIKE, "[redacted]");
}
