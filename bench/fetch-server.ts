/**
 * The server of bench/fetch.ts, for every runtime: a bare fetch handler or `fetchSession` +
 * MemStore with the same body, served by `Bun.serve`, `Deno.serve` or `@hono/node-server`.
 * Usage: `<runtime> bench/fetch-server.ts bare|scs read|write`. Prints `listening <port>` and
 * exits when its standard input closes. `/init` creates a session (count = 0); `/` runs the
 * body: READ reads the count, WRITE increments it (every response commits and sets the cookie).
 * @module
 */
import process from "node:process";
import { fetchSession } from "../src/fetch.ts";
import { SessionManager } from "../src/manager.ts";
import { MemStore } from "../src/stores/memstore.ts";

interface Runtimes {
  Bun?: { serve(o: { port: number; hostname: string; fetch: Handler }): { port: number } };
  Deno?: {
    serve(
      o: { port: number; hostname: string; onListen(a: { port: number }): void },
      h: Handler,
    ): unknown;
  };
}
type Handler = (request: Request) => Response | Promise<Response>;

const variant = process.argv[2] ?? "bare";
const write = (process.argv[3] ?? "read") === "write";
const HEADERS = { "content-type": "text/plain; charset=utf-8" };
const reply = (n: number) => new Response(`count ${n}\n`, { headers: HEADERS });

let count = 0;
const bare: Handler = (request) => {
  if (request.url.endsWith("/init")) return reply(0);
  if (write) count++;
  return reply(count);
};

const sessions = new SessionManager<{ count: number }>({ store: new MemStore() });
const scs = fetchSession(sessions, (request, session) => {
  if (request.url.endsWith("/init")) {
    session.put("count", 0);
    return reply(0);
  }
  const n = (session.get("count") ?? 0) + (write ? 1 : 0);
  if (write) session.put("count", n);
  return reply(n);
});

const handler: Handler = variant === "scs" ? scs : bare;
const runtimes = globalThis as Runtimes;
const announce = (port: number) => process.stdout.write(`listening ${port}\n`);
if (runtimes.Bun !== undefined) {
  announce(runtimes.Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: handler }).port);
} else if (runtimes.Deno !== undefined) {
  runtimes.Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: (a) => announce(a.port) },
    handler,
  );
} else {
  const { serve } = await import("@hono/node-server");
  serve({ fetch: handler, port: 0, hostname: "127.0.0.1" }, (info) => announce(info.port));
}
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
