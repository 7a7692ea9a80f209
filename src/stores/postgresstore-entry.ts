/**
 * `scs-ts/postgresstore`: sessions in PostgreSQL through a `pg` Pool (yours: an optional peer
 * dependency), with SCS's postgresstore schema, for app servers that share one database.
 *
 * @example
 * import pg from "pg";
 * import { PostgresStore } from "scs-ts/postgresstore";
 * const store = new PostgresStore(new pg.Pool({ connectionString: process.env.DATABASE_URL }));
 * @module
 */
export {
  type PgPool,
  type PgPoolClient,
  type PgQueryConfig,
  type PgQueryResult,
  PostgresStore,
  type PostgresStoreOptions,
} from "./postgresstore.ts";
