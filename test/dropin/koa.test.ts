/**
 * scs-ts/koa-session in koa-session's place, with koa-passport (ctx.login / ctx.logout).
 * Every scenario runs on Koa 3 and 2, with our entry and with koa-session itself (on an
 * external store, so its tokens are server-side as ours are).
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";
import Koa, { type Context, type Next } from "koa";
import koaPassport from "koa-passport";
import dropIn from "../../src/adapters/koa-session.ts";
import { SessionManager } from "../../src/manager.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { mapStore, type Started, start, TEST_TIMEOUT, VARIANTS, type Variant } from "./harness.ts";

const require = createRequire(import.meta.url);
const Koa2 = require("koa2") as typeof Koa;
const koaSession = (
  require("koa-session") as { default: (opts: object, app: object) => Koa.Middleware }
).default;

interface User {
  id: string;
  name: string;
}
const ALICE: User = { id: "u1", name: "alice" };

/** ctx.session as the application sees it (koa-session's shape). */
type SessionShape = Record<string, unknown> & {
  isNew: boolean;
  populated: boolean;
  save(cb?: (err?: unknown) => void): Promise<void> | undefined;
};
const sessionOf = (ctx: Context) => (ctx as unknown as { session: SessionShape | null }).session;

async function readJson(ctx: Context, next: Next): Promise<void> {
  if (ctx.method === "POST" && ctx.get("content-type") === "application/json") {
    let body = "";
    for await (const chunk of ctx.req) body += chunk;
    (ctx.request as { body?: unknown }).body = JSON.parse(body || "{}");
  }
  await next();
}

/** The application, written once against koa-session's API. */
function build(Framework: typeof Koa, variant: Variant, sessions: SessionManager): Koa {
  const app = new Framework();
  app.keys = ["a test key"];
  app.use(readJson);
  if (variant === "ours") app.use(dropIn({ sessions }, app));
  else app.use(koaSession({ store: mapStore() }, app));
  const auth = new koaPassport.KoaPassport();
  auth.serializeUser((user, done) => done(null, (user as User).id));
  auth.deserializeUser((id: string, done) => done(null, id === ALICE.id ? ALICE : false));
  app.use(auth.initialize());
  app.use(auth.session());
  app.use(async (ctx) => {
    const session = sessionOf(ctx);
    switch (ctx.path) {
      case "/pre":
        if (session) session.pre = "kept";
        ctx.body = { ok: true };
        return;
      case "/login": {
        const body = (ctx.request as { body?: { username?: string } }).body;
        if (body?.username !== ALICE.name) ctx.throw(401);
        await ctx.login(ALICE);
        ctx.body = { user: (ctx.state.user as User).name };
        return;
      }
      case "/logout":
        await ctx.logout();
        ctx.body = { ok: true };
        return;
      case "/me":
        ctx.body = {
          user: (ctx.state.user as User | undefined)?.name ?? null,
          pre: session?.pre ?? null,
          isNew: session?.isNew ?? null,
          populated: session?.populated ?? null,
        };
        return;
      case "/save":
        if (session) session.count = ((session.count as number | undefined) ?? 0) + 1;
        await session?.save();
        ctx.body = { count: session?.count ?? null };
        return;
      case "/unset":
        (ctx as unknown as { session: null }).session = null;
        ctx.body = { session: sessionOf(ctx) };
        return;
      default:
        ctx.status = 404;
    }
  });
  return app;
}

for (const [label, Framework] of [
  ["Koa 3", Koa],
  ["Koa 2", Koa2],
] as const) {
  for (const variant of VARIANTS) {
    describe(`${label}, ${variant === "ours" ? "scs-ts/koa-session" : "koa-session"}`, {
      timeout: TEST_TIMEOUT,
    }, () => {
      let server: Started;
      before(async () => {
        const sessions = new SessionManager({ store: new MemStore({ cleanupInterval: 0 }) });
        const app = build(Framework, variant, sessions);
        server = await start(
          createServer(app.callback()),
          variant === "ours" ? "session" : "koa.sess",
        );
      });
      after(() => server.close());

      test("ctx.login gives a new token, keeps the session's data and kills the pre-login token", async () => {
        const browser = server.browser();
        await browser.send("/pre");
        const pre = browser.token;
        assert.ok(pre);
        const login = await browser.send("/login", { json: { username: "alice" } });
        assert.equal(login.status, 200, login.body);
        const signedIn = browser.token;
        assert.ok(signedIn);
        assert.notEqual(signedIn, pre);
        const me = (await browser.send("/me")).json();
        assert.equal(me.user, "alice", "ctx.state.user on the next request");
        assert.equal(me.pre, "kept");
        const old = (await browser.send("/me", { as: pre })).json();
        assert.equal(old.user, null);
        assert.equal(old.pre, null, "the pre-login token is dead");
      });

      test("ctx.logout signs out with a new token and kills the signed-in one", async () => {
        const browser = server.browser();
        await browser.send("/login", { json: { username: "alice" } });
        const signedIn = browser.token;
        assert.ok(signedIn);
        const out = await browser.send("/logout", { method: "POST" });
        assert.equal(out.status, 200, out.body);
        assert.notEqual(browser.token, signedIn);
        assert.equal((await browser.send("/me")).json().user, null);
        assert.equal((await browser.send("/me", { as: signedIn })).json().user, null);
      });

      test("isNew and populated tell a fresh session from a stored one; save() keeps the data", async () => {
        const browser = server.browser();
        const first = (await browser.send("/me")).json();
        assert.equal(first.isNew, true);
        assert.equal(first.populated, false);
        assert.deepEqual((await browser.send("/save")).json(), { count: 1 });
        const second = (await browser.send("/me")).json();
        assert.equal(second.isNew, false);
        assert.equal(second.populated, true);
        assert.deepEqual((await browser.send("/save")).json(), { count: 2 });
      });

      test("ctx.session = null destroys the session: the cookie is cleared and the token dead", async () => {
        const browser = server.browser();
        await browser.send("/pre");
        const token = browser.token;
        assert.ok(token);
        const unset = await browser.send("/unset");
        assert.deepEqual(unset.json(), { session: null });
        assert.equal(browser.token, undefined, "the cookie is cleared");
        assert.equal((await browser.send("/me", { as: token })).json().pre, null);
      });
    });
  }
}
