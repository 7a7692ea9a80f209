/**
 * `SESSION_DB=... npm start` in a real headless Chromium: sign in, the demo's server process is
 * killed (SIGKILL, a crash) and started again on the same SQLite file, then stopped cleanly
 * (SIGTERM) and started again; the browser is still signed in each time. The same steps on the
 * zero-config MemStore demo sign the user out, so the test can tell. Screenshots go to
 * test-output/browser/.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { freePort } from "../helpers/rqlite.ts";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = join("test-output", "browser");
const dir = mkdtempSync(join(tmpdir(), "scs-demo-db-"));
const children = new Set<ChildProcess>();
let browser: Browser;

const killAll = () => {
  for (const child of children) child.kill("SIGKILL");
};
process.on("exit", killAll);

before(async () => {
  assert.ok(existsSync(CHROMIUM), `chromium is missing at ${CHROMIUM}: npm test installs it`);
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

after(async () => {
  await browser?.close();
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `npm start`'s server in its own process; resolves once it listens. */
async function startDemo(port: number, env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "examples/demo/server.ts"], {
    env: {
      ...process.env,
      RQLITE_URL: "",
      SESSION_DB: "",
      ...env,
      PORT: String(port),
      HOST: "127.0.0.1",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not start:\n${output}`)), 20_000);
    const seen = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("scs-ts demo on")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", seen);
    child.stderr?.on("data", seen);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`demo exited (${code}):\n${output}`));
    });
  });
  console.log(`  ${output.split("\n").find((l) => l.includes("scs-ts demo on"))}`);
  return child;
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  await exited;
}

async function signedInAs(page: Page): Promise<string | null> {
  return (await page.locator("#user").count()) === 0 ? null : page.textContent("#user");
}

async function signIn(page: Page, url: string, name: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.fill("form#signin input[name=username]", name);
  await Promise.all([
    page.waitForURL((u) => u.pathname === "/"),
    page.click("form#signin button[type=submit]"),
  ]);
  await page.waitForSelector("#user");
}

describe("the demo restarted in its own process, with a browser signed in", () => {
  it("on SESSION_DB (SqliteStore): still signed in after a crash and after a clean restart", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = { SESSION_DB: join(dir, "sessions.db") };
    const context = await browser.newContext();
    const page = await context.newPage();
    let server = await startDemo(port, env);
    await signIn(page, url, "alice");
    await page.reload();
    const visits = Number(await page.textContent("#visits"));
    await page.screenshot({ path: join(SHOTS, "10-sqlite-signed-in-before-restart.png") });

    await stop(server, "SIGKILL");
    server = await startDemo(port, env);
    await page.reload();
    assert.equal(await signedInAs(page), "alice", "signed in after the crash and restart");
    assert.equal(Number(await page.textContent("#visits")), visits + 1, "the counter went on");
    await page.screenshot({ path: join(SHOTS, "11-sqlite-signed-in-after-crash-restart.png") });

    await stop(server, "SIGTERM");
    server = await startDemo(port, env);
    await page.reload();
    assert.equal(await signedInAs(page), "alice", "signed in after a clean restart");
    assert.equal(Number(await page.textContent("#visits")), visits + 2);
    await page.screenshot({ path: join(SHOTS, "12-sqlite-signed-in-after-clean-restart.png") });
    await stop(server, "SIGTERM");
    await context.close();
  });

  it("on the default MemStore the same restart signs the user out (the control)", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const context = await browser.newContext();
    const page = await context.newPage();
    let server = await startDemo(port, {});
    await signIn(page, url, "bob");
    await stop(server, "SIGKILL");
    server = await startDemo(port, {});
    await page.reload();
    assert.equal(await signedInAs(page), null, "MemStore lost the session with the process");
    await page.screenshot({ path: join(SHOTS, "13-memstore-signed-out-after-restart.png") });
    await stop(server, "SIGTERM");
    await context.close();
  });
});
