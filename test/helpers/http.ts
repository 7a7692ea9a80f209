/**
 * Real HTTP over 127.0.0.1 for tests: start a server on a free port, send raw requests.
 * @module
 */
import { request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";

/** A response as the client saw it. */
export interface TestResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Each Set-Cookie header value. */
  setCookies: string[];
  /** performance.now() when the first byte of the response head arrived. */
  firstByteAt: number;
}

/**
 * Starts `server` on 127.0.0.1 with a free port.
 * @returns the base URL and a close function that also drops keep-alive connections.
 */
export async function listen(server: Server): Promise<{ url: string; close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Sends one request with exactly the headers given (raw: non-ASCII and duplicates allowed).
 * @returns the response.
 */
export function request(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string | string[]>;
    rawHeaders?: [string, string][];
    body?: string;
  } = {},
): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: options.method ?? "GET",
        // Raw headers are sent as given, so they need their own Host (HTTP/1.1 requires it).
        headers:
          options.rawHeaders === undefined
            ? options.headers
            : [["Host", target.host], ...options.rawHeaders].flat(),
        agent: false,
      },
      (res) => {
        const firstByteAt = performance.now();
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            setCookies: res.headers["set-cookie"] ?? [],
            firstByteAt,
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/**
 * The `name=value` pair of the first Set-Cookie for `name`, ready for a Cookie header.
 * @returns the pair, or undefined when none was set.
 */
export function cookiePair(res: TestResponse, name = "session"): string | undefined {
  const line = res.setCookies.find((c) => c.startsWith(`${name}=`));
  return line?.split(";")[0];
}

/** The token in the first Set-Cookie for `name`. @returns the token or undefined. */
export function cookieToken(res: TestResponse, name = "session"): string | undefined {
  return cookiePair(res, name)?.slice(name.length + 1);
}

/**
 * Sends `GET path` over a plain socket with `cookie` written as raw UTF-8 bytes — what a
 * hostile client can send and Node's own client refuses to.
 * @returns the status code, Set-Cookie lines and body.
 */
export function rawCookieRequest(
  url: string,
  cookie: string,
): Promise<{ status: number; setCookies: string[]; body: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(target.port), target.hostname);
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("end", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const [head = "", body = ""] = text.split("\r\n\r\n", 2);
      const lines = head.split("\r\n");
      const status = Number(lines[0]?.split(" ")[1]);
      const setCookies = lines
        .filter((l) => l.toLowerCase().startsWith("set-cookie:"))
        .map((l) => l.slice("set-cookie:".length).trim());
      resolve({ status, setCookies, body });
    });
    socket.write(
      Buffer.from(
        `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`,
        "utf8",
      ),
    );
  });
}
