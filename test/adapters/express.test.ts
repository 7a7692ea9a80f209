import { createServer } from "node:http";
import { createRequire } from "node:module";
import express, { type ErrorRequestHandler } from "express";
import { expressSession } from "../../src/adapters/express.ts";
import type { SessionManager } from "../../src/manager.ts";
import { adapterContract } from "./contract.ts";
import { listen, sleep } from "./helpers.ts";

const express4 = createRequire(import.meta.url)("express4") as typeof express;

function buildWith(framework: typeof express) {
  return (sessions: SessionManager, options: { header?: string }, errors: unknown[]) => {
    const app = framework();
    app.use(expressSession(sessions, options));
    app.use((req, _res, next) => {
      if (req.path === "/touch-missing") sessions.from(req).put("value", "half");
      next();
    });
    app.get("/put", (req, res) => {
      sessions.from(req).put("value", String(req.query.v));
      res.send("ok");
    });
    app.get("/put-redirect", (req, res) => {
      sessions.from(req).put("value", "redirected");
      res.cookie("auth", "jwt");
      res.set("Cache-Control", "public, max-age=3600");
      res.set("X-Frame-Options", "DENY");
      res.redirect(303, "/dashboard");
    });
    app.get("/get", (req, res) => {
      res.send(String(sessions.from(req).get("value") ?? "none"));
    });
    app.get("/noop", (_req, res) => {
      res.send("noop");
    });
    app.get("/same", (req, res) => {
      res.send((req.session as unknown) === sessions.from(req) ? "same" : "different");
    });
    app.get("/renew", (req, res, next) => {
      req.session.renewToken().then(() => res.send("renewed"), next);
    });
    app.get("/destroy", (req, res, next) => {
      req.session.destroy().then(() => res.send("destroyed"), next);
    });
    app.get("/stream", async (req, res) => {
      sessions.from(req).put("value", "streamed");
      res.setHeader("Content-Type", "text/plain");
      for (const chunk of ["a", "b"]) {
        res.write(chunk);
        await sleep(5);
      }
      res.end("c");
    });
    app.get("/throw", (req) => {
      sessions.from(req).put("value", "half");
      throw new Error("route failed");
    });
    const onError: ErrorRequestHandler = (err, _req, res, next) => {
      errors.push(err);
      if (res.headersSent) {
        next(err);
        return;
      }
      res.status(500).send("framework error");
    };
    app.use(onError);
    return listen(createServer(app));
  };
}

adapterContract("Express 5", buildWith(express));
adapterContract("Express 4", buildWith(express4));
