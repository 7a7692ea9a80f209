import assert from "node:assert/strict";
import { createServer } from "node:http";
import { describe, it } from "node:test";
import { SessionManager } from "../src/manager.ts";
import type { SessionManagerOptions } from "../src/options.ts";
import { MemStore } from "../src/stores/memstore.ts";
import { generateToken } from "../src/token.ts";
import { cookiePair, cookieToken, listen, rawCookieRequest, request } from "./helpers/http.ts";
import { FailingCommitStore, SlowStore, UnavailableStore } from "./helpers/stores.ts";

type Route = (
  sessions: SessionManager,
  req: import("node:http").IncomingMessage,
  res: import("node:http").ServerResponse,
) => unknown;

/** A server whose routes are given per path; returns its URL and a close function. */
async function serve(
  options: SessionManagerOptions,
  routes: Record<string, Route>,
  header?: string,
) {
  const sessions = new SessionManager({ logger: { warn() {}, error() {} }, ...options });
  const server = createServer(
    sessions.handler(
      (req, res) => {
        const route = routes[new URL(req.url ?? "/", "http://x").pathname];
        if (route === undefined) {
          res.statusCode = 404;
          res.end();
          return;
        }
        return route(sessions, req, res);
      },
      header === undefined ? undefined : { header },
    ),
  );
  const { url, close } = await listen(server);
  return { url, close, sessions };
}

const counter: Record<string, Route> = {
  "/put": (s, req, res) => {
    const session = s.from(req);
    session.put("n", session.getNumber("n") + 1);
    res.end(String(session.getNumber("n")));
  },
  "/get": (s, req, res) => res.end(String(s.from(req).getNumber("n"))),
  "/destroy": async (s, req, res) => {
    await s.from(req).destroy();
    res.end("bye");
  },
  "/renew": async (s, req, res) => {
    await s.from(req).renewToken();
    res.end("renewed");
  },
};

describe("handler headers", () => {
  it('modified: Set-Cookie, Vary: Cookie and Cache-Control no-cache="Set-Cookie"', async () => {
    const app = await serve({}, counter);
    try {
      const res = await request(`${app.url}/put`);
      assert.equal(res.status, 200);
      assert.equal(res.body, "1");
      assert.equal(res.headers.vary, "Cookie");
      assert.equal(res.headers["cache-control"], 'no-cache="Set-Cookie"');
      assert.equal(res.setCookies.length, 1);
      assert.match(
        res.setCookies[0] ?? "",
        /^session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=86400; Expires=/,
      );
    } finally {
      await app.close();
    }
  });

  it("unmodified: Vary but no cookie and no Cache-Control", async () => {
    const app = await serve({}, counter);
    try {
      const first = await request(`${app.url}/put`);
      const res = await request(`${app.url}/get`, { headers: { cookie: cookiePair(first)! } });
      assert.equal(res.body, "1");
      assert.equal(res.headers.vary, "Cookie");
      assert.deepEqual(res.setCookies, []);
      assert.equal(res.headers["cache-control"], undefined);
    } finally {
      await app.close();
    }
  });

  it("destroy: a deletion cookie (Max-Age=0, Expires in 1970) and the session is gone", async () => {
    const app = await serve({}, counter);
    try {
      const first = await request(`${app.url}/put`);
      const cookie = cookiePair(first)!;
      const res = await request(`${app.url}/destroy`, { headers: { cookie } });
      assert.match(
        res.setCookies[0] ?? "",
        /^session=; Path=\/; HttpOnly; SameSite=Lax; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT$/,
      );
      const after = await request(`${app.url}/get`, { headers: { cookie } });
      assert.equal(after.body, "0");
    } finally {
      await app.close();
    }
  });

  it("renewToken: a new cookie, and the old token is dead", async () => {
    const app = await serve({}, counter);
    try {
      const first = await request(`${app.url}/put`);
      const res = await request(`${app.url}/renew`, { headers: { cookie: cookiePair(first)! } });
      assert.notEqual(cookieToken(res), cookieToken(first));
      assert.equal(
        (await request(`${app.url}/get`, { headers: { cookie: cookiePair(res)! } })).body,
        "1",
      );
      assert.equal(
        (await request(`${app.url}/get`, { headers: { cookie: cookiePair(first)! } })).body,
        "0",
      );
    } finally {
      await app.close();
    }
  });

  it("keeps Set-Cookie and Vary values the handler set itself, including via writeHead", async () => {
    const app = await serve(
      {},
      {
        "/": (s, req, res) => {
          s.from(req).put("k", 1);
          res.setHeader("Vary", "Accept-Encoding");
          res.writeHead(302, { Location: "/next", "Set-Cookie": "flash=1; Path=/" });
          res.end();
        },
      },
    );
    try {
      const res = await request(`${app.url}/`);
      assert.equal(res.status, 302);
      assert.equal(res.headers.location, "/next");
      assert.equal(res.setCookies.length, 2);
      assert.ok(res.setCookies.includes("flash=1; Path=/"));
      assert.ok(cookieToken(res));
      assert.equal(res.headers.vary, "Accept-Encoding, Cookie");
    } finally {
      await app.close();
    }
  });
});

describe("commit before the response", () => {
  it("res.end(body): the first byte arrives only after a slow store's commit finished", async () => {
    const store = new SlowStore(60);
    const app = await serve({ store }, counter);
    try {
      const res = await request(`${app.url}/put`);
      const commit = store.log.find((e) => e.op === "commit");
      assert.ok(commit, "committed");
      assert.ok(commit.doneAt <= res.firstByteAt, "commit finished before the first byte");
      assert.equal(res.body, "1");
    } finally {
      await app.close();
    }
  });

  it("streaming (writeHead + write chunks): output waits for the commit and arrives whole, in order", async () => {
    const store = new SlowStore(60);
    const app = await serve(
      { store },
      {
        "/stream": (s, req, res) => {
          s.from(req).put("k", "v");
          res.writeHead(200, { "Content-Type": "text/plain" });
          res.write("a");
          res.write("b");
          setTimeout(() => res.end("c"), 10);
        },
      },
    );
    try {
      const res = await request(`${app.url}/stream`);
      const commit = store.log.find((e) => e.op === "commit");
      assert.ok(commit && commit.doneAt <= res.firstByteAt);
      assert.equal(res.body, "abc");
      assert.ok(cookieToken(res));
    } finally {
      await app.close();
    }
  });

  it("a session changed after the headers went out is committed before the response ends", async () => {
    const app = await serve(
      {},
      {
        "/": (s, req, res) => {
          res.writeHead(200);
          res.write("x");
          s.from(req).put("late", "yes");
          res.end();
        },
        "/read": (s, req, res) => res.end(s.from(req).getString("late")),
      },
    );
    try {
      // The first request creates the session (it needs a token the client knows).
      const first = await request(`${app.url}/read`);
      assert.equal(first.setCookies.length, 0);
      const seed = await serve({}, {});
      await seed.close();
      const created = await (async () => {
        const s = await app.sessions.load(undefined);
        s.put("late", "no");
        return app.sessions.commit(s);
      })();
      const cookie = `session=${created.token}`;
      await request(`${app.url}/`, { headers: { cookie } });
      assert.equal((await request(`${app.url}/read`, { headers: { cookie } })).body, "yes");
    } finally {
      await app.close();
    }
  });
});

describe("store failures", () => {
  it("a failing commit answers 500 with no cookie and no error text or token in the body", async () => {
    const app = await serve({ store: new FailingCommitStore() }, counter);
    try {
      const res = await request(`${app.url}/put`);
      assert.equal(res.status, 500);
      assert.deepEqual(res.setCookies, []);
      assert.doesNotMatch(res.body, /disk full|[A-Za-z0-9_-]{43}/);
    } finally {
      await app.close();
    }
  });

  it("logs the failure without the token", async () => {
    const lines: string[] = [];
    const sessions = new SessionManager({
      store: new FailingCommitStore(),
      logger: { warn: (m) => lines.push(m), error: (m) => lines.push(m) },
    });
    const { url, close } = await listen(
      createServer(sessions.handler(counter["/put"]!.bind(null, sessions as never))),
    );
    try {
      await request(url);
      assert.equal(lines.length, 1);
      assert.match(lines[0] ?? "", /disk full writing \[redacted\]/);
    } finally {
      await close();
    }
  });

  it("an unreachable store answers 503 on load", async () => {
    const app = await serve({ store: new UnavailableStore() }, counter);
    try {
      const res = await request(`${app.url}/get`, {
        headers: { cookie: `session=${generateToken()}` },
      });
      assert.equal(res.status, 503);
      assert.equal(res.headers["retry-after"], "1");
    } finally {
      await app.close();
    }
  });

  it("onError replaces the default answer", async () => {
    const seen: unknown[] = [];
    const app = await serve(
      {
        store: new FailingCommitStore(),
        onError: (err, _req, res) => {
          seen.push(err);
          res.statusCode = 418;
          res.end("custom");
        },
      },
      counter,
    );
    try {
      const res = await request(`${app.url}/put`);
      assert.equal(res.status, 418);
      assert.equal(res.body, "custom");
      assert.deepEqual(res.setCookies, []);
      assert.equal(seen.length, 1);
    } finally {
      await app.close();
    }
  });

  it("a handler that throws gets a 500 and its half-built session is not committed", async () => {
    const store = new MemStore({ cleanupInterval: 0 });
    const app = await serve(
      { store },
      {
        "/": (s, req) => {
          s.from(req).put("half", true);
          throw new Error("boom");
        },
        "/async": async (s, req) => {
          s.from(req).put("half", true);
          await new Promise((r) => setTimeout(r, 5));
          throw new Error("boom");
        },
      },
    );
    try {
      for (const path of ["/", "/async"]) {
        const res = await request(`${app.url}${path}`);
        assert.equal(res.status, 500);
        assert.deepEqual(res.setCookies, []);
      }
      assert.equal(store.size, 0);
    } finally {
      await app.close();
    }
  });
});

describe("bad cookies", () => {
  it("empty, huge, duplicated, non-ASCII, quoted and garbage cookies get a fresh session, never a 5xx", async () => {
    const app = await serve({}, counter);
    try {
      const real = cookieToken(await request(`${app.url}/put`))!;
      const cases: [string, string][] = [
        ["empty", ""],
        ["no value", "session="],
        ["huge", `session=${"A".repeat(15_000)}`],
        ["garbage", "session=%%%;;;==="],
        ["unknown token", `session=${generateToken()}`],
        ["quoted garbage", 'session="abc"'],
        ["many cookies", Array.from({ length: 300 }, (_, i) => `c${i}=${i}`).join("; ")],
      ];
      for (const [label, cookie] of cases) {
        const res = await request(
          `${app.url}/put`,
          cookie === "" ? { headers: { cookie } } : { rawHeaders: [["Cookie", cookie]] },
        );
        assert.equal(res.status, 200, label);
        assert.equal(res.body, "1", label);
        assert.notEqual(cookieToken(res), real, label);
      }
      // Bytes Node's client refuses to send, written to a raw socket: UTF-8 text is "no
      // session"; control characters are refused by Node's parser (400) before any handler.
      const utf8 = await rawCookieRequest(
        `${app.url}/put`,
        `session=\u00e9\u4e2d\u{1f600}; a=\u00ff`,
      );
      assert.equal(utf8.status, 200);
      assert.match(utf8.body, /(^|\n)1(\r?\n|$)/);
      const ctl = await rawCookieRequest(`${app.url}/put`, "session=a\u0001b");
      assert.ok(ctl.status < 500);
      // duplicated: the well-formed real token wins over garbage
      const dup = await request(`${app.url}/get`, {
        rawHeaders: [
          ["Cookie", "session=junk"],
          ["Cookie", `session=${real}`],
        ],
      });
      assert.equal(dup.body, "1");
      const quoted = await request(`${app.url}/get`, {
        rawHeaders: [["Cookie", `session="${real}"`]],
      });
      assert.equal(quoted.body, "1");
    } finally {
      await app.close();
    }
  });
});

describe("isolation and transports", () => {
  it("200 concurrent clients never see each other's data", async () => {
    const app = await serve(
      {},
      {
        "/set": (s, req, res) => {
          const id = new URL(req.url ?? "", "http://x").searchParams.get("id") ?? "";
          s.from(req).put("id", id);
          res.end(id);
        },
        "/get": (s, req, res) => res.end(s.from(req).getString("id")),
      },
    );
    try {
      const clients = Array.from({ length: 200 }, (_, i) => `client-${i}`);
      const cookies = await Promise.all(
        clients.map(async (id) => cookiePair(await request(`${app.url}/set?id=${id}`))!),
      );
      assert.equal(new Set(cookies).size, 200);
      const bodies = await Promise.all(
        cookies.map((cookie) => request(`${app.url}/get`, { headers: { cookie } })),
      );
      assert.deepEqual(
        bodies.map((r) => r.body),
        clients,
      );
    } finally {
      await app.close();
    }
  });

  it("the header transport carries the token in X-Session instead of a cookie", async () => {
    const app = await serve({}, counter, "X-Session");
    try {
      const first = await request(`${app.url}/put`);
      const token = first.headers["x-session"] as string;
      assert.match(token, /^[A-Za-z0-9_-]{43}$/);
      assert.deepEqual(first.setCookies, []);
      assert.equal(first.headers.vary, "X-Session");
      const second = await request(`${app.url}/put`, { headers: { "X-Session": token } });
      assert.equal(second.body, "2");
      const ignoredCookie = await request(`${app.url}/get`, {
        headers: { cookie: `session=${token}` },
      });
      assert.equal(ignoredCookie.body, "0");
      const destroyed = await request(`${app.url}/destroy`, { headers: { "X-Session": token } });
      assert.equal(destroyed.headers["x-session"], "");
    } finally {
      await app.close();
    }
  });

  it("two managers with different cookie names work side by side on one request", async () => {
    const a = new SessionManager({ cookie: { name: "a_sess" } });
    const b = new SessionManager({ cookie: { name: "b_sess" } });
    const server = createServer(
      a.handler(
        b.handler((req, res) => {
          const sa = a.from(req);
          const sb = b.from(req);
          sa.put("n", sa.getNumber("n") + 1);
          sb.put("n", sb.getNumber("n") + 10);
          res.end(`${sa.getNumber("n")},${sb.getNumber("n")}`);
        }),
      ),
    );
    const { url, close } = await listen(server);
    try {
      const first = await request(url);
      assert.equal(first.body, "1,10");
      assert.equal(first.setCookies.length, 2);
      const cookie = `${cookiePair(first, "a_sess")}; ${cookiePair(first, "b_sess")}`;
      const second = await request(url, { headers: { cookie } });
      assert.equal(second.body, "2,20");
      assert.equal(second.headers.vary, "Cookie");
    } finally {
      await close();
    }
  });
});

describe("custom onError after a failed commit", () => {
  it("starts from a clean slate: the route's Content-Length and Content-Type are gone", async () => {
    const app = await serve(
      {
        store: new FailingCommitStore(),
        onError: (_err, _req, res) => {
          res.statusCode = 503;
          res.end("try again later");
        },
      },
      {
        "/": (s, req, res) => {
          s.from(req).put("k", 1);
          res.setHeader("Content-Type", "application/json");
          res.setHeader("Content-Length", "2");
          res.end("{}");
        },
      },
    );
    try {
      const res = await request(`${app.url}/`);
      assert.equal(res.status, 503);
      assert.equal(res.body, "try again later");
      assert.equal(res.headers["content-type"], undefined);
    } finally {
      await app.close();
    }
  });
});

describe("an onError that fails itself", () => {
  for (const kind of ["throws", "returns a Promise that rejects"] as const) {
    it(`${kind}: logged, the connection closed, nothing escapes`, async () => {
      const lines: string[] = [];
      const app = await serve(
        {
          store: new FailingCommitStore(),
          logger: { warn: (m) => lines.push(m), error: (m) => lines.push(m) },
          onError:
            kind === "throws"
              ? () => {
                  throw new Error("onError failed too");
                }
              : async () => {
                  await new Promise((resolve) => setTimeout(resolve, 5));
                  throw new Error("onError failed too");
                },
        },
        {
          "/": (s, req, res) => {
            s.from(req).put("k", 1);
            res.end("ok");
          },
        },
      );
      try {
        // The response cannot be completed: the client sees the connection end, not a hang.
        await assert.rejects(request(`${app.url}/`), /socket hang up|ECONNRESET/);
        assert.equal(lines.length, 1, lines.join("\n"));
        assert.match(lines[0] ?? "", /the error handler threw: .*onError failed too/);
      } finally {
        await app.close();
      }
    });
  }
});

describe("a failed commit after the headers went out", () => {
  it("aborts the connection instead of completing the response", async () => {
    const store = new FailingCommitStore();
    const seeder = new SessionManager({ store: store.inner });
    const seeded = await seeder.load(undefined);
    seeded.put("k", 0);
    const { token } = await seeder.commit(seeded);
    const app = await serve(
      { store },
      {
        "/": (s, req, res) => {
          res.writeHead(200, { "Content-Type": "text/plain" });
          res.write("partial ");
          s.from(req).put("k", 1); // changed after the headers: committed before the end, and fails
          res.end("done");
        },
      },
    );
    try {
      const outcome = await request(`${app.url}/`, {
        headers: { cookie: `session=${token}` },
      }).then(
        (res) => `completed with ${JSON.stringify(res.body)}`,
        (err: NodeJS.ErrnoException) => `aborted (${err.code ?? err.message})`,
      );
      assert.match(outcome, /^aborted/);
    } finally {
      await app.close();
    }
  });
});
