/**
 * One measured process of bench/scenarios/sites.ts: `node dist/bench/sites-child.js one|four|four-slow`
 * with AZURE_*, GRAPH_BASE_URL and TENANT_<n> naming the Graph simulator's process and its tenants.
 * Opens the service on a jobs file of its own (one site and tenant, or four of each: a site and a
 * tenant per job), starts every job's run at once and lets the driver take them to the end, as a
 * deployment serving several sites does. Each site is an in-process zero-latency WordPress
 * (MemorySite); in "four-slow" the fourth answers every request after SLOW_SITE_MS. Prints one
 * JSON line: the total wall time, each job's wall time, the process's peak RSS.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Site } from "../src/sync/ports";
import { MemorySite } from "./lib/memory-site";
import { simulatorFromEnv } from "./lib/processes";
import { openBenchService } from "./lib/service";
import { type SitesMode, type SitesRun, SLOW_SITE_MS } from "./scenarios/sites";

/** A site whose every call first waits `ms`, as a WordPress farther away or busier would. */
function slowed(site: Site, ms: number): Site {
  return new Proxy(site, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        return value.apply(target, args);
      };
    },
  });
}

async function main(): Promise<void> {
  const mode = (["one", "four", "four-slow"].includes(process.argv[2]!) ? process.argv[2] : "one") as SitesMode;
  const count = mode === "one" ? 1 : 4;
  const sim = simulatorFromEnv();
  const tenants = [
    { tenantId: sim.tenantId, clientId: sim.clientId, clientSecret: sim.clientSecret },
    ...Array.from({ length: count - 1 }, (_, i) => {
      const [tenantId, clientId, clientSecret] = process.env[`TENANT_${i + 2}`]!.split(",");
      return { tenantId: tenantId!, clientId: clientId!, clientSecret: clientSecret! };
    }),
  ];
  const names = tenants.map((_, i) => `site${i + 1}`);
  // The first sync only creates: each fake WordPress keeps just the taken logins and e-mails (a real
  // one holds its users in another process), so the peak RSS is the service's own.
  const sites = new Map<string, Site>(
    names.map((name, i) => {
      const site = new MemorySite({ keepUsers: false });
      return [name, mode === "four-slow" && i === 3 ? slowed(site, SLOW_SITE_MS) : site];
    }),
  );
  const dir = mkdtempSync(join(tmpdir(), "ews-bench-sites-"));
  const jobsFile = join(dir, "jobs.json");
  const secrets: Record<string, string> = {};
  writeFileSync(
    jobsFile,
    JSON.stringify({
      sites: Object.fromEntries(
        names.map((name) => [
          name,
          { url: `http://${name}.bench.invalid`, username: "bench", appPasswordEnv: `${name.toUpperCase()}_PASSWORD` },
        ]),
      ),
      sources: Object.fromEntries(
        tenants.map((tenant, i) => {
          secrets[`TENANT${i + 1}_SECRET`] = tenant.clientSecret;
          return [
            `tenant${i + 1}`,
            { tenantId: tenant.tenantId, clientId: tenant.clientId, clientSecretEnv: `TENANT${i + 1}_SECRET` },
          ];
        }),
      ),
      jobs: names.map((name, i) => ({
        id: `job${i + 1}`,
        site: name,
        source: { tenant: `tenant${i + 1}` },
        trigger: { mode: "manual" },
      })),
    }),
  );
  for (const name of names) secrets[`${name.toUpperCase()}_PASSWORD`] = "bench";
  const runtime = await openBenchService({
    name: `sites_${mode.replace("-", "_")}`,
    sim,
    site: new MemorySite(),
    sites,
    env: { SYNC_JOBS_FILE: jobsFile, DRIVER_INTERVAL_MS: "100", ...secrets },
  });
  try {
    const rssBeforeRunMb = process.memoryUsage().rss / 1048576;
    const started = performance.now();
    const runs = await Promise.all(runtime.jobs.map((job) => runtime.sync.startRun(job.id, { trigger: "manual" })));
    runtime.startBackground();
    const jobMs: Record<string, number> = {};
    let created = 0;
    const pending = new Map(runs.map((start) => [start.run.id, start.run.job]));
    while (pending.size > 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      for (const [id, job] of [...pending]) {
        const run = await runtime.sync.run(id);
        if (["queued", "listing", "reconciling"].includes(run.state)) continue;
        if (run.state !== "completed") throw new Error(`run ${id} of ${job} ${run.state}: ${run.lastError ?? ""}`);
        jobMs[job] = performance.now() - started;
        created += run.counts.created;
        pending.delete(id);
      }
    }
    const wallMs = performance.now() - started;
    const maxRssMb = process.resourceUsage().maxRSS / 1024;
    const result: SitesRun = { mode, wallMs, jobMs, created, maxRssMb, rssBeforeRunMb };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await runtime.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
