/**
 * A network job's cost on a real WordPress multisite network: the first sync (create once, join
 * every site) and the re-sync of unchanged users, in WordPress requests per user by method and
 * wall time, through the service's runtime and the Graph simulator.
 *
 *   eval "$(scripts/wordpress-local.sh --multisite --env-prefix WP_NETWORK_ ...)" && npm run build &&
 *   NODE_EXTRA_CA_CERTS=.tmp/certs/ca.pem node dist/bench/network-sync.js [N]
 *
 * N users (default 30, or BENCH_USERS) on every site of the network ("all"), half of them editors
 * on the second site; then the other half become editors there (a role moved on one site), then
 * the first half's names change (fields only), both written without a read. The users it created
 * are deleted from the network afterwards.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import os, { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { makeWordPressNetwork, makeWordPressSite } from "../src/wordpress";
import { makeTenant, startGraphSimulator } from "../tools/graph-sim";
import { driveRun, openBenchService } from "./lib/service";

const users = Number(process.argv[2] ?? process.env.BENCH_USERS ?? 30);
const wp = {
  url: process.env.WP_NETWORK_URL ?? "",
  username: process.env.WP_NETWORK_USERNAME ?? "",
  appPassword: process.env.WP_NETWORK_APP_PASSWORD ?? "",
};
if (!wp.url)
  throw new Error(
    "set WP_NETWORK_URL, WP_NETWORK_USERNAME, WP_NETWORK_APP_PASSWORD (scripts/wordpress-local.sh --multisite)",
  );

/** Requests by method, counted through the adapters' metrics hooks. */
const requests = new Map<string, number>();
const metrics = {
  onRequest({ method }: { method: string }) {
    requests.set(method, (requests.get(method) ?? 0) + 1);
  },
};
const logger = pino({ level: "warn" });
const site = makeWordPressSite({ ...wp, concurrency: 4, logger, metrics });
const network = makeWordPressNetwork({ ...wp, concurrency: 4, logger, metrics });

function report(label: string, wallMs: number): void {
  const total = [...requests.values()].reduce((a, b) => a + b, 0);
  const routes = [...requests].map(([route, n]) => `${route} ${n}`).join(", ");
  process.stdout.write(
    `${label}: ${wallMs.toFixed(0)} ms (${(wallMs / users).toFixed(1)} ms/user), ${total} WordPress requests ` +
      `(${(total / users).toFixed(2)}/user): ${routes || "none"}\n`,
  );
  requests.clear();
}

/** As report, per changed user (the run's one site-list read included). */
function perChanged(label: string, wallMs: number, changed: number): void {
  const total = [...requests.values()].reduce((a, b) => a + b, 0);
  const routes = [...requests].map(([route, n]) => `${route} ${n}`).join(", ");
  process.stdout.write(
    `${label}: ${wallMs.toFixed(0)} ms, ${total} WordPress requests (${(total / Math.max(changed, 1)).toFixed(2)} per changed user): ${routes}\n`,
  );
  requests.clear();
}

async function main(): Promise<void> {
  const sites = await network.sites();
  const second = sites.find((s) => !s.main)!;
  const sim = await startGraphSimulator({
    tenant: makeTenant({ users, seed: 31, domain: `net${randomBytes(3).toString("hex")}.example` }),
  });
  const editors = sim.tenant.addGroup("Editors", {
    users: Array.from({ length: Math.ceil(users / 2) }, (_, i) => sim.tenant.userIdAt(i)),
  });
  const jobsFile = join(tmpdir(), `bench-network-${process.pid}.json`);
  writeFileSync(
    jobsFile,
    JSON.stringify({
      jobs: [
        {
          id: "default",
          network: { sites: "all", groups: [{ group: editors.id, site: second.path, role: "editor" }] },
        },
      ],
    }),
  );
  const runtime = await openBenchService({
    name: "network",
    sim,
    site,
    network,
    env: { SYNC_JOBS_FILE: jobsFile, WP_URL: wp.url },
  });
  const created: number[] = [];
  try {
    process.stdout.write(`network ${wp.url}: ${sites.length} sites, ${users} users, load ${loadavg()}\n`);
    requests.clear();
    const first = await driveRun(runtime);
    if (first.run.counts.created !== users) throw new Error(`created ${first.run.counts.created} of ${users}`);
    report("first sync (create + join every site)", first.wallMs);
    const { rows } = await runtime.db.pool.query<{ wp_user_id: number }>("select wp_user_id from user_map");
    created.push(...rows.map((row) => row.wp_user_id));

    const again = await driveRun(runtime);
    report(`re-sync, ${again.run.counts.unchanged} unchanged`, again.wallMs);

    // Changed users, written without a read (the map says what they hold; the plugin checks it).
    const half = Math.ceil(users / 2);
    for (let i = half; i < users; i++) sim.tenant.addToGroup(editors.id, sim.tenant.userIdAt(i));
    const moved = await driveRun(runtime);
    perChanged(`role moved on one site, ${moved.run.counts.updated} updated`, moved.wallMs, moved.run.counts.updated);
    for (let i = 0; i < half; i++) {
      const id = sim.tenant.userIdAt(i);
      sim.tenant.updateUser(id, { displayName: `${sim.tenant.getUser(id)?.displayName ?? ""} Renamed` });
    }
    const renamed = await driveRun(runtime);
    perChanged(`name changed, ${renamed.run.counts.updated} updated`, renamed.wallMs, renamed.run.counts.updated);
  } finally {
    await Promise.all(created.map((id) => network.deleteFromNetwork(id).catch(() => undefined)));
    await runtime.close();
    await sim.close();
  }
}

function loadavg(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
