import type { Server } from "node:http";
import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import { stream } from "hono/streaming";
import { type HonoSessionEnv, honoSession } from "../../src/adapters/hono.ts";
import type { SessionManager } from "../../src/manager.ts";
import type { SessionData } from "../../src/session.ts";
import { adapterContract } from "./contract.ts";
import { listen } from "./helpers.ts";

adapterContract("Hono 4", (sessions: SessionManager, options, errors) => {
  const app = new Hono<HonoSessionEnv<SessionData>>();
  app.onError((err, c) => {
    errors.push(err);
    return c.text("framework error", 500);
  });
  app.use(honoSession(sessions, options));
  app.use(async (c, next) => {
    if (c.req.path === "/touch-missing") c.get("session").put("value", "half");
    await next();
  });
  app.get("/put", (c) => {
    c.get("session").put("value", c.req.query("v"));
    return c.text("ok");
  });
  app.get("/put-redirect", (c) => {
    c.get("session").put("value", "redirected");
    return new Response(null, {
      status: 303,
      headers: [
        ["Location", "/dashboard"],
        ["Set-Cookie", "auth=jwt; Path=/"],
        ["Cache-Control", "public, max-age=3600"],
        ["X-Frame-Options", "DENY"],
      ],
    });
  });
  app.get("/get", (c) => c.text(String(c.get("session").get("value") ?? "none")));
  app.get("/noop", (c) => c.text("noop"));
  app.get("/same", (c) =>
    c.text(
      sessions.from(c) === c.get("session") && sessions.from(c.req.raw) === c.get("session")
        ? "same"
        : "no",
    ),
  );
  app.get("/renew", async (c) => {
    await c.get("session").renewToken();
    return c.text("renewed");
  });
  app.get("/destroy", async (c) => {
    await c.get("session").destroy();
    return c.text("destroyed");
  });
  app.get("/stream", (c) => {
    c.get("session").put("value", "streamed");
    return stream(c, async (s) => {
      for (const chunk of ["a", "b"]) {
        await s.write(chunk);
        await s.sleep(5);
      }
      await s.write("c");
    });
  });
  app.get("/throw", (c) => {
    c.get("session").put("value", "half");
    throw new Error("route failed");
  });
  return listen(createAdaptorServer({ fetch: app.fetch }) as Server);
});
