import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, describe, it } from "node:test";
import Fastify from "fastify";
import { fastifySession } from "../../src/adapters/fastify.ts";
import { SessionManager } from "../../src/manager.ts";
import { adapterContract } from "./contract.ts";
import { fetchText, type Listening, RecordingStore, sleep } from "./helpers.ts";

async function build(
  sessions: SessionManager,
  options: { header?: string },
  errors: unknown[],
): Promise<Listening> {
  const app = Fastify();
  await app.register(fastifySession, { sessions, ...options });
  app.setErrorHandler((err, _request, reply) => {
    errors.push(err);
    reply.code(500).type("text/plain").send("framework error");
  });
  app.addHook("preHandler", (request, _reply, next) => {
    if (request.url === "/touch-missing") sessions.from(request).put("value", "half");
    next();
  });
  app.get<{ Querystring: { v: string } }>("/put", async (request) => {
    sessions.from(request).put("value", request.query.v);
    return "ok";
  });
  app.get("/put-redirect", async (request, reply) => {
    sessions.from(request).put("value", "redirected");
    reply.header("Set-Cookie", "auth=jwt; Path=/");
    reply.header("Cache-Control", "public, max-age=3600");
    reply.header("X-Frame-Options", "DENY");
    return reply.redirect("/dashboard", 303);
  });
  app.get("/get", async (request) => String(sessions.from(request).get("value") ?? "none"));
  app.get("/noop", async () => "noop");
  app.get("/same", async (request) =>
    (request.session as unknown) === sessions.from(request) &&
    sessions.from(request.raw) === sessions.from(request)
      ? "same"
      : "no",
  );
  app.get("/renew", async (request) => {
    await request.session.renewToken();
    return "renewed";
  });
  app.get("/destroy", async (request) => {
    await request.session.destroy();
    return "destroyed";
  });
  app.get("/stream", (request, reply) => {
    sessions.from(request).put("value", "streamed");
    const body = new PassThrough();
    reply.type("text/plain").send(body);
    (async () => {
      for (const chunk of ["a", "b"]) {
        body.write(chunk);
        await sleep(5);
      }
      body.end("c");
    })();
  });
  app.get("/throw", async (request) => {
    sessions.from(request).put("value", "half");
    throw new Error("route failed");
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
    },
  };
}

adapterContract("Fastify 5", build);

describe("Fastify: plugin registration", () => {
  const started: Listening[] = [];
  after(() => Promise.all(started.map((app) => app.close())));

  it("hooks apply app-wide, also to routes in encapsulated child plugins", async () => {
    const sessions = new SessionManager({ store: new RecordingStore() });
    const app = Fastify();
    await app.register(fastifySession, { sessions });
    await app.register(async (child) => {
      child.get("/child", async (request) => {
        sessions.from(request).put("child", true);
        return "child";
      });
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const address = app.server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    started.push({ url: "", close: () => app.close() });
    const got = await fetchText(`http://127.0.0.1:${port}/child`);
    assert.equal(got.body, "child");
    assert.equal(got.setCookie.length, 1);
  });

  it("rejects registration without a session manager, naming the option", async () => {
    const app = Fastify();
    await assert.rejects(
      async () => {
        // @ts-expect-error sessions is required
        await app.register(fastifySession, {});
      },
      (err: unknown) => err instanceof TypeError && /option sessions is invalid/.test(err.message),
    );
    await app.close();
  });
});
