// Type tests for the Koa adapter, checked by `tsc` (never run): every `@ts-expect-error`
// line must stay an error, or the typecheck fails.
import Koa from "koa";
import { koaSession } from "../../src/adapters/koa.ts";
import { SessionManager } from "../../src/manager.ts";

declare module "../../src/adapters/koa.ts" {
  interface KoaSessionData {
    userId: string;
    cart: string[];
  }
}

const sessions = new SessionManager<{ userId: string; cart: string[] }>();
const app = new Koa();
app.use(koaSession(sessions));
// @ts-expect-error the header option is a header name
koaSession(sessions, { header: 3 });

app.use(async (ctx) => {
  const userId: string | undefined = ctx.session.get("userId");
  ctx.session.put("cart", ["book"]);
  // @ts-expect-error cart is string[]
  ctx.session.put("cart", 3);
  // @ts-expect-error not a declared key
  ctx.session.get("nope");
  // @ts-expect-error cart is string[]
  sessions.from(ctx).put("cart", 3);
  await ctx.session.renewToken();
  ctx.body = userId;
});
