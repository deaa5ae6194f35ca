import Fastify from "fastify";
import { secretDigest } from "../../src/core/hash";
import type { Database } from "../../src/db/pool";
import { makeAccess } from "../../src/http/auth";
import { registerProblemHandlers } from "../../src/http/problem";
import { registerStatusRoutes, type StatusDeps } from "../../src/http/routes/status";
import { aJob, anItem, aRun } from "../helpers/builders";
import { makeTestDatabase } from "../helpers/db";
import { FakeSync } from "../helpers/fake-sync";
import { withListeningApp } from "../observe/http";

const ADMIN_TOKEN = "admin-token-0123456789abcdef";
const HOSTILE = `<script>alert("x")</script><img src=x onerror=alert(1)>`;

// The failure budget and the admin calls are counted in the database, as in the service.
let db: Database;
beforeAll(async () => {
  db = await makeTestDatabase();
});
beforeEach(async () => {
  await db.pool.query("truncate rate_limit_buckets");
});
afterAll(async () => {
  await db?.close();
});

const adminAccess = (authFailures = 10) =>
  makeAccess(db.pool, secretDigest(ADMIN_TOKEN), { authFailures, adminMax: 600 });

async function getStatus(
  deps: Omit<StatusDeps, "admin"> & { admin?: StatusDeps["admin"] },
  headers = {},
  path = "/status",
) {
  const app = Fastify();
  registerProblemHandlers(app);
  registerStatusRoutes(app, { admin: adminAccess(), ...deps });
  return withListeningApp(app, async (base) => {
    const res = await fetch(`${base}${path}`, { headers });
    return { status: res.status, headers: res.headers, body: await res.text() };
  });
}

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

function aFleet() {
  const running = aRun()
    .forJob("staff")
    .withState("listing")
    .withStep(7)
    .withTotalEstimate(2000)
    .withCounts({ seen: 500, created: 12, updated: 5, unchanged: 113 })
    .build();
  const waiting = aRun().forJob("students").withState("awaiting_approval").build();
  const history = [
    aRun().forJob("staff").finished("failed").withLastError("WordPress answered 500").build(),
    aRun().forJob("staff").finished("completed").build(),
  ];
  const service = new FakeSync(
    [
      aJob().withId("staff").withTrigger("schedule", "0 3 * * *").build(),
      aJob().withId("students").withTrigger("link-start").build(),
    ],
    [running, waiting, ...history],
    {
      [waiting.id]: [
        anItem().pendingRemoval("delete").withDisplayName("Ada Lovelace").withEmail("ada@example.com").build(),
        anItem().pendingRemoval("deactivate").withDisplayName("Grace Hopper").withEmail("grace@example.com").build(),
        anItem().withAction("create").withStatus("ok").withDisplayName("Not A Removal").build(),
      ],
    },
  );
  return { service, running, waiting, history };
}

describe("status page", () => {
  it("renders each job with its trigger mode, current run progress, last runs and pending approvals", async () => {
    const { service, running, waiting, history } = aFleet();
    const res = await getStatus({ service, statusPublic: false }, auth);

    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("content-security-policy")).toMatch(/default-src 'none'; style-src 'sha256-/);
    const html = res.body;
    expect(html).toContain('<meta http-equiv="refresh" content="5">');
    expect(html).toContain('data-job="staff"');
    expect(html).toContain("trigger: schedule");
    expect(html).toContain("0 3 * * *");
    expect(html).toContain("trigger: link-start");
    expect(html).toContain(`data-run-id="${running.id}"`);
    expect(html).toContain('<progress class="run-progress" value="500" max="2000"');
    expect(html).toContain("500 of about 2,000 users (25%)");
    for (const run of history) expect(html).toContain(`data-run-id="${run.id}"`);
    expect(html).toContain("WordPress answered 500");
    expect(html).toContain("Awaiting approval");
    expect(html).toContain(waiting.id);
    expect(html).toContain("Ada Lovelace");
    expect(html).toContain("grace@example.com");
    expect(html).not.toContain("Not A Removal");
    expect(html).not.toMatch(/<script/i);
  });

  it("shows an indeterminate bar and the live count when Graph gave no total", async () => {
    const run = aRun().forJob("staff").withState("listing").withTotalEstimate(null).withCounts({ seen: 120 }).build();
    const service = new FakeSync([aJob().withId("staff").build()], [run]);
    const res = await getStatus({ service, statusPublic: true });

    expect(res.body).toContain('<progress class="run-progress" aria-label="users done"></progress>');
    expect(res.body).toContain("120 users so far (total unknown)");
  });

  it("escapes hostile job ids, run errors, names and watchdog messages", async () => {
    const job = aJob().withId(HOSTILE).withTrigger("manual").build();
    const failed = aRun().forJob(HOSTILE).finished("failed").withLastError(HOSTILE).build();
    const waiting = aRun().forJob(HOSTILE).withState("awaiting_approval").withLastError(HOSTILE).build();
    const service = new FakeSync([job], [waiting, failed], {
      [waiting.id]: [anItem().pendingRemoval("delete", HOSTILE).withDisplayName(HOSTILE).withEmail(HOSTILE).build()],
    });
    const res = await getStatus({
      service,
      statusPublic: true,
      watchdog: () => [{ job: HOSTILE, runId: null, since: null, message: HOSTILE }],
    });

    expect(res.status).toBe(200);
    expect(res.body).not.toContain("<script>");
    expect(res.body).not.toContain("<img");
    expect(res.body).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;");
  });

  it("shows the watchdog's warnings and never the job's webhook URL", async () => {
    const service = new FakeSync(
      [aJob().withId("staff").withWebhook("https://hooks.example.com/services/T0/B0/s3cretPathToken?sig=abc").build()],
      [],
    );
    const res = await getStatus({
      service,
      statusPublic: true,
      watchdog: () => [{ job: "staff", runId: "r1", since: null, message: "run r1 has made no progress for 20 min" }],
    });

    expect(res.body).toContain("Watchdog");
    expect(res.body).toContain("run r1 has made no progress for 20 min");
    expect(res.body).toContain("webhook: configured");
    expect(res.body).not.toContain("hooks.example.com");
    expect(res.body).not.toContain("s3cretPathToken");
  });

  it("shows webhook events waiting for delivery or given up, and nothing when the outbox is empty", async () => {
    const service = new FakeSync([aJob().withId("staff").build()], []);
    const now = new Date("2026-11-30T00:00:00Z");
    const backlog = { pending: 2, oldestPendingAt: new Date("2026-11-29T23:50:00Z"), givenUp: 1, delivered: 9 };
    const res = await getStatus({ service, statusPublic: true, now: () => now, webhooks: async () => backlog });
    expect(res.body).toContain("<h2>Webhooks</h2>");
    expect(res.body).toContain("2 event(s) waiting for delivery, the oldest for 10m 0s");
    expect(res.body).toContain("1 event(s) given up");

    const empty = { pending: 0, oldestPendingAt: null, givenUp: 0, delivered: 9 };
    const healthy = await getStatus({ service, statusPublic: true, webhooks: async () => empty });
    expect(healthy.body).not.toContain("<h2>Webhooks</h2>");
  });

  it("refuses without the admin token when the page is not public, with a problem and WWW-Authenticate", async () => {
    const { service } = aFleet();
    const none = await getStatus({ service, statusPublic: false });
    const wrong = await getStatus({ service, statusPublic: false }, { authorization: "Bearer not-the-token" });
    const inUrl = await getStatus({ service, statusPublic: false }, {}, `/status?token=${ADMIN_TOKEN}`);

    for (const res of [none, wrong, inUrl]) {
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="entra-wp-sync"/);
      expect(res.body).not.toContain(ADMIN_TOKEN);
      expect(res.body).not.toContain("staff");
    }
    expect(JSON.parse(none.body)).toMatchObject({ status: 401, instance: "/status" });
    expect(wrong.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("counts wrong tokens against the admin API's failure budget, past it still answers 401 with the prompt and Retry-After, and serves the right token", async () => {
    const { service } = aFleet();
    const admin = adminAccess(2);
    const wrong = { authorization: "Bearer guess-1" };
    const answers = [];
    for (const headers of [wrong, {}, wrong, wrong, auth])
      answers.push(await getStatus({ service, statusPublic: false, admin }, headers));
    expect(answers.map((res) => res.status)).toEqual([401, 401, 401, 401, 200]);
    const past = answers[3]!;
    expect(past.headers.get("www-authenticate")).toMatch(/Basic realm="entra-wp-sync status"/);
    expect(Number(past.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(JSON.parse(past.body).detail).toMatch(/failed too often: wait for the time in Retry-After/);
    const { rows } = await db.pool.query("select key, hits from rate_limit_buckets order by key");
    // The visit without credentials was not a failure; the third wrong token is past the budget:
    // refused from memory, without writing to the table.
    expect(rows).toEqual([
      { key: "call:admin_token", hits: 1 },
      { key: "fail:127.0.0.1", hits: 2 },
    ]);
  });

  it("answers a browser's visits without credentials with 401 and the login prompt, and counts none of them as a failed login", async () => {
    const { service } = aFleet();
    const admin = adminAccess(2);
    for (let visit = 0; visit < 12; visit++) {
      const res = await getStatus({ service, statusPublic: false, admin });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/Basic realm="entra-wp-sync status"/);
    }
    expect((await db.pool.query("select key from rate_limit_buckets")).rows).toEqual([]);
    expect((await getStatus({ service, statusPublic: false, admin }, auth)).status).toBe(200);
  });

  it("shows a queued run's queued time and how long it has waited", async () => {
    const now = new Date("2026-12-07T12:00:00Z");
    const queued = aRun()
      .forJob("staff")
      .withState("queued")
      .with({ createdAt: "2026-12-07T11:55:00Z", startedAt: null, progressedAt: "2026-12-07T11:55:00Z" })
      .build();
    const service = new FakeSync([aJob().withId("staff").withTrigger("link-start-continue").build()], [queued]);
    const res = await getStatus({ service, statusPublic: true, now: () => now });
    const current = res.body.slice(
      res.body.indexOf('<div class="run current"'),
      res.body.indexOf("<h3>Last runs</h3>"),
    );
    expect(current).toMatch(/queued <time datetime="2026-12-07T11:55:00.000Z"[^>]*>5m 0s ago<\/time> · 5m 0s queued/);
    const row = res.body.slice(res.body.indexOf(`<tr data-run-id="${queued.id}"`));
    expect(row).toMatch(
      /^<tr[^>]*><td class="when">queued <time[^>]*>5m 0s ago<\/time><\/td>.*<td class="num">5m 0s queued<\/td>/,
    );
  });

  it("is readable without a token when the status page is public", async () => {
    const { service } = aFleet();
    const res = await getStatus({ service, statusPublic: true });
    expect(res.status).toBe(200);
    expect(res.body).toContain('data-job="staff"');
  });
});

describe("the status page in a browser", () => {
  it("accepts the admin token as the password of a browser login and asks for one when it is missing", async () => {
    const { service } = aFleet();
    const basic = (password: string) => ({
      authorization: `Basic ${Buffer.from(`anyone:${password}`).toString("base64")}`,
    });
    const ok = await getStatus({ service, statusPublic: false }, basic(ADMIN_TOKEN));
    expect(ok.status).toBe(200);
    expect(ok.body).toContain("staff");
    const wrong = await getStatus({ service, statusPublic: false }, basic("not-the-token"));
    expect(wrong.status).toBe(401);
    const none = await getStatus({ service, statusPublic: false });
    expect(none.headers.get("www-authenticate")).toMatch(/Basic realm="entra-wp-sync status"/);
    expect(none.body).not.toContain(ADMIN_TOKEN);
  });
});
