/**
 * scs-ts/express-session in express-session's place, with the libraries that talk to
 * express-session's session object: passport + passport-local, connect-flash, csrf-sync. Every
 * scenario runs on Express 5 and 4, with our entry and with express-session itself.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";
import flash from "connect-flash";
import { csrfSync } from "csrf-sync";
import express, { type ErrorRequestHandler, type Request } from "express";
import type { Session as PeerSession, SessionData } from "express-session";
import passport from "passport";
import { Strategy as LocalStrategy } from "passport-local";
import dropIn from "../../src/adapters/express-session.ts";
import { SessionManager } from "../../src/manager.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import {
  type Browser,
  type Started,
  start,
  TEST_TIMEOUT,
  VARIANTS,
  type Variant,
} from "./harness.ts";

const require = createRequire(import.meta.url);
const express4 = require("express4") as typeof express;
const expressSession = require("express-session") as typeof import("express-session");

/** req.session as express-session types it (this program types it as scs-ts/express's). */
type PeerShape = PeerSession & Partial<SessionData> & Record<string, unknown>;
const sessionOf = (req: Request) => (req as unknown as { session: PeerShape }).session;

interface User {
  id: string;
  name: string;
  password: string;
}
const USERS: User[] = [{ id: "u1", name: "alice", password: "secret" }];

/** The application: written once, against express-session's API, whichever session runs it. */
function build(framework: typeof express, variant: Variant, sessions: SessionManager) {
  const app = framework();
  app.use(framework.json());
  if (variant === "ours") app.use(dropIn({ sessions }));
  else
    app.use(expressSession({ secret: "a test secret", resave: false, saveUninitialized: false }));

  const auth = new passport.Passport();
  auth.use(
    new LocalStrategy((username, password, done) => {
      const user = USERS.find((u) => u.name === username && u.password === password);
      done(null, user ?? false);
    }),
  );
  auth.serializeUser((user, done) => done(null, (user as User).id));
  auth.deserializeUser((id: string, done) => done(null, USERS.find((u) => u.id === id) ?? false));
  app.use(auth.initialize());
  app.use(auth.session());
  app.use(flash());
  const csrf = csrfSync();

  app.get("/pre", (req, res) => {
    sessionOf(req).pre = "kept";
    res.json({ ok: true });
  });
  app.post("/login", auth.authenticate("local", { keepSessionInfo: true }), (req, res) => {
    res.json({ user: (req.user as User).name });
  });
  app.get("/me", (req, res) => {
    const session = sessionOf(req);
    res.json({
      user: (req.user as User | undefined)?.name ?? null,
      pre: session.pre ?? null,
      keys: Object.keys(session).filter((k) => k !== "cookie"),
    });
  });
  app.post("/logout", (req, res, next) => {
    req.logout((err) => (err ? next(err) : res.json({ ok: true })));
  });
  app.get("/flash/set", (req, res) => {
    req.flash("info", "saved!");
    res.json({ ok: true });
  });
  app.get("/flash/show", (req, res) => {
    res.json({ info: req.flash("info") });
  });
  app.get("/csrf", (req, res) => {
    res.json({ token: csrf.generateToken(req) });
  });
  app.post("/form", csrf.csrfSynchronisedProtection, (_req, res) => {
    res.json({ ok: true });
  });
  app.get("/count", (req, res, next) => {
    const session = sessionOf(req);
    session.count = ((session.count as number | undefined) ?? 0) + 1;
    session.save((err) => (err ? next(err) : res.json({ count: session.count })));
  });
  app.get("/forget", (req, res) => {
    delete sessionOf(req).count;
    res.json({ ok: true });
  });
  app.get("/id", (req, res) => {
    res.json({ sessionID: req.sessionID, id: sessionOf(req).id });
  });
  const errors: ErrorRequestHandler = (err, _req, res, _next) => {
    res.status(err.statusCode ?? err.status ?? 500).json({ error: String(err.message) });
  };
  app.use(errors);
  return app;
}

for (const [label, framework] of [
  ["Express 5", express],
  ["Express 4", express4],
] as const) {
  for (const variant of VARIANTS) {
    describe(`${label}, ${variant === "ours" ? "scs-ts/express-session" : "express-session"}`, {
      timeout: TEST_TIMEOUT,
    }, () => {
      let server: Started;
      const cookieName = variant === "ours" ? "session" : "connect.sid";
      before(async () => {
        const sessions = new SessionManager({ store: new MemStore({ cleanupInterval: 0 }) });
        server = await start(createServer(build(framework, variant, sessions)), cookieName);
      });
      after(() => server.close());

      async function signIn(browser: Browser): Promise<{ pre: string; signedIn: string }> {
        await browser.send("/pre");
        const pre = browser.token;
        assert.ok(pre, "the pre-login visit sets a session cookie");
        const login = await browser.send("/login", {
          json: { username: "alice", password: "secret" },
        });
        assert.equal(login.status, 200, login.body);
        assert.deepEqual(login.json(), { user: "alice" });
        const signedIn = browser.token;
        assert.ok(signedIn);
        return { pre, signedIn };
      }

      test("passport-local sign-in gives a new token, keeps a pre-login key (keepSessionInfo) and kills the pre-login token", async () => {
        const browser = server.browser();
        const { pre, signedIn } = await signIn(browser);
        assert.notEqual(signedIn, pre);
        const me = await browser.send("/me");
        assert.equal(me.json().user, "alice", "req.user on the next request");
        assert.equal(me.json().pre, "kept");
        const old = await browser.send("/me", { as: pre });
        assert.deepEqual(
          old.json(),
          { user: null, pre: null, keys: [] },
          "the pre-login token is dead",
        );
      });

      test("req.logout() signs out with a new token and kills the signed-in one", async () => {
        const browser = server.browser();
        const { signedIn } = await signIn(browser);
        const out = await browser.send("/logout", { method: "POST" });
        assert.equal(out.status, 200, out.body);
        assert.notEqual(browser.token, signedIn);
        assert.equal((await browser.send("/me")).json().user, null);
        const old = await browser.send("/me", { as: signedIn });
        assert.equal(old.json().user, null, "the signed-in token is dead");
      });

      test("a wrong password is refused and leaves no session behind", async () => {
        const browser = server.browser();
        const login = await browser.send("/login", {
          json: { username: "alice", password: "nope" },
        });
        assert.equal(login.status, 401);
        assert.equal(browser.token, undefined);
      });

      test("connect-flash: a message shows once", async () => {
        const browser = server.browser();
        await browser.send("/flash/set");
        assert.deepEqual((await browser.send("/flash/show")).json(), { info: ["saved!"] });
        assert.deepEqual((await browser.send("/flash/show")).json(), { info: [] });
      });

      test("csrf-sync: the session's token is accepted, a missing one refused with 403", async () => {
        const browser = server.browser();
        const { token } = (await browser.send("/csrf")).json() as { token: string };
        const ok = await browser.send("/form", { json: {}, headers: { "x-csrf-token": token } });
        assert.equal(ok.status, 200, ok.body);
        const refused = await browser.send("/form", { json: {} });
        assert.equal(refused.status, 403);
        const wrong = await browser.send("/form", { json: {}, headers: { "x-csrf-token": "x" } });
        assert.equal(wrong.status, 403);
      });

      test("save(cb) keeps the data for the next request, delete req.session.key removes it", async () => {
        const browser = server.browser();
        assert.deepEqual((await browser.send("/count")).json(), { count: 1 });
        assert.deepEqual((await browser.send("/count")).json(), { count: 2 });
        await browser.send("/forget");
        assert.deepEqual((await browser.send("/me")).json().keys, []);
        assert.deepEqual((await browser.send("/count")).json(), { count: 1 });
      });

      test("req.sessionID is req.session.id and stays the same across requests", async () => {
        const browser = server.browser();
        await browser.send("/count");
        const first = (await browser.send("/id")).json();
        const second = (await browser.send("/id")).json();
        assert.equal(first.sessionID, first.id);
        assert.equal(typeof first.sessionID, "string");
        assert.ok((first.sessionID as string).length >= 24);
        assert.deepEqual(second, first);
      });
    });
  }
}
