// SqliteStore's sweep in WAL mode checkpoints on a second connection, in a worker thread, so the
// checkpoint's fsyncs never hold the event loop (the bench measures the longest block). What an
// application relies on is tested here: its own commits go on during a sweep, even with no busy
// timeout (all but a rare one); a process that never closes the store still exits; a handle whose driver cannot be
// known still sweeps, checkpointing on its own connection.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { SqliteStore } from "../../src/stores/sqlitestore.ts";
import { type TestDriver, testDrivers } from "./sqlite-drivers.ts";

const HOUR = 3_600_000;
const dir = mkdtempSync(join(tmpdir(), "scs-sqlite-ckpt-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const file = () => join(dir, `db-${files++}.db`);

const { drivers } = await testDrivers();
for (const driver of drivers) suite(driver);

/** A WAL database with `expired` expired rows and `live` live ones, and a store on it. */
function walStore(open: TestDriver["open"], expired: number, live: number) {
  const path = file();
  const db = open(path);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA busy_timeout = 0");
  const store = new SqliteStore(db, { cleanupInterval: 0 });
  store.find("create the table");
  const insert = db.prepare("INSERT INTO sessions VALUES (?, ?, ?)");
  const data = new Uint8Array(200).fill(7);
  db.exec("BEGIN");
  for (let i = 0; i < expired; i++) insert.run(`dead-${i}`, data, 2_440_000);
  for (let i = 0; i < live; i++) insert.run(`live-${i}`, data, 2_440_000 + 1e6);
  db.exec("COMMIT");
  const count = () =>
    Number((db.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number }).n);
  return { db, store, count };
}

function suite({ name, open }: TestDriver): void {
  describe(`SqliteStore sweep in WAL mode on ${name}`, () => {
    it("the application's commits go on during a sweep, with no busy timeout", async () => {
      const { db, store, count } = walStore(open, 30_000, 100);
      let commits = 0;
      let sweeping = true;
      const failures: unknown[] = [];
      const commitLoop = () => {
        try {
          store.commit(
            `user-${commits}`,
            new Uint8Array([commits & 255]),
            new Date(Date.now() + HOUR),
          );
          commits++;
        } catch (err) {
          failures.push(err);
        }
        if (sweeping) setImmediate(commitLoop);
      };
      setImmediate(commitLoop);
      const deleted = await store.deleteExpired();
      sweeping = false;
      assert.equal(deleted, 30_000);
      // A checkpoint that held a lock writers wait for would refuse every commit while it ran.
      // With no busy timeout at all, SQLite's WAL locking can still refuse a rare one (seen once
      // in a CI run on node:sqlite): the README tells applications to set a busy timeout.
      assert.ok(
        failures.length <= Math.max(1, (commits + failures.length) / 50),
        `at most a rare commit refused while the sweep ran (${failures.length} of ${commits + failures.length})`,
      );
      for (const err of failures) assert.match(String(err), /database is locked|SQLITE_BUSY/);
      assert.ok(commits > 10, `commits interleaved with the sweep (${commits})`);
      assert.equal(count(), 100 + commits, "live rows and the new commits are all there");
      assert.equal(store.find("user-0")?.[0], 0);
      store.close();
      db.close();
    });

    it("close() during a sweep stops it; a later sweep on a new store finishes the job", async () => {
      const { db, store, count } = walStore(open, 40_000, 0);
      const first = store.deleteExpired();
      await new Promise((resolve) => setImmediate(resolve));
      store.close();
      const partly = await first;
      assert.ok(partly < 40_000, `stopped early (${partly})`);
      const again = new SqliteStore(db, { cleanupInterval: 0 });
      assert.equal(await again.deleteExpired(), 40_000 - partly);
      assert.equal(count(), 0);
      again.close();
      db.close();
    });

    it("a handle wrapped by the application (driver unknown) still sweeps, checkpointing itself", async () => {
      const { db, store, count } = walStore(open, 5_000, 10);
      store.close();
      const wrapped = { prepare: (sql: string) => db.prepare(sql) };
      const errors: unknown[] = [];
      const plain = new SqliteStore(wrapped, {
        cleanupInterval: 0,
        onError: (e) => errors.push(e),
      });
      assert.equal(await plain.deleteExpired(), 5_000);
      assert.equal(count(), 10);
      assert.deepEqual(errors, []);
      plain.close();
      db.close();
    });
  });
}

describe("SqliteStore checkpoint worker", () => {
  it("a process that swept in WAL mode and never closed the store exits by itself", () => {
    const path = file();
    const code = `import { SqliteStore } from "./src/stores/sqlitestore.ts";
      import { openSessionDb } from "./examples/demo/sqlite.ts";
      const { db } = await openSessionDb(${JSON.stringify(path)});
      db.exec("PRAGMA journal_mode = WAL");
      const store = new SqliteStore(db, { cleanupInterval: 60_000 });
      for (let i = 0; i < 3000; i++) store.commit("t" + i, new Uint8Array(100), new Date(Date.now() - 1));
      console.log(await store.deleteExpired());`;
    const run = spawnSync(
      process.execPath,
      ["--no-warnings", "--import", "tsx", "--input-type=module", "-e", code],
      { timeout: 30_000, encoding: "utf8" },
    );
    assert.equal(run.signal, null, "it exited by itself, not by the timeout's kill");
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), "3000");
    assert.ok(statSync(path).size > 0);
  });
});
