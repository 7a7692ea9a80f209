/**
 * The WAL checkpoints of SqliteStore's cleanup, run on a second connection in a worker thread.
 *
 * Copying the WAL's pages back into the database ends with two fsyncs, and an fsync takes as
 * long as the disk wants (4 ms typically on our test machine, 90 ms and more while other work
 * used the disk). Run on the application's connection, that wait holds the event loop; run here
 * it holds only this thread. `PRAGMA wal_checkpoint(PASSIVE)` takes no lock a writer waits for,
 * so the application's own commits go on meanwhile.
 *
 * The worker loads the very driver the application's handle came from (the same SQLite library
 * copy: two copies in one process would not see each other's POSIX locks) and opens the same
 * file. When that cannot be known — an in-memory database, a bundled driver — there is no
 * checkpointer and the store checkpoints on its own connection, as before.
 * @module
 */
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { Worker } from "node:worker_threads";

/** A checkpointer for one database file; see the module comment. */
export interface Checkpointer {
  /**
   * Copies the WAL's frames into the database on the worker's connection.
   * @returns a Promise that resolves once done and rejects when the worker failed (it is then
   * closed, and the caller checkpoints itself).
   */
  checkpoint(): Promise<void>;
  /** Ends the worker; idempotent. */
  close(): void;
}

/** What the worker needs: where the driver is and which file to open. */
interface Target {
  driver: string;
  file: string;
}

/** The worker's code (CommonJS, run with `eval`): one checkpoint per message. */
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const { driver, file } = workerData;
// Never create a database: a file that is gone (or moved) is not the application's any more.
if (!require("node:fs").existsSync(file)) throw new Error("the database file is gone");
const db = driver === "node:sqlite"
  ? new (require("node:sqlite").DatabaseSync)(file)
  : new (require(driver))(file, { fileMustExist: true });
const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
parentPort.on("message", () => {
  let failure = null;
  try { checkpoint.get(); } catch (err) { failure = String(err && err.message); }
  parentPort.postMessage(failure);
});
`;

/**
 * The driver and file behind a database handle, when both can be known.
 * @returns undefined for an in-memory database or a driver that is not a node:sqlite or
 * better-sqlite3 module the process loaded itself.
 */
function targetOf(db: object): Target | undefined {
  const handle = db as { location?: unknown; name?: unknown; memory?: unknown };
  if (typeof handle.location === "function" && db.constructor?.name === "DatabaseSync") {
    const file: unknown = (handle.location as () => unknown).call(db);
    return typeof file === "string" && file !== "" ? { driver: "node:sqlite", file } : undefined;
  }
  if (typeof handle.name === "string" && handle.memory === false) {
    // better-sqlite3 is CommonJS: the module that made this handle is in the require cache.
    const cache = createRequire(resolve("noop.js")).cache;
    const path = Object.keys(cache).find((key) => cache[key]?.exports === db.constructor);
    return path === undefined ? undefined : { driver: path, file: resolve(handle.name) };
  }
  return undefined;
}

/**
 * Starts a checkpointer for the handle's database file.
 * @returns undefined when the file or driver cannot be known (see {@link targetOf}).
 */
export function openCheckpointer(db: object): Checkpointer | undefined {
  const target = targetOf(db);
  if (target === undefined) return undefined;
  // --no-warnings: node:sqlite's "experimental" warning was already shown by the application.
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: target,
    execArgv: ["--no-warnings"],
  });
  let waiting: { resolve: () => void; reject: (err: Error) => void } | undefined;
  let failed: Error | undefined;
  const fail = (err: Error): void => {
    failed ??= err;
    worker.unref();
    waiting?.reject(failed);
    waiting = undefined;
  };
  worker.on("message", (failure: string | null) => {
    const call = waiting;
    waiting = undefined;
    worker.unref();
    if (failure === null) call?.resolve();
    else call?.reject(new Error(`sqlitestore: checkpoint failed: ${failure}`));
  });
  worker.on("error", fail);
  worker.on("exit", () => fail(new Error("sqlitestore: the checkpoint worker ended")));
  // An idle worker never keeps the process alive; one at work does, as the sweep's own turns
  // of the event loop do (an awaited deleteExpired() gets its answer).
  worker.unref();
  return {
    checkpoint() {
      if (failed !== undefined) return Promise.reject(failed);
      if (waiting !== undefined)
        return Promise.reject(new Error("a checkpoint is already running"));
      return new Promise<void>((resolve, reject) => {
        waiting = { resolve, reject };
        worker.ref();
        worker.postMessage(null);
      });
    },
    close() {
      fail(new Error("sqlitestore: the checkpoint worker was closed"));
      worker.terminate().catch(() => {});
    },
  };
}
