/**
 * A TCP proxy on 127.0.0.1 (a free port) in front of a real rqlited that can hold a chosen
 * request: it is kept, unsent, while the client times out and retries elsewhere, and sent to
 * the node later by {@link HoldingProxy.release} — a write that lands after its caller gave up.
 * Every other request and every answer passes through unchanged; the bytes sent are the
 * client's own, in order, only delayed: nothing of rqlite's protocol is made up here.
 *
 * The proxy reads the request stream only to find where each HTTP/1.1 request ends (its
 * Content-Length), so that it can hold one whole request.
 * @module
 */
import { connect, createServer, type Socket } from "node:net";

const HEADERS_END = Buffer.from("\r\n\r\n");

/** What {@link startHoldingProxy} returns. */
export interface HoldingProxy {
  /** `http://127.0.0.1:<port>`, to give the client instead of the node's URL. */
  readonly url: string;
  /** Holds the next `count` requests whose bytes (head and body, as text) satisfy `match`. */
  hold(match: (request: string) => boolean, count?: number): void;
  /** Requests held now, not yet released. */
  readonly held: number;
  /**
   * Sends every held request to the node, each on a new connection, and waits for the answers.
   * @returns each answer's body (rqlite's JSON), in the order the requests were held.
   */
  release(): Promise<string[]>;
  /** Stops accepting, destroys every connection and drops what is still held. */
  close(): Promise<void>;
}

/** The length of the first complete request in `buf`, or -1 while it is incomplete. */
function requestLength(buf: Buffer): number {
  const at = buf.indexOf(HEADERS_END);
  if (at < 0) return -1;
  const head = buf.subarray(0, at).toString("latin1");
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  const total = at + HEADERS_END.length + (m ? Number(m[1]) : 0);
  return buf.length >= total ? total : -1;
}

/** Sends one raw request to `port` on `host` and resolves with its answer's body. */
function send(host: string, port: number, request: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    let answer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(new Error("no answer within 10 s")), 10_000);
    const done = (err?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else {
        const at = answer.indexOf(HEADERS_END);
        resolve(answer.subarray(at + HEADERS_END.length).toString("utf8"));
      }
    };
    socket.on("data", (chunk: Buffer) => {
      answer = Buffer.concat([answer, chunk]);
      const at = answer.indexOf(HEADERS_END);
      if (at < 0) return;
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(answer.subarray(0, at).toString("latin1"));
      if (m && answer.length >= at + HEADERS_END.length + Number(m[1])) done();
    });
    socket.on("end", () => done());
    socket.on("error", (err) => done(err));
    socket.write(request);
  });
}

/**
 * Starts a proxy to `target` (a node URL such as `http://127.0.0.1:4001`).
 * @example
 * const proxy = await startHoldingProxy(node.url);
 * proxy.hold((req) => req.includes("INSERT INTO"));
 */
export async function startHoldingProxy(target: string): Promise<HoldingProxy> {
  const { hostname, port } = new URL(target);
  const upstreamPort = Number(port);
  const sockets = new Set<Socket>();
  const held: Buffer[] = [];
  const rules: { match: (request: string) => boolean; left: number }[] = [];

  const server = createServer((client) => {
    const upstream = connect(upstreamPort, hostname);
    sockets.add(client);
    sockets.add(upstream);
    let pending = Buffer.alloc(0);
    // After a held request the connection waits for an answer that never comes: the client
    // gives up on it, and anything it still sends there is dropped with the connection.
    let stalled = false;
    client.on("data", (chunk: Buffer) => {
      if (stalled) return;
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const n = requestLength(pending);
        if (n < 0) return;
        const request = pending.subarray(0, n);
        pending = pending.subarray(n);
        const text = request.toString("utf8");
        const rule = rules.find((r) => r.left > 0 && r.match(text));
        if (rule) {
          rule.left--;
          held.push(Buffer.from(request));
          stalled = true;
          return;
        }
        upstream.write(request);
      }
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", end);
    upstream.on("close", end);
    client.on("error", () => {});
    upstream.on("error", () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const proxyPort = typeof address === "object" && address ? address.port : 0;

  return {
    url: `http://127.0.0.1:${proxyPort}`,
    hold(match, count = 1) {
      rules.push({ match, left: count });
    },
    get held() {
      return held.length;
    },
    async release() {
      const requests = held.splice(0, held.length);
      const answers: string[] = [];
      for (const request of requests) answers.push(await send(hostname, upstreamPort, request));
      return answers;
    },
    async close() {
      held.length = 0;
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
