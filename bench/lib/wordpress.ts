/**
 * The bench's own WordPress: scripts/wordpress-local.sh on port 8885 with its own directory and
 * database, reset at the start of every bench run, so the tests' WordPress (8881-8883) is never
 * touched and every run starts from the same empty site. Override with BENCH_WP_PORT/BENCH_WP_DIR.
 * Two more when a scenario asks: WordPress 6.6 without the plugin (8889, BENCH_WP66_PORT/DIR) and
 * the same 6.1 without the plugin (8887, BENCH_WP_PLAIN_PORT/DIR).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { DEFAULTS } from "../../src/config";
import type { Site } from "../../src/sync/ports";
import { makeWordPressSite } from "../../src/wordpress";
import { countAsBench } from "./load";

export interface BenchWordPress {
  url: string;
  username: string;
  appPassword: string;
  /** Base directory of the instance (its docroot is dir/htdocs), for the in-process PHP loop. */
  dir: string;
}

/**
 * Starts (and with `reset`, empties) the bench WordPress. Throws with the script's own message when
 * it cannot run (no PHP, no MariaDB): bench/run.ts then skips the WordPress rows and says why.
 */
export function startBenchWordPress(options: {
  reset: boolean;
  /** Another instance: WordPress core 6.6 without the companion plugin (core's /batch/v1 write path). */
  coreBatch?: boolean;
  /** Another instance: the same WordPress without the companion plugin (one REST request per write). */
  withoutPlugin?: boolean;
}): BenchWordPress {
  const [port, dir] = options.coreBatch
    ? [process.env.BENCH_WP66_PORT ?? "8889", process.env.BENCH_WP66_DIR ?? "/tmp/entra-wp-sync-wordpress-bench-6.6"]
    : options.withoutPlugin
      ? [
          process.env.BENCH_WP_PLAIN_PORT ?? "8887",
          process.env.BENCH_WP_PLAIN_DIR ?? "/tmp/entra-wp-sync-wordpress-bench-plain",
        ]
      : [process.env.BENCH_WP_PORT ?? "8885", process.env.BENCH_WP_DIR ?? "/tmp/entra-wp-sync-wordpress-bench"];
  countAsBench(dir);
  const args = [join("scripts", "wordpress-local.sh"), "--port", port, "--dir", dir, "--env-prefix", "BENCH_WP_"];
  if (options.coreBatch) args.push("--wordpress-version", "6.6", "--without-plugin");
  if (options.withoutPlugin) args.push("--without-plugin");
  if (options.reset) args.push("--reset");
  let out: string;
  try {
    out = execFileSync("bash", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? "").trim();
    throw new Error(`scripts/wordpress-local.sh --port ${port} --dir ${dir} failed: ${stderr.split("\n").pop()}`);
  }
  const env: Record<string, string> = {};
  for (const match of out.matchAll(/^export (BENCH_WP_[A-Z_]+)='([^']*)'$/gm)) env[match[1]!] = match[2]!;
  if (!env.BENCH_WP_URL || !env.BENCH_WP_APP_PASSWORD)
    throw new Error(`wordpress-local.sh printed no credentials:\n${out}`);
  return {
    url: env.BENCH_WP_URL,
    username: env.BENCH_WP_USERNAME ?? "admin",
    appPassword: env.BENCH_WP_APP_PASSWORD,
    dir,
  };
}

/** The bench WordPress as BENCH_WP_* variables, for a child process (bench/large-child.ts). */
export function benchWordPressEnv(wp: BenchWordPress): Record<string, string> {
  return {
    BENCH_WP_URL: wp.url,
    BENCH_WP_USERNAME: wp.username,
    BENCH_WP_APP_PASSWORD: wp.appPassword,
    BENCH_WP_DIR: wp.dir,
  };
}

export function benchWordPressFromEnv(): BenchWordPress {
  const { BENCH_WP_URL: url, BENCH_WP_USERNAME: username, BENCH_WP_APP_PASSWORD: appPassword } = process.env;
  if (!url || !username || !appPassword) throw new Error("set BENCH_WP_URL, BENCH_WP_USERNAME, BENCH_WP_APP_PASSWORD");
  if (process.env.BENCH_WP_DIR) countAsBench(process.env.BENCH_WP_DIR);
  return { url, username, appPassword, dir: process.env.BENCH_WP_DIR ?? "" };
}

export interface CountingSite {
  site: Site;
  /** HTTP attempts by method ("POST batch" for the plugin's batch endpoint) since the last reset. */
  requests: Record<string, number>;
  /**
   * Batch requests refused as a whole since the last reset, by status and code ("503
   * entra_wp_sync_batch_rolled_back": a deadlock victim, sent again by the client); "error": no answer.
   */
  refusedBatches: Record<string, number>;
  total(): number;
  /**
   * Wall time during which at least one Site call was in flight since the last reset: the
   * engine's wait for WordPress (concurrent calls overlap, so this is not a sum of their times).
   */
  busyMs(): number;
  reset(): void;
}

/**
 * The real REST site at `concurrency` (and the service's default batches in flight unless
 * `batchInFlight`), counting every request it sends; bulk false forces one request per write.
 */
export function makeCountingSite(
  wp: BenchWordPress,
  concurrency: number,
  options: { bulk?: boolean; batchSize?: number; batchInFlight?: number } = {},
): CountingSite {
  const requests: Record<string, number> = {};
  const refusedBatches: Record<string, number> = {};
  const inner = makeWordPressSite({
    url: wp.url,
    username: wp.username,
    appPassword: wp.appPassword,
    concurrency,
    bulk: options.bulk ?? true,
    batchSize: options.batchSize ?? DEFAULTS.WP_BATCH_SIZE,
    batchInFlight: options.batchInFlight ?? DEFAULTS.WP_BATCH_IN_FLIGHT,
    logger: pino({ level: "warn" }),
    metrics: {
      onRequest({ method, batch, status, code }) {
        const key = batch ? `${method} batch` : method;
        requests[key] = (requests[key] ?? 0) + 1;
        if (batch && (status === "error" || status >= 400)) {
          const refusal = status === "error" ? "error" : `${status} ${code ?? ""}`.trim();
          refusedBatches[refusal] = (refusedBatches[refusal] ?? 0) + 1;
        }
      },
    },
  });
  let inFlight = 0;
  let busySince = 0;
  let busy = 0;
  const timed =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (inFlight++ === 0) busySince = performance.now();
      try {
        return await call(...args);
      } finally {
        if (--inFlight === 0) busy += performance.now() - busySince;
      }
    };
  const site = Object.fromEntries(
    Object.entries(inner).map(([name, call]) => [name, timed(call as (...args: unknown[]) => Promise<unknown>)]),
  ) as unknown as Site;
  return {
    site,
    requests,
    refusedBatches,
    total: () => Object.values(requests).reduce((a, b) => a + b, 0),
    busyMs: () => busy + (inFlight > 0 ? performance.now() - busySince : 0),
    reset: () => {
      for (const key of Object.keys(requests)) delete requests[key];
      for (const key of Object.keys(refusedBatches)) delete refusedBatches[key];
      busy = 0;
      if (inFlight > 0) busySince = performance.now();
    },
  };
}

/**
 * Bench-only mu-plugin: one line per REST request WordPress served (route, queries run, PHP time
 * from WordPress's own timer_start to shutdown), so a row can say how many queries a user costs
 * on each path. Installed for the writes rows and removed after them.
 */
const PROFILE_PLUGIN = (log: string) => `<?php
// Written by bench/lib/wordpress.ts for one bench run; removed at its end.
add_action('shutdown', function () {
    if (!defined('REST_REQUEST') || !REST_REQUEST) return;
    global $wpdb, $timestart;
    $line = json_encode(array('method' => $_SERVER['REQUEST_METHOD'], 'path' => strtok($_SERVER['REQUEST_URI'], '?'),
        'queries' => $wpdb->num_queries, 'ms' => (microtime(true) - $timestart) * 1000));
    file_put_contents(${JSON.stringify(log)}, $line . "\\n", FILE_APPEND | LOCK_EX);
});
`;

export interface RequestProfile {
  /** REST requests WordPress served. */
  requests: number;
  /** Database queries they ran, bootstrap included. */
  queries: number;
  /** Their PHP time summed (requests served in parallel by several workers overlap). */
  phpMs: number;
}

export interface WordPressProfiler {
  /** Everything served since the last call (or since install), then starts counting afresh. */
  take(): RequestProfile;
  remove(): void;
}

export function installProfiler(wp: BenchWordPress): WordPressProfiler {
  const plugin = join(wp.dir, "htdocs", "wp-content", "mu-plugins", "entra-wp-sync-bench-profile.php");
  const log = join(wp.dir, "bench-requests.log");
  writeFileSync(log, "");
  writeFileSync(plugin, PROFILE_PLUGIN(log));
  return {
    take() {
      const text = existsSync(log) ? readFileSync(log, "utf8") : "";
      writeFileSync(log, "");
      const profile: RequestProfile = { requests: 0, queries: 0, phpMs: 0 };
      for (const line of text.split("\n")) {
        if (!line) continue;
        const entry = JSON.parse(line) as { queries: number; ms: number };
        profile.requests++;
        profile.queries += entry.queries;
        profile.phpMs += entry.ms;
      }
      return profile;
    },
    remove() {
      rmSync(plugin, { force: true });
      rmSync(log, { force: true });
    },
  };
}
