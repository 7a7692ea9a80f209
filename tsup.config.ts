import { defineConfig } from "tsup";

/** Entry files of the package; keep in sync with package.json "exports" (checked by scripts/check-exports.mjs). */
export const entries = {
  index: "src/index.ts",
  memstore: "src/stores/memstore-entry.ts",
  testing: "src/testing/index.ts",
  rqlitestore: "src/stores/rqlitestore-entry.ts",
  sqlitestore: "src/stores/sqlitestore-entry.ts",
  postgresstore: "src/stores/postgresstore-entry.ts",
  redisstore: "src/stores/redisstore-entry.ts",
  express: "src/adapters/express.ts",
  fastify: "src/adapters/fastify.ts",
  hono: "src/adapters/hono.ts",
  fetch: "src/fetch.ts",
  koa: "src/adapters/koa.ts",
  "express-session": "src/adapters/express-session.ts",
  "koa-session": "src/adapters/koa-session.ts",
  "fastify-session": "src/adapters/fastify-session.ts",
  "connect-store": "src/stores/connect-store-entry.ts",
};

export default defineConfig({
  entry: entries,
  format: ["esm", "cjs"],
  dts: true,
  clean: true,
  target: "node20",
  platform: "node",
  splitting: true,
  sourcemap: false,
  treeshake: true,
  removeNodeProtocol: false,
});
