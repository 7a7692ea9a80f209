/**
 * Baseline: bare Express 5 with the shared handler body (a process-wide counter, no session).
 * Usage: node --import tsx bench/http-servers/express-bare.ts PORT MODE
 * @module
 */
import http from "node:http";
import express from "express";
import { body, type Counter, initialized, serve, serverArgs } from "../lib/server-common.ts";

const { port, mode } = serverArgs();
let count = 0;
const counter: Counter = {
  get: () => count,
  set: (n) => {
    count = n;
  },
};

const app = express();
app.get("/init", (_req, res) => initialized(res));
app.get("/", (_req, res) => body(mode, counter, res));
serve(http.createServer(app), port);
