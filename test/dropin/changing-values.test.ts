/**
 * Session data whose value differs each time it is read (a getter, a toJSON with a counter):
 * the drop-in sees a change at every save, and the response still goes out, after a bounded
 * number of saves, with the last one.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { describe, test } from "node:test";
import express, { type Request } from "express";
import expressDropIn from "../../src/adapters/express-session.ts";
import { MemStore } from "../../src/stores/memstore.ts";
import { SlowStore } from "../helpers/stores.ts";
import { CountingStore, start, TEST_TIMEOUT } from "./harness.ts";

let reads = 0;
class Clock {
  toJSON(): { at: number } {
    return { at: ++reads };
  }
}

for (const [name, inner] of [
  ["MemStore", () => new MemStore({ cleanupInterval: 0 })],
  ["an async store", () => new SlowStore(3)],
] as const) {
  describe(`values that change whenever they are read, scs-ts/express-session on ${name}`, {
    timeout: TEST_TIMEOUT,
  }, () => {
    for (const kind of ["a getter", "a toJSON with a counter"] as const) {
      test(`${kind}: the response goes out after a bounded number of saves`, async () => {
        const store = new CountingStore(inner());
        const lines: string[] = [];
        const app = express();
        app.use(
          expressDropIn({
            store,
            cookie: { maxAge: 60_000 },
            logger: { warn: (m) => lines.push(m), error: (m) => lines.push(m) },
          }),
        );
        app.get("/set", (req: Request, res) => {
          const session = (req as unknown as { session: Record<string, unknown> }).session;
          let n = 0;
          session.clock =
            kind === "a getter"
              ? {
                  get at() {
                    return ++n;
                  },
                }
              : new Clock();
          res.json({ ok: true });
        });
        app.get("/get", (req: Request, res) => {
          const session = (req as unknown as { session: Record<string, unknown> }).session;
          res.json({ clock: session.clock ?? null });
        });
        const server = await start(createServer(app), "connect.sid");
        try {
          const browser = server.browser();
          const set = await browser.send("/set");
          assert.equal(set.status, 200);
          assert.ok(store.commits >= 1 && store.commits <= 10, `${store.commits} commits`);
          const got = (await browser.send("/get")).json();
          assert.equal(typeof (got.clock as { at?: unknown } | null)?.at, "number");
        } finally {
          await server.close();
        }
      });
    }
  });
}
