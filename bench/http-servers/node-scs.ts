/**
 * scs-ts on node:http: `sessions.handler` with a MemStore, the shared handler body reading
 * (READ) or incrementing (WRITE) the session's counter.
 * Usage: node --import tsx bench/http-servers/node-scs.ts PORT MODE
 * @module
 */
import http from "node:http";
import { SessionManager } from "../../src/manager.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { initialized, reply, serve, serverArgs, step } from "../lib/server-common.ts";

const { port, mode } = serverArgs();
const write = mode === "write";
const sessions = new SessionManager<{ count: number }>({ store: new MemStore() });

serve(
  http.createServer(
    sessions.handler((req, res) => {
      const session = sessions.from(req);
      if (req.url === "/init") {
        session.put("count", 0);
        return initialized(res);
      }
      const n = step(mode, session.get("count") ?? 0);
      if (write) session.put("count", n);
      reply(res, n);
    }),
  ),
  port,
);
