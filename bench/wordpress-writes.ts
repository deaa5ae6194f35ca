/**
 * Write cost per user through the REST site versus WordPress' own in-process loop.
 *
 *   eval "$(scripts/wordpress-local.sh)" && npm run build && node dist/bench/wordpress-writes.js [N]
 *
 * Creates N users (default 200, or BENCH_USERS) through makeWordPressSite at WP_CONCURRENCY
 * (default 4), updates them, deletes them; then does the same with wp_insert_user /
 * wp_update_user / wp_delete_user in one PHP CLI process that loaded wp-load.php from
 * $WP_DIR/htdocs (default /tmp/entra-wp-sync-wordpress, the layout of scripts/wordpress-local.sh).
 * Prints ms/user for each, side by side: the in-process loop with autocommit (as a plugin does it)
 * and in transactions of 100 users (the floor), and the REST site through the companion plugin's
 * batch endpoint (bulk) and one request per user.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { makeWordPressSite } from "../src/wordpress";

export const PHP_LOOP = `<?php
// In-process baseline: the cost a WordPress plugin pays for the same writes.
$url = getenv('WP_URL');
$_SERVER['HTTP_HOST'] = parse_url($url, PHP_URL_HOST) . ':' . parse_url($url, PHP_URL_PORT);
$_SERVER['REQUEST_URI'] = '/';
require getenv('WP_DOCROOT') . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/user.php';
$n = (int) getenv('BENCH_USERS'); $run = getenv('BENCH_RUN'); $ids = array();
$admin = get_user_by('login', getenv('WP_USERNAME'))->ID;
// BENCH_TXN=k: a transaction per k users (the floor: one commit per chunk); 0: autocommit, as a plugin does it.
$txn = (int) getenv('BENCH_TXN');
$chunk = function ($i) use ($txn, $n, $wpdb) {
    if ($txn > 0 && $i % $txn === 0) $wpdb->query('START TRANSACTION');
    if ($txn > 0 && ($i % $txn === $txn - 1 || $i === $n - 1)) $wpdb->query('COMMIT');
};
// Queries per user: $wpdb counts every query it runs (no SAVEQUERIES needed).
$q = $wpdb->num_queries; $t = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    $login = "php-$run-$i";
    $id = wp_insert_user(array('user_login' => $login, 'user_email' => "$login@bench.example",
        'user_pass' => wp_generate_password(32), 'first_name' => 'Bench', 'last_name' => "User $i",
        'display_name' => "Bench User $i", 'role' => 'subscriber',
        'meta_input' => array('entra_object_id' => "entra-$login", 'department' => 'Bench')));
    if (is_wp_error($id)) { fwrite(STDERR, $id->get_error_message() . "\\n"); exit(1); }
    $ids[] = $id;
    $chunk($i);
}
$create = (hrtime(true) - $t) / 1e6 / $n; $createQ = ($wpdb->num_queries - $q) / $n;
$q = $wpdb->num_queries; $t = hrtime(true);
foreach ($ids as $i => $id) {
    // BENCH_UPDATE=name: only the display name changes (what the engine rows' update changes).
    $r = wp_update_user(getenv('BENCH_UPDATE') === 'name'
        ? array('ID' => $id, 'display_name' => "Bench User $i (renamed)")
        : array('ID' => $id, 'first_name' => 'Benched', 'last_name' => "Person $i",
            'display_name' => "Benched Person $i", 'role' => 'author'));
    if (is_wp_error($r)) { fwrite(STDERR, $r->get_error_message() . "\\n"); exit(1); }
    $chunk($i);
}
$update = (hrtime(true) - $t) / 1e6 / $n; $updateQ = ($wpdb->num_queries - $q) / $n;
$q = $wpdb->num_queries; $t = hrtime(true);
foreach ($ids as $i => $id) { wp_delete_user($id, $admin); $chunk($i); }
$delete = (hrtime(true) - $t) / 1e6 / $n; $deleteQ = ($wpdb->num_queries - $q) / $n;
echo json_encode(array('create' => $create, 'update' => $update, 'delete' => $delete,
    'queries' => array('create' => $createQ, 'update' => $updateQ, 'delete' => $deleteQ))), "\\n";
`;

export interface PerUser {
  create: number;
  update: number;
  delete: number;
}

/** The in-process loop: ms per user, and database queries per user, for each operation. */
export interface PhpLoop extends PerUser {
  queries: PerUser;
}

async function timed(n: number, fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / n;
}

/** makeWordPressSite's create / update / delete for n users, no engine; `wordpress` defaults to WP_* from the environment. */
export async function benchRest(
  n: number,
  concurrency: number,
  run: string,
  wordpress: { url?: string; username?: string; appPassword?: string } = {},
  bulk = true,
): Promise<PerUser> {
  const url = wordpress.url ?? process.env.WP_URL;
  const username = wordpress.username ?? process.env.WP_USERNAME;
  const appPassword = wordpress.appPassword ?? process.env.WP_APP_PASSWORD;
  if (!url || !username || !appPassword)
    throw new Error('set WP_URL, WP_USERNAME, WP_APP_PASSWORD (eval "$(scripts/wordpress-local.sh)")');
  const site = makeWordPressSite({ url, username, appPassword, concurrency, bulk, logger: pino({ level: "warn" }) });
  const { selfId } = await site.info(); // also detects the plugin, outside the timed loops
  const indexes = Array.from({ length: n }, (_, i) => i);
  const ids: number[] = [];
  // The engine fires a page's writes at once; the site's limiter keeps `concurrency` in flight.
  const create = await timed(n, () =>
    Promise.all(
      indexes.map(async (i) => {
        const login = `rest-${run}-${i}`;
        const user = await site.createUser(
          login,
          {
            fields: {
              email: `${login}@bench.example`,
              first_name: "Bench",
              last_name: `User ${i}`,
              name: `Bench User ${i}`,
              "meta.department": "Bench",
            },
            roles: ["subscriber"],
          },
          `entra-${login}`,
        );
        ids[i] = user.id;
      }),
    ),
  );
  const update = await timed(n, () =>
    Promise.all(
      indexes.map((i) =>
        site.updateUser(ids[i]!, {
          fields: { first_name: "Benched", last_name: `Person ${i}`, name: `Benched Person ${i}` },
          roles: ["author"],
        }),
      ),
    ),
  );
  const del = await timed(n, () => Promise.all(indexes.map((i) => site.deleteUser(ids[i]!, selfId))));
  return { create, update, delete: del };
}

/**
 * wp_insert_user / wp_update_user / wp_delete_user for n users in one PHP process; ms/user each.
 * `wordpress` names the instance (default: WP_URL, WP_USERNAME and WP_DIR from the environment);
 * the loop deletes the users it created, so the site is left as it was. `update`: "full" changes
 * the names and the role (as benchRest does), "name" only the display name.
 */
export function benchPhp(
  n: number,
  run: string,
  wordpress: { url?: string; username?: string; dir?: string } = {},
  transactionSize = 0,
  update: "full" | "name" = "full",
): PhpLoop {
  const dir = mkdtempSync(join(tmpdir(), "wp-bench-"));
  try {
    writeFileSync(join(dir, "loop.php"), PHP_LOOP);
    const out = execFileSync("php", [join(dir, "loop.php")], {
      env: {
        ...process.env,
        ...(wordpress.url ? { WP_URL: wordpress.url } : {}),
        ...(wordpress.username ? { WP_USERNAME: wordpress.username } : {}),
        WP_DOCROOT: join(wordpress.dir ?? process.env.WP_DIR ?? "/tmp/entra-wp-sync-wordpress", "htdocs"),
        BENCH_USERS: String(n),
        BENCH_RUN: run,
        BENCH_TXN: String(transactionSize),
        BENCH_UPDATE: update,
      },
      encoding: "utf8",
    });
    return JSON.parse(out.trim().split("\n").pop() ?? "{}") as PhpLoop;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? process.env.BENCH_USERS ?? 200);
  const concurrency = Number(process.env.WP_CONCURRENCY ?? 4);
  const run = randomBytes(4).toString("hex");
  // Side by side in one run, each on its own users: the loads of a shared machine hit all of them.
  const columns: Array<[string, PerUser]> = [
    ["php-auto", benchPhp(n, `${run}a`)],
    ["php-txn100", benchPhp(n, `${run}t`, {}, 100)],
    ["REST-bulk", await benchRest(n, concurrency, `${run}b`)],
    ["REST-1by1", await benchRest(n, concurrency, `${run}r`, {}, false)],
  ];
  const auto = columns[0]![1];
  console.log(`${n} users, REST concurrency ${concurrency}, ms/user (x = vs the in-process autocommit loop)`);
  console.log(["".padEnd(7), ...columns.map(([name]) => name.padStart(18))].join(""));
  for (const what of ["create", "update", "delete"] as const) {
    const cells = columns.map(([, r]) => `${r[what].toFixed(1)} (${(r[what] / auto[what]).toFixed(2)}x)`.padStart(18));
    console.log([what.padEnd(7), ...cells].join(""));
  }
}

// bench/run.ts imports benchPhp; only running this file directly runs its own comparison.
if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
