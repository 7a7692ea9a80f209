/**
 * scs-ts/fastify-session in the place of @fastify/cookie + @fastify/session, with the plugins
 * that talk to @fastify/session's session object: @fastify/passport (request.logIn / logOut,
 * with passport-local, and the @fastify/flash messages it brings) and @fastify/csrf-protection
 * (sessionPlugin "@fastify/session"). Every scenario runs with our plugin and with the peers.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";
import csrfProtection from "@fastify/csrf-protection";
import fastifyPassport from "@fastify/passport";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import { Strategy as LocalStrategy } from "passport-local";
import dropIn from "../../src/adapters/fastify-session.ts";
import { SessionManager } from "../../src/manager.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { Browser, TEST_TIMEOUT, VARIANTS, type Variant } from "./harness.ts";

// The peers are loaded untyped: @fastify/session's types redeclare request.session, which this
// program already types as scs-ts/fastify's.
const require = createRequire(import.meta.url);
const fastifyCookie = require("@fastify/cookie") as (...args: unknown[]) => void;
const peerSession = require("@fastify/session") as (...args: unknown[]) => void;

interface User {
  id: string;
  name: string;
}
const ALICE: User = { id: "u1", name: "alice" };

/** request.session as the application sees it (@fastify/session's shape). */
interface SessionShape {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  sessionId: string;
}
const sessionOf = (request: FastifyRequest) =>
  (request as unknown as { session: SessionShape }).session;

/** The application, written once against @fastify/session's API. */
async function build(variant: Variant, sessions: SessionManager): Promise<FastifyInstance> {
  const app = Fastify();
  if (variant === "ours") {
    await app.register(dropIn, { sessions });
  } else {
    await app.register(fastifyCookie as never);
    await app.register(peerSession as never, {
      secret: "a test secret that is at least 32 characters long",
      cookie: { secure: false },
      saveUninitialized: false,
    });
  }
  const auth = new fastifyPassport.Authenticator();
  await app.register(auth.initialize());
  await app.register(auth.secureSession());
  auth.use(
    "local",
    new LocalStrategy((username, password, done) => {
      const ok = username === ALICE.name && password === "secret";
      done(null, ok ? ALICE : false, ok ? undefined : { message: "Invalid credentials" });
    }),
  );
  auth.registerUserSerializer(async (user: User) => user.id);
  auth.registerUserDeserializer(async (id: string) => (id === ALICE.id ? ALICE : null));
  await app.register(csrfProtection, { sessionPlugin: "@fastify/session" });

  app.get("/pre", async (request) => {
    sessionOf(request).set("pre", "kept");
    return { ok: true };
  });
  app.post(
    "/login",
    {
      preValidation: auth.authenticate("local", {
        keepSessionInfo: true,
        failureFlash: "Invalid credentials",
        failureRedirect: "/failed",
      }),
    },
    async (request) => ({ user: (request.user as User).name }),
  );
  app.get("/failed", async (_request, reply) => ({ error: reply.flash("error") }));
  app.post("/logout", async (request) => {
    await request.logOut();
    return { ok: true };
  });
  app.get("/me", async (request) => ({
    user: (request.user as User | undefined | null)?.name ?? null,
    pre: sessionOf(request).get("pre") ?? null,
  }));
  app.get("/flash/set", async (request) => {
    request.flash("info", "saved!");
    return { ok: true };
  });
  app.get("/flash/show", async (_request, reply) => ({ info: reply.flash("info") }));
  app.get("/csrf", async (_request, reply) => ({ token: reply.generateCsrf() }));
  app.post("/form", { onRequest: app.csrfProtection }, async () => ({ ok: true }));
  await app.listen({ port: 0, host: "127.0.0.1" });
  return app;
}

for (const variant of VARIANTS) {
  describe(`Fastify 5, ${variant === "ours" ? "scs-ts/fastify-session" : "@fastify/session"}`, {
    timeout: TEST_TIMEOUT,
  }, () => {
    let app: FastifyInstance;
    let url: string;
    const cookieName = variant === "ours" ? "session" : "sessionId";
    before(async () => {
      app = await build(
        variant,
        new SessionManager({ store: new MemStore({ cleanupInterval: 0 }) }),
      );
      const address = app.server.address();
      assert.ok(address !== null && typeof address === "object");
      url = `http://127.0.0.1:${address.port}`;
    });
    after(() => app.close());

    async function signIn(browser: Browser): Promise<{ pre: string; signedIn: string }> {
      await browser.send("/pre");
      const pre = browser.token;
      assert.ok(pre);
      const login = await browser.send("/login", {
        json: { username: "alice", password: "secret" },
      });
      assert.equal(login.status, 200, login.body);
      assert.deepEqual(login.json(), { user: "alice" });
      const signedIn = browser.token;
      assert.ok(signedIn);
      return { pre, signedIn };
    }

    test("request.logIn gives a new token, keeps a pre-login key (keepSessionInfo) and kills the pre-login token", async () => {
      const browser = new Browser(url, cookieName);
      const { pre, signedIn } = await signIn(browser);
      assert.notEqual(signedIn, pre);
      assert.deepEqual((await browser.send("/me")).json(), { user: "alice", pre: "kept" });
      assert.deepEqual((await browser.send("/me", { as: pre })).json(), { user: null, pre: null });
    });

    test("request.logOut signs out with a new token and kills the signed-in one", async () => {
      const browser = new Browser(url, cookieName);
      const { signedIn } = await signIn(browser);
      const out = await browser.send("/logout", { method: "POST" });
      assert.equal(out.status, 200, out.body);
      assert.notEqual(browser.token, signedIn);
      assert.equal((await browser.send("/me")).json().user, null);
      assert.equal((await browser.send("/me", { as: signedIn })).json().user, null);
    });

    test("a failed sign-in flashes passport's message once (failureFlash)", async () => {
      const browser = new Browser(url, cookieName);
      const login = await browser.send("/login", { json: { username: "alice", password: "x" } });
      assert.equal(login.status, 302);
      assert.deepEqual((await browser.send("/failed")).json(), { error: ["Invalid credentials"] });
      assert.deepEqual((await browser.send("/failed")).json(), { error: [] });
    });

    test("@fastify/flash: a message shows once", async () => {
      const browser = new Browser(url, cookieName);
      await browser.send("/flash/set");
      assert.deepEqual((await browser.send("/flash/show")).json(), { info: ["saved!"] });
      assert.deepEqual((await browser.send("/flash/show")).json(), { info: [] });
    });

    test("@fastify/csrf-protection (sessionPlugin @fastify/session): a token is accepted, a missing one refused with 403", async () => {
      const browser = new Browser(url, cookieName);
      const { token } = (await browser.send("/csrf")).json() as { token: string };
      const ok = await browser.send("/form", { json: {}, headers: { "csrf-token": token } });
      assert.equal(ok.status, 200, ok.body);
      assert.equal((await browser.send("/form", { json: {} })).status, 403);
      const wrong = await browser.send("/form", { json: {}, headers: { "csrf-token": "nope" } });
      assert.equal(wrong.status, 403);
    });
  });
}
