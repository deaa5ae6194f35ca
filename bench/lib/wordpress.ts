/**
 * The bench's own WordPress: scripts/wordpress-local.sh on port 8883 with its own directory and
 * database, reset at the start of every bench run, so the tests' WordPress (8881/8882) is never
 * touched and every run starts from the same empty site. Override with BENCH_WP_PORT/BENCH_WP_DIR.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import pino from "pino";
import type { Site } from "../../src/sync/ports";
import { makeWordPressSite } from "../../src/wordpress";

export interface BenchWordPress {
  url: string;
  username: string;
  appPassword: string;
  /** Base directory of the instance (its docroot is dir/htdocs), for the in-process PHP loop. */
  dir: string;
}

export function startBenchWordPress(options: { reset: boolean }): BenchWordPress {
  const port = process.env.BENCH_WP_PORT ?? "8883";
  const dir = process.env.BENCH_WP_DIR ?? "/tmp/entra-wp-sync-wordpress-bench";
  const args = [join("scripts", "wordpress-local.sh"), "--port", port, "--dir", dir, "--env-prefix", "BENCH_WP_"];
  if (options.reset) args.push("--reset");
  const out = execFileSync("bash", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
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

export interface CountingSite {
  site: Site;
  /** HTTP attempts by method since the last reset (the site's metrics hook sees each one). */
  requests: Record<string, number>;
  total(): number;
  reset(): void;
}

/** The real REST site at WP_CONCURRENCY, counting every request it sends. */
export function makeCountingSite(wp: BenchWordPress, concurrency: number): CountingSite {
  const requests: Record<string, number> = {};
  const site = makeWordPressSite({
    url: wp.url,
    username: wp.username,
    appPassword: wp.appPassword,
    concurrency,
    logger: pino({ level: "warn" }),
    metrics: {
      onRequest({ method }) {
        requests[method] = (requests[method] ?? 0) + 1;
      },
    },
  });
  return {
    site,
    requests,
    total: () => Object.values(requests).reduce((a, b) => a + b, 0),
    reset: () => {
      for (const key of Object.keys(requests)) delete requests[key];
    },
  };
}
