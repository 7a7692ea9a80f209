/**
 * The rqlite client's transport on runtimes whose `undici` module has no dispatcher — Bun
 * ships its own `undici` with `Pool` but without `dispatch`: the runtime's `fetch`, which
 * keeps its own keep-alive connections per origin. Node and Deno (which runs the real undici)
 * keep the undici pool. Internal to the rqlite client.
 * @module
 */
import { Pool } from "undici";
import { type Answer, AttemptTimeoutError } from "./rqlite-answer.ts";

/** Whether undici's pool can dispatch requests here (false on Bun). */
export const CAN_DISPATCH: boolean =
  typeof (Pool.prototype as { dispatch?: unknown }).dispatch === "function";

/** TLS options the fetch transport passes on (Bun's `fetch` takes them as `tls`). */
export interface FetchTls {
  ca?: unknown;
  cert?: unknown;
  key?: unknown;
  rejectUnauthorized?: boolean;
  servername?: string;
}

/**
 * POSTs `body` to `url` with the runtime's `fetch` and collects the whole answer, or rejects
 * with {@link AttemptTimeoutError} once `timeout` ms have passed since the call (connecting,
 * the headers and every byte of the body included): one timer, which aborts the request.
 * Redirects are not followed (as with the undici pool).
 * @returns the status and the body as text.
 */
export async function fetchAnswer(
  url: string,
  headers: Record<string, string>,
  body: string,
  timeout: number,
  tls: FetchTls | undefined,
): Promise<Answer> {
  const controller = new AbortController();
  const expired = new AttemptTimeoutError(`no complete answer within ${timeout} ms`);
  // Request-scoped and cleared when the answer settles.
  const timer = setTimeout(() => controller.abort(expired), timeout);
  try {
    const init: RequestInit & { tls?: FetchTls } = {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: controller.signal,
    };
    if (tls !== undefined) {
      const { servername, ...rest } = tls;
      init.tls =
        servername === undefined ? rest : ({ ...rest, serverName: servername } as FetchTls);
    }
    const response = await fetch(url, init);
    return { status: response.status, text: await response.text() };
  } catch (err) {
    throw controller.signal.aborted ? expired : err;
  } finally {
    clearTimeout(timer);
  }
}
