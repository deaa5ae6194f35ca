/**
 * Row "planning + bookkeeping per page of 999": each listing step's wall time minus its Graph fetch
 * (the engine logs fetchMs per page at debug level), with the zero-latency MemorySite, so what
 * remains is the lease, the database reads, planning, applying to a site that answers at once, and
 * the page's commit. Both for pages of new users (creates) and of unchanged users.
 */
import { makeTenant, startGraphSimulator } from "../../tools/graph-sim";
import { MemorySite } from "../lib/memory-site";
import { driveRun, openBenchService } from "../lib/service";

export interface PlanningResult {
  pageSize: number;
  pages: number;
  /** Per page: step wall time minus Graph fetch, ms. */
  creating: number[];
  unchanged: number[];
}

export async function benchPlanning(pages: number): Promise<PlanningResult> {
  const pageSize = 999;
  const sim = await startGraphSimulator({
    tenant: makeTenant({ users: pages * pageSize, seed: 14, domain: "planning.example" }),
  });
  let fetches: number[] = [];
  const runtime = await openBenchService({
    name: "planning",
    sim,
    site: new MemorySite(),
    env: { SYNC_PAGE_SIZE: String(pageSize), LOG_LEVEL: "debug" },
    onLog: (entry) => {
      if (entry.msg === "page done") fetches.push(Number(entry.fetchMs));
    },
  });
  try {
    const perPage = async (): Promise<number[]> => {
      fetches = [];
      const { stepMs } = await driveRun(runtime);
      // Listing steps come first, one page each; the reconcile step after them is not a page.
      return fetches.map((fetchMs, i) => stepMs[i]! - fetchMs);
    };
    const creating = await perPage();
    const unchanged = await perPage();
    return { pageSize, pages, creating, unchanged };
  } finally {
    await runtime.close();
    await sim.close();
  }
}
