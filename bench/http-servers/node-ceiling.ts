/**
 * The node:http ceiling of a session layer: bare node:http plus the headers a session response
 * carries and nothing else — `Vary: Cookie` in READ mode; in WRITE mode also a session-shaped
 * `Set-Cookie` and `Cache-Control: no-cache="Set-Cookie"`, set with `setHeader` as the layer
 * sets them. No session is loaded or saved: what is left between this and scs-ts is the
 * layer's own work (cookie read, store find, decode; encode and commit).
 * Usage: node --import tsx bench/http-servers/node-ceiling.ts PORT MODE
 * @module
 */
import http from "node:http";
import { initialized, reply, serve, serverArgs, step } from "../lib/server-common.ts";

const { port, mode } = serverArgs();
const write = mode === "write";
let count = 0;
const COOKIE = `session=${"A".repeat(43)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=86400; Expires=Thu, 03 Dec 2026 01:00:00 GMT`;

serve(
  http.createServer((req, res) => {
    if (req.url === "/init") return initialized(res);
    const n = step(mode, count);
    res.setHeader("Vary", "Cookie");
    if (write) {
      count = n;
      res.setHeader("Set-Cookie", COOKIE);
      res.setHeader("Cache-Control", 'no-cache="Set-Cookie"');
    }
    reply(res, n);
  }),
  port,
);
