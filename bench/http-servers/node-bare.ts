/**
 * Baseline: bare node:http with the shared handler body (a process-wide counter, no session).
 * Usage: node --import tsx bench/http-servers/node-bare.ts PORT MODE
 * @module
 */
import http from "node:http";
import { initialized, reply, serve, serverArgs, step } from "../lib/server-common.ts";

const { port, mode } = serverArgs();
const write = mode === "write";
let count = 0;

serve(
  http.createServer((req, res) => {
    if (req.url === "/init") return initialized(res);
    const n = step(mode, count);
    if (write) count = n;
    reply(res, n);
  }),
  port,
);
