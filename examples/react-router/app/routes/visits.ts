/**
 * GET / — a visit counter. The loader loads the session from the request, changes it, and
 * returns its Response with the session's headers (`Set-Cookie`, `Vary: Cookie`,
 * `Cache-Control: no-cache="Set-Cookie"`). A route with a component returns
 * `data(value, { headers })` the same way.
 */
import type { LoaderFunctionArgs } from "react-router";
import { sessions } from "../sessions.server.ts";

export async function loader({ request }: LoaderFunctionArgs) {
  const session = await sessions.loadRequest(request);
  const visits = (session.get("visits") ?? 0) + 1;
  session.put("visits", visits);
  return new Response(`visits: ${visits}`, { headers: await sessions.commitHeaders(session) });
}
