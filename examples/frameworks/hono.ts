/**
 * scs-ts with Hono 4 on Node (@hono/node-server): a visit counter and sign-in/sign-out.
 * Run it: `npx tsx examples/frameworks/hono.ts`, then open http://127.0.0.1:3000.
 */
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { type HonoSessionEnv, honoSession } from "../../src/adapters/hono.ts";
import { SessionManager } from "../../src/index.ts";

type Data = { visits: number; userId: string };

export const sessions = new SessionManager<Data>({ lifetime: 12 * 3_600_000 });
// c.get("session") is typed Session<Data> through the app's variables.
export const app = new Hono<HonoSessionEnv<Data>>();
app.use(honoSession(sessions));

app.get("/", (c) => {
  const visits = (c.get("session").get("visits") ?? 0) + 1;
  c.get("session").put("visits", visits);
  return c.text(`visits: ${visits}`);
});

app.post("/login", async (c) => {
  await c.get("session").renewToken(); // new privileges, new token
  c.get("session").put("userId", "alice");
  return c.text("signed in");
});

app.get("/me", (c) => c.text(c.get("session").get("userId") ?? "anonymous"));

app.post("/logout", async (c) => {
  await c.get("session").destroy();
  return c.text("signed out");
});

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  serve({ fetch: app.fetch, port: 3000, hostname: "127.0.0.1" });
  console.log("http://127.0.0.1:3000");
}
