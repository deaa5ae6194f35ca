/**
 * Batched writes end to end through the engine, for a few settings of the two knobs that shape them
 * (WP_BATCH_SIZE; WP_BATCH_IN_FLIGHT; the engine works on size x in-flight users of a page at once),
 * side by side with WordPress's in-process wp_insert_user / wp_update_user loop (autocommit) on one
 * WordPress. Also the stored password of created users: the plugin's no-password value (default)
 * against WordPress's own hash (the plugin's entra_wp_sync_no_password filter turned off by a
 * drop-in mu-plugin, for the "hash" rows only).
 *
 *   npm run build && BENCH_WP_PORT=8943 BENCH_WP_DIR=/tmp/ews-wpbench node dist/bench/write-tuning.js [N] [ROUNDS] [SETTINGS]
 *
 * SETTINGS: `;`-separated "size/inFlight[/hash]" (default below). Each setting has its own tenant of
 * N users (default 1,000) per round: its first sync (creates) and then an update of every user (a
 * new display name) are timed, each right after the in-process loop on BENCH_LOOP_USERS (300) users
 * so both see the same load; rounds reverse the order. Prints ms per user and the ratio to the loop.
 */
import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTenant, startGraphSimulator } from "../tools/graph-sim";
import { cpuWindow, describeLoad, loadNow } from "./lib/load";
import { driveRun, openBenchService } from "./lib/service";
import { makeCountingSite, startBenchWordPress } from "./lib/wordpress";
import { benchPhp } from "./wordpress-writes";

interface Setting {
  name: string;
  size: number;
  inFlight: number;
  /** WordPress's own password hash on creates (the plugin's no-password value turned off). */
  hash: boolean;
}

const DEFAULT_SETTINGS = "50/2/hash;50/2;25/2;50/1;100/1;100/2;50/3";

function parseSettings(text: string): Setting[] {
  return text.split(";").map((part) => {
    const [size, inFlight, hash] = part.split("/");
    return {
      name: part,
      size: Number(size),
      inFlight: Number(inFlight),
      hash: hash === "hash",
    };
  });
}

/** Every user but the bench's admin, straight from the tables (untimed). */
function removeUsers(wp: { url: string; username: string; dir: string }): void {
  const host = new URL(wp.url).host;
  const script = `$_SERVER['HTTP_HOST'] = ${JSON.stringify(host)}; $_SERVER['REQUEST_URI'] = '/';
    require ${JSON.stringify(join(wp.dir, "htdocs", "wp-load.php"))};
    global $wpdb;
    $keep = (int) get_user_by('login', ${JSON.stringify(wp.username)})->ID;
    $wpdb->query("DELETE FROM $wpdb->usermeta WHERE user_id <> $keep");
    $wpdb->query("DELETE FROM $wpdb->users WHERE ID <> $keep");
    wp_update_user_counts();`;
  execFileSync("php", ["-r", script], { stdio: "ignore" });
}

async function main(): Promise<void> {
  const users = Number(process.argv[2] ?? 1000);
  const loopUsers = Math.min(users, Number(process.env.BENCH_LOOP_USERS ?? 300));
  const rounds = Number(process.argv[3] ?? 1);
  const settings = parseSettings(process.argv[4] ?? DEFAULT_SETTINGS);
  const wp = startBenchWordPress({ reset: true });
  const dropIn = join(wp.dir, "htdocs", "wp-content", "mu-plugins", "zz-bench-wordpress-hash.php");
  const useHash = (on: boolean) => {
    if (on) writeFileSync(dropIn, "<?php add_filter('entra_wp_sync_no_password', '__return_false');\n");
    else rmSync(dropIn, { force: true });
  };
  const results = new Map<string, { create: number[]; update: number[] }>();
  const php: Array<{ create: number; update: number }> = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? settings : [...settings].reverse();
      for (const [i, s] of order.entries()) {
        // The loop right before each setting, so that both see the same load; it leaves no users behind.
        const window = cpuWindow();
        const loop = benchPhp(loopUsers, `tune${round}x${i}`, { url: wp.url, username: wp.username, dir: wp.dir });
        php.push(loop);
        const counting = makeCountingSite(wp, 4, { batchSize: s.size, batchInFlight: s.inFlight });
        const site = counting.site;
        const sim = await startGraphSimulator({
          tenant: makeTenant({ users, seed: 100 * round + i, domain: `tune${round}x${i}.example` }),
        });
        const runtime = await openBenchService({
          name: `write_tuning_${i}`,
          sim,
          site,
        });
        try {
          useHash(s.hash);
          counting.reset();
          const first = await driveRun(runtime);
          useHash(false);
          if (first.run.counts.created !== users) throw new Error(`${s.name}: created ${JSON.stringify(first.run)}`);
          for (const user of [...sim.tenant.users()]) {
            sim.tenant.updateUser(user.id, { displayName: `Renamed ${round} ${user.id.slice(0, 8)}` });
          }
          const second = await driveRun(runtime);
          if (second.run.counts.updated !== users) throw new Error(`${s.name}: updated ${JSON.stringify(second.run)}`);
          const r = results.get(s.name) ?? { create: [], update: [] };
          r.create.push(first.wallMs / users / loop.create);
          r.update.push(second.wallMs / users / loop.update);
          results.set(s.name, r);
          console.log(
            `round ${round} ${s.name.padEnd(16)} loop ${loop.create.toFixed(1)}/${loop.update.toFixed(1)}  create ${(first.wallMs / users).toFixed(2)} ms/user (${(first.wallMs / users / loop.create).toFixed(2)}x, ${first.stepMs.length} steps)` +
              `  update ${(second.wallMs / users).toFixed(2)} ms/user (${(second.wallMs / users / loop.update).toFixed(2)}x)` +
              `  ${counting.requests["POST batch"] ?? 0} batch requests, refused whole ${JSON.stringify(counting.refusedBatches)}` +
              `  ${describeLoad(window.take())}`,
          );
        } finally {
          useHash(false);
          await runtime.close();
          await sim.close();
          // Every setting starts from the same site: the first sync lists all WordPress users.
          if (process.env.BENCH_KEEP_USERS !== "1") removeUsers(wp);
        }
      }
    }
  } finally {
    useHash(false);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`\n${users} users, ${rounds} round(s), load ${loadNow()}; ratio to the in-process autocommit loop`);
  console.log(
    `in-process loop: create ${mean(php.map((p) => p.create)).toFixed(2)} ms/user, update ${mean(php.map((p) => p.update)).toFixed(2)} ms/user`,
  );
  console.log("size/inFlight   create   update");
  for (const s of settings) {
    const r = results.get(s.name)!;
    console.log(
      `${s.name.padEnd(14)} ${mean(r.create).toFixed(2).padStart(6)}x ${mean(r.update).toFixed(2).padStart(7)}x`,
    );
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
