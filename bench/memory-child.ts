/**
 * One measured process of bench/scenarios/memory.ts: `node dist/bench/memory-child.js first|resync`
 * with AZURE_* and GRAPH_BASE_URL naming the Graph simulator's process. Drives a run of the default
 * job against a MemorySite and prints one JSON line with the process's peak RSS.
 */
import { MemorySite } from "./lib/memory-site";
import { simulatorFromEnv } from "./lib/processes";
import { driveRun, openBenchService } from "./lib/service";

async function main(): Promise<void> {
  const mode = process.argv[2] === "resync" ? "resync" : "first";
  // The first sync only creates: its fake WordPress keeps just the taken logins and e-mails, so the
  // peak RSS is the service's own (a real WordPress holds its users in another process).
  const site = new MemorySite({ keepUsers: mode !== "first" });
  const runtime = await openBenchService({
    name: "memory",
    // The re-sync continues the first sync's database: every user is mapped, so none needs WordPress.
    reuseDatabase: mode === "resync",
    sim: simulatorFromEnv(),
    site,
  });
  try {
    const rssBeforeRunMb = process.memoryUsage().rss / 1048576;
    const { run, wallMs } = await driveRun(runtime);
    const users = mode === "first" ? run.counts.created : run.counts.unchanged;
    const maxRssMb = process.resourceUsage().maxRSS / 1024;
    // What the process still holds once garbage is collected (the parent starts it with --expose-gc):
    // tells a growing live set (a leak) from V8 letting garbage pile up before it collects.
    (globalThis as { gc?: () => void }).gc?.();
    const liveHeapMb = process.memoryUsage().heapUsed / 1048576;
    process.stdout.write(
      `${JSON.stringify({ mode, maxRssMb, rssBeforeRunMb, liveHeapMb, wallMs, users, wpRequests: site.requests })}\n`,
    );
  } finally {
    await runtime.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
