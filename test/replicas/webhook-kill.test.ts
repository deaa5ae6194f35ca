/**
 * A service killed (SIGKILL) after a run ended and before its webhook was delivered: the event was
 * written with the run's last transition, so the next process delivers it, once, with a valid
 * Standard Webhooks signature. The receiver is down while the run ends, so no delivery can slip
 * in before the kill, however fast the machine.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { verifyWebhook } from "../../src/net/webhook-signature";
import { TEST_WEBHOOK_SECRET } from "../helpers/builders";
import { makeTestDatabase } from "../helpers/db";
import {
  ADMIN_TOKEN,
  killedAfterEach,
  listeningUrl,
  serviceEnv,
  startCli,
  startTenant,
  startWordPress,
  waitFor,
} from "./setup";

const children = killedAfterEach();

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

async function listen(server: http.Server, port = 0): Promise<number> {
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

describe("a service killed between a run's end and its webhook", () => {
  it("delivers the webhook once, signed, from the next process", async () => {
    const received: Received[] = [];
    const receiver = http.createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => {
        body += chunk;
      });
      req.on("end", () => {
        received.push({ headers: req.headers, body });
        res.end();
      });
    });
    // A port nobody listens on until the kill: attempts before it are refused.
    const port = await listen(receiver);
    await new Promise((resolve) => receiver.close(resolve));

    const wp = await startWordPress();
    const db = await makeTestDatabase();
    const { sim } = await startTenant(5);
    try {
      const env = serviceEnv(db.url!, sim, wp, {
        LOG_LEVEL: "info",
        SYNC_TRIGGER_MODE: "manual",
        SYNC_WEBHOOK_URL: `http://127.0.0.1:${port}/hook`,
        SYNC_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      });
      const a = startCli(["serve"], env);
      children.push(a);
      const urlA = await waitFor("instance A to listen", async () => listeningUrl(a), 20_000);
      const started = await fetch(`${urlA}/v1/jobs/default/runs`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(started.status).toBe(201);
      const runId = ((await started.json()) as { run: { id: string } }).run.id;
      await waitFor("the run to complete", async () => {
        const { rows } = await db.pool.query("select state from runs where id = $1::uuid", [runId]);
        return rows[0]?.state === "completed";
      });
      a.child.kill("SIGKILL");
      await a.exited;
      const { rows: atKill } = await db.pool.query(
        "select id, type, delivered_at from webhook_outbox where run_id = $1::uuid",
        [runId],
      );
      expect(atKill).toEqual([{ id: expect.any(String), type: "run.completed", delivered_at: null }]);

      await listen(receiver, port);
      const b = startCli(["serve"], env);
      children.push(b);
      await waitFor(
        "B to deliver the event",
        async () => {
          const { rows } = await db.pool.query("select delivered_at from webhook_outbox where run_id = $1::uuid", [
            runId,
          ]);
          return rows[0]?.delivered_at;
        },
        40_000,
      );

      expect(received).toHaveLength(1);
      const [event] = received;
      const headers = {
        id: String(event!.headers["webhook-id"]),
        timestamp: String(event!.headers["webhook-timestamp"]),
        signature: String(event!.headers["webhook-signature"]),
      };
      expect(headers.id).toBe(atKill[0].id);
      expect(verifyWebhook(TEST_WEBHOOK_SECRET, headers, event!.body)).toBe(true);
      expect(JSON.parse(event!.body)).toMatchObject({
        id: headers.id,
        type: "run.completed",
        job: "default",
        run: { id: runId, state: "completed", counts: { seen: 5 } },
      });
    } finally {
      for (const child of children) if (child.child.exitCode === null) child.child.kill("SIGTERM");
      await Promise.all(children.map((child) => child.exited));
      await new Promise((resolve) => receiver.close(resolve));
      await sim.close();
      await db.close();
      await wp.close();
    }
  }, 90_000);
});
