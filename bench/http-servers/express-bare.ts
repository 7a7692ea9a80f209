/**
 * Baseline: bare Express 5 with the shared handler body (a process-wide counter, no session).
 * Usage: node --import tsx bench/http-servers/express-bare.ts PORT MODE
 * @module
 */
import http from "node:http";
import express from "express";
import { initialized, reply, serve, serverArgs, step } from "../lib/server-common.ts";

const { port, mode } = serverArgs();
const write = mode === "write";
let count = 0;

const app = express();
app.get("/init", (_req, res) => initialized(res));
app.get("/", (_req, res) => {
  const n = step(mode, count);
  if (write) count = n;
  reply(res, n);
});
serve(http.createServer(app), port);
