/**
 * Rows "BENCH_LARGE": a first sync of 100,000 users (BENCH_LARGE_USERS) into the real bench
 * WordPress, end to end through the service's HTTP API and its continue links, in a process of
 * its own (bench/large-child.js) so its peak RSS is the service's; the Graph simulator runs in
 * another. Then, in a fresh process on the same database, the re-sync of the same users unchanged,
 * which must write nothing.
 */
import type { LargeRun } from "../large-child";
import { measuredChild, startSimulatorProcess } from "../lib/processes";
import { type BenchWordPress, benchWordPressEnv } from "../lib/wordpress";

export interface LargeResult {
  users: number;
  first: LargeRun;
  resync: LargeRun;
}

export async function benchLarge(wp: BenchWordPress, users: number, log: (line: string) => void): Promise<LargeResult> {
  const sim = await startSimulatorProcess(users, 16);
  try {
    const env = { ...sim.env, ...benchWordPressEnv(wp) };
    log(`large: first sync of ${users} users through continue links`);
    const first = await measuredChild<LargeRun>("large-child", ["first"], env);
    log(`large: first sync took ${(first.wallMs / 1000).toFixed(0)} s; re-sync of the same users unchanged`);
    const resync = await measuredChild<LargeRun>("large-child", ["resync"], env);
    return { users, first, resync };
  } finally {
    sim.process.kill("SIGTERM");
  }
}
