/**
 * node:http LoadAndSave: load the session before the handler, commit it before the response
 * leaves (through the response guard), and route failures to the manager's error handling.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { abandonSession, guardResponse } from "./guard.ts";
import type { SessionManager } from "./manager.ts";
import { resolveTransport, type TransportOptions } from "./options.ts";
import type { Session } from "./session.ts";
import { isPromiseLike } from "./store.ts";

/** Options of `sessions.handler(next, options)`: the token transport. */
export type HandlerOptions = TransportOptions;

/**
 * Builds the node:http request listener for `sessions.handler(next, options)`.
 * @returns a `(req, res)` listener.
 */
export function createHandler<Data extends object>(
  manager: SessionManager<Data>,
  next: (req: IncomingMessage, res: ServerResponse) => unknown,
  options?: HandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const transport = resolveTransport(options);
  const run = (req: IncomingMessage, res: ServerResponse, session: Session<Data>): void => {
    manager.attach(req, session);
    guardResponse(manager, transport, req, res, session);
    let result: unknown;
    try {
      result = next(req, res);
    } catch (err) {
      handlerFailed(manager, req, res, err);
      return;
    }
    if (isPromiseLike(result)) {
      result.then(undefined, (err: unknown) => handlerFailed(manager, req, res, err));
    }
  };
  return function loadAndSave(req: IncomingMessage, res: ServerResponse): void {
    let loaded: Session<Data> | Promise<Session<Data>>;
    try {
      loaded = manager.loadAwaitable(manager.readToken(req.headers, transport));
    } catch (err) {
      manager.handleError(err, req, res);
      return;
    }
    if (isPromiseLike(loaded)) {
      loaded.then(
        (session) => run(req, res, session),
        (err: unknown) => manager.handleError(err, req, res),
      );
    } else {
      run(req, res, loaded);
    }
  };
}

function handlerFailed<Data extends object>(
  manager: SessionManager<Data>,
  req: IncomingMessage,
  res: ServerResponse,
  err: unknown,
): void {
  abandonSession(res);
  manager.handleError(err, req, res);
}
