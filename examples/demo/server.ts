/**
 * `npm start`: serves the demo on http://127.0.0.1:3000 (PORT to change). Sessions live in the
 * embedded MemStore, in an SQLite file when SESSION_DB is set (they survive a restart), or in
 * rqlite when RQLITE_URL is set (comma-separated node URLs).
 * @module
 */
import type { Store } from "../../src/index.ts";
import { createDemoApp } from "./app.ts";

async function chooseStore(): Promise<{ store?: Store; label: string; close?: () => unknown }> {
  const file = process.env.SESSION_DB;
  if (file !== undefined && file !== "") {
    const { openSessionDb } = await import("./sqlite.ts");
    const { SqliteStore } = await import("../../src/stores/sqlitestore.ts");
    const { db, driver } = await openSessionDb(file);
    return {
      store: new SqliteStore(db),
      label: `SQLite at ${file}, ${driver}`,
      close: () => db.close(),
    };
  }
  const url = process.env.RQLITE_URL;
  if (url === undefined || url === "") return { label: "MemStore" };
  const { RqliteStore } = await import("../../src/stores/rqlitestore.ts");
  return { store: new RqliteStore(url.split(",")), label: `rqlite at ${url}` };
}

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? "127.0.0.1";
const { store, label, close } = await chooseStore();
const { server, sessions } = createDemoApp({ sessions: store ? { store } : {} });
server.listen(port, host, () => {
  console.log(`scs-ts demo on http://${host}:${port} (sessions in ${label})`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.close();
    server.closeAllConnections();
    void sessions.close().then(close);
  });
}
