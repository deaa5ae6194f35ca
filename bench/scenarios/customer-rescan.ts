/**
 * Row "customer-tenant re-scan": a customer tenant (External ID / B2C) has no delta, so every run
 * lists everyone; this measures what such a full re-scan costs when nothing changed. The Graph
 * simulator in customer mode (10% social accounts, 5% user-name accounts, 1% social accounts
 * without any address) and the zero-latency MemorySite; the job is `source.tenantKind: external`
 * with pages of 999. WordPress must receive no request at all, writes or reads.
 */
import { makeTenant, startGraphSimulator } from "../../tools/graph-sim";
import { MemorySite } from "../lib/memory-site";
import { driveRun, openBenchService } from "../lib/service";

export interface CustomerRescanResult {
  users: number;
  setupMs: number;
  wallMs: number;
  unchanged: number;
  skipped: number;
  wpRequests: number;
  wpWrites: number;
  graphRequests: number;
}

export async function benchCustomerRescan(users: number): Promise<CustomerRescanResult> {
  const withoutMail = Math.floor(users / 100);
  const tenant = makeTenant({
    users,
    seed: 21,
    withoutMail,
    customer: { social: Math.floor(users / 10), userNames: Math.floor(users / 20) },
  });
  const sim = await startGraphSimulator({ tenant });
  const site = new MemorySite();
  const env = { SYNC_TENANT_KIND: "external", SYNC_PAGE_SIZE: "999" };
  const runtime = await openBenchService({ name: "customer_rescan", sim, site, env });
  try {
    const setup = await driveRun(runtime);
    const expected = users - withoutMail;
    if (setup.run.counts.created !== expected)
      throw new Error(`setup created ${setup.run.counts.created} of ${expected}`);
    site.resetCounters();
    sim.resetCounters();
    const rescan = await driveRun(runtime);
    return {
      users,
      setupMs: setup.wallMs,
      wallMs: rescan.wallMs,
      unchanged: rescan.run.counts.unchanged,
      skipped: rescan.run.counts.skipped,
      wpRequests: site.total(),
      wpWrites: site.requests.POST + site.requests.DELETE,
      graphRequests: sim.graphRequests(),
    };
  } finally {
    await runtime.close();
    await sim.close();
  }
}
