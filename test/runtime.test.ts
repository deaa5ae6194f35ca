import http from "node:http";
import type { AddressInfo } from "node:net";
import { loadConfig } from "../src/config";
import { openRuntime } from "../src/runtime";
import { FakeSite } from "../tools/fake-wordpress";
import { TEST_WEBHOOK_SECRET } from "./helpers/builders";
import { makeTestDatabase, serviceDatabaseEnv } from "./helpers/db";
import { FakeDirectory } from "./helpers/engine";
import { logSink } from "./helpers/log-sink";

describe("the runtime wiring", () => {
  it("tells the job's webhook and the metrics when a run completes", async () => {
    const received: Array<{ type: string; job: string; run: { state: string } }> = [];
    const hook = http.createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => {
        body += chunk;
      });
      req.on("end", () => {
        received.push(JSON.parse(body));
        res.end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
    const db = await makeTestDatabase();
    const runtime = await openRuntime(
      loadConfig({
        ...serviceDatabaseEnv(db),
        SYNC_TRIGGER_MODE: "manual",
        SYNC_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
        SYNC_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      }),
      {
        print: () => undefined,
        logDestination: logSink().destination,
        directory: new FakeDirectory().withUsers(1, 3),
        site: new FakeSite(),
      },
    );
    try {
      const { run } = await runtime.sync.startRun("default", { trigger: "manual" });
      let state = run.state;
      for (let i = 0; i < 20 && state !== "completed"; i++) state = (await runtime.sync.advanceRun(run.id)).run!.state;
      expect(state).toBe("completed");
      // The event was written with the run's last transition; deliver it now rather than at the next interval.
      await runtime.webhooks.deliverDue();
      expect(received).toEqual([expect.objectContaining({ type: "run.completed", job: "default" })]);
      const metrics = await runtime.metrics.registry.metrics();
      expect(metrics).toMatch(
        /entra_wp_sync_runs_total\{job="default",site="default",tenant="default",state="completed"\} 1/,
      );
      expect(metrics).toMatch(
        /entra_wp_sync_users_total\{job="default",site="default",tenant="default",action="create"\} 3/,
      );
      expect(metrics).toMatch(/entra_wp_sync_webhook_deliveries_total\{result="delivered"\} 1/);
      expect(metrics).toMatch(/entra_wp_sync_webhook_outbox_events\{state="pending"\} 0/);
    } finally {
      await runtime.close();
      await db.close();
      await new Promise((resolve) => hook.close(resolve));
    }
  });
});
