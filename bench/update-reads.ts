/**
 * Updates of changed users three ways, side by side in one run on one WordPress: one request per
 * user (read, then write), batched writes with a read per user first, and batched writes without
 * a read (the plugin checks what the plan assumed: src/core/plan.ts assumedCurrent).
 *
 *   npm run build && BENCH_WP_PORT=8903 BENCH_WP_DIR=/tmp/ews-wpbench node dist/bench/update-reads.js [N] [ROUNDS]
 *
 * Each variant has its own tenant of N users (default 1,000), first synced by the service (not
 * timed); then every user gets a new display name and the update run is timed, ROUNDS times
 * (default 2), the variants' order reversed every other round so load drifting on a shared machine
 * does not favour one. Prints ms per changed user and WordPress requests per changed user.
 */
import pino from "pino";
import { DEFAULTS } from "../src/config";
import type { Site } from "../src/sync/ports";
import { makeWordPressSite } from "../src/wordpress";
import { makeTenant, startGraphSimulator } from "../tools/graph-sim";
import { driveRun, openBenchService } from "./lib/service";
import { startBenchWordPress } from "./lib/wordpress";

type Variant = "per-user" | "bulk, read first" | "bulk, no read";
const VARIANTS: Variant[] = ["per-user", "bulk, read first", "bulk, no read"];

async function main(): Promise<void> {
  const users = Number(process.argv[2] ?? 1000);
  const rounds = Number(process.argv[3] ?? 2);
  const wp = startBenchWordPress({ reset: true });
  const requests = new Map<Variant, Record<string, number>>();
  const setups = await Promise.all(
    VARIANTS.map(async (variant, i) => {
      const counts: Record<string, number> = {};
      requests.set(variant, counts);
      const real = makeWordPressSite({
        url: wp.url,
        username: wp.username,
        appPassword: wp.appPassword,
        concurrency: DEFAULTS.WP_CONCURRENCY,
        logger: pino({ level: "warn" }),
        bulk: variant !== "per-user",
        metrics: {
          onRequest({ method }) {
            counts[method] = (counts[method] ?? 0) + 1;
          },
        },
      });
      // Without the optional port method the engine reads each user first, as before.
      const { updateIfUnchanged: _, ...readFirst } = real;
      const site: Site = variant === "bulk, read first" ? readFirst : real;
      const sim = await startGraphSimulator({
        tenant: makeTenant({ users, seed: 20 + i, domain: `reads${i}.example` }),
      });
      const runtime = await openBenchService({ name: `update_reads_${i}`, sim, site });
      return { variant, sim, runtime, counts };
    }),
  );
  try {
    for (const s of setups) {
      const first = await driveRun(s.runtime);
      if (first.run.counts.created !== users) throw new Error(`${s.variant}: created ${first.run.counts.created}`);
    }
    const ms = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    const perUser = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? setups : [...setups].reverse();
      for (const s of order) {
        for (const user of [...s.sim.tenant.users()]) {
          s.sim.tenant.updateUser(user.id, { displayName: `Renamed ${round} ${user.id.slice(0, 8)}` });
        }
        for (const key of Object.keys(s.counts)) delete s.counts[key];
        const run = await driveRun(s.runtime);
        if (run.run.counts.updated !== users) throw new Error(`${s.variant}: updated ${run.run.counts.updated}`);
        ms.get(s.variant)!.push(run.wallMs / users);
        perUser.get(s.variant)!.push(Object.values(s.counts).reduce((a, b) => a + b, 0) / users);
        console.log(
          `round ${round} ${s.variant}: ${(run.wallMs / users).toFixed(2)} ms/user`,
          JSON.stringify(s.counts),
        );
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const base = mean(ms.get("per-user")!);
    console.log(
      `\n${users} changed users, ${rounds} rounds, load ${(await import("node:os")).loadavg()[0]!.toFixed(1)}`,
    );
    console.log("variant              ms/user   vs per-user   WordPress requests/user");
    for (const v of VARIANTS) {
      const m = mean(ms.get(v)!);
      console.log(
        `${v.padEnd(20)} ${m.toFixed(2).padStart(7)}   ${(m / base).toFixed(2).padStart(11)}   ${mean(perUser.get(v)!).toFixed(3)}`,
      );
    }
  } finally {
    for (const s of setups) {
      await s.runtime.close();
      await s.sim.close();
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
