/**
 * The response path under `sessions.handler` (and Express 4), with a synchronous store
 * (MemStore) and an async one: what the handler sees from writeHead/write/end/setHeader, what
 * the client receives, and that nothing escapes to the process.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import type express from "express";
import { expressSession } from "../../src/adapters/express.ts";
import { SessionError, StoreUnavailableError } from "../../src/errors.ts";
import { SessionManager } from "../../src/manager.ts";
import type { Session } from "../../src/session.ts";
import type { Store } from "../../src/store.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import {
  FailingDeleteStore,
  failOnProcessErrors,
  holds,
  rawGet,
  settle,
  ThrowingCommitStore,
} from "../helpers/failing-stores.ts";
import { cookieToken, listen, request, type TestResponse } from "../helpers/http.ts";
import { FailingCommitStore, SlowStore } from "../helpers/stores.ts";

const express4 = createRequire(import.meta.url)("express4") as typeof express;
const processErrors = failOnProcessErrors();
const quiet = { warn() {}, error() {} };
const T = { timeout: 5_000 };
const MiB = 1024 * 1024;

const speeds = [
  { name: "MemStore", store: (): Store => new MemStore({ cleanupInterval: 0 }) },
  { name: "an async store", store: (): Store => new SlowStore(10) },
];

type Route = (session: Session | undefined, req: IncomingMessage, res: ServerResponse) => unknown;

/** A server with `sessions.handler` over `store` (or bare node:http when store is undefined). */
async function serve(store: Store | undefined, route: Route) {
  const sessions = new SessionManager({
    store: store ?? new MemStore({ cleanupInterval: 0 }),
    logger: quiet,
  });
  const server = createServer(
    store === undefined
      ? (req, res) => route(undefined, req, res)
      : sessions.handler((req, res) => route(sessions.from(req), req, res)),
  );
  return { sessions, ...(await listen(server)) };
}

/** Commits a session holding `values` and returns its token. */
async function seed(sessions: SessionManager, values: Record<string, string>): Promise<string> {
  const session = await sessions.load(undefined);
  for (const [key, value] of Object.entries(values)) session.put(key, value);
  return (await sessions.commit(session)).token;
}

const sessionCookies = (res: TestResponse) =>
  res.setCookies.filter((c) => c.startsWith("session="));

describe("a throwing writeHead reaches the handler", () => {
  for (const speed of speeds) {
    it(
      `a writeHead RangeError inside try/catch reaches the handler's catch, and the client gets its 400 with the session cookie (${speed.name})`,
      T,
      async () => {
        const caught: unknown[] = [];
        const app = await serve(speed.store(), (session, _req, res) => {
          session!.put("k", "v");
          try {
            res.writeHead(99);
            res.end();
          } catch (err) {
            caught.push(err);
            res.statusCode = 400;
            res.end("bad");
          }
        });
        try {
          const res = await processErrors.race(request(app.url));
          assert.deepEqual(
            {
              caught: caught.map((e) => (e as { code?: string }).code),
              status: res.status,
              body: res.body,
            },
            { caught: ["ERR_HTTP_INVALID_STATUS_CODE"], status: 400, body: "bad" },
          );
          assert.ok(cookieToken(res), "the 400 carries the session cookie");
        } finally {
          await app.close();
        }
      },
    );

    it(
      `Express 4: res.status(99).send() answers what bare Express 4 answers, its error handler's 500 (${speed.name})`,
      T,
      async () => {
        const build = (withSessions: boolean) => {
          const app = express4();
          if (withSessions) {
            app.use(expressSession(new SessionManager({ store: speed.store(), logger: quiet })));
          }
          app.get("/", (req, res) => {
            if (withSessions) req.session.put("userId", "u1");
            res.status(99).send("x");
          });
          return listen(createServer(app));
        };
        const bare = await build(false);
        const guarded = await build(true);
        try {
          const expected = await request(bare.url);
          const res = await processErrors.race(request(guarded.url));
          assert.equal(expected.status, 500);
          assert.match(expected.body, /Invalid status code: 99/);
          assert.equal(res.status, expected.status);
          assert.match(res.body, /Invalid status code: 99/);
        } finally {
          await bare.close();
          await guarded.close();
        }
      },
    );
  }
});

describe("a handler that fails after ending the response", () => {
  // 1 MiB as users met it; 16 MiB is more than loopback socket buffers take in at once, so a
  // response cut short after its end shows even when the store answers synchronously.
  const sizes = [
    { name: "1 MiB", bytes: MiB },
    { name: "16 MiB, more than the socket buffers hold", bytes: 16 * MiB },
  ];
  for (const speed of speeds) {
    for (const size of sizes) {
      it(
        `a handler that rejects after res.end(${size.name}) still delivers the whole body with its status (${speed.name})`,
        T,
        async () => {
          const big = "a".repeat(size.bytes);
          const responseErrors: string[] = [];
          let closed!: Promise<unknown>;
          let handled!: () => void;
          const rejectionHandled = new Promise<void>((resolve) => {
            handled = resolve;
          });
          const failAfterEnd = async (session: Session, res: ServerResponse) => {
            res.on("error", (err: NodeJS.ErrnoException) =>
              responseErrors.push(err.code ?? err.message),
            );
            closed = once(res, "close");
            session.put("k", "v");
            res.statusCode = 202;
            res.end(big);
            throw new Error("failed after the response ended");
          };
          const app = await serve(speed.store(), (session, _req, res) => {
            const result = failAfterEnd(session!, res);
            // The client starts reading only once the server has dealt with the rejection, as a
            // client on a slow link would: the body must still all be there.
            result.then(undefined, () => settle().then(handled));
            return result;
          });
          try {
            const res = await processErrors.race(rawGet(app.url, { readAfter: rejectionHandled }));
            await closed;
            await settle();
            assert.deepEqual(
              { status: res.status, bodyLength: res.body.length, socketError: res.error },
              { status: 202, bodyLength: big.length, socketError: undefined },
            );
            assert.ok(res.body === big, "the body arrived intact");
            assert.deepEqual(responseErrors, [], "nothing was written after end");
          } finally {
            await app.close();
          }
        },
      );
    }
  }
});

describe("a handler that throws after ending its response answers as if it had not thrown", () => {
  // Found by the differential fuzz (FUZZ=1): on an async store the throw used to abandon the
  // sessions while their commit was still holding the response, which changed its cookie.
  const afterEnd = [
    { name: "destroy()", step: (s: Session) => void s.destroy() },
    { name: "put()", step: (s: Session) => s.put("after", 1) },
    { name: "nothing", step: () => {} },
  ];
  for (const speed of speeds) {
    for (const then of afterEnd) {
      it(`put, end, ${then.name}, throw (${speed.name})`, T, async () => {
        const answers = [];
        for (const throws of [false, true]) {
          const store = speed.store();
          const app = await serve(store, (session, _req, res) => {
            session!.put("a", 0);
            res.end("done");
            then.step(session!);
            if (throws) throw new Error("handler failed after end");
          });
          try {
            const res = await processErrors.race(request(app.url));
            await settle();
            // The two runs differ in their tokens and may straddle a second (Expires).
            const cookies = sessionCookies(res).map((c) =>
              c
                .replace(/^session=[^;]*/, (v) => (v === "session=" ? v : "session=<token>"))
                .replace(/Expires=[^;]*/, "Expires=<date>"),
            );
            answers.push({ status: res.status, body: res.body, cookies });
          } finally {
            await app.close();
          }
        }
        assert.deepEqual(answers[1], answers[0], "the throw changed nothing");
        assert.equal(answers[0]?.status, 200);
      });
    }
  }
});

describe("a handler that rejects after writing part of its body", () => {
  // Found by the differential fuzz (FUZZ=1 FUZZ_SEED=2): on an async store the handler runs in
  // a promise job, its rejection is handled in the next one, and an abort right then came
  // before Node flushed the corked head: the client got nothing at all.
  for (const speed of speeds) {
    it(
      `the client gets the head and the part written, then the abort (${speed.name})`,
      T,
      async () => {
        const app = await serve(speed.store(), async (session, _req, res) => {
          session!.get("x");
          res.writeHead(200, { "Content-Type": "text/plain" });
          res.write("partial");
          throw new Error("failed while writing");
        });
        try {
          const token = await seed(app.sessions, { x: "1" });
          const res = await processErrors.race(
            rawGet(app.url, { headers: { cookie: `session=${token}` } }),
          );
          assert.equal(res.status, 200, "the head arrived");
          assert.match(res.body, /partial/, "the part written arrived");
          assert.doesNotMatch(res.body, /0\r\n\r\n$/, "no last chunk: the body is not complete");
        } finally {
          await app.close();
        }
      },
    );
  }
});

describe("a handler that fails after writing, on a response whose destroy() throws", () => {
  it("nothing escapes to the process and the connection still ends", T, async () => {
    const app = await serve(new SlowStore(1), async (_session, _req, res) => {
      res.destroy = () => {
        throw new Error("a broken destroy");
      };
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.write("partial");
      throw new Error("failed while writing");
    });
    try {
      const res = await processErrors.race(rawGet(app.url));
      await settle();
      assert.equal(res.status, 200);
      assert.match(res.body, /partial/);
    } finally {
      await app.close();
    }
  });
});

describe("a session changed after the headers went out, then a write that completes the body", () => {
  // Found by the differential fuzz (FUZZ=1 FUZZ_SEED=3): the late commit ran only at end(), so
  // a write that completed a Content-Length body let the client take the response as complete
  // although that commit then failed.
  const program: Route = (session, _req, res) => {
    res.setHeader("Content-Length", "5");
    res.flushHeaders();
    session!.put("late", 1);
    res.write("hello");
    res.end();
  };

  it("is committed before the write: a commit that fails aborts before the body", T, async () => {
    const store = new FailingCommitStore();
    const app = await serve(store, program);
    try {
      // A stored session (a new one's token could not reach the client any more anyway).
      const token = await seed(new SessionManager({ store: store.inner, logger: quiet }), {
        x: "1",
      });
      const res = await processErrors.race(
        rawGet(app.url, { headers: { cookie: `session=${token}` } }),
      );
      assert.equal(res.status, 200, "the head went out first");
      assert.notEqual(res.body, "hello", "the body that would complete the response never left");
    } finally {
      await app.close();
    }
  });

  it("a commit that succeeds lets the write through (async store)", T, async () => {
    const store = new SlowStore(5);
    const app = await serve(store, program);
    try {
      const token = await seed(app.sessions, { x: "1" });
      const commits = store.log.filter((l) => l.op === "commit").length;
      const res = await processErrors.race(
        rawGet(app.url, { headers: { cookie: `session=${token}` } }),
      );
      assert.deepEqual({ status: res.status, body: res.body }, { status: 200, body: "hello" });
      assert.equal(
        store.log.filter((l) => l.op === "commit").length,
        commits + 1,
        "the late change was committed",
      );
    } finally {
      await app.close();
    }
  });
});

describe("headers given to writeHead", () => {
  for (const speed of speeds) {
    it(
      `writeHead's array headers replace a Content-Length set before, as on bare node:http: exactly one Content-Length (${speed.name})`,
      T,
      async () => {
        const route: Route = (session, _req, res) => {
          session?.put("k", "v");
          res.setHeader("Content-Length", "2");
          res.writeHead(200, ["Content-Length", "4"]);
          res.end("abcd");
        };
        const bare = await serve(undefined, route);
        const app = await serve(speed.store(), route);
        try {
          const lengths = (r: { headerLines: [string, string][] }) =>
            r.headerLines
              .filter(([name]) => name.toLowerCase() === "content-length")
              .map(([, v]) => v);
          const expected = await rawGet(bare.url);
          assert.deepEqual(lengths(expected), ["4"], "bare node:http sends one Content-Length");
          const res = await processErrors.race(rawGet(app.url));
          assert.deepEqual(
            { status: res.status, contentLength: lengths(res), body: res.body },
            { status: 200, contentLength: ["4"], body: "abcd" },
          );
          assert.ok(
            res.headerLines.some(
              ([n, v]) => n.toLowerCase() === "set-cookie" && v.startsWith("session="),
            ),
          );
        } finally {
          await bare.close();
          await app.close();
        }
      },
    );
  }
});

describe("a failed commit", () => {
  const failing = [
    {
      name: "an async commit rejecting with Error",
      store: () => new FailingCommitStore(),
      status: 500,
    },
    {
      name: "an async commit rejecting with StoreUnavailableError",
      store: () => new FailingCommitStore(() => new StoreUnavailableError("down")),
      status: 503,
    },
    {
      name: "a synchronous commit throwing Error",
      store: () => new ThrowingCommitStore(),
      status: 500,
    },
    {
      name: "a synchronous commit throwing StoreUnavailableError",
      store: () => new ThrowingCommitStore(() => new StoreUnavailableError("down")),
      status: 503,
    },
  ];
  for (const failure of failing) {
    it(
      `the res.end callback runs once when the commit fails, and the client gets ${failure.status} without the session cookie (${failure.name})`,
      T,
      async () => {
        let callbacks = 0;
        let closed!: Promise<unknown>;
        const app = await serve(failure.store(), (session, _req, res) => {
          closed = once(res, "close");
          session!.put("k", "v");
          res.end("body", () => {
            callbacks++;
          });
        });
        try {
          const res = await processErrors.race(request(app.url));
          await closed;
          await settle();
          assert.deepEqual(
            { status: res.status, sessionCookies: sessionCookies(res), callbacks },
            { status: failure.status, sessionCookies: [], callbacks: 1 },
          );
        } finally {
          await app.close();
        }
      },
    );
  }
});

describe("header calls after a failed commit answered the request", () => {
  for (const failure of [
    { name: "an async commit rejecting", store: () => new FailingCommitStore() },
    { name: "a synchronous commit throwing", store: () => new ThrowingCommitStore() },
  ]) {
    it(
      `are absorbed like the handler's output: no ERR_HTTP_HEADERS_SENT, the error answer unchanged (${failure.name})`,
      T,
      async () => {
        const thrown: string[] = [];
        let later!: Promise<void>;
        const app = await serve(failure.store(), (session, _req, res) => {
          session!.put("k", "v");
          // A head Node refuses: the handler recovers and answers later (bare: 400 "late").
          try {
            res.writeHead(99);
          } catch {
            // as without a session
          }
          later = new Promise((resolve) => {
            setTimeout(() => {
              try {
                res.setHeader("X-Late", "1");
                res.appendHeader("X-Late", "2");
                res.setHeaders(new Map([["X-Later", "3"]]));
                res.removeHeader("Content-Type");
                res.statusCode = 400;
                res.end("late");
              } catch (err) {
                thrown.push((err as Error).message);
              }
              resolve();
            }, 30);
          });
        });
        try {
          const res = await processErrors.race(request(app.url));
          await later;
          await settle();
          assert.deepEqual(
            {
              status: res.status,
              late: res.headers["x-late"],
              later: res.headers["x-later"],
              thrown,
            },
            { status: 500, late: undefined, later: undefined, thrown: [] },
          );
        } finally {
          await app.close();
        }
      },
    );
  }

  it("on bare node:http the same handler answers 400", T, async () => {
    const app = await serve(undefined, (_session, _req, res) => {
      try {
        res.writeHead(99);
      } catch {
        // refused
      }
      setTimeout(() => {
        res.setHeader("X-Late", "1");
        res.statusCode = 400;
        res.end("late");
      }, 30);
    });
    try {
      const res = await request(app.url);
      assert.deepEqual(
        { status: res.status, late: res.headers["x-late"] },
        { status: 400, late: "1" },
      );
    } finally {
      await app.close();
    }
  });
});

describe("destroy() without await", () => {
  const signOut: Route = (session, req, res) => {
    if (req.url === "/get") {
      res.end(session!.getString("user"));
      return;
    }
    session!.destroy();
    res.end("signed out");
  };

  for (const speed of speeds) {
    it(
      `destroy() without await: the response waits until the store deleted the session, and clears the cookie (${speed.name})`,
      T,
      async () => {
        const store = speed.store();
        const app = await serve(store, signOut);
        try {
          const old = await seed(app.sessions, { user: "alice" });
          const res = await processErrors.race(
            request(app.url, { headers: { cookie: `session=${old}` } }),
          );
          const heldWhenAnswered = holds(store, old);
          assert.deepEqual(
            { status: res.status, body: res.body, heldWhenAnswered },
            { status: 200, body: "signed out", heldWhenAnswered: false },
          );
          const cookies = sessionCookies(res);
          assert.equal(cookies.length, 1);
          assert.match(cookies[0]!, /^session=;.*Max-Age=0/);
        } finally {
          await app.close();
        }
      },
    );
  }

  it(
    "destroy() without await, when the store's delete fails: 503, no deletion cookie, the session stays signed in",
    T,
    async () => {
      const store = new FailingDeleteStore();
      const app = await serve(store, signOut);
      try {
        const old = await seed(app.sessions, { user: "alice" });
        const cookie = `session=${old}`;
        const res = await processErrors.race(request(app.url, { headers: { cookie } }));
        assert.equal(store.deletes, 1, "destroy asked the store to delete");
        assert.deepEqual(
          { status: res.status, sessionCookies: sessionCookies(res), held: holds(store, old) },
          { status: 503, sessionCookies: [], held: true },
        );
        const next = await request(`${app.url}/get`, { headers: { cookie } });
        assert.equal(next.body, "alice", "the old cookie still has its data");
      } finally {
        await app.close();
      }
    },
  );
});

describe("renewToken and the headers", () => {
  const triggers = {
    "res.write": (res: ServerResponse) => res.write("x"),
    "res.flushHeaders": (res: ServerResponse) => res.flushHeaders(),
    "res.writeHead(200)": (res: ServerResponse) => res.writeHead(200),
  };

  for (const speed of speeds) {
    for (const [trigger, send] of Object.entries(triggers)) {
      it(
        `renewToken after ${trigger} throws a SessionError saying the headers were sent, and the old token keeps working (${speed.name})`,
        T,
        async () => {
          let thrown: unknown;
          const app = await serve(speed.store(), (session, req, res) => {
            if (req.url === "/get") {
              res.end(session!.getString("user"));
              return;
            }
            send(res);
            try {
              // Not awaited on purpose: the call itself must throw; a later rejection would be
              // unhandled, which the file's process guard reports.
              session!.renewToken();
            } catch (err) {
              thrown = err;
            }
            res.end();
          });
          try {
            const old = await seed(app.sessions, { user: "alice" });
            const cookie = `session=${old}`;
            const res = await processErrors.race(request(app.url, { headers: { cookie } }));
            const next = await request(`${app.url}/get`, { headers: { cookie } });
            assert.deepEqual(
              {
                threwSessionError: thrown instanceof SessionError,
                message:
                  thrown instanceof Error &&
                  /headers/i.test(thrown.message) &&
                  /sent/i.test(thrown.message),
                status: res.status,
                oldTokenStillWorks: next.body,
              },
              { threwSessionError: true, message: true, status: 200, oldTokenStillWorks: "alice" },
            );
          } finally {
            await app.close();
          }
        },
      );
    }

    it(
      `renewToken before the headers went out gives a new token and retires the old one (${speed.name})`,
      T,
      async () => {
        const app = await serve(speed.store(), async (session, req, res) => {
          if (req.url !== "/get") await session!.renewToken();
          res.end(session!.getString("user"));
        });
        try {
          const old = await seed(app.sessions, { user: "alice" });
          const res = await processErrors.race(
            request(app.url, { headers: { cookie: `session=${old}` } }),
          );
          const renewed = cookieToken(res);
          assert.ok(renewed && renewed !== old, "a new token");
          const viaNew = await request(`${app.url}/get`, {
            headers: { cookie: `session=${renewed}` },
          });
          const viaOld = await request(`${app.url}/get`, { headers: { cookie: `session=${old}` } });
          assert.deepEqual(
            { viaNew: viaNew.body, viaOld: viaOld.body },
            { viaNew: "alice", viaOld: "" },
          );
        } finally {
          await app.close();
        }
      },
    );
  }
});

describe("output while an async commit is pending behaves as on bare node:http", () => {
  const targets = [
    { name: "bare node:http", store: (): Store | undefined => undefined },
    ...speeds,
  ];

  /** Runs `probe` in a handler (after changing the session) on each target; returns each result. */
  async function observe(probe: (res: ServerResponse) => Promise<unknown> | unknown) {
    const seen: Record<string, unknown> = {};
    for (const target of targets) {
      let result: Promise<unknown> | undefined;
      const app = await serve(target.store(), (session, _req, res) => {
        session?.put("k", "v");
        result = Promise.resolve(probe(res));
      });
      try {
        await processErrors.race(request(app.url));
        seen[target.name] = await result;
      } finally {
        await app.close();
      }
    }
    return seen;
  }

  const same = (value: unknown) => Object.fromEntries(targets.map((t) => [t.name, value]));

  it(
    "writeHead then setHeader throws ERR_HTTP_HEADERS_SENT with either store, as on bare node:http",
    T,
    async () => {
      const seen = await observe((res) => {
        res.writeHead(200);
        let code: unknown = "no throw";
        try {
          res.setHeader("X", "1");
        } catch (err) {
          code = (err as { code?: string }).code;
        }
        res.end();
        return code;
      });
      assert.deepEqual(seen, same("ERR_HTTP_HEADERS_SENT"));
    },
  );

  it(
    "headersSent is true right after writeHead and right after write, with either store",
    T,
    async () => {
      const afterWriteHead = await observe((res) => {
        res.writeHead(200);
        const sent = res.headersSent;
        res.end();
        return sent;
      });
      const afterWrite = await observe((res) => {
        res.write("x");
        const sent = res.headersSent;
        res.end();
        return sent;
      });
      assert.deepEqual(
        { afterWriteHead, afterWrite },
        { afterWriteHead: same(true), afterWrite: same(true) },
      );
    },
  );

  it(
    "a 1 MiB res.write returns false and 'drain' follows, with either store, as on bare node:http",
    T,
    async () => {
      const seen = await observe(async (res) => {
        const returned = res.write(Buffer.alloc(MiB, 97));
        // Waiting for 'drain' only when asked to: a write that returned true owes no 'drain'.
        let drained = "not awaited";
        if (!returned) {
          await once(res, "drain");
          drained = "drained";
        }
        res.end();
        return { returned, drained };
      });
      assert.deepEqual(seen, same({ returned: false, drained: "drained" }));
    },
  );
});
