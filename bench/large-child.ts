/**
 * One measured process of bench/scenarios/large.ts: `node dist/bench/large-child.js first|resync`
 * with AZURE_* and GRAPH_BASE_URL naming the Graph simulator's process and BENCH_WP_* the bench
 * WordPress. Opens the service (the resync on the database the first sync left), serves its HTTP
 * API, drives one run of the default job through its start and continue links as a scheduler
 * would, and prints one JSON line: wall time, continue calls, counts, WordPress requests, the
 * engine's stages and the process's peak RSS (the service plus the few lines calling its links).
 */
import { DEFAULTS } from "../src/config";
import { runByLinks, serveLinks } from "./lib/links";
import { simulatorFromEnv } from "./lib/processes";
import { openBenchService, pageTimings, type Stages } from "./lib/service";
import { benchWordPressFromEnv, makeCountingSite } from "./lib/wordpress";

export interface LargeRun {
  mode: "first" | "resync";
  wallMs: number;
  callMs: number[];
  counts: Record<string, number>;
  wpRequests: Record<string, number>;
  stages: Stages;
  maxRssMb: number;
  rssBeforeRunMb: number;
  liveHeapMb: number;
}

async function main(): Promise<void> {
  const mode = process.argv[2] === "resync" ? "resync" : "first";
  const counting = makeCountingSite(benchWordPressFromEnv(), DEFAULTS.WP_CONCURRENCY);
  const timings = pageTimings();
  const runtime = await openBenchService({
    name: "large",
    reuseDatabase: mode === "resync",
    sim: simulatorFromEnv(),
    site: counting.site,
    // A continue call every few seconds from one address: lift the per-IP link rate limit.
    env: { RATE_LIMIT_MAX: "1000000", LOG_LEVEL: "debug" },
    onLog: timings.onLog,
  });
  const links = await serveLinks(runtime);
  try {
    const rssBeforeRunMb = process.memoryUsage().rss / 1048576;
    const started = performance.now();
    const { callMs, counts } = await runByLinks(links);
    const wallMs = performance.now() - started;
    const maxRssMb = process.resourceUsage().maxRSS / 1024;
    (globalThis as { gc?: () => void }).gc?.();
    const result: LargeRun = {
      mode,
      wallMs,
      callMs,
      counts,
      wpRequests: counting.requests,
      stages: timings.take(wallMs, counting.busyMs()),
      maxRssMb,
      rssBeforeRunMb,
      liveHeapMb: process.memoryUsage().heapUsed / 1048576,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await links.close();
    await runtime.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
