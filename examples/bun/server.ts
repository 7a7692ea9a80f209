/**
 * scs-ts on Bun: `fetchSession` served by `Bun.serve` — a visit counter and sign-in/sign-out.
 * Run it: `bun examples/bun/server.ts`, then open http://127.0.0.1:3000 (PORT to change it).
 * In your app the imports are "scs-ts" and "scs-ts/fetch".
 */

import { fetchSession } from "../../src/fetch.ts";
import { SessionManager } from "../../src/index.ts";

// Bun's global, as @types/bun declares it (with @types/bun installed, drop this line).
declare const Bun: {
  serve(options: { port: number; hostname: string; fetch: typeof handle }): { port: number };
};

type Data = { visits: number; userId: string };

export const sessions = new SessionManager<Data>({ lifetime: 12 * 3_600_000 });

export const handle = fetchSession(sessions, async (request, session) => {
  const { pathname } = new URL(request.url);
  if (pathname === "/") {
    const visits = (session.get("visits") ?? 0) + 1;
    session.put("visits", visits);
    return new Response(`visits: ${visits}`);
  }
  if (pathname === "/login" && request.method === "POST") {
    await session.renewToken(); // new privileges, new token
    session.put("userId", "alice");
    return new Response("signed in");
  }
  if (pathname === "/me") return new Response(session.get("userId") ?? "anonymous");
  if (pathname === "/logout" && request.method === "POST") {
    await session.destroy();
    return new Response("signed out");
  }
  return new Response("not found", { status: 404 });
});

const server = Bun.serve({
  port: Number(process.env.PORT ?? 3000),
  hostname: "127.0.0.1",
  fetch: handle,
});
console.log(`listening ${server.port}`);
