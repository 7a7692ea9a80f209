/**
 * Koa with `ctx.respond = false`: the route answers on the raw `ctx.res` itself. The session it
 * changed must still be committed (cookie on that raw response, before it leaves) and Koa must
 * see no error.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { describe, it } from "node:test";
import Koa from "koa";
import { koaSession } from "../../src/adapters/koa.ts";
import { SessionManager } from "../../src/manager.ts";
import type { Store } from "../../src/store.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { failOnProcessErrors, holds, settle } from "../helpers/failing-stores.ts";
import { cookiePair, cookieToken, listen, request } from "../helpers/http.ts";
import { SlowStore } from "../helpers/stores.ts";

const processErrors = failOnProcessErrors();
const quiet = { warn() {}, error() {} };
const T = { timeout: 5_000 };

const speeds = [
  { name: "MemStore", store: () => new MemStore({ cleanupInterval: 0 }) },
  { name: "an async store", store: () => new SlowStore(10) },
];

async function serve(store: Store) {
  const sessions = new SessionManager({ store, logger: quiet });
  const appErrors: string[] = [];
  const app = new Koa();
  app.on("error", (err: NodeJS.ErrnoException) => appErrors.push(err.code ?? err.message));
  // Settles when the middleware chain (the session's commit included) is done with a request.
  let chainDone: Promise<void> = Promise.resolve();
  app.use(async (_ctx, next) => {
    let done!: () => void;
    chainDone = new Promise<void>((resolve) => {
      done = resolve;
    });
    try {
      await next();
    } finally {
      done();
    }
  });
  app.use(koaSession(sessions));
  app.use((ctx) => {
    if (ctx.path === "/get") {
      ctx.body = String(ctx.session.get("userId") ?? "none");
      return;
    }
    ctx.session.put("userId", "raw");
    ctx.respond = false;
    ctx.res.writeHead(200, { "Content-Type": "text/plain" });
    ctx.res.end("raw");
  });
  return {
    appErrors,
    /** Waits until the last request's middleware chain finished and Koa handled its outcome. */
    settled: async () => {
      await chainDone;
      await settle();
    },
    ...(await listen(createServer(app.callback()))),
  };
}

describe("Koa raw responses (ctx.respond = false)", () => {
  for (const speed of speeds) {
    it(
      `with ctx.respond = false and raw writes the session is committed, and Koa emits no error (${speed.name})`,
      T,
      async () => {
        const store = speed.store();
        const app = await serve(store);
        try {
          const res = await processErrors.race(request(`${app.url}/raw`));
          const token = cookieToken(res);
          const heldWhenAnswered = token !== undefined && holds(store, token);
          await app.settled();
          const cookie = cookiePair(res);
          const next =
            cookie === undefined
              ? "no cookie to send"
              : (await request(`${app.url}/get`, { headers: { cookie } })).body;
          assert.deepEqual(
            {
              status: res.status,
              body: res.body,
              setCookie: cookie !== undefined,
              heldWhenAnswered,
              next,
              appErrors: app.appErrors,
            },
            {
              status: 200,
              body: "raw",
              setCookie: true,
              heldWhenAnswered: true,
              next: "raw",
              appErrors: [],
            },
          );
        } finally {
          await app.close();
        }
      },
    );
  }
});
