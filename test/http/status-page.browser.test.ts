/**
 * The status page in a real browser (headless Debian chromium through playwright-core): it renders
 * under its own Content-Security-Policy, shows a running run's progress bar, and leaves a
 * screenshot in artifacts/status-page.png for people to look at.
 * Skipped with a message when /usr/bin/chromium is absent, unless REQUIRE_BROWSER=1 (CI).
 */
import fs from "node:fs";
import path from "node:path";
import Fastify from "fastify";
import { chromium } from "playwright-core";
import { secretDigest } from "../../src/core/hash";
import { makeAccess } from "../../src/http/auth";
import { registerProblemHandlers } from "../../src/http/problem";
import { registerStatusRoutes, type StatusDeps } from "../../src/http/routes/status";
import { aJob, anItem, aRun } from "../helpers/builders";
import { makeTestDatabase } from "../helpers/db";
import { FakeSync } from "../helpers/fake-sync";
import { makeTempDir } from "../helpers/leftovers";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const SCREENSHOT = path.resolve(__dirname, "../../artifacts/status-page.png");
const ADMIN_TOKEN = "admin-token-0123456789abcdef";

const available = fs.existsSync(CHROMIUM);
const required = process.env.REQUIRE_BROWSER === "1";
if (!available && !required) {
  console.warn(`[status page browser test] SKIPPED: ${CHROMIUM} is not installed (apt-get install -y chromium)`);
}

function aBusyFleet() {
  const running = aRun()
    .forJob("staff")
    .withState("listing")
    .withStep(12)
    .withTotalEstimate(4000)
    .withCounts({ seen: 1500, created: 40, updated: 310, unchanged: 1150 })
    .build();
  const waiting = aRun().forJob("alumni").withState("awaiting_approval").with({ mode: "delta" }).build();
  return new FakeSync(
    [
      aJob().withId("staff").withTrigger("link-start-continue").build(),
      aJob().withId("alumni").withTrigger("schedule", "0 3 * * *", "Europe/Paris").build(),
    ],
    [
      running,
      waiting,
      aRun().forJob("staff").finished("completed").build(),
      aRun().forJob("staff").finished("failed").withLastError("Graph answered 403 Authorization_RequestDenied").build(),
      aRun().forJob("alumni").finished("cancelled").build(),
    ],
    {
      [waiting.id]: [
        anItem().pendingRemoval("delete").withDisplayName("Ada Lovelace").withEmail("ada@example.com").build(),
        anItem()
          .pendingRemoval("deactivate")
          .withDisplayName("Grace <b>Hopper</b>")
          .withEmail("grace@example.com")
          .build(),
      ],
    },
  );
}

describe("status page in a browser", () => {
  if (!available) {
    if (required) {
      it("needs chromium because REQUIRE_BROWSER=1", () => {
        throw new Error(`REQUIRE_BROWSER=1 but ${CHROMIUM} is not installed`);
      });
    } else {
      it.skip(`renders in headless Chromium (skipped: ${CHROMIUM} is not installed)`, () => undefined);
    }
    return;
  }

  /** The page behind the admin token, on its own database (the failure budget is counted there). */
  async function statusApp(options: Omit<StatusDeps, "service" | "admin" | "statusPublic"> = {}, authFailures = 10) {
    const db = await makeTestDatabase();
    const app = Fastify();
    app.addHook("onClose", () => db.close());
    registerProblemHandlers(app);
    registerStatusRoutes(app, {
      service: aBusyFleet(),
      admin: makeAccess(db.pool, secretDigest(ADMIN_TOKEN), { authFailures, adminMax: 600 }),
      statusPublic: false,
      ...options,
    });
    return { app, base: await app.listen({ port: 0, host: "127.0.0.1" }) };
  }

  it("asks for the admin token with the browser's login prompt, also once wrong guesses from its address spent the failure budget", async () => {
    const { app, base } = await statusApp({}, 2);
    // Someone at this address guessed three times: its budget of failed logins is spent.
    for (let guess = 0; guess < 3; guess++) {
      await fetch(`${base}/status`, { headers: { authorization: "Bearer a-wrong-guess" } });
    }
    const profile = makeTempDir("ews-chromium-");
    // Credentials for the prompt: Chromium sends them only when a 401 asks for them.
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      httpCredentials: { username: "anyone", password: ADMIN_TOKEN },
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const response = await page.goto(`${base}/status`);
      expect(response?.status()).toBe(200);
      expect(await page.title()).toBe("entra-wp-sync status");
    } finally {
      await context.close();
      await app.close();
      fs.rmSync(profile, { recursive: true, force: true });
    }
  });

  it("renders under its CSP, shows the running run's progress bar and saves a screenshot", async () => {
    const { app, base } = await statusApp({
      watchdog: () => [
        {
          job: "staff",
          runId: null,
          since: null,
          message: "run has made no progress for 17 min; is the continue link still being called?",
        },
      ],
    });
    const profile = makeTempDir("ews-chromium-");
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1100, height: 900 },
      extraHTTPHeaders: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const problems: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error" || message.type() === "warning") problems.push(message.text());
      });
      page.on("pageerror", (error) => problems.push(error.message));

      const response = await page.goto(`${base}/status`);
      expect(response?.status()).toBe(200);
      expect(await page.title()).toBe("entra-wp-sync status");

      const bar = page.locator('section[data-job="staff"] progress.run-progress');
      expect(await bar.count()).toBe(1);
      expect(await bar.evaluate((el: HTMLProgressElement) => [el.value, el.max, el.position])).toEqual([
        1500, 4000, 0.375,
      ]);
      expect(await bar.isVisible()).toBe(true);
      expect(await page.locator('section[data-job="staff"]').textContent()).toContain(
        "1,500 of about 4,000 users (37%)",
      );
      expect(await page.locator(".approval").textContent()).toContain("Grace <b>Hopper</b>");
      expect(await page.locator(".warnings").textContent()).toContain("no progress for 17 min");
      // The inline stylesheet is allowed by its hash: if the CSP blocked it, cards would have no radius.
      expect(
        await page
          .locator("section.card")
          .first()
          .evaluate((el) => getComputedStyle(el).borderRadius),
      ).toBe("8px");
      expect(problems).toEqual([]);

      fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(fs.statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
    } finally {
      await context.close();
      await app.close();
      fs.rmSync(profile, { recursive: true, force: true });
    }
  });
});
