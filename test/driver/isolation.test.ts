/**
 * A WordPress site that accepts requests and never answers (down behind a load balancer, or
 * stuck) holds only its own jobs: the driver and the notification worker finish another site's
 * runs while a step of the stuck site's job is still waiting for its first answer. The step budget
 * is a minute, so a run that had to wait for that step would not end within the test.
 */
import { randomUUID } from "node:crypto";
import type { Job } from "../../src/core/job";
import type { Database } from "../../src/db/pool";
import { type Driver, startDriver } from "../../src/sync/driver";
import { type EngineService, makeSyncService } from "../../src/sync/engine";
import { type NotificationWorker, startNotificationWorker } from "../../src/sync/notifications";
import type { Site, Subscriptions } from "../../src/sync/ports";
import { FakeSite } from "../../tools/fake-wordpress";
import { aJob } from "../helpers/builders";
import { itWithPostgres, makeTestDatabase, silentLogger } from "../helpers/db";
import { FakeDirectory } from "../helpers/engine";

const USERS = 30;

/** A site whose every call waits until open(): requests sent, no answer. */
function stuckSite(): { site: Site; open(): void; readonly waiting: number } {
  const inner = new FakeSite({ companionPlugin: true });
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let waiting = 0;
  const site = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        waiting++;
        await gate;
        return value.apply(target, args);
      };
    },
  }) as Site;
  return {
    site,
    open,
    get waiting() {
      return waiting;
    },
  };
}

/** Graph subscriptions that always work (the worker keeps them beside the runs). */
const subscriptions: Subscriptions = {
  create: async (_request, _budget) => ({ id: randomUUID(), expiresAt: new Date(Date.now() + 86_400_000) }),
  renew: async (_id, expirationDateTime) => ({ expiresAt: expirationDateTime }),
  remove: async () => {},
};

let db: Database;
beforeAll(async () => {
  db = await makeTestDatabase();
});
afterAll(() => db?.close());

/** The engine over two sites: "default", which answers, and "stuck". */
function engineOver(jobs: Job[], stuck: Site, fast: FakeSite): EngineService {
  return makeSyncService({
    db,
    directory: new FakeDirectory().withUsers(1, USERS),
    site: fast,
    targets: { sites: new Map([["stuck", { site: stuck }]]), sources: new Map() },
    jobs,
    logger: silentLogger,
    stepBudgetMs: 60_000,
    maxFailedSteps: 5,
  });
}

/** Waits (up to 30 s, never timed: a run that waited for the stuck step would take a minute) for the job's run to complete. */
async function completes(sync: EngineService, job: Job): Promise<void> {
  for (let waited = 0; waited < 30_000; waited += 50) {
    const [last] = await sync.runs(job.id, { limit: 1 });
    if (last?.state === "completed") return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the run of ${job.id} did not complete while the other site was stuck`);
}

describe("a stuck site holds only its own jobs", () => {
  itWithPostgres("the driver completes another site's run while the stuck site's step waits", async () => {
    const stuck = stuckSite();
    const fast = new FakeSite({ companionPlugin: true });
    // The stuck site's job first: a driver taking jobs in turn would wait for it.
    const [slow, other] = [
      aJob().withUniqueId().onSite("stuck").withTrigger("manual").withPageSize(10).build(),
      aJob().withUniqueId().withTrigger("manual").withPageSize(10).build(),
    ];
    const sync = engineOver([slow!, other!], stuck.site, fast);
    for (const job of [slow!, other!]) await sync.startRun(job.id, { trigger: "manual" });
    let driver: Driver | null = null;
    try {
      driver = startDriver({ sync, jobs: [slow!, other!], db, logger: silentLogger, intervalMs: 50, stepsPerSite: 1 });
      await completes(sync, other!);
      expect(fast.all()).toHaveLength(USERS + 1); // the service's own account, and everyone
      expect(stuck.waiting).toBeGreaterThan(0);
      expect((await sync.activeRun(slow!.id))?.step).toBe(0);
    } finally {
      stuck.open();
      await driver?.stop();
    }
  });

  itWithPostgres(
    "the notification worker completes another site's reconciliation while the stuck site's step waits",
    async () => {
      const stuck = stuckSite();
      const fast = new FakeSite({ companionPlugin: true });
      const [slow, other] = [
        aJob().withUniqueId().onSite("stuck").withNotifications().withPageSize(10).build(),
        aJob().withUniqueId().withNotifications().withPageSize(10).build(),
      ];
      const sync = engineOver([slow!, other!], stuck.site, fast);
      let worker: NotificationWorker | null = null;
      try {
        worker = startNotificationWorker({
          sync,
          subscriptions,
          jobs: [slow!, other!],
          db,
          logger: silentLogger,
          notificationUrl: "https://sync.example.test/v1/notifications",
          intervalMs: 50,
          owner: "isolation-test",
        });
        await completes(sync, other!);
        expect(fast.all()).toHaveLength(USERS + 1);
        expect(stuck.waiting).toBeGreaterThan(0);
        expect((await sync.activeRun(slow!.id))?.step).toBe(0);
      } finally {
        stuck.open();
        await worker?.stop();
      }
    },
  );
});
