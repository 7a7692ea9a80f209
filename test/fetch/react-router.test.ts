// The README's React Router example (examples/react-router): its route modules served by
// React Router's own server runtime (`createRequestHandler` with a server build made of those
// modules, as a framework build gives it) over 127.0.0.1, through @hono/node-server.
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, describe, it } from "node:test";
import { createAdaptorServer } from "@hono/node-server";
import { createRequestHandler, type ServerBuild } from "react-router";
import * as login from "../../examples/react-router/app/routes/login.ts";
import * as logout from "../../examples/react-router/app/routes/logout.ts";
import * as me from "../../examples/react-router/app/routes/me.ts";
import * as visits from "../../examples/react-router/app/routes/visits.ts";
import { cookiePair, fetchText, type Listening, listen } from "../adapters/helpers.ts";

/** A server build as `react-router build` writes it, with the example's route modules. */
function buildOf(): ServerBuild {
  const route = (id: string, path: string, module: object, index = false) => ({
    id,
    parentId: "root",
    path,
    index,
    caseSensitive: undefined,
    module,
  });
  return {
    entry: { module: { default: () => new Response("document", { status: 200 }) } },
    routes: {
      root: { id: "root", path: "", module: { default: () => null } },
      "routes/visits": route("routes/visits", "", visits, true),
      "routes/me": route("routes/me", "me", me),
      "routes/login": route("routes/login", "login", login),
      "routes/logout": route("routes/logout", "logout", logout),
    },
    assets: { entry: { imports: [], module: "" }, routes: {}, url: "", version: "1" },
    publicPath: "/",
    assetsBuildDirectory: "",
    future: {},
    ssr: true,
    isSpaMode: false,
    prerender: [],
    routeDiscovery: { mode: "lazy", manifestPath: "/__manifest" },
  } as unknown as ServerBuild;
}

const started: Listening[] = [];
after(() => Promise.all(started.map((app) => app.close())));

describe("README React Router example (loaders and actions with loadRequest/commitHeaders)", () => {
  it("counter, login with a new token through a redirect, logout", async () => {
    const handler = createRequestHandler(buildOf(), "production");
    const server = await listen(
      createAdaptorServer({ fetch: (request) => handler(request) }) as Server,
    );
    started.push(server);
    const { url } = server;

    const first = await fetchText(`${url}/`);
    assert.equal(first.body, "visits: 1");
    assert.equal(first.setCookie.length, 1);
    assert.match(String(first.headers.vary), /\bCookie\b/);
    assert.match(String(first.headers["cache-control"]), /no-cache="Set-Cookie"/);
    const cookie = cookiePair(first.setCookie[0]);
    assert.equal((await fetchText(`${url}/`, { headers: { cookie } })).body, "visits: 2");

    const anonymous = await fetchText(`${url}/me`, { headers: { cookie } });
    assert.equal(anonymous.body, "anonymous");
    assert.deepEqual(anonymous.setCookie, [], "a read sends no cookie");

    const signIn = await fetchText(`${url}/login`, { method: "POST", headers: { cookie } });
    assert.equal(signIn.status, 302);
    assert.equal(signIn.headers.location, "/me");
    const signedIn = cookiePair(signIn.setCookie[0]);
    assert.notEqual(signedIn, cookie, "login renews the token");
    assert.equal((await fetchText(`${url}/me`, { headers: { cookie: signedIn } })).body, "alice");
    assert.equal((await fetchText(`${url}/me`, { headers: { cookie } })).body, "anonymous");
    const third = await fetchText(`${url}/`, { headers: { cookie: signedIn } });
    assert.equal(third.body, "visits: 3", "values survive the renewal");

    const signOut = await fetchText(`${url}/logout`, {
      method: "POST",
      headers: { cookie: signedIn },
    });
    assert.equal(signOut.status, 302);
    assert.match(signOut.setCookie[0] ?? "", /^session=; .*Max-Age=0/);
    const after = await fetchText(`${url}/me`, { headers: { cookie: signedIn } });
    assert.equal(after.body, "anonymous");
  });
});
