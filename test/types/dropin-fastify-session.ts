// @ts-nocheck: checked by test/dropin/types.test.ts in a program of its own, against the built
// dist/*.d.ts as an application sees them (this repository's one program types
// request.session as scs-ts/fastify's). The test drops this line; every @ts-expect-error must
// stay an error.
import csrfProtection from "@fastify/csrf-protection";
import fastifyPassport from "@fastify/passport";
import Fastify, { type Session } from "fastify";
import { SessionManager } from "scs-ts";
import fastifySession, { type FastifyDropInSession } from "scs-ts/fastify-session";

// An application's existing declaration for @fastify/session keeps typing request.session.
declare module "fastify" {
  interface Session {
    user: string;
    role?: "admin" | "member";
  }
}

// The earlier scs-ts declaration still adds its keys to the same Session.
declare module "scs-ts/fastify-session" {
  interface FastifyDropInData {
    views: number;
  }
}

const app = Fastify();
await app.register(fastifySession, { sessions: new SessionManager() });
await app.register(fastifySession, {
  secret: "accepted and ignored, at least 32 characters long",
  cookieName: "sid",
  saveUninitialized: false,
  rolling: false,
  cookie: { maxAge: 60_000, secure: false, sameSite: "strict" },
});
await app.register(fastifyPassport.initialize());
await app.register(fastifyPassport.secureSession());
await app.register(csrfProtection, { sessionPlugin: "@fastify/session" });

app.get("/", async (request, reply) => {
  const views: number | undefined = request.session.get("views");
  request.session.set("views", (views ?? 0) + 1);
  request.session.set("views", undefined);
  // @ts-expect-error views is a number
  request.session.set("views", "many");
  request.session.views = 2;
  const user: string | undefined = request.session.get("user");
  request.session.set("user", "alice");
  // @ts-expect-error user is a string
  request.session.set("user", 3);
  // @ts-expect-error role is "admin" or "member"
  request.session.set("role", "owner");
  // @ts-expect-error no key "nickname" is declared
  request.session.get("nickname");
  const name: string = request.session.user;
  // @ts-expect-error user is a string
  request.session.user = 3;
  const role: "admin" | "member" | undefined = request.session.role;
  const session: Session = request.session;
  const id: string = request.session.sessionId;
  const whole: FastifyDropInSession = request.session;
  const data: Record<string, unknown> = request.session.data();
  await request.session.regenerate(["views"]);
  await request.session.save();
  request.session.regenerate((err) => reply.log.info(String(err)));
  request.session.touch();
  await request.session.destroy();
  return `${id} ${whole.sessionId} ${user} ${name} ${role} ${session.user} ${Object.keys(data)} ${reply.generateCsrf()}`;
});
