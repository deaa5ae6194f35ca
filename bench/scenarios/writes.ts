/**
 * Rows "first sync" and "update": the service writing to a real WordPress next to WordPress's own
 * in-process loop (bench/wordpress-writes.ts) on the same site in the same run. The PHP loop runs
 * first and deletes its users, so both start from the same empty site.
 */
import { randomBytes } from "node:crypto";
import { DEFAULTS } from "../../src/config";
import { makeTenant, startGraphSimulator } from "../../tools/graph-sim";
import { driveRun, openBenchService } from "../lib/service";
import { type BenchWordPress, makeCountingSite } from "../lib/wordpress";
import { benchPhp, type PerUser } from "../wordpress-writes";

export interface WriteResult {
  users: number;
  php: PerUser;
  first: { wallMs: number; wpRequests: Record<string, number>; graphRequests: number; steps: number };
  update: { wallMs: number; wpRequests: Record<string, number>; graphRequests: number };
}

export async function benchWrites(wp: BenchWordPress, users: number): Promise<WriteResult> {
  const php = benchPhp(users, randomBytes(4).toString("hex"), wp);

  const sim = await startGraphSimulator({ tenant: makeTenant({ users, seed: 11, domain: "first-sync.example" }) });
  const counting = makeCountingSite(wp, DEFAULTS.WP_CONCURRENCY);
  const runtime = await openBenchService({ name: "writes", sim, site: counting.site });
  try {
    sim.resetCounters();
    const first = await driveRun(runtime);
    if (first.run.counts.created !== users)
      throw new Error(`first sync created ${first.run.counts.created} of ${users}`);
    const firstResult = {
      wallMs: first.wallMs,
      wpRequests: { ...counting.requests },
      graphRequests: sim.graphRequests(),
      steps: first.stepMs.length,
    };

    // One attribute changed for every user: each is one update (its `name` field) and nothing else.
    for (const user of [...sim.tenant.users()]) {
      sim.tenant.updateUser(user.id, { displayName: `${user.displayName} (renamed)` });
    }
    counting.reset();
    sim.resetCounters();
    const update = await driveRun(runtime);
    if (update.run.counts.updated !== users) throw new Error(`re-run updated ${update.run.counts.updated} of ${users}`);
    return {
      users,
      php,
      first: firstResult,
      update: { wallMs: update.wallMs, wpRequests: { ...counting.requests }, graphRequests: sim.graphRequests() },
    };
  } finally {
    await runtime.close();
    await sim.close();
  }
}
