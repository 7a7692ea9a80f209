/**
 * Express (5 and 4) routing that swaps the request and response prototypes or nests routers:
 * a mounted sub-app, a nested Router and `app.route()`. The session must be at `req.session`
 * there, be `sessions.from(req)`, and a change must be committed like on a top-level route.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import express, { type Request, type Response } from "express";
import { expressSession } from "../../src/adapters/express.ts";
import { SessionManager } from "../../src/manager.ts";
import type { Store } from "../../src/store.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { failOnProcessErrors } from "../helpers/failing-stores.ts";
import { cookiePair, listen, request } from "../helpers/http.ts";
import { SlowStore } from "../helpers/stores.ts";

const express4 = createRequire(import.meta.url)("express4") as typeof express;
const processErrors = failOnProcessErrors();
const quiet = { warn() {}, error() {} };
const T = { timeout: 5_000 };

const frameworks = [
  { name: "Express 5", framework: express },
  { name: "Express 4", framework: express4 },
];
const speeds = [
  { name: "MemStore", store: (): Store => new MemStore({ cleanupInterval: 0 }) },
  { name: "an async store", store: (): Store => new SlowStore(5) },
];

/** Where the route that changes the session is mounted. */
const mounts = [
  {
    name: "a mounted sub-app",
    path: "/api/put",
    mount: (framework: typeof express, app: express.Express, put: express.RequestHandler) => {
      const api = framework();
      api.get("/put", put);
      app.use("/api", api);
    },
  },
  {
    name: "a nested router",
    path: "/outer/inner/put",
    mount: (framework: typeof express, app: express.Express, put: express.RequestHandler) => {
      const outer = framework.Router();
      const inner = framework.Router();
      inner.get("/put", put);
      outer.use("/inner", inner);
      app.use("/outer", outer);
    },
  },
  {
    name: "app.route()",
    path: "/chained/put",
    mount: (_framework: typeof express, app: express.Express, put: express.RequestHandler) => {
      app.route("/chained/put").get(put);
    },
  },
];

describe("Express routing and the session", () => {
  for (const { name, framework } of frameworks) {
    for (const mount of mounts) {
      for (const speed of speeds) {
        it(
          `${name}: in ${mount.name}, req.session is sessions.from(req) and its change is committed for the next request (${speed.name})`,
          T,
          async () => {
            const sessions = new SessionManager({ store: speed.store(), logger: quiet });
            const seen: { defined: boolean; same: boolean }[] = [];
            const app = framework();
            app.use(expressSession(sessions));
            mount.mount(framework, app, (req: Request, res: Response) => {
              seen.push({
                defined: req.session !== undefined,
                same: (req.session as unknown) === sessions.from(req),
              });
              // Through from(req), so the commit is checked even where req.session is missing.
              sessions.from(req).put("userId", "x");
              res.send("ok");
            });
            app.get("/get", (req, res) => {
              res.send(String(req.session.get("userId") ?? "none"));
            });
            const server = await listen(createServer(app));
            try {
              const res = await processErrors.race(request(`${server.url}${mount.path}`));
              const cookie = cookiePair(res);
              const next =
                cookie === undefined
                  ? "no cookie to send"
                  : (await request(`${server.url}/get`, { headers: { cookie } })).body;
              assert.deepEqual(
                { seenInRoute: seen, status: res.status, committed: cookie !== undefined, next },
                {
                  seenInRoute: [{ defined: true, same: true }],
                  status: 200,
                  committed: true,
                  next: "x",
                },
              );
            } finally {
              await server.close();
            }
          },
        );
      }
    }
  }
});
