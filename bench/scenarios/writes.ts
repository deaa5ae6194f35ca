/**
 * Rows "first sync" and "update": the service writing to a real WordPress next to WordPress's own
 * in-process loop and to the REST site's calls alone (both from bench/wordpress-writes.ts), on the
 * same site in the same run. The PHP loop runs
 * before the service (on the same empty site: it deletes its users) and again after it, and the
 * ratio is taken against the mean of both: on a shared 2-core machine the load moves between the
 * two measurements, and the REST path (node, 4 PHP workers, MariaDB) suffers from it more.
 */
import { randomBytes } from "node:crypto";
import { DEFAULTS } from "../../src/config";
import { makeTenant, startGraphSimulator } from "../../tools/graph-sim";
import { driveRun, openBenchService } from "../lib/service";
import { type BenchWordPress, makeCountingSite } from "../lib/wordpress";
import { benchPhp, benchRest, type PerUser } from "../wordpress-writes";

export interface WriteResult {
  users: number;
  /** The site's REST calls alone (createUser/updateUser at WP_CONCURRENCY, no engine), before the service. */
  rest: PerUser;
  /** The in-process loop before and after the service's runs, and their mean. */
  phpBefore: PerUser;
  phpAfter: PerUser;
  php: PerUser;
  first: { wallMs: number; wpRequests: Record<string, number>; graphRequests: number; steps: number };
  update: { wallMs: number; wpRequests: Record<string, number>; graphRequests: number };
}

export async function benchWrites(wp: BenchWordPress, users: number): Promise<WriteResult> {
  const phpBefore = benchPhp(users, randomBytes(4).toString("hex"), wp);
  // The same writes through the REST site without the engine: separates WordPress's REST cost from the engine's.
  const rest = await benchRest(users, DEFAULTS.WP_CONCURRENCY, randomBytes(4).toString("hex"), wp);

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
    const phpAfter = benchPhp(users, randomBytes(4).toString("hex"), wp);
    const mean = (key: keyof PerUser) => (phpBefore[key] + phpAfter[key]) / 2;
    return {
      users,
      rest,
      phpBefore,
      phpAfter,
      php: { create: mean("create"), update: mean("update"), delete: mean("delete") },
      first: firstResult,
      update: { wallMs: update.wallMs, wpRequests: { ...counting.requests }, graphRequests: sim.graphRequests() },
    };
  } finally {
    await runtime.close();
    await sim.close();
  }
}
