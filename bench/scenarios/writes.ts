/**
 * Rows "first sync" and "update": the service, end to end (Graph simulator -> engine step loop ->
 * REST site -> real WordPress), next to WordPress's own in-process loop on the same site in the same
 * run, with autocommit (as a plugin does it) and in transactions of 100 users (the floor). Both
 * engine paths: the companion plugin's batch endpoint (bulk) and one REST request per write
 * (site option bulk: false), each on its own tenant of new users. The PHP loops run on half the
 * users before the service and on the other half after it (on the same site: they delete their
 * users), and the ratios are taken against the mean of both: on a shared 2-core machine the load
 * moves between the measurements.
 *
 * Profile, for docs/performance.md's "where the time goes": the engine's stages (Graph page, WordPress
 * write, commit, the rest) and, from a bench-only mu-plugin, the database queries and PHP time per
 * user of the REST requests, next to the in-process loop's queries per user.
 */
import { randomBytes } from "node:crypto";
import { DEFAULTS } from "../../src/config";
import type { RunCounts } from "../../src/core/runs";
import { makeTenant, startGraphSimulator } from "../../tools/graph-sim";
import { cpuWindow, type OutsideLoad } from "../lib/load";
import { driveRun, openBenchService, pageTimings, type Stages } from "../lib/service";
import {
  type BenchWordPress,
  installProfiler,
  makeCountingSite,
  type RequestProfile,
  startBenchWordPress,
} from "../lib/wordpress";
import { benchPhp, type PhpLoop } from "../wordpress-writes";

/** One engine run (the first sync or the update) on one path. */
export interface EngineRun {
  wallMs: number;
  steps: number;
  wpRequests: Record<string, number>;
  graphRequests: number;
  stages: Stages;
  /** What WordPress served for it, from the bench mu-plugin. */
  wordpress: RequestProfile;
  /** Batch requests refused whole (see CountingSite.refusedBatches). */
  refusedBatches: Record<string, number>;
  /** How busy the machine was from outside the bench meanwhile (bench/lib/load.ts). */
  load: OutsideLoad;
}

export interface EnginePath {
  first: EngineRun;
  update: EngineRun;
}

export interface WriteResult {
  users: number;
  /** Batches in flight at once (the service's default WP_BATCH_IN_FLIGHT). */
  batchInFlight: number;
  /** How busy the machine was from outside the bench during each round of in-process loops. */
  loopLoad: { before: OutsideLoad; after: OutsideLoad };
  /** The in-process loop with autocommit / in transactions of 100, before and after the service's runs. */
  auto: { before: PhpLoop; after: PhpLoop };
  txn: { before: PhpLoop; after: PhpLoop };
  bulk: EnginePath;
  perUser: EnginePath;
  /**
   * BENCH_CORE_BATCH=1: the same first sync and update into a WordPress 6.6 without the plugin
   * (core's /batch/v1), next to the autocommit loop on that 6.6 tree, measured right before.
   */
  coreBatch: { loop: PhpLoop; loopLoad: OutsideLoad; path: EnginePath } | null;
}

export async function benchWrites(
  wp: BenchWordPress,
  users: number,
  log: (line: string) => void,
): Promise<WriteResult> {
  const profiler = installProfiler(wp);
  try {
    // Half of the users before the service's runs and half after: the mean covers `users` users
    // per loop, and the default run stays within about half an hour.
    const loopUsers = Math.max(1, Math.round(users / 2));
    const loops = () => {
      const window = cpuWindow();
      log(`writes: in-process loop, ${loopUsers} users, autocommit`);
      // The loop's update changes what the engine's does: the display name only.
      const auto = benchPhp(loopUsers, randomBytes(4).toString("hex"), wp, 0, "name");
      log("writes: in-process loop, transactions of 100");
      const txn = benchPhp(loopUsers, randomBytes(4).toString("hex"), wp, 100, "name");
      return { auto, txn, load: window.take() };
    };
    const before = loops();
    const bulk = await enginePath(wp, users, true, profiler.take, log);
    const perUser = await enginePath(wp, users, false, profiler.take, log);
    const after = loops();
    const coreBatch = process.env.BENCH_CORE_BATCH === "1" ? await coreBatchPath(users, loopUsers, log) : null;
    return {
      coreBatch,
      users,
      batchInFlight: DEFAULTS.WP_BATCH_IN_FLIGHT,
      loopLoad: { before: before.load, after: after.load },
      auto: { before: before.auto, after: after.auto },
      txn: { before: before.txn, after: after.txn },
      bulk,
      perUser,
    };
  } finally {
    profiler.remove();
  }
}

/** The core /batch/v1 rows: their own WordPress 6.6 (no plugin), its own in-process loop first. */
async function coreBatchPath(
  users: number,
  loopUsers: number,
  log: (line: string) => void,
): Promise<WriteResult["coreBatch"]> {
  const wp = startBenchWordPress({ reset: true, coreBatch: true });
  const profiler = installProfiler(wp);
  try {
    log(`writes: WordPress 6.6 without the plugin (${wp.url}): in-process loop, ${loopUsers} users, autocommit`);
    const window = cpuWindow();
    const loop = benchPhp(loopUsers, randomBytes(4).toString("hex"), wp, 0, "name");
    const loopLoad = window.take();
    return { loop, loopLoad, path: await enginePath(wp, users, true, profiler.take, log) };
  } finally {
    profiler.remove();
  }
}

/** A first sync of `users` new users, then an update of all of them, through the engine on one path. */
async function enginePath(
  wp: BenchWordPress,
  users: number,
  bulk: boolean,
  takeProfile: () => RequestProfile,
  log: (line: string) => void,
): Promise<EnginePath> {
  const path = bulk ? "bulk" : "per-user";
  const sim = await startGraphSimulator({
    tenant: makeTenant({ users, seed: bulk ? 11 : 13, domain: `${bulk ? "bulk" : "per-user"}-sync.example` }),
  });
  const counting = makeCountingSite(wp, DEFAULTS.WP_CONCURRENCY, { bulk });
  const timings = pageTimings();
  const runtime = await openBenchService({
    name: `writes_${bulk ? "bulk" : "per_user"}`,
    sim,
    site: counting.site,
    env: { LOG_LEVEL: "debug" },
    onLog: timings.onLog,
  });
  const measured = async (): Promise<EngineRun & { counts: RunCounts }> => {
    counting.reset();
    sim.resetCounters();
    takeProfile();
    const window = cpuWindow();
    const { run, wallMs, stepMs } = await driveRun(runtime);
    return {
      load: window.take(),
      refusedBatches: { ...counting.refusedBatches },
      wallMs,
      steps: stepMs.length,
      wpRequests: { ...counting.requests },
      graphRequests: sim.graphRequests(),
      stages: timings.take(wallMs, counting.busyMs()),
      wordpress: takeProfile(),
      counts: run.counts,
    };
  };
  try {
    log(`writes: engine, ${path}, first sync of ${users} new users`);
    const { counts: firstCounts, ...first } = await measured();
    if (firstCounts.created !== users)
      throw new Error(`${path} first sync created ${firstCounts.created} of ${users}: ${JSON.stringify(firstCounts)}`);
    // One attribute changed for every user: each is one update (its `name` field) and nothing else.
    for (const user of [...sim.tenant.users()]) {
      sim.tenant.updateUser(user.id, { displayName: `${user.displayName} (renamed)` });
    }
    log(`writes: engine, ${path}, update of ${users} changed users`);
    const { counts: updateCounts, ...update } = await measured();
    if (updateCounts.updated !== users)
      throw new Error(`${path} update updated ${updateCounts.updated} of ${users}: ${JSON.stringify(updateCounts)}`);
    return { first, update };
  } finally {
    await runtime.close();
    await sim.close();
  }
}
