/**
 * What the drop-in tests share: a cookie-keeping client over 127.0.0.1, and the two variants
 * every scenario runs on — "ours" (the scs-ts drop-in entry) and "peer" (the package it
 * replaces), so each scenario is shown right by the peer passing it too.
 * @module
 */
import type { Server } from "node:http";
import type { Store } from "../../src/store.ts";
import { listen, request, type TestResponse } from "../helpers/http.ts";

/** The two sides of every scenario. */
export const VARIANTS = ["ours", "peer"] as const;
export type Variant = (typeof VARIANTS)[number];

/** Bounds every drop-in test file's tests. */
export const TEST_TIMEOUT = 20_000;

/** One response, with its body parsed as JSON when it is JSON. */
export interface Reply extends TestResponse {
  json(): Record<string, unknown>;
}

/**
 * A client that keeps cookies, as a browser would (by name; a Max-Age=0 or past Expires cookie
 * is deleted), so a scenario reads like a user's visit.
 */
export class Browser {
  readonly jar = new Map<string, string>();
  constructor(
    readonly base: string,
    readonly cookieName: string,
  ) {}

  /** The session cookie's value now (the peer's signed id, or our token). */
  get token(): string | undefined {
    return this.jar.get(this.cookieName);
  }

  /** Sends a request with the jar's cookies (or `cookie` instead) and keeps what comes back. */
  async send(
    path: string,
    options: {
      method?: string;
      json?: unknown;
      headers?: Record<string, string>;
      /** Send this session cookie value instead of the jar's (the jar is not updated). */
      as?: string;
    } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    const cookies = new Map(this.jar);
    if (options.as !== undefined) cookies.set(this.cookieName, options.as);
    if (cookies.size > 0) {
      headers.cookie = [...cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    }
    let body: string | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers["content-type"] = "application/json";
    }
    const res = await request(`${this.base}${path}`, {
      method: options.method ?? (body === undefined ? "GET" : "POST"),
      headers,
      body,
    });
    if (options.as === undefined) this.#keep(res.setCookies);
    return {
      ...res,
      json() {
        return JSON.parse(res.body) as Record<string, unknown>;
      },
    };
  }

  #keep(setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair = "", ...attributes] = line.split(";");
      const at = pair.indexOf("=");
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      const gone = attributes.some((a) => {
        const [key = "", val = ""] = a.trim().split("=");
        if (key.toLowerCase() === "max-age") return Number(val) <= 0;
        if (key.toLowerCase() === "expires") return Date.parse(val) <= Date.now();
        return false;
      });
      if (gone || value === "") this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }
}

/** A started server and a client for it. */
export interface Started {
  browser(): Browser;
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1.
 * @returns a factory of fresh clients and the close function.
 */
export async function start(server: Server, cookieName: string): Promise<Started> {
  const { url, close } = await listen(server);
  return { browser: () => new Browser(url, cookieName), close };
}

/** An external store for koa-session, kept in a Map: server-side like ours. */
export function mapStore() {
  const map = new Map<string, unknown>();
  return {
    get: async (key: string) => map.get(key),
    set: async (key: string, value: unknown) => {
      map.set(key, value);
    },
    destroy: async (key: string) => {
      map.delete(key);
    },
  };
}

/** A store that counts the writes that reach another. */
export class CountingStore implements Store {
  commits = 0;
  constructor(readonly inner: Store) {}
  find(token: string) {
    return this.inner.find(token);
  }
  commit(token: string, data: Uint8Array, expiry: Date) {
    this.commits++;
    return this.inner.commit(token, data, expiry);
  }
  delete(token: string) {
    return this.inner.delete(token);
  }
}
