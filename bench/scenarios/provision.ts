/**
 * Row "provision on demand": POST /v1/jobs/{job}/users/{entraId}/sync's service call against a
 * site of 100,000 users (the zero-latency MemorySite, every Site call counted as the request it
 * would be), for a user WordPress does not have yet (create) and one it has under the same
 * e-mail (match + update). Listing the site to match would cost size/100 requests.
 */
import { makeTenant, startGraphSimulator } from "../../tools/graph-sim";
import { MemorySite } from "../lib/memory-site";
import { openBenchService } from "../lib/service";

export interface ProvisionCase {
  outcome: string;
  action: string | null;
  requests: Record<string, number>;
  ms: number;
}

export interface ProvisionResult {
  siteUsers: number;
  create: ProvisionCase;
  match: ProvisionCase;
}

export async function benchProvision(siteUsers: number): Promise<ProvisionResult> {
  const sim = await startGraphSimulator({ tenant: makeTenant({ users: 2, seed: 21, domain: "provision.example" }) });
  const site = new MemorySite();
  for (let n = 1; site.size < siteUsers; n++) {
    await site.createUser(`member${n}`, { fields: { email: `member${n}@elsewhere.example` } });
  }
  const [fresh, known] = [sim.tenant.userAt(0)!, sim.tenant.userAt(1)!];
  await site.createUser("known-before", { fields: { email: String(known.mail ?? known.userPrincipalName) } });
  const runtime = await openBenchService({ name: "provision", sim, site });
  const measure = async (entraId: string): Promise<ProvisionCase> => {
    site.resetCounters();
    const started = performance.now();
    const trace = await runtime.provision.syncUser("default", entraId);
    return {
      outcome: trace.outcome,
      action: trace.stages.planned?.action ?? null,
      requests: { ...site.requests },
      ms: performance.now() - started,
    };
  };
  try {
    return { siteUsers: site.size, create: await measure(fresh.id), match: await measure(known.id) };
  } finally {
    await runtime.close();
    await sim.close();
  }
}
