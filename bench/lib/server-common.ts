/**
 * What every HTTP bench server shares, so every variant runs the same handler body:
 * `node --import tsx bench/http-servers/<variant>.ts PORT MODE` where MODE is "read" or
 * "write". Paths: `/init` creates the session (count = 0); every other path runs the body.
 * @module
 */
import http, { type Server, type ServerResponse } from "node:http";
import { getRequestListener } from "@hono/node-server";
import Fastify, { type FastifyInstance } from "fastify";

/** READ: load the session and read a value. WRITE: increment the counter (every response commits). */
export type Mode = "read" | "write";

/**
 * Reads PORT and MODE from argv.
 * @returns the port (0 = any free one) and the mode.
 * @throws TypeError when MODE is not "read" or "write".
 */
export function serverArgs(): { port: number; mode: Mode } {
  const port = Number(process.argv[2] ?? "0");
  const mode = process.argv[3] ?? "read";
  if (mode !== "read" && mode !== "write")
    throw new TypeError(`MODE must be read or write, got ${mode}`);
  return { port, mode };
}

/**
 * The handler body's logic: READ keeps the count, WRITE increments it. The caller stores the
 * result in its session when the mode is WRITE, then calls {@link reply}. No closure is built
 * per request, so the servers measure the session layer, not the bench's glue.
 * @returns the count to report (and, in WRITE mode, to store).
 * @example const n = step(mode, session.get("count") ?? 0)
 */
export function step(mode: Mode, current: number): number {
  return mode === "write" ? current + 1 : current;
}

/** The Content-Type of every bench response. */
export const TEXT = "text/plain; charset=utf-8";

/** The handler body's response: "count N" as text/plain. */
export function reply(res: ServerResponse, n: number): void {
  res.setHeader("Content-Type", "text/plain; charset=utf-8");
  res.end(`count ${n}\n`);
}

/** Responds to `/init` after the variant created its session. */
export function initialized(res: ServerResponse): void {
  res.setHeader("Content-Type", "text/plain; charset=utf-8");
  res.end("ok\n");
}

/**
 * Listens on 127.0.0.1 and prints `listening <port>` for the driver; exits on SIGTERM.
 * @returns nothing; the process lives until it is killed.
 */
export function serve(server: Server, port: number): void {
  server.keepAliveTimeout = 60_000;
  server.listen(port, "127.0.0.1", () => {
    const address = server.address();
    const actual = typeof address === "object" && address !== null ? address.port : port;
    process.stdout.write(`listening ${actual}\n`);
  });
  process.once("SIGTERM", () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}

/**
 * Builds a Fastify 5 app on a node:http server (no logger), lets `setup` add its plugins and
 * routes, and serves it like every other variant.
 * @returns once the server is listening.
 */
export async function fastifyServer(
  port: number,
  setup: (app: FastifyInstance) => unknown,
): Promise<void> {
  let server: Server | undefined;
  const app = Fastify({
    logger: false,
    serverFactory: (handler) => {
      server = http.createServer(handler);
      return server;
    },
  });
  await setup(app);
  await app.ready();
  serve(server!, port);
}

/** Serves a Hono app through @hono/node-server's request listener on a node:http server. */
export function honoServer(
  app: { fetch: Parameters<typeof getRequestListener>[0] },
  port: number,
): void {
  serve(http.createServer(getRequestListener(app.fetch)), port);
}

/** The secret express-session signs its cookie with (a bench constant, not a credential). */
export const BENCH_SECRET = "bench-only-secret-not-for-production";

/** 24 hours, the lifetime every session variant uses (scs-ts's default). */
export const DAY_MS = 86_400_000;
