// Type tests for the Hono adapter, checked by `tsc` (never run): every `@ts-expect-error`
// line must stay an error, or the typecheck fails.
import { Hono } from "hono";
import { type HonoSessionEnv, honoSession } from "../../src/adapters/hono.ts";
import { SessionManager } from "../../src/manager.ts";

type Shop = { userId: string; cart: string[] };
const sessions = new SessionManager<Shop>();

// The app typed with the session's environment.
const app = new Hono<HonoSessionEnv<Shop>>();
app.use(honoSession(sessions));
app.get("/", (c) => {
  const userId: string | undefined = c.get("session").get("userId");
  c.get("session").put("cart", ["book"]);
  // @ts-expect-error cart is string[]
  c.get("session").put("cart", 3);
  // @ts-expect-error not a declared key
  c.get("session").get("nope");
  return c.text(userId ?? "");
});

// Chained: the middleware's variables flow into the routes without an explicit env.
new Hono().use(honoSession(sessions)).get("/", (c) => {
  c.get("session").put("userId", "u1");
  // @ts-expect-error cart is string[]
  c.get("session").put("cart", 3);
  return c.text("ok");
});

// @ts-expect-error the header option is a header name
honoSession(sessions, { header: 3 });
// @ts-expect-error another app's variables do not include the session
new Hono().get("/", (c) => c.text(String(c.get("session"))));
