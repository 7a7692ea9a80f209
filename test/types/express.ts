// Type tests for the Express adapter, checked by `tsc` (never run): every `@ts-expect-error`
// line must stay an error, or the typecheck fails.
import express from "express";
import { expressSession } from "../../src/adapters/express.ts";
import { SessionManager } from "../../src/manager.ts";

declare module "../../src/adapters/express.ts" {
  interface ExpressSessionData {
    userId: string;
    cart: string[];
  }
}

const sessions = new SessionManager<{ userId: string; cart: string[] }>();
const app = express();
app.use(expressSession(sessions));
app.use(expressSession(sessions, { header: "X-Session" }));
// @ts-expect-error the header option is a header name
expressSession(sessions, { header: 3 });
// @ts-expect-error the first argument is a SessionManager
expressSession({});

app.get("/", (req, res) => {
  const userId: string | undefined = req.session.get("userId");
  req.session.put("cart", ["book"]);
  // @ts-expect-error cart is string[]
  req.session.put("cart", 3);
  // @ts-expect-error not a declared key
  req.session.get("nope");
  // @ts-expect-error get("userId") may be undefined
  const sure: string = req.session.get("userId");
  const fromManager: string | undefined = sessions.from(req).get("userId");
  // @ts-expect-error cart is string[]
  sessions.from(req).put("cart", 3);
  res.send(`${userId} ${sure} ${fromManager}`);
});
