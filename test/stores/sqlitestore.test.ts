import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { StoreUnavailableError } from "../../src/errors.ts";
import { SessionManager } from "../../src/index.ts";
import { isPromiseLike } from "../../src/store.ts";
import { SqliteStore } from "../../src/stores/sqlitestore.ts";
import { storeConformance } from "../../src/testing/conformance.ts";
import { type TestDriver, testDrivers } from "./sqlite-drivers.ts";

const HOUR = 3_600_000;
const dir = mkdtempSync(join(tmpdir(), "scs-sqlite-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const file = () => join(dir, `db-${files++}.db`);
const bytes = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array | undefined) =>
  b === undefined ? "none" : Buffer.from(b).toString("hex");

const { drivers, skipped } = await testDrivers();
for (const { name, reason } of skipped) {
  describe(`SqliteStore on ${name}`, () => {
    it(`skipped on Node ${process.version}: ${reason}`, { skip: reason }, () => {});
  });
}

for (const driver of drivers) suite(driver);

function suite({ name, open }: TestDriver): void {
  const stores = new Map<SqliteStore, ReturnType<typeof open>>();
  storeConformance(`SqliteStore on ${name}`, {
    makeStore: () => {
      const db = open(":memory:");
      const store = new SqliteStore(db);
      stores.set(store, db);
      return store;
    },
    closeStore: (s) => {
      (s as SqliteStore).close();
      stores.get(s as SqliteStore)?.close();
    },
    startsEmpty: true,
  });

  describe(`SqliteStore on ${name}`, () => {
    it("answers synchronously: find, commit, delete and all return values, not Promises", () => {
      const db = open(":memory:");
      using store = new SqliteStore(db, { cleanupInterval: 0 });
      const results = [
        store.commit("t", bytes("x"), new Date(Date.now() + HOUR)),
        store.find("t"),
        store.all(),
        store.delete("t"),
      ];
      for (const r of results) assert.equal(isPromiseLike(r as never), false);
      assert.equal(hex(results[1] as Uint8Array), hex(bytes("x")));
      db.close();
    });

    it("creates SCS's table and index on first use, not before", () => {
      const db = open(":memory:");
      const store = new SqliteStore(db, { table: "web_sessions", cleanupInterval: 0 });
      const objects = () =>
        (
          db
            .prepare(
              "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite%' ORDER BY name",
            )
            .all() as object[]
        ).map((o) => ({ ...o }));
      assert.deepEqual(objects(), [], "nothing created by the constructor");
      assert.equal(store.find("t"), undefined);
      assert.deepEqual(objects(), [
        { type: "table", name: "web_sessions" },
        { type: "index", name: "web_sessions_expiry_idx" },
      ]);
      const columns = (db.prepare("PRAGMA table_info(web_sessions)").all() as object[]).map((c) => {
        const { name, type, notnull, pk } = c as Record<string, unknown>;
        return [name, type, Number(notnull), Number(pk)];
      });
      assert.deepEqual(columns, [
        ["token", "TEXT", 0, 1],
        ["data", "BLOB", 1, 0],
        ["expiry", "REAL", 1, 0],
      ]);
      store.close();
      db.close();
    });

    it("reads rows SCS's sqlite3store wrote, and SCS's queries read the rows it writes", () => {
      const db = open(":memory:");
      // SCS's Setup, then its commit and find statements as they are in sqlite3store.go.
      db.exec(
        "CREATE TABLE sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL); CREATE INDEX sessions_expiry_idx ON sessions(expiry);",
      );
      const scsCommit = db.prepare(
        "REPLACE INTO sessions (token, data, expiry) VALUES (?, ?, julianday(?))",
      );
      const scsFind = db.prepare(
        "SELECT data FROM sessions WHERE token = ? AND julianday('now') < expiry",
      );
      const goTime = (ms: number) => new Date(ms).toISOString().slice(0, 23); // 2006-01-02T15:04:05.999
      scsCommit.run("from-go", new Uint8Array([0, 1, 0xfe, 0xff]), goTime(Date.now() + HOUR));
      scsCommit.run("go-expired", new Uint8Array([1]), goTime(Date.now() - 1000));
      const store = new SqliteStore(db, { cleanupInterval: 0 });
      assert.equal(hex(store.find("from-go")), "0001feff");
      assert.equal(store.find("go-expired"), undefined);
      store.commit("from-ts", bytes("hello"), new Date(Date.now() + HOUR));
      store.commit("ts-expired", bytes("old"), new Date(Date.now() - 1000));
      const row = scsFind.get("from-ts") as { data: Uint8Array } | undefined;
      assert.equal(hex(row?.data), hex(bytes("hello")));
      assert.equal(scsFind.get("ts-expired"), undefined);
      store.close();
      db.close();
    });

    it("sessions survive closing and reopening the database file", () => {
      const path = file();
      const db1 = open(path);
      const store1 = new SqliteStore(db1);
      store1.commit("kept", bytes("signed in"), new Date(Date.now() + HOUR));
      store1.close();
      db1.close();
      const db2 = open(path);
      const store2 = new SqliteStore(db2);
      assert.equal(hex(store2.find("kept")), hex(bytes("signed in")));
      store2.close();
      db2.close();
    });

    it("expiry follows the injected clock", () => {
      const clock = { now: 1_700_000_000_000 };
      const db = open(":memory:");
      const store = new SqliteStore(db, { cleanupInterval: 0, now: () => clock.now });
      store.commit("t", bytes("x"), new Date(clock.now + 1000));
      assert.ok(store.find("t"));
      assert.equal(store.all().size, 1);
      clock.now += 1000;
      assert.equal(store.find("t"), undefined, "expired exactly at its expiry");
      assert.equal(store.all().size, 0);
      store.close();
      db.close();
    });

    it("a reserved word as table name works: names are quoted", () => {
      const db = open(":memory:");
      const store = new SqliteStore(db, { table: "order", cleanupInterval: 0 });
      store.commit("t", bytes("x"), new Date(Date.now() + HOUR));
      assert.equal(hex(store.find("t")), hex(bytes("x")));
      store.close();
      db.close();
    });

    it("with createTable false it uses the table as it is and creates nothing", () => {
      const db = open(":memory:");
      const store = new SqliteStore(db, { createTable: false, cleanupInterval: 0 });
      assert.throws(() => store.find("t"), /no such table/);
      db.exec(
        "CREATE TABLE sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL)",
      );
      const later = new SqliteStore(db, { createTable: false, cleanupInterval: 0 });
      later.commit("t", bytes("x"), new Date(Date.now() + HOUR));
      assert.equal(hex(later.find("t")), hex(bytes("x")));
      store.close();
      later.close();
      db.close();
    });

    it("deleteExpired removes only expired rows, and the background cleanup runs it", async () => {
      const db = open(":memory:");
      const store = new SqliteStore(db, { cleanupInterval: 0 });
      for (let i = 0; i < 3000; i++) {
        store.commit(`t${i}`, bytes("x"), new Date(Date.now() + (i % 3 === 0 ? -1000 : HOUR)));
      }
      assert.equal(await store.deleteExpired(), 1000);
      assert.equal(await store.deleteExpired(), 0);
      const count = () =>
        Number((db.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number }).n);
      assert.equal(count(), 2000);
      store.close();

      const background = new SqliteStore(db, { cleanupInterval: 10 });
      background.commit("soon", bytes("x"), new Date(Date.now() + 5));
      const until = Date.now() + 5000;
      while (count() > 2000 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      assert.equal(count(), 2000, "the cleanup deleted the expired row by itself");
      background.close();
      db.close();
    });

    for (const kind of ["throws", "rejects"] as const) {
      it(`an onError that ${kind} on a failed background cleanup is logged; nothing escapes`, async () => {
        const db = open(file());
        const store = new SqliteStore(db, {
          cleanupInterval: 10,
          onError:
            kind === "throws"
              ? () => {
                  throw new Error("the handler failed");
                }
              : async () => {
                  throw new Error("the handler failed");
                },
        });
        store.find("create the table");
        const logged: string[] = [];
        const original = console.error;
        console.error = (...args: unknown[]) => {
          logged.push(args.map(String).join(" "));
        };
        try {
          db.close(); // every sweep from now on fails
          const until = Date.now() + 5000;
          while (logged.length === 0 && Date.now() < until) {
            await new Promise((r) => setTimeout(r, 10));
          }
        } finally {
          console.error = original;
          store.close();
        }
        assert.match(
          logged[0] ?? "",
          /sqlitestore: the onError handler failed: .*the handler failed/,
        );
      });
    }

    it("a sweep of 20,000 expired rows yields to the event loop between short slices", async () => {
      const db = open(file());
      const store = new SqliteStore(db, { cleanupInterval: 0 });
      store.find("create the table");
      const insert = db.prepare("INSERT INTO sessions VALUES (?, ?, ?)");
      const data = new Uint8Array(200);
      db.exec("BEGIN");
      for (let i = 0; i < 20_000; i++) insert.run(`t${i}`, data, 2_440_000 + (i % 1000));
      db.exec("COMMIT");
      let ticks = 0;
      let longest = 0;
      let last = performance.now();
      let ticking = true;
      const tick = () => {
        const now = performance.now();
        longest = Math.max(longest, now - last);
        last = now;
        ticks++;
        if (ticking) setImmediate(tick);
      };
      setImmediate(tick);
      const started = performance.now();
      const deleted = await store.deleteExpired();
      const took = performance.now() - started;
      ticking = false;
      console.log(
        `  ${name}: swept 20,000 rows in ${took.toFixed(0)} ms, ${ticks} event-loop turns, longest ${longest.toFixed(1)} ms`,
      );
      assert.equal(deleted, 20_000);
      // Batches of ~1 ms, slices of ~3 ms: dozens of turns. (The bench measures the longest
      // block on a quiet machine; here two cores are shared with other tests.)
      assert.ok(ticks >= 20, `the sweep yielded (${ticks} turns in ${took.toFixed(0)} ms)`);
      assert.ok(longest < took / 4, `no block near the whole sweep (${longest.toFixed(1)} ms)`);
      store.close();
      db.close();
    });

    it("close() stops a sweep in progress and never closes the database", async () => {
      const db = open(":memory:");
      const store = new SqliteStore(db, { cleanupInterval: 0 });
      store.find("create the table");
      const insert = db.prepare("INSERT INTO sessions VALUES (?, ?, ?)");
      db.exec("BEGIN");
      for (let i = 0; i < 100_000; i++) insert.run(`t${i}`, new Uint8Array(1), 2_440_000);
      db.exec("COMMIT");
      const sweeping = store.deleteExpired();
      store.close();
      const deleted = await sweeping;
      assert.ok(deleted < 100_000, `stopped early (${deleted} deleted)`);
      store.commit("still", bytes("works"), new Date(Date.now() + HOUR));
      assert.equal(hex(store.find("still")), hex(bytes("works")), "the database is still open");
      db.close();
    });

    it("a database locked by another connection is StoreUnavailableError, without the token", () => {
      const path = file();
      const holder = open(path);
      const db = open(path);
      db.exec("PRAGMA busy_timeout = 0");
      const store = new SqliteStore(db, { cleanupInterval: 0 });
      store.find("create the table");
      holder.exec("BEGIN IMMEDIATE");
      const token = "a-token-that-must-not-leak-into-messages-xx";
      try {
        assert.throws(
          () => store.commit(token, bytes("x"), new Date(Date.now() + HOUR)),
          (err: unknown) =>
            err instanceof StoreUnavailableError &&
            !err.message.includes(token) &&
            err.cause !== undefined,
        );
      } finally {
        holder.exec("ROLLBACK");
      }
      store.commit(token, bytes("x"), new Date(Date.now() + HOUR));
      assert.ok(store.find(token));
      store.close();
      db.close();
      holder.close();
    });

    it("a token with a lone surrogate is not found, and committing one throws TypeError", () => {
      const db = open(":memory:");
      const store = new SqliteStore(db, { cleanupInterval: 0 });
      store.commit("\uFFFD", bytes("replacement char"), new Date(Date.now() + HOUR));
      assert.equal(store.find("\uD800"), undefined);
      store.delete("\uD800");
      assert.throws(
        () => store.commit("\uD800", bytes("x"), new Date(Date.now() + HOUR)),
        TypeError,
      );
      assert.equal(hex(store.find("\uFFFD")), hex(bytes("replacement char")));
      assert.equal(hex(store.find("a\0b")), "none", "NUL is an ordinary character");
      store.commit("a\0b", bytes("nul"), new Date(Date.now() + HOUR));
      assert.equal(store.find("a\0c"), undefined);
      store.close();
      db.close();
    });

    it("a SessionManager on it: sign in, new manager and store on the same file, still signed in", async () => {
      const path = file();
      const db1 = open(path);
      const first = new SessionManager<{ user: string }>({ store: new SqliteStore(db1) });
      const s = await first.load(undefined);
      s.put("user", "ada");
      const { token } = await first.commit(s);
      await first.close();
      db1.close();
      const db2 = open(path);
      const second = new SessionManager<{ user: string }>({ store: new SqliteStore(db2) });
      assert.equal((await second.load(token)).get("user"), "ada");
      await second.close();
      db2.close();
    });
  });
}

describe("SqliteStore options", () => {
  const db = {
    prepare: () => ({ run: () => ({ changes: 0 }), get: () => undefined, all: () => [] }),
  };
  const cases: [string, Record<string, unknown>][] = [
    ["table", { table: "x; DROP TABLE users" }],
    ["table", { table: "sqlite_master" }],
    ["table", { table: "1abc" }],
    ["table", { table: "a.b" }],
    ["table", { table: "t".repeat(53) }],
    ["table", { table: 42 }],
    ["cleanupInterval", { cleanupInterval: -1 }],
    ["cleanupInterval", { cleanupInterval: Number.NaN }],
    ["cleanupInterval", { cleanupInterval: "60000" }],
    ["cleanupInterval", { cleanupInterval: 2 ** 31 }],
    ["now", { now: 5 }],
    ["onError", { onError: "log" }],
  ];
  for (const [option, options] of cases) {
    it(`${JSON.stringify(options)} throws a TypeError naming ${option}`, () => {
      assert.throws(
        () => new SqliteStore(db, options),
        (err: unknown) =>
          err instanceof TypeError && err.message.startsWith(`option ${option} is invalid`),
      );
    });
  }

  it("a db without prepare throws a TypeError naming db", () => {
    assert.throws(() => new SqliteStore({} as never), /^TypeError: db is invalid/);
    assert.throws(() => new SqliteStore(undefined as never), /^TypeError: db is invalid/);
  });

  it("the cleanup timer never keeps the process alive", () => {
    const code = `import { SqliteStore } from "./src/stores/sqlitestore.ts";
      const db = { prepare: () => ({ run: () => ({ changes: 0 }), get() {}, all: () => [] }) };
      globalThis.store = new SqliteStore(db, { cleanupInterval: 1000 });`;
    const started = performance.now();
    const run = spawnSync(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", code],
      {
        timeout: 20_000,
      },
    );
    assert.equal(run.status, 0, String(run.stderr));
    assert.ok(performance.now() - started < 15_000);
  });
});
