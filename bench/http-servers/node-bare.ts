/**
 * Baseline: bare node:http with the shared handler body (a process-wide counter, no session).
 * Usage: node --import tsx bench/http-servers/node-bare.ts PORT MODE
 * @module
 */
import http from "node:http";
import { body, type Counter, initialized, serve, serverArgs } from "../lib/server-common.ts";

const { port, mode } = serverArgs();
let count = 0;
const counter: Counter = {
  get: () => count,
  set: (n) => {
    count = n;
  },
};

serve(
  http.createServer((req, res) => {
    if (req.url === "/init") initialized(res);
    else body(mode, counter, res);
  }),
  port,
);
