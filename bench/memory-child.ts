/**
 * One measured process of bench/scenarios/memory.ts: `node dist/bench/memory-child.js first|resync`
 * with AZURE_* and GRAPH_BASE_URL naming the Graph simulator's process. Drives a run of the default
 * job against a MemorySite and prints one JSON line with the process's peak RSS.
 */
import { MemorySite } from "./lib/memory-site";
import { driveRun, openBenchService } from "./lib/service";

async function main(): Promise<void> {
  const mode = process.argv[2] === "resync" ? "resync" : "first";
  const site = new MemorySite();
  const runtime = await openBenchService({
    name: "memory",
    // The re-sync continues the first sync's database: every user is mapped, so none needs WordPress.
    reuseDatabase: mode === "resync",
    sim: {
      url: process.env.GRAPH_BASE_URL!,
      tenantId: process.env.AZURE_TENANT_ID!,
      clientId: process.env.AZURE_CLIENT_ID!,
      clientSecret: process.env.AZURE_CLIENT_SECRET!,
    },
    site,
  });
  try {
    const rssBeforeRunMb = process.memoryUsage().rss / 1048576;
    const { run, wallMs } = await driveRun(runtime);
    const users = mode === "first" ? run.counts.created : run.counts.unchanged;
    const maxRssMb = process.resourceUsage().maxRSS / 1024;
    process.stdout.write(
      `${JSON.stringify({ mode, maxRssMb, rssBeforeRunMb, wallMs, users, wpRequests: site.requests })}\n`,
    );
  } finally {
    await runtime.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
