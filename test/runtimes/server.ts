/**
 * The contract app of test/runtimes/runtimes.test.ts, one script for every runtime: served by
 * `Bun.serve` on Bun, `Deno.serve` on Deno and `@hono/node-server` on Node. It imports the
 * library's TypeScript sources as the runtime finds them (no build step).
 *
 * Usage: `<runtime> test/runtimes/server.ts [rqlite URL]`. Prints `listening <port> <runtime>
 * <version>` once it listens on 127.0.0.1, and exits when its standard input closes (so it
 * never outlives the test process that drives it).
 *
 * Paths are `/<setup>/<route>`. Setups: `mem` (MemStore), `header` (MemStore, token in
 * `X-Session`), `slow` (MemStore with 50 ms commits), `fail` (a store whose find and commit
 * reject with StoreUnavailableError), `custom` (the same, with an onError of its own), `rq` (a
 * real rqlited node), `rqdown` (an RqliteStore on a port nobody listens on), `hono` and
 * `honorq` (the Hono adapter on MemStore and on rqlited). Routes: see {@link route}.
 * @module
 */
import process from "node:process";
import { Hono } from "hono";
import { type HonoSessionEnv, honoSession } from "../../src/adapters/hono.ts";
import { StoreUnavailableError } from "../../src/errors.ts";
import { fetchSession } from "../../src/fetch.ts";
import { SessionManager } from "../../src/manager.ts";
import type { Session, SessionData } from "../../src/session.ts";
import type { Store } from "../../src/store.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { RqliteConnection } from "../../src/stores/rqlite-client.ts";
import { RqliteStore } from "../../src/stores/rqlitestore.ts";

interface Runtimes {
  Bun?: {
    version: string;
    serve(options: {
      port: number;
      hostname: string;
      fetch: (request: Request) => Promise<Response>;
    }): { port: number };
  };
  Deno?: {
    version: { deno: string };
    serve(
      options: { port: number; hostname: string; onListen: (addr: { port: number }) => void },
      handler: (request: Request) => Promise<Response>,
    ): unknown;
  };
}

/** A MemStore whose commits take 50 ms. */
class SlowStore implements Store {
  readonly inner = new MemStore({ cleanupInterval: 0 });
  find(token: string) {
    return this.inner.find(token);
  }
  async commit(token: string, data: Uint8Array, expiry: Date): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 50));
    this.inner.commit(token, data, expiry);
  }
  delete(token: string) {
    this.inner.delete(token);
  }
}

/** A store that is down: find and commit reject as a store client does. */
class DownStore implements Store {
  find(): Promise<undefined> {
    return Promise.reject(new StoreUnavailableError("find failed (test double)"));
  }
  commit(): Promise<void> {
    return Promise.reject(new StoreUnavailableError("commit failed (test double)"));
  }
  delete(): void {}
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The routes every setup answers: `put?v=x`, `get`, `noop`, `same`, `renew`, `destroy`,
 * `stream` (puts "streamed"; the body's first chunk says whether the store held the session
 * when the body started: `committed` or `uncommitted`), `redirect` (puts, answers
 * `Response.redirect`), `fetched` (puts, answers what `fetch()` got from `/upstream`),
 * `throw` (puts, then throws).
 */
async function route(
  name: string,
  request: Request,
  session: Session<SessionData>,
  sessions: SessionManager,
): Promise<Response> {
  const url = new URL(request.url);
  switch (name) {
    case "put":
      session.put("value", url.searchParams.get("v") ?? "");
      return new Response("ok");
    case "get":
      return new Response(String(session.get("value") ?? "none"));
    case "noop":
      return new Response("noop");
    case "same":
      return new Response(sessions.from(request) === session ? "same" : "different");
    case "renew":
      await session.renewToken();
      return new Response("renewed");
    case "destroy":
      await session.destroy();
      return new Response("destroyed");
    case "stream": {
      session.put("value", "streamed");
      const chunks = ["a", "b", "c"];
      let first = true;
      // highWaterMark 0: pull runs when the runtime reads the body, not when it is built.
      const body = new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            if (first) {
              first = false;
              const stored = session.token !== "" && (await sessions.store.find(session.token));
              controller.enqueue(new TextEncoder().encode(stored ? "committed:" : "uncommitted:"));
              return;
            }
            const chunk = chunks.shift();
            if (chunk === undefined) controller.close();
            else {
              await sleep(5);
              controller.enqueue(new TextEncoder().encode(chunk));
            }
          },
        },
        { highWaterMark: 0 },
      );
      return new Response(body, { headers: { "content-type": "text/plain" } });
    }
    case "redirect":
      session.put("value", "redirected");
      return Response.redirect(new URL("/mem/get", url).href, 302);
    case "fetched": {
      session.put("value", "fetched");
      return fetch(new URL("/upstream", url));
    }
    case "throw":
      session.put("value", "half");
      throw new Error("route failed");
    default:
      return new Response("no such route", { status: 404 });
  }
}

function fetchApp(sessions: SessionManager, options: Parameters<typeof fetchSession>[2] = {}) {
  return fetchSession(
    sessions,
    (request, session) =>
      route(new URL(request.url).pathname.split("/")[2] ?? "", request, session, sessions),
    options,
  );
}

function honoApp(prefix: string, sessions: SessionManager) {
  const app = new Hono<HonoSessionEnv<SessionData>>().basePath(`/${prefix}`);
  app.onError((_err, c) => c.text("framework error", 500));
  app.use(honoSession(sessions));
  app.all("/:route", (c) => route(c.req.param("route"), c.req.raw, c.get("session"), sessions));
  return app.fetch;
}

const rqliteUrl = process.argv[2];
const rqStore = (url: string, deadline?: number) =>
  new RqliteStore(deadline === undefined ? url : new RqliteConnection({ nodes: url, deadline }), {
    cleanupInterval: 0,
  });
const quiet = { logger: { warn() {}, error() {} } };

const setups: Record<string, (request: Request) => Response | Promise<Response>> = {
  mem: fetchApp(new SessionManager({ store: new MemStore({ cleanupInterval: 0 }) })),
  header: fetchApp(new SessionManager({ store: new MemStore({ cleanupInterval: 0 }) }), {
    header: "X-Session",
  }),
  slow: fetchApp(new SessionManager({ store: new SlowStore() })),
  fail: fetchApp(new SessionManager({ store: new DownStore(), ...quiet })),
  custom: fetchApp(new SessionManager({ store: new DownStore() }), {
    onError: (err) =>
      new Response(`custom: ${err instanceof StoreUnavailableError}`, { status: 503 }),
  }),
  hono: honoApp("hono", new SessionManager({ store: new MemStore({ cleanupInterval: 0 }) })),
};
if (rqliteUrl !== undefined) {
  setups.rq = fetchApp(new SessionManager({ store: rqStore(rqliteUrl) }));
  setups.honorq = honoApp("honorq", new SessionManager({ store: rqStore(rqliteUrl) }));
  // Nothing listens on port 9 (discard) on the loopback: every attempt is refused at once.
  setups.rqdown = fetchApp(
    new SessionManager({ store: rqStore("http://127.0.0.1:9", 300), ...quiet }),
  );
}

async function serveRequest(request: Request): Promise<Response> {
  const setup = new URL(request.url).pathname.split("/")[1] ?? "";
  if (setup === "upstream") {
    return new Response("from upstream", { headers: { "x-upstream": "yes" } });
  }
  const handle = setups[setup];
  return handle === undefined ? new Response("no such setup", { status: 404 }) : handle(request);
}

const runtimes = globalThis as Runtimes;
const announce = (port: number, runtime: string, version: string) =>
  process.stdout.write(`listening ${port} ${runtime} ${version}\n`);

if (runtimes.Bun !== undefined) {
  const server = runtimes.Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: serveRequest });
  announce(server.port, "bun", runtimes.Bun.version);
} else if (runtimes.Deno !== undefined) {
  const version = runtimes.Deno.version.deno;
  runtimes.Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: ({ port }) => announce(port, "deno", version) },
    serveRequest,
  );
} else {
  const { serve } = await import("@hono/node-server");
  serve({ fetch: serveRequest, port: 0, hostname: "127.0.0.1" }, (info) =>
    announce(info.port, "node", process.versions.node),
  );
}

process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
process.stdin.on("close", () => process.exit(0));
