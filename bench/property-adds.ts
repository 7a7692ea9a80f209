/**
 * What one own property added to a request or response object costs, on node:http's objects
 * as they are and after Express 5 has set their prototype (`Object.setPrototypeOf(res,
 * app.response)`, which Express does for every request). V8 does not share the map transitions
 * of an object whose prototype was set that way, so every property added afterwards copies
 * the object's map: the evidence behind the Express figures in bench/RESULTS.md. scs-ts adds
 * seven per Express request: the guard's four methods on the response, the request-state link
 * on the request and on the response, and `req.session`.
 * Not part of `npm run bench`.
 *
 * Usage: npx tsx bench/property-adds.ts
 * @module
 */
import http from "node:http";
import express from "express";
import { fmt, median } from "./lib/stats.ts";

const app = express();
const kState = Symbol("state");
function a(): void {}
function b(): void {}
function c(): void {}
function d(): void {}

/** ns per request object: construct the pair, optionally set Express's prototypes, add `adds` properties. */
function run(n: number, expressProto: boolean, adds: number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const req = new http.IncomingMessage(null as never);
    const res = new http.ServerResponse(req);
    if (expressProto) {
      Object.setPrototypeOf(req, app.request);
      Object.setPrototypeOf(res, app.response);
    }
    const r = res as unknown as Record<string | symbol, unknown>;
    if (adds >= 1) r.writeHead = a;
    if (adds >= 2) r.write = b;
    if (adds >= 3) r.end = c;
    if (adds >= 4) r.flushHeaders = d;
    if (adds >= 5) r[kState] = 1;
    if (adds >= 6) (req as unknown as Record<symbol, unknown>)[kState] = 1;
    if (adds >= 7) (req as unknown as Record<string, unknown>).session = 1;
  }
  return Number(process.hrtime.bigint() - started) / n;
}

const N = 50_000;
for (const expressProto of [false, true]) {
  const none: number[] = [];
  const seven: number[] = [];
  for (let round = 0; round < 5; round++) {
    none.push(run(N, expressProto, 0));
    seven.push(run(N, expressProto, 7));
  }
  const per = (median(seven) - median(none)) / 7;
  process.stdout.write(
    `${expressProto ? "after Express's setPrototypeOf" : "node:http objects as they are"}: ${fmt(per, 0)} ns per added property (7 added: ${fmt(median(seven) - median(none), 0)} ns per request)\n`,
  );
}
