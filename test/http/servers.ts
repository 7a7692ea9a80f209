/**
 * The servers a program runs on — bare node:http, `sessions.handler`, bare and sessioned
 * Express 4 / Express 5 / Koa — each started once on a free 127.0.0.1 port and handed one
 * program per request; plus the client that fetches one response and says how it ended, and
 * the store doubles of the three variants.
 * @module
 */
import { createServer, type RequestListener, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { connect } from "node:net";
import express from "express";
import Koa from "koa";
import { expressSession } from "../../src/adapters/express.ts";
import { koaSession } from "../../src/adapters/koa.ts";
import {
  generateToken,
  MemStore,
  SessionManager,
  type Store,
  StoreUnavailableError,
} from "../../src/index.ts";
import { listen } from "../helpers/http.ts";
import { SlowStore } from "../helpers/stores.ts";
import type { Program } from "./programs.ts";
import { ProgramRun } from "./runner.ts";

const Express4 = createRequire(import.meta.url)("express4") as typeof express;

export type Framework = "node" | "express4" | "express5" | "koa";
/** (a) MemStore, synchronous answers; (b) every call answers after a delay; (c) writes fail. */
export type StoreKind = "sync" | "slow" | "failing";

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** A store whose commit and delete fail with StoreUnavailableError (after 1 ms); find works. */
export class FailingWritesStore implements Store {
  readonly inner = new MemStore({ cleanupInterval: 0 });
  writes = 0;
  find(token: string): Uint8Array | undefined {
    return this.inner.find(token);
  }
  async commit(): Promise<void> {
    this.writes++;
    await sleep(1);
    throw new StoreUnavailableError("store unreachable");
  }
  async delete(): Promise<void> {
    this.writes++;
    await sleep(1);
    throw new StoreUnavailableError("store unreachable");
  }
}

/**
 * The error handling of a careful app, as scs-ts's default: 500 (503 when the store is down),
 * abort once what was written is out (Node flushes a corked response on the next tick), or
 * nothing.
 */
export function careful(res: ServerResponse, err: unknown): void {
  if (res.writableEnded) return;
  if (res.headersSent) {
    process.nextTick(() => res.destroy());
    return;
  }
  try {
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    res.statusCode = err instanceof StoreUnavailableError ? 503 : 500;
    res.statusMessage = "";
    res.end();
  } catch {
    res.destroy();
  }
}

type Middleware = (...args: never[]) => unknown;

/** What one request runs: the program, and for session targets its manager and middleware. */
interface Current {
  program: Program;
  epilogueDestroy: boolean | "own";
  sessions: SessionManager | undefined;
  /** node: the `sessions.handler` listener; express/koa: the adapter's middleware */
  middleware: Middleware | undefined;
  run: ProgramRun | undefined;
}

/** One running server of one framework, with or without sessions. */
export class Target {
  current: Current | undefined;
  url = "";
  close: () => Promise<void> = async () => {};

  private constructor(
    readonly framework: Framework,
    readonly withSessions: boolean,
  ) {}

  static async start(framework: Framework, withSessions: boolean): Promise<Target> {
    const target = new Target(framework, withSessions);
    const server = createServer(target.#listener());
    const { url, close } = await listen(server);
    target.url = url;
    target.close = close;
    return target;
  }

  /** Builds the manager and middleware for the next request. */
  prepare(program: Program, epilogueDestroy: boolean | "own", store: Store | undefined): void {
    let sessions: SessionManager | undefined;
    let middleware: Middleware | undefined;
    if (this.withSessions) {
      sessions = new SessionManager({ store, logger: { warn() {}, error() {} } });
      const s = sessions;
      if (this.framework === "node") {
        middleware = s.handler((req, res) => this.#begin(res, () => s.from(req)).start());
      } else if (this.framework === "koa") {
        middleware = koaSession(s) as Middleware;
      } else {
        middleware = expressSession(s) as Middleware;
      }
    }
    this.current = { program, epilogueDestroy, sessions, middleware, run: undefined };
  }

  #begin(res: ServerResponse, session: ProgramRun["options"]["session"]): ProgramRun {
    const current = this.current!;
    const run = new ProgramRun(current.program, res, {
      session,
      epilogueDestroy: current.epilogueDestroy,
    });
    current.run = run;
    return run;
  }

  #sessionOf(req: object): ProgramRun["options"]["session"] {
    const sessions = this.current!.sessions;
    return sessions === undefined ? undefined : () => sessions.from(req as never);
  }

  #listener(): RequestListener {
    switch (this.framework) {
      case "node":
        if (this.withSessions) {
          return (req, res) =>
            (this.current!.middleware as (a: typeof req, b: typeof res) => void)(req, res);
        }
        return (_req, res) => {
          const run = this.#begin(res, undefined);
          let result: unknown;
          try {
            result = run.start();
          } catch (err) {
            careful(res, err);
            return;
          }
          if (result instanceof Promise) result.then(undefined, (err) => careful(res, err));
        };
      case "express4":
      case "express5": {
        const app = (this.framework === "express4" ? Express4 : express)();
        // Express's final handler logs every error it gets outside "test"; the runs compare
        // responses, the log would only be noise.
        app.set("env", "test");
        if (this.withSessions) {
          app.use((req, res, next) =>
            (this.current!.middleware as (...a: unknown[]) => void)(req, res, next),
          );
        }
        app.use((req, res, next) => {
          const run = this.#begin(res, this.#sessionOf(req));
          let result: unknown;
          try {
            result = run.start();
          } catch (err) {
            next(err);
            return;
          }
          if (result instanceof Promise) result.then(undefined, next);
        });
        app.use(
          (
            err: unknown,
            _req: express.Request,
            res: express.Response,
            _next: express.NextFunction,
          ) => careful(res, err),
        );
        return app as unknown as RequestListener;
      }
      case "koa": {
        const app = new Koa();
        app.silent = true;
        app.use(async (ctx, next) => {
          try {
            await next();
          } catch (err) {
            ctx.respond = false;
            careful(ctx.res, err);
          }
        });
        if (this.withSessions) {
          app.use((ctx, next) =>
            (this.current!.middleware as (...a: unknown[]) => Promise<void>)(ctx, next),
          );
        }
        app.use((ctx) => {
          ctx.respond = false;
          return this.#begin(ctx.res, this.#sessionOf(ctx.req)).start() as Promise<void>;
        });
        return app.callback();
      }
    }
  }
}

/** What the client received. */
export type ClientOutcome =
  | {
      kind: "complete";
      status: number;
      reason: string;
      /** [name, value] as sent, in order */
      headers: [string, string][];
      body: Buffer;
    }
  | { kind: "aborted"; headersArrived: boolean; error: string }
  | { kind: "unparseable"; error: string }
  | { kind: "timeout" };

/**
 * Sends `GET /` (with `cookie`, if given) over a plain socket and reads until the server closes
 * it. Not Node's HTTP client: that one closes the connection as soon as the message is complete
 * by its framing (a Content-Length reached early), and the server's later writes would then race
 * that close. Here the server decides when the connection ends, as with a slow real client.
 */
export function fetchOnce(url: string, cookie: string | undefined, timeout = 1500) {
  const target = new URL(url);
  return new Promise<ClientOutcome>((resolve) => {
    const chunks: Buffer[] = [];
    let error = "";
    let timedOut = false;
    const socket = connect(Number(target.port), target.hostname);
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, timeout);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(timedOut ? { kind: "timeout" } : parseResponse(Buffer.concat(chunks), error));
    });
    const lines = ["GET / HTTP/1.1", `Host: ${target.host}`, "Connection: close"];
    if (cookie !== undefined) lines.push(`Cookie: ${cookie}`);
    socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  });
}

/**
 * Parses one HTTP/1.1 response from the bytes of a connection the server closed (with a FIN, or
 * a reset when `error` is set). Complete means complete by its framing: Content-Length, chunked,
 * or — with neither — a clean close.
 */
export function parseResponse(data: Buffer, error: string): ClientOutcome {
  const headEnd = data.indexOf("\r\n\r\n");
  if (headEnd < 0) return { kind: "aborted", headersArrived: false, error };
  const [statusLine = "", ...headerLines] = data
    .subarray(0, headEnd)
    .toString("latin1")
    .split("\r\n");
  const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
  if (match === null)
    return { kind: "unparseable", error: `status line ${JSON.stringify(statusLine)}` };
  const status = Number(match[1]);
  const headers: [string, string][] = [];
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    if (colon <= 0) return { kind: "unparseable", error: `header line ${JSON.stringify(line)}` };
    headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  const rest = data.subarray(headEnd + 4);
  const complete = (body: Buffer): ClientOutcome => ({
    kind: "complete",
    status,
    reason: match[2] ?? "",
    headers,
    body,
  });
  const aborted: ClientOutcome = { kind: "aborted", headersArrived: true, error };
  if (status < 200 || status === 204 || status === 304) return complete(Buffer.alloc(0));
  const values = (name: string) =>
    headers
      .filter(([n]) => n.toLowerCase() === name)
      .flatMap(([, v]) => v.split(","))
      .map((v) => v.trim().toLowerCase());
  const te = values("transfer-encoding");
  if (te.length > 0) {
    if (te[te.length - 1] !== "chunked") return { kind: "unparseable", error: "transfer-encoding" };
    const body = dechunk(rest);
    return body === undefined ? aborted : complete(body);
  }
  const lengths = new Set(values("content-length"));
  if (lengths.size > 1) return { kind: "unparseable", error: "content-length values differ" };
  if (lengths.size === 1) {
    const [text = ""] = lengths;
    if (!/^\d+$/.test(text)) return { kind: "unparseable", error: "content-length" };
    const length = Number(text);
    return rest.length >= length ? complete(rest.subarray(0, length)) : aborted;
  }
  return error === "" ? complete(rest) : aborted;
}

/** The body of a chunked message, or undefined when it was cut off before its last chunk. */
function dechunk(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf("\r\n", at);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(data.subarray(at, lineEnd).toString("latin1").split(";")[0]!, 16);
    if (Number.isNaN(size)) return undefined;
    at = lineEnd + 2;
    if (size === 0) return data.indexOf("\r\n", at) < 0 ? undefined : Buffer.concat(parts);
    if (data.length < at + size + 2) return undefined;
    parts.push(data.subarray(at, at + size));
    at += size + 2;
  }
}

/** Puts a session into `store` as another app server would, and returns its cookie. */
export async function seedSession(store: Store): Promise<string> {
  const seeder = new SessionManager({ store, logger: { warn() {}, error() {} } });
  const session = await seeder.load(undefined);
  session.put("seed", 1);
  const { token } = await seeder.commit(session);
  return `session=${token}`;
}

/** A cookie of the same shape for the bare runs, which have no store. */
export function bareCookie(): string {
  return `session=${generateToken()}`;
}

/**
 * A store that counts its calls still in flight, so a run is over only once the session layer
 * has nothing left to do: what it does after a late store answer (a replayed call that throws,
 * say) then shows up in this run, not in the next one.
 */
export class TrackedStore implements Store {
  inflight = 0;
  constructor(readonly inner: Store) {}
  #track<T>(value: T | Promise<T>): T | Promise<T> {
    if (!(value instanceof Promise)) return value;
    this.inflight++;
    return value.finally(() => {
      this.inflight--;
    });
  }
  find(token: string) {
    return this.#track(this.inner.find(token));
  }
  commit(token: string, data: Uint8Array, expiry: Date) {
    return this.#track(this.inner.commit(token, data, expiry));
  }
  delete(token: string) {
    return this.#track(this.inner.delete(token));
  }
  /** commit/delete calls a failing store received (0 for the others) */
  get writes(): number {
    return this.inner instanceof FailingWritesStore ? this.inner.writes : 0;
  }
}

/** The store of a variant, and the MemStore inside it where a session can be seeded. */
export function makeStore(
  kind: StoreKind,
  program: Program,
): { store: TrackedStore; inner: MemStore } {
  switch (kind) {
    case "sync": {
      const store = new MemStore({ cleanupInterval: 0 });
      return { store: new TrackedStore(store), inner: store };
    }
    case "slow": {
      const store = new SlowStore(program.delay);
      return { store: new TrackedStore(store), inner: store.inner };
    }
    case "failing": {
      const store = new FailingWritesStore();
      return { store: new TrackedStore(store), inner: store.inner };
    }
  }
}
