/**
 * Row "planning + bookkeeping per page of 999": each listing step's wall time minus its Graph fetch
 * (the engine logs fetchMs per page at debug level), with the zero-latency MemorySite, so what
 * remains is the lease, the database reads, planning, applying to a site that answers at once, and
 * the page's commit. Both for pages of new users (creates) and of unchanged users.
 */
import { makeTenant, startGraphSimulator } from "../../tools/graph-sim";
import { MemorySite } from "../lib/memory-site";
import { driveRun, openBenchService } from "../lib/service";

/** One page: the step's wall time minus its Graph fetch, and the parts the engine logs. */
export interface PageCost {
  totalMs: number;
  /** Database reads before planning (itemised, groups, user map), planning, and applying to the zero-latency site. */
  planAndApplyMs: number;
  /** The page's transaction: items, user map, run counters. */
  commitMs: number;
  /** The rest: finding the run, taking the lease, reading the page's state back. */
  otherMs: number;
}

export interface PlanningResult {
  pageSize: number;
  pages: number;
  creating: PageCost[];
  unchanged: PageCost[];
}

export async function benchPlanning(pages: number): Promise<PlanningResult> {
  const pageSize = 999;
  const sim = await startGraphSimulator({
    tenant: makeTenant({ users: pages * pageSize, seed: 14, domain: "planning.example" }),
  });
  let logged: Array<{ fetchMs: number; planAndApplyMs: number; commitMs: number }> = [];
  const runtime = await openBenchService({
    name: "planning",
    sim,
    site: new MemorySite(),
    env: { SYNC_PAGE_SIZE: String(pageSize), LOG_LEVEL: "debug" },
    onLog: (entry) => {
      if (entry.msg === "page done") {
        logged.push({
          fetchMs: Number(entry.fetchMs),
          planAndApplyMs: Number(entry.planAndApplyMs),
          commitMs: Number(entry.commitMs),
        });
      }
    },
  });
  try {
    const perPage = async (): Promise<PageCost[]> => {
      logged = [];
      const { stepMs } = await driveRun(runtime);
      // Listing steps come first, one page each; the reconcile step after them is not a page.
      return logged.map((page, i) => {
        const totalMs = stepMs[i]! - page.fetchMs;
        return { ...page, totalMs, otherMs: totalMs - page.planAndApplyMs - page.commitMs };
      });
    };
    const creating = await perPage();
    const unchanged = await perPage();
    return { pageSize, pages, creating, unchanged };
  } finally {
    await runtime.close();
    await sim.close();
  }
}
