/**
 * Row "re-sync of unchanged users": the Graph simulator (HTTPS, same process) and the engine at
 * default settings over users already synced once, with the zero-latency MemorySite standing in
 * for WordPress: what is measured is the engine + Graph + database cost, and that WordPress is
 * not asked anything at all.
 */
import { makeTenant, startGraphSimulator } from "../../tools/graph-sim";
import { MemorySite } from "../lib/memory-site";
import { driveRun, openBenchService } from "../lib/service";

export interface ResyncResult {
  users: number;
  setupMs: number;
  wallMs: number;
  unchanged: number;
  wpRequests: number;
  graphRequests: number;
}

export async function benchResync(users: number): Promise<ResyncResult> {
  const sim = await startGraphSimulator({ tenant: makeTenant({ users, seed: 13, domain: "resync.example" }) });
  const site = new MemorySite();
  const runtime = await openBenchService({ name: "resync", sim, site });
  try {
    const setup = await driveRun(runtime);
    if (setup.run.counts.created !== users) throw new Error(`setup created ${setup.run.counts.created} of ${users}`);
    site.resetCounters();
    sim.resetCounters();
    const resync = await driveRun(runtime);
    return {
      users,
      setupMs: setup.wallMs,
      wallMs: resync.wallMs,
      unchanged: resync.run.counts.unchanged,
      wpRequests: site.total(),
      graphRequests: sim.graphRequests(),
    };
  } finally {
    await runtime.close();
    await sim.close();
  }
}
