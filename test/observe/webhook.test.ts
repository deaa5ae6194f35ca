/**
 * Webhook delivery from the PostgreSQL outbox: the runs trigger writes the event with the run's
 * last transition, any replica delivers it, signed the Standard Webhooks way, with retries that
 * survive the process and a give-up time.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { mirrorJobs } from "../../src/db/jobs";
import { insertRun } from "../../src/db/runs";
import { outboxBacklog } from "../../src/db/webhook-outbox";
import { makeLogger } from "../../src/logger";
import { verifyWebhook } from "../../src/net/webhook-signature";
import { makeWebhookDelivery, type WebhookDeliveryOptions, type WebhookPayload } from "../../src/observe/webhook";
import { aJob, TEST_WEBHOOK_SECRET } from "../helpers/builders";
import { makeTestDatabase } from "../helpers/db";
import { logSink } from "../helpers/log-sink";

interface Delivery {
  headers: http.IncomingHttpHeaders;
  url: string;
  body: string;
}

/** A receiver that answers each request with the next of `answers` (the last one repeats). */
async function aReceiver(answers: Array<number | "drop">) {
  const deliveries: Delivery[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const answer = answers[Math.min(deliveries.length, answers.length - 1)]!;
      deliveries.push({ headers: req.headers, url: req.url ?? "", body });
      if (answer === "drop") return void req.socket.destroy();
      res.writeHead(answer, answer === 429 ? { "retry-after": "0" } : {}).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    deliveries,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const QUERY_SECRET = "qs-Very5ecretValue";
const PASSWORD = "pw-Hunter2Hunter2";

describe("webhook delivery from the outbox", () => {
  let db: Awaited<ReturnType<typeof makeTestDatabase>>;
  beforeAll(async () => {
    db = await makeTestDatabase();
  });
  afterAll(() => db.close());

  /** Declares the job and ends one of its runs in `state` (the trigger writes the event). */
  async function settleRun(job: ReturnType<ReturnType<typeof aJob>["build"]>, state: string): Promise<string> {
    await mirrorJobs(db.pool, [job]);
    const run = await insertRun(db.pool, {
      jobId: job.id,
      trigger: "manual",
      dryRun: false,
      mode: "full",
      phase: "users",
      cursor: null,
    });
    await db.pool.query(
      "update runs set state = $2::text, finished_at = case when $2::text = 'awaiting_approval' then null else now() end, seen = 3, created = 3 where id = $1::uuid",
      [run!.id, state],
    );
    return run!.id;
  }

  function delivery(jobs: WebhookDeliveryOptions["jobs"], overrides: Partial<WebhookDeliveryOptions> = {}) {
    const sink = logSink();
    const results: string[] = [];
    const deliverer = makeWebhookDelivery({
      db: db.pool,
      jobs,
      logger: makeLogger({ level: "debug", destination: sink.destination }),
      owner: `test-${Math.random()}`,
      baseDelayMs: 1,
      maxDelayMs: 1,
      onDelivery: (result) => results.push(result),
      ...overrides,
    });
    /** Attempts until nothing is due any more (retries are 1 ms apart here). */
    const drain = async () => {
      for (let i = 0; i < 20; i++) {
        if ((await outboxBacklog(db.pool)).pending === 0) return;
        await deliverer.deliverDue();
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    return { deliverer, drain, results, log: () => sink.text() };
  }

  it("delivers a settled run's event signed, retrying a failing receiver with the same webhook-id", async () => {
    const receiver = await aReceiver([500, "drop", 200]);
    const job = aJob()
      .withId("signed")
      .withWebhook(`http://hook:${PASSWORD}@127.0.0.1:${receiver.port}/events?sig=${QUERY_SECRET}`)
      .build();
    try {
      const runId = await settleRun(job, "completed");
      const { drain, results, log } = delivery([job]);
      await drain();

      expect(results).toEqual(["retry", "retry", "delivered"]);
      expect(receiver.deliveries).toHaveLength(3);
      const ids = new Set(receiver.deliveries.map((d) => d.headers["webhook-id"]));
      expect(ids.size).toBe(1);
      for (const d of receiver.deliveries) {
        expect(d.url).toBe(`/events?sig=${QUERY_SECRET}`);
        expect(d.headers.authorization).toBe(`Basic ${Buffer.from(`hook:${PASSWORD}`).toString("base64")}`);
        expect(d.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
        const headers = {
          id: String(d.headers["webhook-id"]),
          timestamp: String(d.headers["webhook-timestamp"]),
          signature: String(d.headers["webhook-signature"]),
        };
        expect(verifyWebhook(TEST_WEBHOOK_SECRET, headers, d.body)).toBe(true);
        // Any change to the body, or another secret, fails the check.
        expect(verifyWebhook(TEST_WEBHOOK_SECRET, headers, d.body.replace("completed", "failed"))).toBe(false);
        expect(verifyWebhook(`whsec_${Buffer.alloc(32, 9).toString("base64")}`, headers, d.body)).toBe(false);
      }
      const payload = JSON.parse(receiver.deliveries[2]!.body) as WebhookPayload;
      expect(payload).toEqual({
        id: [...ids][0],
        type: "run.completed",
        job: "signed",
        occurredAt: expect.any(String),
        run: expect.objectContaining({
          id: runId,
          state: "completed",
          counts: expect.objectContaining({ created: 3 }),
        }),
      });
      expect(receiver.deliveries.map((d) => d.body)).toEqual(Array(3).fill(receiver.deliveries[0]!.body));
      expect(await outboxBacklog(db.pool)).toMatchObject({ pending: 0, givenUp: 0 });
      expect(log()).toContain(`"webhook":"http://127.0.0.1:${receiver.port}/[REDACTED]"`);
      for (const secret of [QUERY_SECRET, PASSWORD, TEST_WEBHOOK_SECRET]) expect(log()).not.toContain(secret);
    } finally {
      await receiver.close();
    }
  });

  it("passes the documented verification snippet (docs/operations.md), which refuses a forged body", async () => {
    const receiver = await aReceiver([200]);
    const job = aJob().withId("readme").withWebhook(`http://127.0.0.1:${receiver.port}/x`).build();
    try {
      await settleRun(job, "completed");
      await delivery([job]).deliverer.deliverDue();
      const docs = fs.readFileSync(path.join(__dirname, "../../docs/operations.md"), "utf8");
      const snippet = /## Webhooks[\s\S]*?```js\n([\s\S]*?)```/.exec(docs)?.[1];
      expect(snippet).toBeDefined();
      const verify = new Function("require", `${snippet!.replace(/^ {2}/gm, "")}\nreturn verify;`)(require) as (
        secret: string,
        headers: http.IncomingHttpHeaders,
        body: string,
      ) => boolean;
      const [d] = receiver.deliveries;
      expect(verify(TEST_WEBHOOK_SECRET, d!.headers, d!.body)).toBe(true);
      expect(verify(TEST_WEBHOOK_SECRET, d!.headers, d!.body.replace("readme", "forged"))).toBe(false);
    } finally {
      await receiver.close();
    }
  });

  it("is delivered once however many replicas deliver at the same time", async () => {
    const receiver = await aReceiver([200]);
    const job = aJob().withId("replicas").withWebhook(`http://127.0.0.1:${receiver.port}/x`).build();
    try {
      await settleRun(job, "failed");
      const replicas = [delivery([job]), delivery([job]), delivery([job])];
      await Promise.all(replicas.map((r) => r.deliverer.deliverDue()));
      expect(receiver.deliveries).toHaveLength(1);
      expect(JSON.parse(receiver.deliveries[0]!.body)).toMatchObject({ type: "run.failed", job: "replicas" });
    } finally {
      await receiver.close();
    }
  });

  it("gives up at once on a refusal (400), retries a 429, and writes nothing for a job without a webhook", async () => {
    const refusing = await aReceiver([400]);
    const throttling = await aReceiver([429, 202]);
    const a = aJob().withId("refused").withWebhook(`http://127.0.0.1:${refusing.port}/a`).build();
    const b = aJob().withId("throttled").withWebhook(`http://127.0.0.1:${throttling.port}/b`).build();
    const quiet = aJob().withId("quiet").withWebhook(null).build();
    try {
      await settleRun(a, "awaiting_approval");
      await settleRun(b, "awaiting_approval");
      const before = (await db.pool.query("select count(*)::int as n from webhook_outbox")).rows[0].n;
      await settleRun(quiet, "completed");
      expect((await db.pool.query("select count(*)::int as n from webhook_outbox")).rows[0].n).toBe(before);

      const { drain, log } = delivery([a, b, quiet]);
      await drain();
      expect(refusing.deliveries).toHaveLength(1);
      expect(throttling.deliveries).toHaveLength(2);
      expect(log()).toContain("answered 400: a refusal, not retried");
      const { rows } = await db.pool.query(
        "select job_id, attempts, delivered_at is not null as delivered, gave_up_at is not null as gave_up from webhook_outbox where job_id in ('refused', 'throttled') order by job_id",
      );
      expect(rows).toEqual([
        { job_id: "refused", attempts: 1, delivered: false, gave_up: true },
        { job_id: "throttled", attempts: 2, delivered: true, gave_up: false },
      ]);
    } finally {
      await refusing.close();
      await throttling.close();
    }
  });

  it("gives up once the event is older than giveUpAfterMs, keeping network errors' URL secrets out of the log", async () => {
    const closed = await aReceiver([200]);
    await closed.close(); // nothing listens there any more: connection refused
    const slackLikeToken = "T0001B0002XXXXabcdefgh1234";
    const job = aJob()
      .withId("gone")
      .withWebhook(`http://hook:${PASSWORD}@127.0.0.1:${closed.port}/services/${slackLikeToken}?sig=${QUERY_SECRET}`)
      .build();
    await settleRun(job, "failed");
    const { drain, results, log } = delivery([job], { giveUpAfterMs: 0 });
    await drain();
    expect(results).toEqual(["gave_up"]);
    expect(await outboxBacklog(db.pool)).toMatchObject({ pending: 0, givenUp: expect.any(Number) });
    expect(log()).toContain("ECONNREFUSED");
    expect(log()).toContain("webhook delivery given up");
    for (const secret of [QUERY_SECRET, PASSWORD, slackLikeToken, "sig="]) expect(log()).not.toContain(secret);
  });
});
