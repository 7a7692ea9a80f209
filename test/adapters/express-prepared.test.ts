/**
 * From an app's second request on, the Express adapters give each request its properties at
 * the start of the app's `handle` (before Express sets the prototypes) and the middleware only
 * reassigns them. That must change nothing a user sees: the first request and the later ones
 * answer alike, in a mounted sub-app that streams its body, and on a route the session
 * middleware is not mounted for (which must get no session header).
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import express from "express";
import { expressSession } from "../../src/adapters/express.ts";
import session from "../../src/adapters/express-session.ts";
import { SessionManager } from "../../src/manager.ts";
import type { Store } from "../../src/store.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { failOnProcessErrors } from "../helpers/failing-stores.ts";
import { cookiePair, listen, request } from "../helpers/http.ts";
import { SlowStore } from "../helpers/stores.ts";

const express4 = createRequire(import.meta.url)("express4") as typeof express;
const processErrors = failOnProcessErrors();
const quiet = { warn() {}, error() {} };
const T = { timeout: 10_000 };

const frameworks = [
  { name: "Express 5", framework: express },
  { name: "Express 4", framework: express4 },
];
const speeds = [
  { name: "MemStore", store: (): Store => new MemStore({ cleanupInterval: 0 }) },
  { name: "an async store", store: (): Store => new SlowStore(5) },
];
type Sessions = SessionManager<{ v: string }>;
type Put = (sessions: Sessions, req: express.Request, value: string) => void;
type Get = (sessions: Sessions, req: express.Request) => string;
const middlewares = [
  {
    name: "scs-ts/express",
    use: (sessions: Sessions) => expressSession(sessions),
    put: ((sessions, req, value) => sessions.from(req).put("v", value)) as Put,
    get: ((sessions, req) => String(sessions.from(req).get("v") ?? "none")) as Get,
  },
  {
    name: "scs-ts/express-session",
    use: (sessions: Sessions) => session({ sessions }),
    put: ((_sessions, req, value) => {
      (req.session as unknown as { v?: string }).v = value;
    }) as Put,
    get: ((_sessions, req) =>
      String((req.session as unknown as { v?: string }).v ?? "none")) as Get,
  },
];

describe("Express: the app's later requests answer as its first", () => {
  for (const { name, framework } of frameworks) {
    for (const mw of middlewares) {
      for (const speed of speeds) {
        it(`${name}, ${mw.name}, ${speed.name}`, T, async () => {
          const sessions: Sessions = new SessionManager({ store: speed.store(), logger: quiet });
          const app = framework();
          // Whether the request already had its session property before the middleware: the
          // sign that the later requests took the early path (so this test covers it).
          const early: boolean[] = [];
          app.use((req, _res, next) => {
            if (req.path === "/s/api/put") early.push(Object.hasOwn(req, "session"));
            next();
          });
          app.get("/plain", (_req, res) => {
            res.writeHead(200, { "Content-Type": "text/plain" });
            res.end("plain");
          });
          app.use("/s", mw.use(sessions));
          const api = framework();
          let n = 0;
          api.get("/put", (req, res) => {
            mw.put(sessions, req, `value-${++n}`);
            res.setHeader("Content-Type", "text/plain");
            res.write("a,");
            res.end("b");
          });
          app.use("/s/api", api);
          app.get("/s/get", (req, res) => {
            res.send(mw.get(sessions, req));
          });
          const server = await listen(createServer(app));
          try {
            const rounds = [];
            for (let round = 1; round <= 3; round++) {
              const put = await processErrors.race(request(`${server.url}/s/api/put`));
              const cookie = cookiePair(put);
              const got =
                cookie === undefined
                  ? "no cookie"
                  : (await request(`${server.url}/s/get`, { headers: { cookie } })).body;
              const plain = await request(`${server.url}/plain`);
              rounds.push({
                put: { status: put.status, body: put.body, cookie: cookie !== undefined },
                got: got.replace(/-\d+$/, ""),
                plain: {
                  status: plain.status,
                  body: plain.body,
                  setCookie: plain.headers["set-cookie"] ?? null,
                  vary: plain.headers.vary ?? null,
                },
              });
            }
            const expected = {
              put: { status: 200, body: "a,b", cookie: true },
              got: "value",
              plain: { status: 200, body: "plain", setCookie: null, vary: null },
            };
            assert.deepEqual(
              { rounds, early },
              { rounds: [expected, expected, expected], early: [false, true, true] },
            );
          } finally {
            await server.close();
          }
        });
      }
    }
  }
});
