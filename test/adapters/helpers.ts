/**
 * Test doubles and a loopback HTTP client for the adapter tests.
 */
import { type IncomingHttpHeaders, request } from "node:http";
import { StoreUnavailableError } from "../../src/errors.ts";
import type { IterableStore } from "../../src/store.ts";
import { MemStore } from "../../src/stores/memstore.ts";

/**
 * A MemStore that logs what happens (into a log the client writes to as well), can make
 * commits slow, and can make commits fail.
 */
export class RecordingStore implements IterableStore {
  readonly inner = new MemStore({ cleanupInterval: 0 });
  commitDelay = 0;
  failCommit = false;
  failFind = false;
  constructor(readonly log: string[] = []) {}

  find(token: string): Uint8Array | undefined | Promise<never> {
    if (this.failFind)
      return Promise.reject(new StoreUnavailableError("find failed (test double)"));
    return this.inner.find(token);
  }

  commit(token: string, data: Uint8Array, expiry: Date): void | Promise<void> {
    if (this.failCommit) {
      this.log.push("commit-failed");
      return Promise.reject(new StoreUnavailableError("commit failed (test double)"));
    }
    if (this.commitDelay === 0) {
      this.inner.commit(token, data, expiry);
      this.log.push("commit");
      return;
    }
    this.log.push("commit-start");
    return new Promise((resolve) => {
      setTimeout(() => {
        this.inner.commit(token, data, expiry);
        this.log.push("commit-end");
        resolve();
      }, this.commitDelay);
    });
  }

  delete(token: string): void {
    this.inner.delete(token);
  }

  all(): Map<string, Uint8Array> {
    return this.inner.all();
  }

  get size(): number {
    return this.inner.all().size;
  }
}

/** A started test server. */
export interface Listening {
  url: string;
  close(): Promise<void>;
}

export { listen } from "../helpers/http.ts";

/** A response as the tests look at it. */
export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  setCookie: string[];
}

/**
 * GET (or `method`) over a fresh connection. Logs "first-byte" into `log` when the response
 * head arrives, so tests can order it against the store's commit.
 */
export function fetchText(
  url: string,
  options: { method?: string; headers?: Record<string, string>; log?: string[] } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? "GET", headers: options.headers, agent: false },
      (res) => {
        options.log?.push("first-byte");
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
            setCookie: res.headers["set-cookie"] ?? [],
          }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** The `name=value` pair of a Set-Cookie header, for sending back as Cookie. */
export function cookiePair(setCookie: string | undefined): string {
  if (setCookie === undefined) throw new Error("no Set-Cookie in the response");
  return setCookie.split(";")[0] as string;
}

/** The token in a `session=<token>` Set-Cookie header. */
export function tokenOf(setCookie: string | undefined): string {
  return cookiePair(setCookie).slice(cookiePair(setCookie).indexOf("=") + 1);
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
