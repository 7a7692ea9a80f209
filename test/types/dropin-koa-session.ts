// @ts-nocheck: checked by test/dropin/types.test.ts in a program of its own, against the built
// dist/*.d.ts as an application sees them (this repository's one program also has scs-ts/koa's
// ctx.session). The test drops this line; every @ts-expect-error must stay an error.
import Koa from "koa";
import koaPassport from "koa-passport";
import { SessionManager } from "scs-ts";
import session, { type KoaSession } from "scs-ts/koa-session";

declare module "scs-ts/koa-session" {
  interface KoaDropInData {
    views: number;
  }
}

const app = new Koa();
app.use(session({ sessions: new SessionManager() }, app));
app.use(session(app, { key: "sid", maxAge: "session", rolling: false, secure: true }));
app.use(session({ maxAge: 60_000, signed: true, autoCommit: true, renew: false }));
// @ts-expect-error maxAge is milliseconds or "session"
session({ maxAge: "forever" });
app.use(koaPassport.initialize());
app.use(koaPassport.session());

app.use(async (ctx) => {
  const views: number | undefined = ctx.session.views;
  ctx.session.views = (views ?? 0) + 1;
  // @ts-expect-error views is a number
  ctx.session.views = "many";
  const isNew: boolean = ctx.session.isNew;
  const populated: boolean = ctx.session.populated;
  const maxAge: number | "session" = ctx.session.maxAge;
  ctx.session.maxAge = 1000;
  await ctx.session.regenerate();
  await ctx.session.save();
  await ctx.session.manuallyCommit();
  const whole: KoaSession = ctx.session;
  await ctx.login({ id: "u1" });
  await ctx.logout();
  ctx.session = { views: 1 };
  ctx.session = null;
  ctx.body = `${isNew} ${populated} ${maxAge} ${whole.isNew}`;
});
