/**
 * Failure-path doubles for the response-path tests: stores that fail in one method (wrapping a
 * real MemStore) and a direct look into a store, a raw-socket client that shows every header
 * line as sent, and a guard that fails a test file when anything escapes to the process
 * (unhandled rejection, uncaught exception).
 * @module
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, afterEach, before } from "node:test";
import { StoreUnavailableError } from "../../src/errors.ts";
import type { Store } from "../../src/store.ts";
import { MemStore } from "../../src/stores/memstore.ts";

/** A MemStore whose delete rejects with StoreUnavailableError; find and commit work. */
export class FailingDeleteStore implements Store {
  readonly inner = new MemStore({ cleanupInterval: 0 });
  deletes = 0;
  find(token: string): Uint8Array | undefined {
    return this.inner.find(token);
  }
  commit(token: string, data: Uint8Array, expiry: Date): void {
    this.inner.commit(token, data, expiry);
  }
  async delete(): Promise<void> {
    this.deletes++;
    throw new StoreUnavailableError("delete failed (test double)");
  }
}

/** A MemStore whose commit throws synchronously (a synchronous store that fails). */
export class ThrowingCommitStore implements Store {
  readonly inner = new MemStore({ cleanupInterval: 0 });
  constructor(readonly makeError: () => Error = () => new Error("commit failed (test double)")) {}
  find(token: string): Uint8Array | undefined {
    return this.inner.find(token);
  }
  commit(): void {
    throw this.makeError();
  }
  delete(token: string): void {
    this.inner.delete(token);
  }
}

/**
 * Whether `store` holds `token`, read directly from it (or from the MemStore inside a double),
 * so looking does not wait on a slow double or change what it logs.
 */
export function holds(store: Store, token: string): boolean {
  const inner = (store as { inner?: MemStore }).inner ?? (store as MemStore);
  return inner.find(token) !== undefined;
}

/** A response read off a raw socket: every header line as the server wrote it. */
export interface RawResponse {
  status: number;
  /** [name, value] per header line, names as sent. */
  headerLines: [string, string][];
  body: string;
  /** The socket error that ended the read (e.g. a reset), if any. */
  error: string | undefined;
}

/**
 * Sends `GET path` with `Connection: close` over a plain socket and reads until the server
 * closes it, so duplicated or conflicting headers (which Node's client refuses) are visible.
 * With `readAfter`, the client reads nothing until that promise settles (a slow reader: the
 * server cannot hand much more than the kernel's socket buffers to it meanwhile).
 * @returns the status, the header lines and the body bytes as latin1 text.
 */
export function rawGet(
  url: string,
  options: { headers?: Record<string, string>; readAfter?: Promise<unknown> } = {},
): Promise<RawResponse> {
  const target = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(target.port), target.hostname);
    const chunks: Buffer[] = [];
    let error: string | undefined;
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
    });
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      const head = split === -1 ? text : text.slice(0, split);
      const body = split === -1 ? "" : text.slice(split + 4);
      const [statusLine = "", ...lines] = head.split("\r\n");
      const headerLines = lines.map((line): [string, string] => {
        const colon = line.indexOf(":");
        return [line.slice(0, colon), line.slice(colon + 1).trim()];
      });
      resolve({ status: Number(statusLine.split(" ")[1]), headerLines, body, error });
    });
    const extra = Object.entries(options.headers ?? {})
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join("");
    socket.write(
      `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\n${extra}Connection: close\r\n\r\n`,
    );
    if (options.readAfter !== undefined) {
      socket.pause();
      const resume = () => socket.resume();
      options.readAfter.then(resume, resume);
    }
  });
}

/** What the process reported while a test file ran. */
export interface ProcessErrors {
  /**
   * Settles as `promise` does, or rejects as soon as an uncaught exception or unhandled
   * rejection is reported, so a request whose server side crashed fails at once with the cause
   * instead of hanging until the timeout.
   */
  race<T>(promise: Promise<T>): Promise<T>;
}

function describeError(kind: string, err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return `${kind}: ${text}`;
}

/** Lets pending callbacks (nextTick, microtasks, immediates) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Registers `uncaughtException` and `unhandledRejection` handlers for the test file (before /
 * after hooks) and fails every test during which one fired (afterEach), naming the error.
 * Call once at the top of a test file.
 * @returns {@link ProcessErrors}.
 */
export function failOnProcessErrors(): ProcessErrors {
  const fired: string[] = [];
  const waiters = new Set<(reason: Error) => void>();
  const report = (kind: string) => (err: unknown) => {
    const text = describeError(kind, err);
    fired.push(text);
    for (const wake of waiters) wake(new Error(`the server side failed: ${text}`));
  };
  const onException = report("uncaught exception");
  const onRejection = report("unhandled rejection");
  before(() => {
    process.on("uncaughtException", onException);
    process.on("unhandledRejection", onRejection);
  });
  afterEach(async () => {
    await settle();
    const during = fired.splice(0);
    assert.deepEqual(during, [], "no uncaught exception or unhandled rejection during the test");
  });
  after(async () => {
    await settle();
    process.off("uncaughtException", onException);
    process.off("unhandledRejection", onRejection);
    assert.deepEqual(fired, [], "no uncaught exception or unhandled rejection in the file");
  });
  return {
    race<T>(promise: Promise<T>): Promise<T> {
      let wake!: (reason: Error) => void;
      const failed = new Promise<never>((_resolve, reject) => {
        wake = reject;
      });
      waiters.add(wake);
      return Promise.race([promise, failed]).finally(() => waiters.delete(wake));
    },
  };
}
