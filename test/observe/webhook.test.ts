import http from "node:http";
import type { AddressInfo } from "node:net";
import { makeLogger } from "../../src/logger";
import { makeNotifier, type WebhookPayload } from "../../src/observe/webhook";
import { aJob, aRun } from "../helpers/builders";
import { logSink } from "../helpers/log-sink";

interface Delivery {
  headers: http.IncomingHttpHeaders;
  url: string;
  body: string;
}

/** A receiver that answers each request with the next of `answers` (the last one repeats). */
async function aReceiver(answers: Array<number | "hang" | "drop">) {
  const deliveries: Delivery[] = [];
  const arrivals: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const answer = answers[Math.min(deliveries.length, answers.length - 1)]!;
      deliveries.push({ headers: req.headers, url: req.url ?? "", body });
      for (const wake of arrivals.splice(0)) wake();
      if (answer === "hang") return;
      if (answer === "drop") return void req.socket.destroy();
      res.writeHead(answer, answer === 429 ? { "retry-after": "0" } : {}).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    deliveries,
    nextArrival: () => new Promise<void>((resolve) => arrivals.push(resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function capturedLogger() {
  const sink = logSink();
  const logger = makeLogger({ level: "debug", destination: sink.destination });
  return { logger, lines: sink.lines };
}

const QUERY_SECRET = "qs-Very5ecretValue";
const PASSWORD = "pw-Hunter2Hunter2";

describe("webhook notifier", () => {
  it("retries a failing receiver with backoff until it accepts, sending the same event each time", async () => {
    const receiver = await aReceiver([500, "drop", 200]);
    const { logger, lines } = capturedLogger();
    const notifier = makeNotifier({ logger, baseDelayMs: 5 });
    const job = aJob()
      .withId("staff")
      .withWebhook(`http://hook:${PASSWORD}@127.0.0.1:${receiver.port}/events?sig=${QUERY_SECRET}`)
      .build();
    const run = aRun().forJob("staff").finished("completed").build();
    try {
      notifier.notify(job, { type: "run.completed", run });
      await notifier.flush();

      expect(receiver.deliveries).toHaveLength(3);
      const bodies = receiver.deliveries.map((d) => JSON.parse(d.body) as WebhookPayload);
      expect(bodies[0]).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        type: "run.completed",
        job: "staff",
        occurredAt: expect.any(String),
        run,
      });
      expect(new Set(bodies.map((b) => b.id)).size).toBe(1);
      for (const delivery of receiver.deliveries) {
        expect(delivery.url).toBe(`/events?sig=${QUERY_SECRET}`);
        expect(delivery.headers["content-type"]).toBe("application/json");
        expect(delivery.headers.authorization).toBe(`Basic ${Buffer.from(`hook:${PASSWORD}`).toString("base64")}`);
      }
      expect(lines.some((line) => line.includes("webhook delivered"))).toBe(true);
      expect(lines.join("")).toContain(`"webhook":"http://127.0.0.1:${receiver.port}/events"`);
    } finally {
      await receiver.close();
    }
  });

  it("never blocks the caller: notify returns before the receiver even sees the request", async () => {
    const receiver = await aReceiver(["hang"]);
    const { logger } = capturedLogger();
    const notifier = makeNotifier({ logger, maxAttempts: 1, timeoutMs: 200 });
    const events: string[] = [];
    const arrived = receiver.nextArrival().then(() => events.push("receiver got the request"));
    try {
      const returned = notifier.notify(
        aJob().withId("staff").withWebhook(`http://127.0.0.1:${receiver.port}/hook`).build(),
        {
          type: "run.failed",
          run: aRun().forJob("staff").finished("failed").withLastError("boom").build(),
        },
      );
      events.push("notify returned");

      expect(returned).toBeUndefined();
      await arrived;
      events.push("caller went on while the receiver hangs");
      await notifier.flush();
      expect(events).toEqual([
        "notify returned",
        "receiver got the request",
        "caller went on while the receiver hangs",
      ]);
      expect(receiver.deliveries).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });

  it("does not retry an answer that will not change (400) but does retry 429", async () => {
    const refusing = await aReceiver([400]);
    const throttling = await aReceiver([429, 202]);
    const { logger, lines } = capturedLogger();
    const notifier = makeNotifier({ logger, baseDelayMs: 5 });
    try {
      const run = aRun().forJob("staff").withState("awaiting_approval").build();
      notifier.notify(aJob().withId("staff").withWebhook(`http://127.0.0.1:${refusing.port}/a`).build(), {
        type: "run.awaiting_approval",
        run,
      });
      notifier.notify(aJob().withId("staff").withWebhook(`http://127.0.0.1:${throttling.port}/b`).build(), {
        type: "run.awaiting_approval",
        run,
      });
      await notifier.flush();

      expect(refusing.deliveries).toHaveLength(1);
      expect(throttling.deliveries).toHaveLength(2);
      expect(lines.some((line) => line.includes("not retrying"))).toBe(true);
    } finally {
      await refusing.close();
      await throttling.close();
    }
  });

  it("gives up after the bounded number of attempts and never logs the URL's secrets", async () => {
    const receiver = await aReceiver([503]);
    const { logger, lines } = capturedLogger();
    const notifier = makeNotifier({ logger, maxAttempts: 4, baseDelayMs: 2 });
    const slackLikeToken = "T0001B0002XXXXabcdefgh1234";
    try {
      notifier.notify(
        aJob()
          .withId("staff")
          .withWebhook(
            `http://hook:${PASSWORD}@127.0.0.1:${receiver.port}/services/${slackLikeToken}?sig=${QUERY_SECRET}#frag`,
          )
          .build(),
        { type: "run.failed", run: aRun().forJob("staff").finished("failed").build() },
      );
      await notifier.flush();

      expect(receiver.deliveries).toHaveLength(4);
      const log = lines.join("");
      expect(log).toContain("failed for good");
      expect(log).toContain(`http://127.0.0.1:${receiver.port}/services/[REDACTED]`);
      for (const secret of [QUERY_SECRET, PASSWORD, slackLikeToken, "sig="]) expect(log).not.toContain(secret);
    } finally {
      await receiver.close();
    }
  });

  it("keeps network errors out of the log's URL too, and ignores jobs without a webhook", async () => {
    const closed = await aReceiver([200]);
    const port = closed.port;
    await closed.close(); // nothing listens there any more: connection refused
    const { logger, lines } = capturedLogger();
    const notifier = makeNotifier({ logger, maxAttempts: 2, baseDelayMs: 2 });

    notifier.notify(aJob().withId("quiet").withWebhook(null).build(), {
      type: "run.completed",
      run: aRun().forJob("quiet").finished("completed").build(),
    });
    notifier.notify(aJob().withId("staff").withWebhook(`http://127.0.0.1:${port}/x?sig=${QUERY_SECRET}`).build(), {
      type: "run.completed",
      run: aRun().forJob("staff").finished("completed").build(),
    });
    await notifier.flush();

    const log = lines.join("");
    expect(log).toContain("ECONNREFUSED");
    expect(log).not.toContain(QUERY_SECRET);
    expect(log).not.toContain('"job":"quiet"');
  });
});
