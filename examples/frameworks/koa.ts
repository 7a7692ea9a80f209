/**
 * scs-ts with Koa (2 or 3): a visit counter and sign-in/sign-out.
 * Run it: `npx tsx examples/frameworks/koa.ts`, then open http://127.0.0.1:3000.
 */
import { fileURLToPath } from "node:url";
import Koa from "koa";
import { koaSession } from "../../src/adapters/koa.ts";
import { SessionManager } from "../../src/index.ts";

type Data = { visits: number; userId: string };

// Types ctx.session for the whole app.
declare module "../../src/adapters/koa.ts" {
  interface KoaSessionData extends Data {}
}

export const sessions = new SessionManager<Data>({ lifetime: 12 * 3_600_000 });
export const app = new Koa();
app.use(koaSession(sessions));

app.use(async (ctx) => {
  const session = ctx.session;
  if (ctx.method === "GET" && ctx.path === "/") {
    const visits = (session.get("visits") ?? 0) + 1;
    session.put("visits", visits);
    ctx.body = `visits: ${visits}`;
  } else if (ctx.method === "POST" && ctx.path === "/login") {
    await session.renewToken(); // new privileges, new token
    session.put("userId", "alice");
    ctx.body = "signed in";
  } else if (ctx.method === "GET" && ctx.path === "/me") {
    ctx.body = session.get("userId") ?? "anonymous";
  } else if (ctx.method === "POST" && ctx.path === "/logout") {
    await session.destroy();
    ctx.body = "signed out";
  }
});

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  app.listen(3000, "127.0.0.1", () => console.log("http://127.0.0.1:3000"));
}
