/**
 * `npm start`: serves the demo on http://127.0.0.1:3000 (PORT to change). Sessions live in the
 * embedded MemStore, or in rqlite when RQLITE_URL is set (comma-separated node URLs).
 * @module
 */
import type { Store } from "../../src/index.ts";
import { createDemoApp } from "./app.ts";

async function chooseStore(): Promise<{ store?: Store; label: string }> {
  const url = process.env.RQLITE_URL;
  if (url === undefined || url === "") return { label: "MemStore" };
  const { RqliteStore } = await import("../../src/stores/rqlitestore.ts");
  return { store: new RqliteStore(url.split(",")), label: `rqlite at ${url}` };
}

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? "127.0.0.1";
const { store, label } = await chooseStore();
const { server, sessions } = createDemoApp({ sessions: store ? { store } : {} });
server.listen(port, host, () => {
  console.log(`scs-ts demo on http://${host}:${port} (sessions in ${label})`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.close();
    server.closeAllConnections();
    void sessions.close();
  });
}
