/**
 * scs-ts on Deno: `fetchSession` served by `Deno.serve` — a visit counter and sign-in/sign-out.
 * Run it: `deno run --allow-net --allow-env examples/deno/server.ts`, then open
 * http://127.0.0.1:3000 (PORT to change it). In your app: `import { SessionManager } from
 * "npm:scs-ts"` and `import { fetchSession } from "npm:scs-ts/fetch"` (or a package.json).
 */

import { fetchSession } from "../../src/fetch.ts";
import { SessionManager } from "../../src/index.ts";

// Deno's global, as Deno's own types declare it (drop this line under `deno check`).
declare const Deno: {
  env: { get(name: string): string | undefined };
  serve(
    options: { port: number; hostname: string; onListen(addr: { port: number }): void },
    handler: typeof handle,
  ): unknown;
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

Deno.serve(
  {
    port: Number(Deno.env.get("PORT") ?? 3000),
    hostname: "127.0.0.1",
    onListen: ({ port }) => console.log(`listening ${port}`),
  },
  handle,
);
