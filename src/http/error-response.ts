/**
 * The default answer to a failed session load or save, or a failed handler.
 * @module
 */
import type { ServerResponse } from "node:http";
import { StoreUnavailableError } from "../errors.ts";
import type { Logger } from "../options.ts";
import { redact } from "../redact.ts";

/**
 * Logs `err` (tokens redacted) and answers 503 for `StoreUnavailableError`, else 500, with a
 * plain body that leaks nothing. A response the handler already ended is left alone (it is
 * complete; destroying it could cut it short). One whose headers went out but that did not end
 * is aborted: the client must not take a truncated response for a complete one.
 */
export function defaultOnError(logger: Logger, err: unknown, res: ServerResponse): void {
  const unavailable = err instanceof StoreUnavailableError;
  try {
    logger.error(`scs-ts: session error: ${redact(err)}`);
  } catch {
    // a throwing logger must not stop the answer
  }
  if (res.writableEnded) return;
  if (res.headersSent) {
    // Once what the handler wrote is out: Node flushes a corked response on the next tick, and
    // a rejection handled before that (the handler ran in a promise job) would take it along.
    process.nextTick(() => {
      try {
        res.destroy();
      } catch {
        res.socket?.destroy(); // a response whose destroy was replaced and throws
      }
    });
    return;
  }
  const status = unavailable ? 503 : 500;
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.statusCode = status;
  res.statusMessage = ""; // the route's reason phrase (maybe invalid) is not ours to send
  res.setHeader("Content-Type", "text/plain; charset=utf-8");
  res.setHeader("Cache-Control", "no-store");
  if (unavailable) res.setHeader("Retry-After", "1");
  res.end(unavailable ? "Service Unavailable\n" : "Internal Server Error\n");
}
