/**
 * The session objects' shape, method by method, on our entries and on the peers (where the two
 * behave alike), and the few places where ours deliberately differs.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";
import express, { type ErrorRequestHandler, type Request } from "express";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import expressDropIn from "../../src/adapters/express-session.ts";
import fastifyDropIn from "../../src/adapters/fastify-session.ts";
import { SessionManager } from "../../src/manager.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { Browser, type Started, start, TEST_TIMEOUT, VARIANTS, type Variant } from "./harness.ts";

const require = createRequire(import.meta.url);
const expressSession = require("express-session") as typeof import("express-session");
const fastifyCookie = require("@fastify/cookie") as (...args: unknown[]) => void;
const peerFastifySession = require("@fastify/session") as (...args: unknown[]) => void;

type Cb = (err?: unknown) => void;

/** A model object as ORMs return them (a Mongoose document, say): a class with toJSON. */
class UserDocument {
  constructor(
    readonly id: string,
    readonly name: string,
  ) {}
  greet(): string {
    return `hello ${this.name}`;
  }
  toJSON(): Record<string, unknown> {
    return { id: this.id, name: this.name, kind: "user" };
  }
}

/** A value type that serializes to a string (a Decimal, a Luxon date). */
class Money {
  constructor(readonly cents: number) {}
  toJSON(): string {
    return (this.cents / 100).toFixed(2);
  }
}

/** What the next request reads back of a session holding those objects, as JSON. */
const STORED_DOCUMENTS = {
  user: { id: "u1", name: "alice", kind: "user" },
  cart: { items: [{ price: "5.00", qty: 1 }] },
};
/** req.session as express-session shapes it. */
type ExpressShape = Record<string, unknown> & {
  id: string;
  cookie: Record<string, unknown> & { maxAge: number | null };
  regenerate(cb: Cb): void;
  save(cb?: Cb): void;
  destroy(cb?: Cb): void;
  reload(cb: Cb): void;
};
const sessionOf = (req: Request) => (req as unknown as { session: ExpressShape }).session;
const setSession = (req: Request, value: unknown) => {
  (req as unknown as { session: unknown }).session = value;
};

function expressApp(variant: Variant) {
  const app = express();
  const lateSaves: string[] = [];
  const store = new MemStore({ cleanupInterval: 0 });
  if (variant === "ours")
    app.use(expressDropIn({ store, cookie: { maxAge: 60_000 }, unset: "destroy" }));
  else {
    app.use(
      expressSession({
        secret: "a test secret",
        resave: false,
        saveUninitialized: false,
        cookie: { maxAge: 60_000 },
        unset: "destroy",
      }),
    );
  }
  app.get("/set", (req, res) => {
    sessionOf(req).a = Number(req.query.a ?? 1);
    res.json({ ok: true });
  });
  app.get("/get", (req, res) => {
    res.json({ a: sessionOf(req).a ?? null });
  });
  app.get("/shape", (req, res) => {
    const session = sessionOf(req);
    session.a = 1;
    const forIn: string[] = [];
    for (const key in session) forIn.push(key);
    const proto = Object.getPrototypeOf(session) as Record<string, { length: number }>;
    res.json({
      saveLength: proto.save?.length,
      forIn: forIn.filter((k) => k !== "cookie"),
      keys: Object.keys(session),
      ownMethods: ["regenerate", "save", "destroy", "reload", "touch"].filter((m) =>
        Object.keys(session).includes(m),
      ),
    });
  });
  app.get("/regenerate", (req, res, next) => {
    const prev = sessionOf(req);
    prev.a = 1;
    prev.regenerate((err) => {
      if (err) return next(err);
      res.json({ replaced: sessionOf(req) !== prev, a: sessionOf(req).a ?? null, prevA: prev.a });
    });
  });
  app.get("/cookie", (req, res) => {
    const cookie = sessionOf(req).cookie;
    res.json({
      maxAge: cookie.maxAge,
      originalMaxAge: cookie.originalMaxAge,
      expires: cookie.expires,
      httpOnly: cookie.httpOnly,
      path: cookie.path,
    });
  });
  app.get("/extend", (req, res) => {
    sessionOf(req).a = 1;
    sessionOf(req).cookie.maxAge = 3_600_000;
    res.json({ ok: true });
  });
  app.get("/reload", (req, res, next) => {
    sessionOf(req).a = 2;
    sessionOf(req).reload((err) => (err ? next(err) : res.json({ a: sessionOf(req).a ?? null })));
  });
  app.get("/documents", (req, res) => {
    sessionOf(req).user = new UserDocument("u1", "alice");
    sessionOf(req).cart = { items: [{ price: new Money(500), qty: 1 }] };
    res.json({ ok: true });
  });
  app.get("/documents-read", (req, res) => {
    res.json({ user: sessionOf(req).user ?? null, cart: sessionOf(req).cart ?? null });
  });
  app.get("/save-reload", (req, res, next) => {
    sessionOf(req).a = 2;
    sessionOf(req).save((err) => {
      if (err) return next(err);
      sessionOf(req).reload((e) => (e ? next(e) : res.json({ a: sessionOf(req).a ?? null })));
    });
  });
  app.get("/regenerate-save-reload", (req, res, next) => {
    sessionOf(req).regenerate((err) => {
      if (err) return next(err);
      sessionOf(req).a = 3;
      sessionOf(req).save((e) => {
        if (e) return next(e);
        sessionOf(req).reload((r) => (r ? next(r) : res.json({ a: sessionOf(req).a ?? null })));
      });
    });
  });
  app.get("/save-after-response", (req, res) => {
    const session = sessionOf(req);
    res.json({ ok: true });
    // As a socket.io handler does with the handshake's session, long after its response.
    res.on("finish", () => {
      setTimeout(() => {
        session.late = 1;
        session.save((err) => {
          lateSaves.push(err === undefined || err === null ? "saved" : String(err));
        });
      }, 20);
    });
  });
  app.get("/late", (req, res) => {
    res.json({ late: sessionOf(req).late ?? null, saves: lateSaves });
  });
  app.get("/destroy", (req, res, next) => {
    sessionOf(req).destroy((err) =>
      err ? next(err) : res.json({ unset: req.session === undefined }),
    );
  });
  app.get("/unset", (req, res) => {
    setSession(req, null);
    res.json({ ok: true });
  });
  app.get("/id", (req, res) => {
    res.json({ id: req.sessionID });
  });
  app.get("/function", (req, res) => {
    sessionOf(req).fn = () => 1;
    res.json({ ok: true });
  });
  const errors: ErrorRequestHandler = (err, _req, res, _next) => {
    res.status(500).json({ error: String(err.name) });
  };
  app.use(errors);
  return app;
}

for (const variant of VARIANTS) {
  describe(`express shape, ${variant === "ours" ? "scs-ts/express-session" : "express-session"}`, {
    timeout: TEST_TIMEOUT,
  }, () => {
    let server: Started;
    before(async () => {
      server = await start(createServer(expressApp(variant)), "connect.sid");
    });
    after(() => server.close());

    test("methods are on the prototype, not enumerable; save is declared with its callback", async () => {
      const shape = (await server.browser().send("/shape")).json();
      assert.equal(shape.saveLength, 1);
      assert.deepEqual(shape.forIn, ["a"]);
      assert.deepEqual(shape.ownMethods, []);
      if (variant === "ours")
        assert.deepEqual(shape.keys, ["a"], "Object.keys lists data keys only");
    });

    test("regenerate replaces req.session with a new, empty object under a new token", async () => {
      const browser = server.browser();
      await browser.send("/set");
      const before = browser.token;
      assert.deepEqual((await browser.send("/regenerate")).json(), {
        replaced: true,
        a: null,
        prevA: 1,
      });
      assert.notEqual(browser.token, before);
    });

    test("cookie shows maxAge, expires and originalMaxAge; setting maxAge moves the expiry", async () => {
      const browser = server.browser();
      const cookie = (await browser.send("/cookie")).json();
      // express-session derives originalMaxAge from expires - now at creation, so a busy machine
      // sees a few ms less; ours keeps the configured value.
      if (variant === "ours") assert.equal(cookie.originalMaxAge, 60_000);
      else
        assert.ok(
          (cookie.originalMaxAge as number) > 55_000 && (cookie.originalMaxAge as number) <= 60_000,
        );
      assert.ok((cookie.maxAge as number) > 55_000 && (cookie.maxAge as number) <= 60_000);
      assert.ok(Math.abs(Date.parse(cookie.expires as string) - Date.now() - 60_000) < 5_000);
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.path, "/");
      const extended = await browser.send("/extend");
      const expires = /Expires=([^;]+)/i.exec(extended.setCookies[0] ?? "")?.[1];
      assert.ok(expires, extended.setCookies.join());
      assert.ok(Math.abs(Date.parse(expires) - Date.now() - 3_600_000) < 5_000);
    });

    test("reload(cb) drops what the request changed and reads the stored session", async () => {
      const browser = server.browser();
      await browser.send("/set?a=1");
      assert.deepEqual((await browser.send("/reload")).json(), { a: 1 });
      assert.deepEqual((await browser.send("/get")).json(), { a: 1 });
    });

    test("objects with toJSON (ORM documents, decimals) are stored as their JSON", async () => {
      const browser = server.browser();
      assert.equal((await browser.send("/documents")).status, 200);
      assert.deepEqual((await browser.send("/documents-read")).json(), STORED_DOCUMENTS);
    });

    test("save(cb) writes the store now: a reload(cb) after it reads what was saved", async () => {
      const browser = server.browser();
      await browser.send("/set?a=1");
      assert.deepEqual((await browser.send("/save-reload")).json(), { a: 2 });
      assert.deepEqual((await browser.send("/get")).json(), { a: 2 });
      assert.deepEqual((await browser.send("/regenerate-save-reload")).json(), { a: 3 });
      assert.deepEqual((await browser.send("/get")).json(), { a: 3 });
    });

    test("save(cb) after the response went out (a socket.io handler's) is kept", async () => {
      const browser = server.browser();
      await browser.send("/set?a=1");
      await browser.send("/save-after-response");
      const until = Date.now() + 3000;
      let late = (await browser.send("/late")).json();
      while ((late.saves as string[]).length === 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 20));
        late = (await browser.send("/late")).json();
      }
      assert.deepEqual((await browser.send("/late")).json(), { late: 1, saves: ["saved"] });
    });

    test("destroy(cb) unsets req.session and kills the token", async () => {
      const browser = server.browser();
      await browser.send("/set");
      const token = browser.token;
      assert.deepEqual((await browser.send("/destroy")).json(), { unset: true });
      assert.deepEqual((await browser.send("/get", { as: token })).json(), { a: null });
      if (variant === "ours") assert.equal(browser.token, undefined, "ours also clears the cookie");
    });

    test('with unset: "destroy", req.session = null destroys the session', async () => {
      const browser = server.browser();
      await browser.send("/set");
      const token = browser.token;
      await browser.send("/unset");
      assert.deepEqual((await browser.send("/get", { as: token })).json(), { a: null });
    });

    test("a fresh session has an id at once, stored and sent only once the session changes", async () => {
      const browser = server.browser();
      const { id } = (await browser.send("/id")).json();
      assert.equal(typeof id, "string");
      assert.equal(browser.token, undefined, "no cookie for an unchanged session");
    });

    if (variant === "ours") {
      test("a value the codec cannot store answers 500 and commits nothing (express-session's JSON would drop it)", async () => {
        const browser = server.browser();
        const res = await browser.send("/function");
        assert.equal(res.status, 500);
        assert.equal(browser.token, undefined);
      });
    }
  });
}

const fastifySessionOf = (request: FastifyRequest) =>
  (
    request as unknown as {
      session:
        | (ExpressShape & {
            get(k: string): unknown;
            set(k: string, v: unknown): void;
            sessionId: string;
            regenerate(keys?: string[]): Promise<void>;
            destroy(): Promise<void>;
          })
        | null;
    }
  ).session;

async function fastifyApp(variant: Variant): Promise<FastifyInstance> {
  const app = Fastify();
  if (variant === "ours") {
    await app.register(fastifyDropIn, {
      sessions: new SessionManager({ cookie: { name: "sessionId" } }),
    });
  } else {
    await app.register(fastifyCookie as never);
    await app.register(peerFastifySession as never, {
      secret: "a test secret that is at least 32 characters long",
      cookie: { secure: false },
      saveUninitialized: false,
    });
  }
  // A plugin that declares the dependency, as @fastify/session's users do.
  const dependent = async () => {};
  Object.assign(dependent, {
    [Symbol.for("skip-override")]: true,
    [Symbol.for("plugin-meta")]: { name: "dependent", dependencies: ["@fastify/session"] },
  });
  await app.register(dependent);
  app.get("/set", async (request) => {
    const session = fastifySessionOf(request);
    session?.set("a", 1);
    session?.set("b", 2);
    return { a: session?.a, keys: Object.keys(session ?? {}).filter((k) => k !== "cookie") };
  });
  app.get("/get", async (request) => {
    const session = fastifySessionOf(request);
    return { a: session?.get("a") ?? null, b: session?.b ?? null };
  });
  app.get("/remove", async (request) => {
    fastifySessionOf(request)?.set("a", undefined);
    return { ok: true };
  });
  app.get("/regenerate", async (request) => {
    const prev = fastifySessionOf(request);
    await prev?.regenerate(["b"]);
    const next = fastifySessionOf(request);
    return { replaced: next !== prev, a: next?.get("a") ?? null, b: next?.get("b") ?? null };
  });
  app.get("/destroy", async (request) => {
    await fastifySessionOf(request)?.destroy();
    return { session: fastifySessionOf(request) };
  });
  app.get("/documents", async (request) => {
    fastifySessionOf(request)?.set("user", new UserDocument("u1", "alice"));
    fastifySessionOf(request)?.set("cart", { items: [{ price: new Money(500), qty: 1 }] });
    return { ok: true };
  });
  app.get("/documents-read", async (request) => {
    const session = fastifySessionOf(request);
    return { user: session?.get("user") ?? null, cart: session?.get("cart") ?? null };
  });
  app.get("/reload-new", async (request) => {
    await (fastifySessionOf(request) as unknown as { reload(): Promise<void> }).reload();
    return { a: fastifySessionOf(request)?.get("a") ?? null };
  });
  app.get("/save-reload", async (request) => {
    const session = fastifySessionOf(request) as unknown as {
      set(k: string, v: unknown): void;
      save(): Promise<void>;
      reload(): Promise<void>;
      isModified(): boolean;
    };
    session.set("a", 5);
    await session.save();
    const modified = session.isModified();
    await session.reload();
    return { a: fastifySessionOf(request)?.get("a") ?? null, modified };
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  return app;
}

for (const variant of VARIANTS) {
  describe(`fastify shape, ${variant === "ours" ? "scs-ts/fastify-session" : "@fastify/session"}`, {
    timeout: TEST_TIMEOUT,
  }, () => {
    let app: FastifyInstance;
    let browser: () => Browser;
    before(async () => {
      app = await fastifyApp(variant);
      const address = app.server.address();
      assert.ok(address !== null && typeof address === "object");
      browser = () => new Browser(`http://127.0.0.1:${address.port}`, "sessionId");
    });
    after(() => app.close());

    test('the plugin is registered as "@fastify/session"', () => {
      assert.equal(app.hasPlugin("@fastify/session"), true);
    });

    test("get/set and property access are the same data; set(key, undefined) removes", async () => {
      const b = browser();
      assert.deepEqual((await b.send("/set")).json(), { a: 1, keys: ["a", "b"] });
      assert.deepEqual((await b.send("/get")).json(), { a: 1, b: 2 });
      await b.send("/remove");
      assert.deepEqual((await b.send("/get")).json(), { a: null, b: 2 });
    });

    test("regenerate(keys) gives a new object and token, keeping only those keys", async () => {
      const b = browser();
      await b.send("/set");
      const before = b.token;
      assert.deepEqual((await b.send("/regenerate")).json(), { replaced: true, a: null, b: 2 });
      assert.notEqual(b.token, before);
      assert.deepEqual((await b.send("/get", { as: before })).json(), { a: null, b: null });
    });

    test("objects with toJSON (ORM documents, decimals) are stored as their JSON", async () => {
      const b = browser();
      assert.equal((await b.send("/documents")).status, 200);
      assert.deepEqual((await b.send("/documents-read")).json(), STORED_DOCUMENTS);
    });

    test("reload() of a session never stored resolves with it empty, and sends no cookie", async () => {
      const b = browser();
      const res = await b.send("/reload-new");
      assert.deepEqual(
        { status: res.status, body: res.json() },
        { status: 200, body: { a: null } },
      );
      assert.equal(b.token, undefined);
    });

    test("await save() writes the store now: not modified after it, and a reload() reads it back", async () => {
      const b = browser();
      await b.send("/set");
      assert.deepEqual((await b.send("/save-reload")).json(), { a: 5, modified: false });
      assert.deepEqual((await b.send("/get")).json(), { a: 5, b: 2 });
    });

    test("destroy() sets request.session to null and kills the token", async () => {
      const b = browser();
      await b.send("/set");
      const token = b.token;
      assert.deepEqual((await b.send("/destroy")).json(), { session: null });
      assert.deepEqual((await b.send("/get", { as: token })).json(), { a: null, b: null });
    });
  });
}
