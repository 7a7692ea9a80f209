/**
 * HeldResponse on its own, on real responses of a real server: while held, the handler's
 * calls and reads are answered by the stand-in; once released, the response has exactly the
 * own properties it had before (the hold leaves nothing behind, also on a response whose
 * prototype was changed, as Express does), the recorded calls reach the client, and a method
 * reference taken during the hold still works afterwards.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, ServerResponse } from "node:http";
import { after, describe, it } from "node:test";
import { HeldResponse } from "../../src/http/held-response.ts";
import { listen, request } from "../helpers/http.ts";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers) await close();
});

/** Serves one handler; errors it throws fail the test through the response. */
async function serve(handler: Handler): Promise<string> {
  const server = createServer((req, res) => {
    try {
      handler(req, res);
    } catch (err) {
      res.statusCode = 599;
      res.end(String(err));
    }
  });
  const { url, close } = await listen(server);
  closers.push(close);
  return url;
}

/** Own property names and symbols of `o`, each with the kind of its descriptor. */
function ownShape(o: object): string[] {
  return Reflect.ownKeys(o).map((key) => {
    const d = Object.getOwnPropertyDescriptor(o, key) as PropertyDescriptor;
    const kind = "value" in d ? `value:${typeof d.value}` : "accessor";
    return `${String(key)} ${kind} ${d.enumerable} ${d.configurable}`;
  });
}

for (const prototype of ["ServerResponse's own", "a per-request one (as Express sets)"]) {
  describe(`HeldResponse on a response with ${prototype} prototype`, () => {
    const adopt = (res: ServerResponse) => {
      if (prototype !== "ServerResponse's own") {
        Object.setPrototypeOf(res, Object.create(ServerResponse.prototype));
      }
    };

    it("while held, calls and reads go to the stand-in; released, the response has its own properties as before and the client gets the recorded calls", async () => {
      let shapes: { before: string[]; released: string[] } | undefined;
      let seen: Record<string, unknown> = {};
      const url = await serve((req, res) => {
        adopt(res);
        res.setHeader("x-before", "1");
        const before = ownShape(res);
        const held = new HeldResponse(req, res, false);
        res.statusCode = 201;
        res.setHeader("x-during", "2");
        held.call("end", ["held body"]);
        seen = {
          statusCode: res.statusCode,
          during: res.getHeader("x-during"),
          names: res.getHeaderNames().sort(),
          headersSent: res.headersSent,
          writableEnded: res.writableEnded,
          finished: res.finished,
        };
        // Node throws as it would after end(): the header is not set.
        assert.throws(() => res.setHeader("x-late", "3"), { code: "ERR_HTTP_HEADERS_SENT" });
        const keptGetHeader = res.getHeader;
        held.release();
        shapes = { before, released: ownShape(res) };
        seen.keptGetHeader = keptGetHeader.call(res, "x-during");
      });
      const got = await request(url);
      assert.equal(got.status, 201);
      assert.equal(got.body, "held body");
      assert.equal(got.headers["x-before"], "1");
      assert.equal(got.headers["x-during"], "2");
      assert.equal(got.headers["x-late"], undefined);
      assert.deepEqual(seen, {
        statusCode: 201,
        during: "2",
        names: ["x-before", "x-during"],
        headersSent: true,
        writableEnded: true,
        finished: true,
        keptGetHeader: "2",
      });
      // The replayed end() changes what Node's end() changes, nothing else: compare the keys
      // the hold could have touched, and that no key of the hold's is left.
      const { before, released } = shapes as { before: string[]; released: string[] };
      const hold =
        /^(setHeader|appendHeader|removeHeader|setHeaders|addTrailers|destroy|getHeader|getHeaders|getHeaderNames|getRawHeaderNames|hasHeader|headersSent|writableEnded|writableFinished|writableLength|writableNeedDrain|finished|destroyed|statusCode|statusMessage|Symbol\(scs-ts[^)]*\)) /;
      assert.deepEqual(
        released.filter((k) => hold.test(k)),
        before
          .filter((k) => hold.test(k))
          .concat(["statusCode value:number true true", "statusMessage value:string true true"])
          .filter((k, i, all) => all.indexOf(k) === i)
          .sort((a, b) => released.indexOf(a) - released.indexOf(b)),
      );
      assert.ok(!released.some((k) => k.startsWith("Symbol(scs-ts")), "no symbol of the hold left");
    });

    it("discarded, the response is as before the hold and free for another answer", async () => {
      let released: string[] = [];
      let before: string[] = [];
      const url = await serve((req, res) => {
        adopt(res);
        res.statusCode = 200;
        before = ownShape(res);
        const held = new HeldResponse(req, res, false);
        res.statusCode = 404;
        res.setHeader("x-dropped", "1");
        held.call("end", ["dropped"]);
        held.discard();
        released = ownShape(res);
        res.statusCode = 503;
        res.end("error answer");
      });
      const got = await request(url);
      assert.equal(got.status, 503);
      assert.equal(got.body, "error answer");
      assert.equal(got.headers["x-dropped"], undefined);
      assert.deepEqual(released, before);
    });
  });
}
