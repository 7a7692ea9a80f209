/**
 * The SQL stores as backends of the model-based property test (test/stores/model.property.test.ts):
 * SqliteStore on every SQLite driver this Node loads, and PostgresStore on a real PostgreSQL.
 * @module
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { IterableStore } from "../../src/store.ts";
import { PostgresStore } from "../../src/stores/postgresstore.ts";
import { SqliteStore } from "../../src/stores/sqlitestore.ts";
import { startPostgres } from "../helpers/postgres.ts";
import { testDrivers } from "./sqlite-drivers.ts";

/** A store the model test starts once per suite, with its clock injected. */
export interface ModelBackend {
  name: string;
  /** Sequences to run (each of `steps` steps). */
  runs: number;
  steps: number;
  /** Starts what the store needs; the store reads `now` as its clock. */
  open(now: () => number): Promise<{
    store: IterableStore;
    /** The store's own expiry sweep, checked against the model's. */
    sweep?: () => Promise<unknown>;
    close(): Promise<void>;
  }>;
  /** Tokens it cannot hold (and refuses with a TypeError): left out of the metacharacter test. */
  unstorable?: RegExp;
  /** A deleted token stays deleted: a later commit of it changes nothing (RqliteStore's tombstones). */
  deleteIsFinal?: boolean;
}

const table = () => `model_${randomBytes(4).toString("hex")}`;

/** @returns one backend per SQLite driver that loads here, and PostgreSQL. */
export async function sqlModelBackends(): Promise<ModelBackend[]> {
  const { drivers } = await testDrivers();
  const sqlite = drivers.map(
    ({ name, open }): ModelBackend => ({
      name: `SqliteStore on ${name}`,
      runs: 300,
      steps: 40,
      async open(now) {
        const db = open(":memory:");
        const store = new SqliteStore(db, { cleanupInterval: 0, now });
        return {
          store,
          sweep: () => store.deleteExpired(),
          async close() {
            store.close();
            db.close();
          },
        };
      },
      unstorable: /[\uD800-\uDFFF]/u,
    }),
  );
  const postgres: ModelBackend = {
    name: "PostgresStore on a real PostgreSQL",
    runs: 40,
    steps: 20,
    async open(now) {
      const server = await startPostgres();
      const pool = new pg.Pool({ ...server.config, max: 4 });
      pool.on("error", () => {});
      const store = new PostgresStore(pool, { table: table(), cleanupInterval: 0, now });
      return {
        store,
        sweep: () => store.deleteExpired(),
        async close() {
          await store.close();
          await pool.end();
          await server.destroy();
        },
      };
    },
    unstorable: /[\0\uD800-\uDFFF]/u,
  };
  return [...sqlite, postgres];
}
