/**
 * scs-ts with Express (4 or 5): a visit counter and sign-in/sign-out.
 * Run it: `npx tsx examples/frameworks/express.ts`, then open http://127.0.0.1:3000.
 */
import { fileURLToPath } from "node:url";
import express from "express";
import { expressSession } from "../../src/adapters/express.ts";
import { SessionManager } from "../../src/index.ts";

type Data = { visits: number; userId: string };

// Types req.session for the whole app.
declare module "../../src/adapters/express.ts" {
  interface ExpressSessionData extends Data {}
}

export const sessions = new SessionManager<Data>({ lifetime: 12 * 3_600_000 });
export const app = express();
app.use(expressSession(sessions));

app.get("/", (req, res) => {
  const visits = (req.session.get("visits") ?? 0) + 1;
  req.session.put("visits", visits);
  res.type("text").send(`visits: ${visits}`);
});

app.post("/login", async (req, res) => {
  await req.session.renewToken(); // new privileges, new token
  req.session.put("userId", "alice");
  res.type("text").send("signed in");
});

app.get("/me", (req, res) => {
  res.type("text").send(req.session.get("userId") ?? "anonymous");
});

app.post("/logout", async (req, res) => {
  await req.session.destroy();
  res.type("text").send("signed out");
});

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  app.listen(3000, "127.0.0.1", () => console.log("http://127.0.0.1:3000"));
}
