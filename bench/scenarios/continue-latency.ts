/**
 * Row "continue latency": the real HTTP server (buildApp + listen) called the way a scheduler
 * calls it, with a signed start link and then the continue link until the run settles. One first
 * sync into the bench WordPress (each call creates a page of 500 users), then re-syncs of the
 * same, unchanged users (each call lists and checks a page).
 */
import { makeTenant, startGraphSimulator } from "../../tools/graph-sim";
import { runByLinks, serveLinks } from "../lib/links";
import { openBenchService } from "../lib/service";
import { type BenchWordPress, makeCountingSite } from "../lib/wordpress";

export interface ContinueResult {
  users: number;
  /** ms per continue call of the first sync (creates). */
  creating: number[];
  /** ms per continue call of the re-syncs (unchanged users). */
  unchanged: number[];
}

export async function benchContinueLatency(
  wp: BenchWordPress,
  users: number,
  resyncs: number,
): Promise<ContinueResult> {
  const sim = await startGraphSimulator({ tenant: makeTenant({ users, seed: 12, domain: "continue.example" }) });
  const counting = makeCountingSite(wp, 4);
  // Many calls a minute from one address: lift the per-IP link rate limit for the bench.
  const runtime = await openBenchService({
    name: "continue",
    sim,
    site: counting.site,
    env: { RATE_LIMIT_MAX: "100000" },
  });
  const links = await serveLinks(runtime);
  try {
    const result: ContinueResult = { users, creating: [], unchanged: [] };
    for (let i = 0; i <= resyncs; i++) {
      const { callMs } = await runByLinks(links);
      (i === 0 ? result.creating : result.unchanged).push(...callMs);
    }
    return result;
  } finally {
    await links.close();
    await runtime.close();
    await sim.close();
  }
}
