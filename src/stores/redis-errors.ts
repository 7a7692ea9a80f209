/**
 * RedisStore's failures as {@link StoreUnavailableError}: messages that name an error's class
 * and code only, and causes without the command's arguments (the key holds the token).
 * @module
 */
import { StoreUnavailableError } from "../errors.ts";

/** Library messages that carry no data, safe to repeat in ours. */
const SAFE_MESSAGE =
  /^(Connection is closed\.|The client is closed|Socket closed unexpectedly|Reached the max retries per request limit \(which is \d+\)\..*|None of the sentinels are available|All sentinels are unreachable.*|Stream isn't writeable and enableOfflineQueue options is false)$/;

/**
 * The client's error as a StoreUnavailableError: the message names its class and code only,
 * and the arguments ioredis keeps on the error (`command.args`: the key, so the token, and the
 * data) are taken out of the cause.
 * @returns the error to reject with.
 */
export function unavailable(err: unknown): StoreUnavailableError {
  if (err instanceof StoreUnavailableError) return err;
  const command = (err as { command?: { name?: unknown; args?: unknown } } | null)?.command;
  if (command !== null && typeof command === "object" && "args" in command) {
    try {
      command.args = ["[redacted]"];
    } catch {
      // a frozen error: leave it (it is only the cause)
    }
  }
  return new StoreUnavailableError(`redis unavailable: ${describe(err)}`, { cause: err });
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return "the client failed";
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && /^[A-Z][A-Z0-9_]*$/.test(code)) return `${err.name} ${code}`;
  // Redis error replies start with their code: "READONLY You can't write against ...".
  const word = /^[A-Z][A-Z0-9_]+(?= |$)/.exec(err.message)?.[0];
  if (word !== undefined) return `${err.name} ${word}`;
  return SAFE_MESSAGE.test(err.message) ? `${err.name}: ${err.message}` : err.name;
}
