/**
 * Change notifications end to end: the service as deployed (serve, configuration from variables,
 * real PostgreSQL), Graph through the simulator over HTTPS (subscriptions, the validation call,
 * notifications posted to the service on tenant changes), and a WordPress (the real one when
 * WP_URL is set). PUBLIC_URL is an https name; the simulator's `route` stands for the
 * TLS-terminating proxy that forwards to the replicas (round robin when there are two).
 */
import { type AddressInfo, createServer } from "node:net";
import type { Pool } from "pg";
import { reconcileDue } from "../../src/db/notifications";
import { buildApp } from "../../src/http/app";
import { type Server, serve } from "../../src/main";
import { openRuntime } from "../../src/runtime";
import { RECONCILE_EVERY_MS } from "../../src/sync/notifications";
import type { GraphSimulator } from "../../tools/graph-sim";
import { makeTestDatabase } from "../helpers/db";
import {
  ADMIN_TOKEN,
  configOf,
  serviceEnv,
  startTenant,
  startWordPress,
  type WordPressUnderTest,
  waitFor,
} from "./setup";

const USERS = 12;
const PUBLIC_URL = "https://sync.example.test";
let wp: WordPressUnderTest;
const cleanups: Array<() => Promise<unknown>> = [];
beforeAll(async () => {
  wp = await startWordPress();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await wp.close();
});

interface Setup {
  pool: Pool;
  sim: GraphSimulator;
  domain: string;
  env: Record<string, string>;
  servers: Server[];
  /** Replicas Graph's notifications are forwarded to (round robin). */
  targets: string[];
}

async function setUp(extra: Record<string, string> = {}): Promise<Setup> {
  const db = await makeTestDatabase();
  const { sim, domain } = await startTenant(USERS);
  cleanups.push(
    () => db.close(),
    () => sim.close(),
  );
  const env = serviceEnv(db.url!, sim, wp, {
    PUBLIC_URL,
    SYNC_NOTIFICATIONS: "true",
    SYNC_MISSING: "deactivate",
    SYNC_MAX_DELETE_FRACTION: "1",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    ...extra,
  });
  const setup: Setup = { pool: db.pool, sim, domain, env, servers: [], targets: [] };
  let next = 0;
  sim.notifications.route = (url) => {
    const target = setup.targets[next++ % setup.targets.length];
    return target ? url.replace(PUBLIC_URL, target) : url;
  };
  return setup;
}

/** A port nobody listens on: the replica's address must be routable before it starts subscribing. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function startReplica(setup: Setup, extra: Record<string, string> = {}): Promise<Server> {
  const port = await freePort();
  setup.targets.push(`http://127.0.0.1:${port}`);
  const server = await serve(configOf({ ...setup.env, PORT: String(port), ...extra }), { print: () => undefined });
  setup.servers.push(server);
  cleanups.push(() => server.close());
  return server;
}

async function stopReplica(setup: Setup, server: Server): Promise<void> {
  await server.close();
  setup.targets.splice(setup.targets.indexOf(new URL(server.url).origin), 1);
}

const completedRuns = async (pool: Pool, mode: string): Promise<number> =>
  (
    await pool.query<{ n: number }>(
      "select count(*)::int as n from runs where mode = $1::text and state = 'completed'",
      [mode],
    )
  ).rows[0]!.n;

/**
 * The reconciliation runs at start-up (each replica asks for one; one run serves the requests made
 * before it started) have synced everyone, and none is due any more.
 */
async function initialSync(setup: Setup): Promise<void> {
  await waitFor(
    "the start-up reconciliation",
    async () => {
      if ((await completedRuns(setup.pool, "full")) === 0) return false;
      const { rows } = await setup.pool.query("select 1 from runs where state in ('queued', 'listing', 'reconciling')");
      return rows.length === 0 && !(await reconcileDue(setup.pool, "default", RECONCILE_EVERY_MS, 60_000));
    },
    60_000,
  );
  expect((await wp.usersIn(setup.domain)).length).toBe(USERS);
}

async function wpNameOf(setup: Setup, entraIdValue: string): Promise<string | undefined> {
  const { rows } = await setup.pool.query<{ wp_user_id: number }>(
    "select wp_user_id from user_map where entra_id = $1::text",
    [entraIdValue],
  );
  const users = await wp.usersIn(setup.domain);
  return users.find((user) => user.id === rows[0]?.wp_user_id)?.name;
}

/** Items of notification runs for a user, by action. */
async function notificationItems(pool: Pool, entraIdValue: string): Promise<string[]> {
  const { rows } = await pool.query<{ action: string }>(
    `select i.action from run_items i join runs r on r.id = i.run_id
     where r.mode = 'notification' and i.entra_id = $1::text order by i.id`,
    [entraIdValue],
  );
  return rows.map((row) => row.action);
}

const userId = (sim: GraphSimulator, index: number): string => sim.tenant.userIdAt(index);

describe("change notifications", () => {
  it("keeps one subscription across two replicas and applies a change as a small notification run", async () => {
    const setup = await setUp();
    await startReplica(setup);
    await startReplica(setup);
    await initialSync(setup);
    await waitFor("a subscription", async () => setup.sim.notifications.subscriptions.size > 0);
    const [subscription] = [...setup.sim.notifications.subscriptions.values()];
    expect(setup.sim.notifications.subscriptions.size).toBe(1);
    expect(subscription).toMatchObject({
      resource: "users",
      changeType: "updated,deleted",
      notificationUrl: `${PUBLIC_URL}/v1/notifications/graph`,
    });
    // The clientState is random and only its hash is stored.
    const { rows } = await setup.pool.query<{ hash: Buffer }>(
      "select client_state_hash as hash from graph_subscriptions",
    );
    expect(rows).toHaveLength(1);
    expect(subscription!.clientState).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(rows[0]!.hash.toString("hex")).not.toContain(Buffer.from(subscription!.clientState!).toString("hex"));

    const id = userId(setup.sim, 3);
    setup.sim.tenant.updateUser(id, { displayName: "Renamed By Notification" });
    await waitFor("the rename in WordPress", async () => (await wpNameOf(setup, id)) === "Renamed By Notification");
    // WordPress has the user before the step commits its items and counters (a loaded machine showed
    // the items still empty here): they are read once the run completed.
    await waitFor("the notification run completed", async () => {
      const { rows: done } = await setup.pool.query(
        "select 1 from runs where mode = 'notification' and state = 'completed'",
      );
      return done.length === 1;
    });
    expect(await notificationItems(setup.pool, id)).toEqual(["update"]);
    const { rows: runs } = await setup.pool.query<{ trigger: string; seen: number }>(
      "select trigger, seen from runs where mode = 'notification'",
    );
    expect(runs).toEqual([{ trigger: "notification", seen: 1 }]);

    // Subscription state on /status and in /metrics.
    const page = await fetch(`${setup.servers[0]!.url}/status`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(await page.text()).toMatch(/Change notifications.*<b>default<\/b> users: expires in 68\d h/s);
    const metrics = await (await fetch(`${setup.servers[0]!.url}/metrics`)).text();
    expect(metrics).toMatch(/entra_wp_sync_subscription_expiry_seconds\{job="default",resource="users"\} 24\d{5}/);
    expect(metrics).toMatch(/entra_wp_sync_notifications_pending\{job="default"\} 0/);
    expect(metrics).toMatch(/entra_wp_sync_notification_applied_lag_seconds\{job="default"\} \d/);
  });

  it("applies duplicated and out-of-order notifications once, ending with the latest state", async () => {
    const setup = await setUp();
    await startReplica(setup);
    await initialSync(setup);
    await waitFor("a subscription", async () => setup.sim.notifications.subscriptions.size > 0);
    const faults = setup.sim.notifications.faults;
    faults.duplicate = 2;
    faults.outOfOrder = 1;
    const a = userId(setup.sim, 1);
    const b = userId(setup.sim, 2);
    setup.sim.tenant.updateUser(a, { displayName: "First Name Change" });
    setup.sim.tenant.updateUser(a, { displayName: "Second Name Change" });
    setup.sim.tenant.updateUser(b, { displayName: "Only Change" });
    await setup.sim.notifications.settled();
    await waitFor("both users right", async () => {
      return (await wpNameOf(setup, a)) === "Second Name Change" && (await wpNameOf(setup, b)) === "Only Change";
    });
    await waitFor("nothing pending", async () => {
      const { rows } = await setup.pool.query("select 1 from graph_notifications where done_at is null");
      return rows.length === 0;
    });
    // Five deliveries, one WordPress update per user: later runs (if any) find them unchanged.
    expect(setup.sim.notifications.delivered).toBe(5);
    expect((await notificationItems(setup.pool, a)).filter((action) => action !== "unchanged")).toEqual(["update"]);
    expect((await notificationItems(setup.pool, b)).filter((action) => action !== "unchanged")).toEqual(["update"]);
  });

  it("refuses a notification with a wrong clientState and changes nothing", async () => {
    const setup = await setUp();
    const server = await startReplica(setup);
    await initialSync(setup);
    await waitFor("a subscription", async () => setup.sim.notifications.subscriptions.size > 0);
    const id = userId(setup.sim, 4);
    const before = await wpNameOf(setup, id);
    setup.sim.notifications.faults.wrongClientState = 1;
    setup.sim.tenant.updateUser(id, { displayName: "Forged Change" });
    await setup.sim.notifications.settled();
    const { rows } = await setup.pool.query("select 1 from graph_notifications");
    expect(rows).toHaveLength(0);
    expect(await wpNameOf(setup, id)).toBe(before);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/entra_wp_sync_notifications_refused_total\{reason="wrong_clientState"\} 1/);
  });

  it("loses nothing when the replica that stored a notification dies before applying it", async () => {
    const setup = await setUp();
    const first = await startReplica(setup);
    await initialSync(setup);
    await waitFor("a subscription", async () => setup.sim.notifications.subscriptions.size > 0);
    await stopReplica(setup, first);

    // A replica that receives and stores, then dies before its worker ever runs.
    const runtime = await openRuntime(configOf(setup.env), { print: () => undefined });
    const app = await buildApp(runtime);
    const url = await app.listen({ port: 0, host: "127.0.0.1" });
    setup.targets.push(url);
    const id = userId(setup.sim, 5);
    setup.sim.tenant.updateUser(id, { displayName: "Stored Before The Crash" });
    await setup.sim.notifications.settled();
    expect(setup.sim.notifications.failures).toEqual([]);
    await app.close();
    await runtime.close();
    setup.targets.length = 0;
    expect(await wpNameOf(setup, id)).not.toBe("Stored Before The Crash");

    await startReplica(setup);
    await waitFor("the stored change applied", async () => (await wpNameOf(setup, id)) === "Stored Before The Crash");
  });

  it("has two replicas apply each of many notifications once", async () => {
    const setup = await setUp();
    await startReplica(setup);
    await startReplica(setup);
    await initialSync(setup);
    await waitFor("a subscription", async () => setup.sim.notifications.subscriptions.size > 0);
    const ids = Array.from({ length: 10 }, (_, i) => userId(setup.sim, i));
    for (const id of ids) setup.sim.tenant.updateUser(id, { displayName: `Changed ${id.slice(0, 8)}` });
    setup.sim.tenant.deleteUser(userId(setup.sim, 11));
    await setup.sim.notifications.settled();
    await waitFor("every change applied", async () => {
      const names = await Promise.all(ids.map((id) => wpNameOf(setup, id)));
      return names.every((name, i) => name === `Changed ${ids[i]!.slice(0, 8)}`);
    });
    for (const id of ids) expect(await notificationItems(setup.pool, id)).toEqual(["update"]);
    // A removal learned from a notification goes through the same reconciliation (deactivate).
    await waitFor("the deleted user deactivated", async () => {
      return (await notificationItems(setup.pool, userId(setup.sim, 11))).includes("deactivate");
    });
    expect(await notificationItems(setup.pool, userId(setup.sim, 11))).toEqual(["deactivate"]);
  });

  it("recreates a removed subscription and reconciles, and deletes the subscription when the option is turned off", async () => {
    const setup = await setUp();
    const server = await startReplica(setup);
    await initialSync(setup);
    await waitFor("a subscription", async () => setup.sim.notifications.subscriptions.size > 0);
    const [old] = [...setup.sim.notifications.subscriptions.keys()];
    const reconciliations = await completedRuns(setup.pool, "full");
    setup.sim.notifications.lifecycle(old!, "subscriptionRemoved");
    await setup.sim.notifications.settled();
    await waitFor("a new subscription", async () => {
      const ids = [...setup.sim.notifications.subscriptions.keys()];
      return ids.length === 1 && ids[0] !== old;
    });
    await waitFor("a reconciliation run", async () => (await completedRuns(setup.pool, "full")) > reconciliations);

    await stopReplica(setup, server);
    await startReplica(setup, { SYNC_NOTIFICATIONS: "false" });
    await waitFor("the subscription deleted in Graph and forgotten", async () => {
      const { rows } = await setup.pool.query("select 1 from graph_subscriptions");
      return setup.sim.notifications.subscriptions.size === 0 && rows.length === 0;
    });
  });
});
