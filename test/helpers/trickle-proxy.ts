/**
 * A TCP proxy on 127.0.0.1 (a free port) in front of a real rqlited, for tests of slow answers.
 * It forwards every byte both ways; while `trickle` is on, an answer that starts is sent with
 * its headers at once and then its body one byte every `interval` ms. The bytes are rqlited's
 * own, in order, only delayed: nothing of rqlite's protocol is made up here.
 *
 * Once a connection has trickled an answer, everything later on it is trickled too (the proxy
 * does not parse bodies to find where the next answer starts); a client that gives up destroys
 * that connection anyway. `trickling` counts such connections still open: a client that gave up
 * on its request should leave none.
 * @module
 */
import { connect, createServer, type Socket } from "node:net";

const HEADERS_END = Buffer.from("\r\n\r\n");

/** What {@link startTrickleProxy} returns. */
export interface TrickleProxy {
  /** `http://127.0.0.1:<port>`, to give the client instead of the node's URL. */
  readonly url: string;
  /** Trickle answers that start from now on. */
  trickle: boolean;
  /** Milliseconds between two trickled body bytes. */
  interval: number;
  /** Client connections open now. */
  readonly open: number;
  /** Client connections accepted so far. */
  readonly accepted: number;
  /** Answers whose headers went out and whose body then trickled. */
  readonly trickled: number;
  /** Connections open now that have trickled an answer. */
  readonly trickling: number;
  /** Stops accepting and destroys every connection. */
  close(): Promise<void>;
}

/**
 * Starts a proxy to `target` (a node URL such as `http://127.0.0.1:4001`).
 * @example
 * const proxy = await startTrickleProxy(node.url, { trickle: true, interval: 200 });
 * const conn = new RqliteConnection({ nodes: proxy.url, deadline: 1000 });
 */
export async function startTrickleProxy(
  target: string,
  options: {
    trickle?: boolean;
    interval?: number;
    /**
     * Let the proxy's server and sockets not hold the process, so that only the client (and a
     * trickle in progress, whose timer is not unref'd) can keep it alive. @default false
     */
    unref?: boolean;
  } = {},
): Promise<TrickleProxy> {
  const { hostname, port } = new URL(target);
  const clients = new Set<Socket>();
  const slowClients = new Set<Socket>();
  let accepted = 0;
  let trickled = 0;

  const server = createServer((client) => {
    accepted++;
    clients.add(client);
    const upstream = connect(Number(port), hostname);
    if (options.unref) {
      client.unref();
      upstream.unref();
    }
    let slow = false;
    let head: Buffer | undefined; // an answer's start, until its headers are complete
    let body = Buffer.alloc(0);
    let drip: NodeJS.Timeout | undefined;

    const end = () => {
      clearTimeout(drip);
      drip = undefined;
      client.destroy();
      upstream.destroy();
    };
    const dripNext = () => {
      drip = undefined;
      if (body.length === 0 || client.destroyed) return;
      client.write(body.subarray(0, 1));
      body = body.subarray(1);
      drip = setTimeout(dripNext, proxy.interval);
    };

    client.on("data", (chunk: Buffer) => upstream.write(chunk));
    upstream.on("data", (chunk: Buffer) => {
      if (!slow && !proxy.trickle) {
        client.write(chunk);
        return;
      }
      if (!slow) {
        slow = true;
        slowClients.add(client);
        head = Buffer.alloc(0);
      }
      if (head !== undefined) {
        head = Buffer.concat([head, chunk]);
        const at = head.indexOf(HEADERS_END);
        if (at < 0) return;
        client.write(head.subarray(0, at + HEADERS_END.length));
        body = Buffer.concat([body, head.subarray(at + HEADERS_END.length)]);
        head = undefined;
        trickled++;
      } else {
        body = Buffer.concat([body, chunk]);
      }
      drip ??= setTimeout(dripNext, proxy.interval);
    });
    client.on("close", () => {
      clients.delete(client);
      slowClients.delete(client);
      end();
    });
    upstream.on("close", end);
    // A destroyed peer is the point of these tests, not a failure of the proxy.
    client.on("error", () => {});
    upstream.on("error", () => {});
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  if (options.unref) server.unref();
  const address = server.address();
  const proxyPort = typeof address === "object" && address ? address.port : 0;

  const proxy: TrickleProxy = {
    url: `http://127.0.0.1:${proxyPort}`,
    trickle: options.trickle ?? false,
    interval: options.interval ?? 200,
    get open() {
      return clients.size;
    },
    get accepted() {
      return accepted;
    },
    get trickled() {
      return trickled;
    },
    get trickling() {
      return slowClients.size;
    },
    async close() {
      for (const c of clients) c.destroy();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}

/** Polls `check` every 10 ms until it is true or `timeout` ms have passed; returns the last result. */
export async function waitFor(check: () => boolean, timeout: number): Promise<boolean> {
  const end = Date.now() + timeout;
  while (!check()) {
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}
