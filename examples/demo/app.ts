/**
 * The scs-ts demo: sign in / sign out (renewToken on both), a visit counter, a flash message
 * and a "remember me" box, as plain server-rendered HTML on node:http.
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { SessionManager, type SessionManagerOptions } from "../../src/index.ts";

/** What the demo keeps in a session. */
export interface DemoData {
  visits: number;
  user: string;
  flash: string;
}

/** Options of {@link createDemoApp}. */
export interface DemoOptions {
  /** Passed to the SessionManager; the cookie is a browser-session cookie unless "remember me". */
  sessions?: SessionManagerOptions;
}

/** The demo's server (not listening yet) and its session manager. */
export interface DemoApp {
  server: Server;
  sessions: SessionManager<DemoData>;
}

const MAX_FORM_BYTES = 4096;

/**
 * Builds the demo application.
 * @returns the server (call `listen`) and its session manager.
 */
export function createDemoApp(options: DemoOptions = {}): DemoApp {
  const sessions = new SessionManager<DemoData>({
    cookie: { persist: false },
    ...options.sessions,
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const session = sessions.from(req);
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method === "POST" && url.pathname === "/signin") {
      const form = await readForm(req);
      const username = (form.get("username") ?? "").trim().slice(0, 64);
      if (username === "") {
        session.put("flash", "Please enter a user name.");
        return redirect(res, "/");
      }
      await session.renewToken(); // new privileges, new token: the session-fixation defence
      session.put("user", username);
      session.rememberMe(form.get("remember") === "on");
      session.put("flash", `Welcome, ${username}!`);
      return redirect(res, "/");
    }
    if (req.method === "POST" && url.pathname === "/signout") {
      await readForm(req);
      await session.renewToken();
      session.remove("user");
      session.rememberMe(false);
      session.put("flash", "You have been signed out.");
      return redirect(res, "/");
    }
    if (req.method === "GET" && url.pathname === "/") {
      const visits = session.getNumber("visits") + 1;
      session.put("visits", visits);
      const flash = session.popString("flash");
      res.setHeader("Content-Type", "text/html; charset=utf-8");
      res.end(page(session.getString("user"), visits, flash));
      return;
    }
    res.statusCode = 404;
    res.setHeader("Content-Type", "text/plain; charset=utf-8");
    res.end("Not found\n");
  }

  const server = createServer(sessions.handler(route));
  return { server, sessions };
}

function redirect(res: ServerResponse, location: string): void {
  res.statusCode = 303;
  res.setHeader("Location", location);
  res.end();
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let body = "";
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > MAX_FORM_BYTES) break;
  }
  return new URLSearchParams(body.slice(0, MAX_FORM_BYTES));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(user: string, visits: number, flash: string): string {
  const who =
    user === ""
      ? `<form id="signin" method="post" action="/signin">
      <label>User name <input name="username" autocomplete="username" required></label>
      <label><input type="checkbox" name="remember"> Remember me</label>
      <button type="submit">Sign in</button>
    </form>`
      : `<p>Signed in as <strong id="user">${escapeHtml(user)}</strong></p>
    <form id="signout" method="post" action="/signout"><button type="submit">Sign out</button></form>`;
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>scs-ts demo</title>
  <style>
    body { font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; }
    .flash { background: #e7f5e7; border: 1px solid #8c8; padding: .5rem 1rem; border-radius: 4px; }
    label { display: block; margin: .5rem 0; }
  </style>
</head>
<body>
  <h1>scs-ts demo</h1>
  ${flash === "" ? "" : `<p id="flash" class="flash">${escapeHtml(flash)}</p>`}
  <p>You have visited this page <strong id="visits">${visits}</strong> time${visits === 1 ? "" : "s"} in this session.</p>
  ${who}
</body>
</html>
`;
}
