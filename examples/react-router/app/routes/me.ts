/**
 * GET /me — who is signed in. Only reads the session: `commitCookie` then returns undefined
 * (no cookie to send), so the header is appended only when there is one.
 */
import type { LoaderFunctionArgs } from "react-router";
import { sessions } from "../sessions.server.ts";

export async function loader({ request }: LoaderFunctionArgs) {
  const session = await sessions.loadRequest(request);
  const headers = new Headers({ "Content-Type": "text/plain; charset=utf-8", Vary: "Cookie" });
  const cookie = await sessions.commitCookie(session);
  if (cookie !== undefined) headers.append("Set-Cookie", cookie);
  return new Response(session.get("userId") ?? "anonymous", { headers });
}
