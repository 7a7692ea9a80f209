/**
 * scs-ts with Fastify 5: a visit counter and sign-in/sign-out.
 * Run it: `npx tsx examples/frameworks/fastify.ts`, then open http://127.0.0.1:3000.
 */
import { fileURLToPath } from "node:url";
import Fastify from "fastify";
import { fastifySession } from "../../src/adapters/fastify.ts";
import { SessionManager } from "../../src/index.ts";

type Data = { visits: number; userId: string };

// Types request.session for the whole app.
declare module "../../src/adapters/fastify.ts" {
  interface FastifySessionData extends Data {}
}

export const sessions = new SessionManager<Data>({ lifetime: 12 * 3_600_000 });
export const app = Fastify();
await app.register(fastifySession, { sessions });

app.get("/", async (request) => {
  const visits = (request.session.get("visits") ?? 0) + 1;
  request.session.put("visits", visits);
  return `visits: ${visits}`;
});

app.post("/login", async (request) => {
  await request.session.renewToken(); // new privileges, new token
  request.session.put("userId", "alice");
  return "signed in";
});

app.get("/me", async (request) => request.session.get("userId") ?? "anonymous");

app.post("/logout", async (request) => {
  await request.session.destroy();
  return "signed out";
});

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await app.listen({ port: 3000, host: "127.0.0.1" });
  console.log("http://127.0.0.1:3000");
}
