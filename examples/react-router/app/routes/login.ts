/**
 * POST /login — signs in: a new token for the new privileges (session-fixation defence), then
 * a redirect that carries the new cookie.
 */
import { type ActionFunctionArgs, redirect } from "react-router";
import { sessions } from "../sessions.server.ts";

export async function action({ request }: ActionFunctionArgs) {
  const session = await sessions.loadRequest(request);
  await session.renewToken();
  session.put("userId", "alice");
  return redirect("/me", { headers: await sessions.commitHeaders(session) });
}
