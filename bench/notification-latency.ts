/**
 * Change -> user right in a real WordPress, through Graph change notifications
 * (docs/notifications.md). Stand-alone: the WordPress named by WP_URL / WP_USERNAME /
 * WP_APP_PASSWORD (for example one from scripts/wordpress-local.sh), the Graph simulator in this
 * process, the service as deployed (serve) on a fresh bench database, a delta job.
 *   npm run build && NODE_EXTRA_CA_CERTS=.tmp/certs/ca.pem node dist/bench/notification-latency.js
 * BENCH_NOTIFY_CHANGES (100) changes, one at a time, to BENCH_NOTIFY_USERS (200) users; halfway a
 * delta reconciliation is asked for, so some changes wait for it (a job never runs two runs at once).
 * Each sample: the tenant change, then GET /wp/v2/users/{id} every 25 ms until the name is right.
 */
import { randomBytes } from "node:crypto";
import { type AddressInfo, createServer } from "node:net";
import os from "node:os";
import { Client } from "pg";
import { loadConfig } from "../src/config";
import { serve } from "../src/main";
import { makeTenant, startGraphSimulator } from "../tools/graph-sim";
import { benchDatabase } from "./lib/service";
import { median, percentile } from "./lib/stats";

const PUBLIC_URL = "https://sync.bench.test";
const changes = Number(process.env.BENCH_NOTIFY_CHANGES ?? 100);
const users = Number(process.env.BENCH_NOTIFY_USERS ?? 200);

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function main(): Promise<void> {
  const wp = { url: process.env.WP_URL, username: process.env.WP_USERNAME, password: process.env.WP_APP_PASSWORD };
  if (!wp.url || !wp.username || !wp.password) throw new Error("set WP_URL, WP_USERNAME and WP_APP_PASSWORD");
  const authorization = `Basic ${Buffer.from(`${wp.username}:${wp.password}`).toString("base64")}`;
  const load = () => os.loadavg()[0]!.toFixed(1);
  const startLoad = load();
  const domain = `n${randomBytes(4).toString("hex")}.example.org`;
  const sim = await startGraphSimulator({
    tenant: makeTenant({ users, domain, seed: randomBytes(4).readUInt32BE(0) }),
  });
  const database = await benchDatabase("notifications");
  const port = await freePort();
  sim.notifications.route = (url) => url.replace(PUBLIC_URL, `http://127.0.0.1:${port}`);
  const server = await serve(
    loadConfig({
      ...database,
      PORT: String(port),
      HOST: "127.0.0.1",
      PUBLIC_URL,
      LOG_LEVEL: "warn",
      AZURE_TENANT_ID: sim.tenantId,
      AZURE_CLIENT_ID: sim.clientId,
      AZURE_CLIENT_SECRET: sim.clientSecret,
      AZURE_AUTHORITY_HOST: sim.url,
      GRAPH_BASE_URL: sim.url,
      WP_URL: wp.url,
      WP_USERNAME: wp.username,
      WP_APP_PASSWORD: wp.password,
      SYNC_SOURCE_MODE: "delta",
      SYNC_NOTIFICATIONS: "true",
      DRIVER_INTERVAL_MS: "1000",
    }),
    { print: () => undefined },
  );
  const db = new Client({ connectionString: database.DATABASE_URL });
  await db.connect();
  try {
    const wait = async (what: string, probe: () => Promise<boolean>, timeoutMs = 300_000) => {
      const until = Date.now() + timeoutMs;
      while (!(await probe())) {
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    };
    await wait("the start-up reconciliation", async () => {
      const { rows } = await db.query("select 1 from runs where mode <> 'notification' and state = 'completed'");
      return rows.length > 0 && sim.notifications.subscriptions.size > 0;
    });
    const { rows: map } = await db.query<{ entra_id: string; wp_user_id: number }>(
      "select entra_id, wp_user_id from user_map",
    );
    const wpIdOf = new Map(map.map((row) => [row.entra_id, row.wp_user_id]));
    const samples: number[] = [];
    for (let i = 0; i < changes; i++) {
      if (i === Math.floor(changes / 2)) await db.query("update jobs set reconcile_requested_at = now()");
      const id = sim.tenant.userIdAt(i % users);
      const name = `Bench Change ${i}`;
      const started = performance.now();
      sim.tenant.updateUser(id, { displayName: name });
      await wait(`change ${i}`, async () => {
        const response = await fetch(`${wp.url}/wp-json/wp/v2/users/${wpIdOf.get(id)}?context=edit`, {
          headers: { authorization },
        });
        return response.ok && ((await response.json()) as { name: string }).name === name;
      });
      samples.push(performance.now() - started);
    }
    const { rows: runs } = await db.query<{ mode: string; n: number }>(
      "select mode, count(*)::int as n from runs group by mode order by mode",
    );
    const fmt = (v: number) => `${(v / 1000).toFixed(2)} s`;
    process.stdout.write(
      `change -> user right in WordPress, ${changes} changes to ${users} users (delta job, reconciliation asked for at change ${Math.floor(changes / 2)}): ` +
        `p50 ${fmt(median(samples))}, p95 ${fmt(percentile(samples, 95))}, max ${fmt(Math.max(...samples))}; ` +
        `runs ${runs.map((r) => `${r.mode} ${r.n}`).join(", ")}; notifications delivered ${sim.notifications.delivered}; ` +
        `target p95 < 5 s: ${percentile(samples, 95) < 5000 ? "PASS" : "MISS"}; load ${startLoad} -> ${load()}\n`,
    );
  } finally {
    await db.end();
    await server.close();
    await sim.close();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
