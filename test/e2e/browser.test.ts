/**
 * The demo app in a real headless Chromium (Debian's chromium, driven by playwright-core):
 * cookie attributes as the browser stores them, the counter, sign in/out with token renewal,
 * the flash, browser-session vs remembered cookies, and the idle timeout. Each step saves a
 * screenshot under test-output/browser/.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type Browser,
  type BrowserContext,
  type Cookie,
  chromium,
  type Page,
} from "playwright-core";
import { createDemoApp, type DemoOptions } from "../../examples/demo/app.ts";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = join("test-output", "browser");

let browser: Browser;
const servers: Server[] = [];
const contexts: BrowserContext[] = [];

before(async () => {
  // Not a skip: without a browser this test must fail (npm test installs chromium first).
  assert.ok(
    existsSync(CHROMIUM),
    `chromium is missing at ${CHROMIUM}: install Debian's chromium package (apt-get install -y chromium), as npm test does`,
  );
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** Starts a demo instance on 127.0.0.1. @returns its base URL. */
async function startDemo(options: DemoOptions = {}): Promise<string> {
  const { server } = createDemoApp(options);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  contexts.push(context);
  return { context, page: await context.newPage() };
}

async function sessionCookie(context: BrowserContext): Promise<Cookie | undefined> {
  return (await context.cookies()).find((cookie) => cookie.name === "session");
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function visits(page: Page): Promise<number> {
  return Number(await page.textContent("#visits"));
}

async function signIn(page: Page, username: string, remember: boolean): Promise<void> {
  await page.fill("form#signin input[name=username]", username);
  if (remember) await page.check("form#signin input[name=remember]");
  await Promise.all([
    page.waitForURL((url) => url.pathname === "/"),
    page.click("form#signin button[type=submit]"),
  ]);
  await page.waitForSelector("#user");
}

describe("the demo in headless Chromium", () => {
  it("keeps an HttpOnly SameSite=Lax cookie, counts visits, renews the token at sign-in and sign-out, shows the flash once", async () => {
    const url = await startDemo();
    const { context, page } = await newPage();

    await page.goto(`${url}/`);
    assert.equal(await visits(page), 1);
    await shot(page, "01-first-visit");
    const first = await sessionCookie(context);
    assert.ok(first, "the first visit sets a session cookie");
    assert.equal(first.httpOnly, true);
    assert.equal(first.sameSite, "Lax");
    assert.equal(first.path, "/");
    assert.doesNotMatch(String(await page.evaluate("document.cookie")), /session=/);

    await page.reload();
    await page.reload();
    assert.equal(await visits(page), 3, "the counter survives reloads");
    await shot(page, "02-counter-after-reloads");

    await signIn(page, "alice", false);
    assert.equal(await page.textContent("#user"), "alice");
    assert.equal(await page.textContent("#flash"), "Welcome, alice!");
    assert.equal(await visits(page), 4, "the counter survives sign-in");
    await shot(page, "03-signed-in-with-flash");
    const signedIn = await sessionCookie(context);
    assert.ok(signedIn);
    assert.notEqual(signedIn.value, first.value, "sign-in changes the token");
    assert.equal(signedIn.httpOnly, true);
    assert.equal(signedIn.sameSite, "Lax");
    assert.doesNotMatch(String(await page.evaluate("document.cookie")), /session=/);

    const preSignIn = await fetch(`${url}/`, { headers: { cookie: `session=${first.value}` } });
    assert.doesNotMatch(await preSignIn.text(), /id="user"/, "the pre-sign-in token is dead");

    await page.reload();
    assert.equal(await page.locator("#flash").count(), 0, "the flash shows once");
    assert.equal(await page.textContent("#user"), "alice");
    await shot(page, "04-flash-gone-after-reload");

    await Promise.all([
      page.waitForURL((u) => u.pathname === "/"),
      page.click("form#signout button[type=submit]"),
    ]);
    await page.waitForSelector("form#signin");
    assert.equal(await page.locator("#user").count(), 0);
    assert.equal(await page.textContent("#flash"), "You have been signed out.");
    await shot(page, "05-signed-out");
    const signedOut = await sessionCookie(context);
    assert.notEqual(signedOut?.value, signedIn.value, "sign-out clears the signed-in cookie");
    const stale = await fetch(`${url}/`, { headers: { cookie: `session=${signedIn.value}` } });
    assert.doesNotMatch(await stale.text(), /id="user"/, "the signed-in token is dead");
  });

  it("without remember-me the cookie lasts the browser session; with it, it has an expiry", async () => {
    const url = await startDemo({ sessions: { cookie: { persist: false } } });

    const forgetful = await newPage();
    await forgetful.page.goto(`${url}/`);
    await signIn(forgetful.page, "bob", false);
    await shot(forgetful.page, "06-signed-in-without-remember-me");
    const sessionOnly = await sessionCookie(forgetful.context);
    assert.ok(sessionOnly);
    assert.equal(sessionOnly.expires, -1, "a browser-session cookie has no expiry");

    const remembered = await newPage();
    await remembered.page.goto(`${url}/`);
    await signIn(remembered.page, "carol", true);
    await shot(remembered.page, "07-signed-in-with-remember-me");
    const persistent = await sessionCookie(remembered.context);
    assert.ok(persistent);
    const hour = 3600;
    const now = Date.now() / 1000;
    assert.ok(persistent.expires > now + hour, `expires ${persistent.expires} is in the future`);
    assert.ok(persistent.expires <= now + 24 * hour + 60, "and no later than the lifetime");
  });

  it("an idle timeout signs the browser out after the wait", async () => {
    const url = await startDemo({ sessions: { idleTimeout: 1500 } });
    const { page } = await newPage();
    await page.goto(`${url}/`);
    await signIn(page, "dave", false);
    await page.reload();
    assert.equal(await page.textContent("#user"), "dave", "activity keeps the session alive");
    await shot(page, "08-before-idle-timeout");
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await page.reload();
    await page.waitForSelector("form#signin");
    assert.equal(await page.locator("#user").count(), 0, "idle too long: signed out");
    assert.equal(await visits(page), 1, "and the counter starts again");
    await shot(page, "09-after-idle-timeout");
  });
});
