/**
 * Rows "one deployment, four sites": four WordPress sites with 2,500 users each, each job reading
 * a tenant of its own, first-synced at once by one service, against one site with 10,000 users.
 * Each run is a process of its own (bench/sites-child.js) so its peak RSS is the service's; the
 * Graph simulator runs in another. Then the four again with the fourth site slow to answer: how
 * much later the three others finish than beside a fast fourth is the longest any site waited on
 * another (target: none beyond its own work).
 */
import { measuredChild, startSimulatorProcess } from "../lib/processes";

export type SitesMode = "one" | "four" | "four-slow";

/** How long the slow neighbour of "four-slow" takes to answer each request. */
export const SLOW_SITE_MS = 20;

/** What one measured process (bench/sites-child.ts) reports. */
export interface SitesRun {
  mode: SitesMode;
  wallMs: number;
  /** Each job's wall time, from the moment every run was started to its run's completion. */
  jobMs: Record<string, number>;
  created: number;
  maxRssMb: number;
  rssBeforeRunMb: number;
}

export interface SitesResult {
  users: number;
  one: SitesRun;
  four: SitesRun;
  fourSlow: SitesRun;
}

export async function benchSites(users: number): Promise<SitesResult> {
  const single = await startSimulatorProcess(users, 27);
  let one: SitesRun;
  try {
    one = await measuredChild<SitesRun>("sites-child", ["one"], single.env);
  } finally {
    single.process.kill("SIGTERM");
  }
  const quarter = Math.round(users / 4);
  const four = await startSimulatorProcess(quarter, 27, 4);
  try {
    const fast = await measuredChild<SitesRun>("sites-child", ["four"], four.env);
    const fourSlow = await measuredChild<SitesRun>("sites-child", ["four-slow"], four.env);
    return { users, one, four: fast, fourSlow };
  } finally {
    four.process.kill("SIGTERM");
  }
}
