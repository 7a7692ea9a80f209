/**
 * SessionManager options at their edges: the injected clock reaches the default MemStore, and
 * durations whose expiry would fall outside the Date range are refused at construction, so no
 * cookie is ever built from an invalid date.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { describe, it } from "node:test";
import { SessionManager } from "../src/manager.ts";
import type { SessionManagerOptions } from "../src/options.ts";
import type { Session } from "../src/session.ts";
import { failOnProcessErrors } from "./helpers/failing-stores.ts";
import { listen, request } from "./helpers/http.ts";

const processErrors = failOnProcessErrors();
const quiet = { warn() {}, error() {} };
const YEAR = 365.25 * 86_400_000;
const HOUR = 3_600_000;
const article = (word: string) => (/^[aeiou]/i.test(word) ? "an" : "a");

/** A manager with the default store and a fake clock; `advance` moves the clock. */
function withClock(offset: number, options: SessionManagerOptions = {}) {
  let clock = Date.now() + offset;
  const sessions = new SessionManager({ logger: quiet, ...options, now: () => clock });
  return {
    sessions,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

/** Commits a session holding k = "v" and returns its token. */
async function commitOne(sessions: SessionManager): Promise<string> {
  const session = await sessions.load(undefined);
  session.put("k", "v");
  return (await sessions.commit(session)).token;
}

describe("the injected clock and the default MemStore", () => {
  const clocks = [
    { name: "10 years in the future", offset: 10 * YEAR },
    { name: "10 years in the past", offset: -10 * YEAR },
  ];
  for (const { name, offset } of clocks) {
    it(`a session committed under an injected clock ${name} loads again from the default store`, async () => {
      const { sessions } = withClock(offset);
      try {
        const token = await commitOne(sessions);
        assert.equal((await sessions.load(token)).get("k"), "v");
      } finally {
        await sessions.close();
      }
    });

    it(`a session expires when an injected clock ${name} passes its lifetime`, async () => {
      const { sessions, advance } = withClock(offset, { lifetime: HOUR });
      try {
        const token = await commitOne(sessions);
        advance(HOUR - 1_000);
        const before = (await sessions.load(token)).get("k");
        advance(2_000);
        const after = (await sessions.load(token)).get("k");
        assert.deepEqual({ before, after }, { before: "v", after: undefined });
      } finally {
        await sessions.close();
      }
    });

    it(`a session expires when an injected clock ${name} passes its idle timeout`, async () => {
      const { sessions, advance } = withClock(offset, { idleTimeout: HOUR });
      try {
        const token = await commitOne(sessions);
        advance(HOUR - 1_000);
        const before = (await sessions.load(token)).get("k");
        advance(2_000);
        const after = (await sessions.load(token)).get("k");
        assert.deepEqual({ before, after }, { before: "v", after: undefined });
      } finally {
        await sessions.close();
      }
    });
  }
});

describe("durations past the Date range", () => {
  const huge = [1e300, 8.64e15];
  for (const option of ["lifetime", "idleTimeout"] as const) {
    for (const value of huge) {
      it(`${article(option)} ${option} of ${value} ms, whose expiry is past the Date range, is refused at construction with a TypeError naming ${option}`, () => {
        assert.throws(
          () => new SessionManager({ [option]: value }),
          (err: unknown) => err instanceof TypeError && err.message.includes(option),
        );
      });
    }
  }

  // RFC 6265 §4.1.1: Max-Age is 1*DIGIT, Expires an rfc1123-date (a 4-digit year).
  const WELL_FORMED =
    /; Max-Age=\d+; Expires=(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT(;|$)/;

  /** The session cookies of one request that puts a value (after `prepare`). */
  async function cookiesOf(
    sessions: SessionManager,
    prepare: (session: Session) => void = () => {},
  ) {
    const server = createServer(
      sessions.handler((req, res) => {
        const session = sessions.from(req);
        session.put("k", "v");
        prepare(session);
        res.end("ok");
      }),
    );
    const app = await listen(server);
    try {
      const res = await processErrors.race(request(app.url));
      return res.setCookies.filter((c) => c.startsWith("session="));
    } finally {
      await app.close();
    }
  }

  for (const option of ["lifetime", "idleTimeout"] as const) {
    it(`${article(option)} ${option} past the Date range never yields a cookie with Max-Age=NaN or Expires=Invalid Date`, async () => {
      for (const value of huge) {
        let sessions: SessionManager;
        try {
          sessions = new SessionManager({ [option]: value, logger: quiet });
        } catch (err) {
          assert.ok(err instanceof TypeError, "refused with a TypeError");
          continue; // refused: no cookie can be built from it
        }
        for (const cookie of await cookiesOf(sessions)) {
          assert.doesNotMatch(cookie, /NaN|Invalid Date/, `${option} ${value}`);
          assert.match(cookie, WELL_FORMED, `${option} ${value}`);
        }
      }
    });
  }

  const farDeadlines = [
    { name: "the last second of year 9999", date: new Date("9999-12-31T23:59:59Z") },
    { name: "the largest valid Date (8.64e15 ms)", date: new Date(8.64e15) },
  ];
  for (const { name, date } of farDeadlines) {
    it(`setDeadline(${name}) keeps the session cookie well-formed (RFC 6265 Max-Age and Expires)`, async () => {
      const sessions = new SessionManager({ logger: quiet });
      const cookies = await cookiesOf(sessions, (session) => session.setDeadline(date));
      assert.equal(cookies.length, 1, "one session cookie");
      assert.doesNotMatch(cookies[0]!, /NaN|Invalid Date/);
      assert.match(cookies[0]!, WELL_FORMED);
    });
  }
});
