// fetchSession and the two-step form (loadRequest / commitCookie / commitHeaders), called as a
// runtime calls them: with real Request objects, answered with real Response objects.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StoreUnavailableError } from "../../src/errors.ts";
import { fetchSession } from "../../src/fetch.ts";
import { SessionManager } from "../../src/manager.ts";
import type { Store } from "../../src/store.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { generateToken } from "../../src/token.ts";

const BASE = "http://app.test";

/** A logger that keeps what it is given. */
function recordingLogger() {
  const lines: string[] = [];
  return {
    lines,
    logger: { warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) },
  };
}

class DownStore implements Store {
  find(): Promise<undefined> {
    return Promise.reject(new StoreUnavailableError("find failed (test double)"));
  }
  commit(): Promise<void> {
    return Promise.reject(new StoreUnavailableError("commit failed (test double)"));
  }
  delete(): void {}
}

const pairOf = (setCookie: string | null) => (setCookie ?? "").split(";")[0] as string;

describe("fetchSession", () => {
  it("refuses a bad handler, header or onError with a TypeError naming it", () => {
    const sessions = new SessionManager();
    const handler = () => new Response("x");
    assert.throws(() => fetchSession(sessions, "x" as never), /option handler is invalid: string/);
    assert.throws(() => fetchSession(sessions, handler, { header: "bad header" }), {
      name: "TypeError",
      message: /option header is invalid/,
    });
    assert.throws(() => fetchSession(sessions, handler, { onError: 3 as never }), {
      name: "TypeError",
      message: /option onError is invalid: number/,
    });
    assert.throws(() => fetchSession({} as never, handler), /option sessions is invalid/);
  });

  it("passes what the runtime gives after the request on to the handler", async () => {
    const sessions = new SessionManager();
    const handle = fetchSession(sessions, (_request, _session, server: { name: string }) => {
      return new Response(server.name);
    });
    const answer = await handle(new Request(`${BASE}/`), { name: "bun-server" });
    assert.equal(await answer.text(), "bun-server");
  });

  it("merges Vary and Cache-Control with the handler's own, and appends to its cookies", async () => {
    const sessions = new SessionManager();
    const handle = fetchSession(sessions, (_request, session) => {
      session.put("n", 1);
      const headers = new Headers({ Vary: "Accept-Encoding", "Cache-Control": "private" });
      headers.append("Set-Cookie", "theme=dark; Path=/");
      return new Response("ok", { headers });
    });
    const answer = await handle(new Request(`${BASE}/`));
    assert.equal(answer.headers.get("vary"), "Accept-Encoding, Cookie");
    assert.equal(answer.headers.get("cache-control"), 'private, no-cache="Set-Cookie"');
    const cookies = answer.headers.getSetCookie();
    assert.equal(cookies.length, 2);
    assert.equal(cookies[0], "theme=dark; Path=/");
    assert.match(cookies[1] as string, /^session=[\w-]{43}; /);
  });

  it("a network error (Response.error()) is passed on as it is, and commits nothing", async () => {
    const store = new MemStore({ cleanupInterval: 0 });
    const sessions = new SessionManager({ store });
    const handle = fetchSession(sessions, (_request, session) => {
      session.put("n", 1);
      return Response.error();
    });
    const answer = await handle(new Request(`${BASE}/`));
    assert.equal(answer.type, "error");
    assert.equal(answer.headers.get("set-cookie"), null);
    assert.equal((await store.all()).size, 0);
  });

  it("a codec refusal answers 500 from the default onError, with no token in body or log", async () => {
    const { lines, logger } = recordingLogger();
    const sessions = new SessionManager({ logger });
    const handle = fetchSession(sessions, (_request, session) => {
      session.put("fn", (() => 1) as never);
      return new Response("not sent");
    });
    const answer = await handle(new Request(`${BASE}/`));
    assert.equal(answer.status, 500);
    assert.equal(await answer.text(), "Internal Server Error\n");
    assert.equal(answer.headers.get("set-cookie"), null);
    assert.equal(lines.length, 1);
    assert.match(lines[0] as string, /CodecError/);
  });

  it("a store that fails on load answers 503 Retry-After, and the token is not logged", async () => {
    const { lines, logger } = recordingLogger();
    const sessions = new SessionManager({ store: new DownStore(), logger });
    let ran = false;
    const handle = fetchSession(sessions, () => {
      ran = true;
      return new Response("not sent");
    });
    const token = generateToken();
    const answer = await handle(
      new Request(`${BASE}/`, { headers: { cookie: `session=${token}` } }),
    );
    assert.equal(answer.status, 503);
    assert.equal(answer.headers.get("retry-after"), "1");
    assert.equal(ran, false);
    assert.ok(lines.every((line) => !line.includes(token)));
  });

  it("an onError that throws or returns no Response gets the default answer (and a log line)", async () => {
    for (const onError of [
      () => {
        throw new Error("handler bug");
      },
      () => "not a response" as never,
    ]) {
      const { lines, logger } = recordingLogger();
      const sessions = new SessionManager({ store: new DownStore(), logger });
      const handle = fetchSession(
        sessions,
        (_r, s) => {
          s.put("a", 1);
          return new Response("x");
        },
        { onError },
      );
      const answer = await handle(new Request(`${BASE}/`));
      assert.equal(answer.status, 503);
      assert.equal(await answer.text(), "Service Unavailable\n");
      assert.ok(lines.some((line) => /onError/.test(line)));
    }
  });

  it("a handler that throws or returns no Response rejects (the runtime's error path) and commits nothing", async () => {
    const store = new MemStore({ cleanupInterval: 0 });
    const sessions = new SessionManager({ store });
    const throwing = fetchSession(sessions, (_r, s) => {
      s.put("a", 1);
      throw new Error("route failed");
    });
    await assert.rejects(throwing(new Request(`${BASE}/`)), /route failed/);
    const empty = fetchSession(sessions, (_r, s) => {
      s.put("a", 1);
      return undefined as never;
    });
    await assert.rejects(empty(new Request(`${BASE}/`)), {
      name: "TypeError",
      message: /returned undefined, not a Response/,
    });
    assert.equal(store.all().size, 0);
  });
});

describe("the two-step form: loadRequest, commitCookie, commitHeaders", () => {
  it("commitCookie gives undefined for an unmodified session, a cookie once modified, a deletion cookie once destroyed", async () => {
    const sessions = new SessionManager();
    const fresh = await sessions.loadRequest(new Request(`${BASE}/`));
    assert.equal(await sessions.commitCookie(fresh), undefined);

    const writer = await sessions.loadRequest(new Request(`${BASE}/`));
    writer.put("user", "alice");
    const cookie = await sessions.commitCookie(writer);
    assert.match(cookie ?? "", /^session=[\w-]{43}; Path=\/; /);

    const request = new Request(`${BASE}/`, { headers: { cookie: pairOf(cookie ?? null) } });
    const reader = await sessions.loadRequest(request);
    assert.equal(reader.get("user"), "alice");
    assert.equal(sessions.from(request), reader);
    assert.equal(await sessions.commitCookie(reader), undefined);

    const leaving = await sessions.loadRequest(request);
    await leaving.destroy();
    assert.match((await sessions.commitCookie(leaving)) ?? "", /^session=; .*Max-Age=0/);
    assert.equal((await sessions.loadRequest(request)).get("user"), undefined);
  });

  it("commitHeaders has Vary always, and Set-Cookie with Cache-Control when there is a cookie", async () => {
    const sessions = new SessionManager();
    const reader = await sessions.loadRequest(new Request(`${BASE}/`));
    const quiet = await sessions.commitHeaders(reader);
    assert.equal(quiet.get("vary"), "Cookie");
    assert.equal(quiet.get("set-cookie"), null);
    assert.equal(quiet.get("cache-control"), null);

    const writer = await sessions.loadRequest(new Request(`${BASE}/`));
    writer.put("n", 1);
    const headers = await sessions.commitHeaders(writer);
    assert.equal(headers.get("vary"), "Cookie");
    assert.equal(headers.getSetCookie().length, 1);
    assert.equal(headers.get("cache-control"), 'no-cache="Set-Cookie"');
  });

  it("with { header }, the token travels in that header: the token, or '' once destroyed", async () => {
    const sessions = new SessionManager();
    const api = { header: "X-Session" };
    const writer = await sessions.loadRequest(new Request(`${BASE}/`), api);
    writer.put("n", 1);
    const headers = await sessions.commitHeaders(writer, api);
    const token = headers.get("x-session") ?? "";
    assert.match(token, /^[\w-]{43}$/);
    assert.equal(headers.get("vary"), "X-Session");
    assert.equal(headers.get("cache-control"), 'no-cache="X-Session"');

    const request = new Request(`${BASE}/`, { headers: { "x-session": token } });
    const reader = await sessions.loadRequest(request, api);
    assert.equal(reader.get("n"), 1);
    assert.equal((await sessions.loadRequest(request)).get("n"), undefined, "not from a cookie");
    await reader.destroy();
    assert.equal(await sessions.commitCookie(reader, api), "");
  });

  it("the token is locked after the commit: a late renewToken throws instead of a silent logout", async () => {
    const sessions = new SessionManager();
    const session = await sessions.loadRequest(new Request(`${BASE}/`));
    session.put("n", 1);
    await sessions.commitCookie(session);
    assert.throws(() => session.renewToken(), { name: "SessionError", message: /renewToken/ });
  });

  it("loadRequest refuses what is not a request with a TypeError", async () => {
    const sessions = new SessionManager();
    await assert.rejects(sessions.loadRequest({} as never), {
      name: "TypeError",
      message: /option request is invalid/,
    });
    await assert.rejects(sessions.loadRequest(null as never), { name: "TypeError" });
  });

  it("a failing store rejects commitCookie with StoreUnavailableError", async () => {
    const sessions = new SessionManager({ store: new DownStore() });
    const session = await sessions.loadRequest(new Request(`${BASE}/`));
    session.put("n", 1);
    await assert.rejects(sessions.commitCookie(session), StoreUnavailableError);
  });
});
