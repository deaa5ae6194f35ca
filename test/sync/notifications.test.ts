/**
 * The notification worker pass by pass (makeNotificationPass) against a real database, Graph
 * through the simulator over HTTPS (subscriptions, the validation call, change and lifecycle
 * notifications posted to the service's endpoint) and the fake WordPress. Days are not waited
 * for: the rows that say when a subscription expires or a run started are moved back, as the days
 * would move them, and the simulator's subscriptions with them.
 */
import type { FastifyInstance } from "fastify";
import type { Job } from "../../src/core/job";
import type { Database } from "../../src/db/pool";
import type { GraphDirectory } from "../../src/graph";
import { NOTIFICATIONS_PATH } from "../../src/sync/notification-inbox";
import {
  SUBSCRIPTION_LIFETIME_MS as LIFETIME_MS,
  makeNotificationPass,
  type NotificationPassOptions,
} from "../../src/sync/notifications";
import { FakeSite } from "../../tools/fake-wordpress";
import { aTenant, type GraphSimulator, startGraphSimulator } from "../../tools/graph-sim";
import { directoryFor } from "../graph/helpers";
import { aJob } from "../helpers/builders";
import { makeTestDatabase, silentLogger } from "../helpers/db";
import { type Harness, makeHarness } from "../helpers/engine";
import { buildEngineApp } from "../http/harness";

const PUBLIC_URL = "https://sync.example.test";
const USERS = 12;
const DAY_MS = 24 * 3600_000;

let db: Database;
const cleanups: Array<() => Promise<unknown>> = [];
beforeAll(async () => {
  db = await makeTestDatabase();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  // Subscription rows are declared for every job at once: a finished test's would be "unwanted" in the next.
  await db.pool.query("delete from graph_subscriptions");
});
afterAll(() => db.close());

interface Setup {
  sim: GraphSimulator;
  job: Job;
  h: Harness<GraphDirectory>;
  site: FakeSite;
  /** One pass of the worker over the job. */
  pass(): Promise<boolean>;
}

async function setUp(
  configure: (job: ReturnType<typeof aJob>, sim: GraphSimulator) => ReturnType<typeof aJob> = (job) => job,
  options: Partial<NotificationPassOptions> = {},
): Promise<Setup> {
  const sim = await startGraphSimulator({ tenant: aTenant().withUsers(USERS).withGroups(2).build() });
  cleanups.push(() => sim.close());
  const job = configure(aJob().withUniqueId().withNotifications().withPageSize(50).withSafety(1, 1000), sim).build();
  const site = new FakeSite({ companionPlugin: true });
  const directory = directoryFor(sim) as GraphDirectory;
  const h = makeHarness<GraphDirectory>(db, { job, directory, site });
  await h.service.ready();
  const app: FastifyInstance = await buildEngineApp(db, h.service);
  const address = await app.listen({ port: 0, host: "127.0.0.1" });
  cleanups.push(() => app.close());
  // Stands for the TLS-terminating proxy in front of the service (Graph only posts to https).
  sim.notifications.route = (url) => url.replace(PUBLIC_URL, address);
  const pass = makeNotificationPass({
    sync: h.service,
    subscriptions: directory.subscriptions,
    jobs: [job],
    db,
    logger: silentLogger,
    notificationUrl: `${PUBLIC_URL}${NOTIFICATIONS_PATH}`,
    owner: `worker-${job.id}`,
    ...options,
  });
  return { sim, job, h, site, pass };
}

/** The first pass: the subscriptions are created and the start-up reconciliation syncs everyone. */
async function subscribed(setup: Setup): Promise<string> {
  await setup.pass();
  expect(await runs(setup, "completed")).toHaveLength(1);
  const [id] = [...setup.sim.notifications.subscriptions.keys()];
  expect(id).toBeDefined();
  return id!;
}

async function runs(setup: Setup, state?: string): Promise<Array<{ trigger: string; mode: string }>> {
  const { rows } = await db.pool.query<{ trigger: string; mode: string }>(
    "select trigger, mode from runs where job_id = $1::text and ($2::text is null or state = $2::text) order by created_at",
    [setup.job.id, state ?? null],
  );
  return rows;
}

/** Renewals Graph was asked for (PATCH /subscriptions/{id}). */
const renewals = (sim: GraphSimulator) =>
  sim.requestLog.filter((r) => r.route === "subscription" && r.method === "PATCH").length;

/** The name WordPress has for an Entra user of the job. */
async function wpName(setup: Setup, entraId: string): Promise<string | undefined> {
  const { rows } = await db.pool.query<{ wp_user_id: number }>(
    "select wp_user_id from user_map where job_id = $1::text and entra_id = $2::text",
    [setup.job.id, entraId],
  );
  return setup.site.all().find((user) => user.id === rows[0]?.wp_user_id)?.name;
}

/** Moves the clock of a subscription forward by `ms`, in Graph and in the database. */
async function ageSubscriptions(setup: Setup, ms: number): Promise<void> {
  for (const s of setup.sim.notifications.subscriptions.values()) {
    s.expirationDateTime = new Date(Date.parse(s.expirationDateTime) - ms).toISOString();
  }
  await db.pool.query(
    "update graph_subscriptions set expires_at = expires_at - make_interval(secs => $2::float8 / 1000) where job_id = $1::text",
    [setup.job.id, ms],
  );
}

/** Moves the job's runs `ms` into the past (a day passing since they started). */
async function ageRuns(setup: Setup, ms: number): Promise<void> {
  await db.pool.query(
    `update runs set created_at = created_at - make_interval(secs => $2::float8 / 1000),
       started_at = started_at - make_interval(secs => $2::float8 / 1000),
       finished_at = finished_at - make_interval(secs => $2::float8 / 1000)
     where job_id = $1::text`,
    [setup.job.id, ms],
  );
}

const expiresAt = async (setup: Setup): Promise<Date> =>
  (
    await db.pool.query<{ expires_at: Date }>(
      "select expires_at from graph_subscriptions where job_id = $1::text and resource = 'users'",
      [setup.job.id],
    )
  ).rows[0]!.expires_at;

describe("the notification worker", () => {
  it("renews a subscription when three days are left, not before, and replaces one Graph let lapse", async () => {
    const setup = await setUp(undefined, { maintainEveryMs: 0 });
    const id = await subscribed(setup);
    const created = Date.parse(setup.sim.notifications.subscriptions.get(id)!.expirationDateTime);
    expect(created - Date.now()).toBeGreaterThan(LIFETIME_MS - 60_000);

    // 25 days later: 3.5 days left, nothing to do yet.
    await ageSubscriptions(setup, 25 * DAY_MS);
    await setup.pass();
    expect(renewals(setup.sim)).toBe(0);

    // A day later 2.5 days are left: renewed for the full lifetime, under the same id.
    await ageSubscriptions(setup, DAY_MS);
    await setup.pass();
    expect(renewals(setup.sim)).toBe(1);
    expect([...setup.sim.notifications.subscriptions.keys()]).toEqual([id]);
    const renewed = Date.parse(setup.sim.notifications.subscriptions.get(id)!.expirationDateTime);
    expect(renewed - Date.now()).toBeGreaterThan(LIFETIME_MS - 60_000);
    expect((await expiresAt(setup)).getTime()).toBe(renewed);
    await setup.pass();
    expect(renewals(setup.sim)).toBe(1);

    // Graph forgot it (the service was down past its expiry): a new one, and a run for what was missed.
    setup.sim.notifications.expire(id);
    await ageSubscriptions(setup, 27 * DAY_MS);
    await setup.pass();
    const [replacement] = [...setup.sim.notifications.subscriptions.keys()];
    expect(replacement).toBeDefined();
    expect(replacement).not.toBe(id);
    expect(await runs(setup, "completed")).toEqual([
      { trigger: "schedule", mode: "full" },
      { trigger: "schedule", mode: "full" },
    ]);
  });

  it("reconciles after a missed lifecycle notification and keeps the subscription", async () => {
    const setup = await setUp();
    const id = await subscribed(setup);
    const user = setup.sim.tenant.userIdAt(3);
    setup.sim.notifications.faults.missed = 1;
    setup.sim.tenant.updateUser(user, { displayName: "Changed While Nobody Heard" });
    await setup.sim.notifications.settled();
    await setup.pass();
    expect(await wpName(setup, user)).not.toBe("Changed While Nobody Heard");

    setup.sim.notifications.lifecycle(id, "missed");
    await setup.sim.notifications.settled();
    expect(setup.sim.notifications.failures).toEqual([]);
    await setup.pass();
    expect(await wpName(setup, user)).toBe("Changed While Nobody Heard");
    expect(await runs(setup, "completed")).toHaveLength(2);
    expect([...setup.sim.notifications.subscriptions.keys()]).toEqual([id]);
    expect(setup.sim.counters.subscriptions).toBe(1);
  });

  it("renews at once on reauthorizationRequired, without a reconciliation", async () => {
    // The default cadence: subscriptions are looked at once a minute, lifecycle events at once.
    const setup = await setUp();
    const id = await subscribed(setup);
    await ageSubscriptions(setup, 10 * DAY_MS);
    const before = Date.parse(setup.sim.notifications.subscriptions.get(id)!.expirationDateTime);

    setup.sim.notifications.lifecycle(id, "reauthorizationRequired");
    await setup.sim.notifications.settled();
    expect(setup.sim.notifications.failures).toEqual([]);
    await setup.pass();
    await setup.pass();
    expect(renewals(setup.sim)).toBe(1);
    expect([...setup.sim.notifications.subscriptions.keys()]).toEqual([id]);
    const after = Date.parse(setup.sim.notifications.subscriptions.get(id)!.expirationDateTime);
    expect(after - before).toBeGreaterThan(10 * DAY_MS - 60_000);
    expect((await expiresAt(setup)).getTime()).toBe(after);
    // Nothing was lost: no reconciliation run beyond the start-up one.
    expect(await runs(setup)).toHaveLength(1);
    await setup.pass();
    expect(renewals(setup.sim)).toBe(1);
  });

  it("subscribes to the job's groups and reconciles when their members change", async () => {
    let scope = "";
    let editors = "";
    const setup = await setUp((job, sim) => {
      [scope, editors] = [...sim.tenant.groups.keys()] as [string, string];
      return job.withGroups(scope).withRoleGroup(editors, "author").withMissing("deactivate");
    });
    await subscribed(setup);
    const subscriptions = [...setup.sim.notifications.subscriptions.values()];
    expect(subscriptions.map((s) => [s.resource, s.changeType]).sort()).toEqual(
      [
        [`groups/${editors}`, "updated"],
        [`groups/${scope}`, "updated"],
        ["users", "updated,deleted"],
      ].sort(),
    );
    const tenant = setup.sim.tenant;
    const ids = Array.from({ length: USERS }, (_, i) => tenant.userIdAt(i));
    const outsider = ids.find((id) => !tenant.isTransitiveMember(id, scope))!;
    // A direct member of the scoping group only (not through the nested role group).
    const member = tenant.groups
      .get(scope)!
      .userIndices.map((index) => tenant.userIdAt(index))
      .find((id) => !tenant.isTransitiveMember(id, editors))!;
    expect(await wpName(setup, outsider)).toBeUndefined();

    setup.sim.tenant.addToGroup(scope, outsider);
    setup.sim.tenant.removeFromGroup(scope, member);
    await setup.sim.notifications.settled();
    expect(setup.sim.notifications.failures).toEqual([]);
    await setup.pass();
    expect(await runs(setup, "completed")).toHaveLength(2);
    expect(await wpName(setup, outsider)).toBeDefined();
    const { rows } = await db.pool.query<{ entra_id: string; state: string }>(
      "select entra_id, state from user_map where job_id = $1::text and entra_id = any($2::text[])",
      [setup.job.id, [outsider, member]],
    );
    expect(Object.fromEntries(rows.map((r) => [r.entra_id, r.state]))).toEqual({
      [outsider]: "active",
      [member]: "deactivated",
    });
    // A group's notification is handled when it arrives (it asks for the reconciliation): none stays pending.
    const pending = await db.pool.query(
      "select 1 from graph_notifications where job_id = $1::text and done_at is null",
      [setup.job.id],
    );
    expect(pending.rows).toEqual([]);
  });

  it("reconciles once a day although nothing asked for it", async () => {
    const setup = await setUp();
    await subscribed(setup);
    const user = setup.sim.tenant.userIdAt(5);
    setup.sim.notifications.faults.missed = 1;
    setup.sim.tenant.updateUser(user, { displayName: "Never Notified" });
    await setup.sim.notifications.settled();

    await ageRuns(setup, 23 * 3600_000);
    await setup.pass();
    expect(await runs(setup)).toHaveLength(1);

    await ageRuns(setup, 2 * 3600_000);
    await setup.pass();
    expect(await runs(setup, "completed")).toEqual([
      { trigger: "schedule", mode: "full" },
      { trigger: "schedule", mode: "full" },
    ]);
    expect(await wpName(setup, user)).toBe("Never Notified");
    await setup.pass();
    expect(await runs(setup)).toHaveLength(2);
  });
});
