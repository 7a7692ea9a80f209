/**
 * POST /logout — signs out: the session is deleted from the store and the redirect carries a
 * deletion cookie.
 */
import { type ActionFunctionArgs, redirect } from "react-router";
import { sessions } from "../sessions.server.ts";

export async function action({ request }: ActionFunctionArgs) {
  const session = await sessions.loadRequest(request);
  await session.destroy();
  return redirect("/", { headers: await sessions.commitHeaders(session) });
}
