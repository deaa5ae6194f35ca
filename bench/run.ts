/**
 * `npm run bench`: every DESIGN.md performance target measured in one run, printed as one table.
 *   NODE_EXTRA_CA_CERTS=.tmp/certs/ca.pem node dist/bench/run.js
 * Needs root with apt (or a machine where scripts/wordpress-local.sh already works) for the real
 * WordPress rows; BENCH_SKIP_WORDPRESS=1 runs the other rows only. Sizes: BENCH_USERS (1000),
 * BENCH_RESYNC_USERS (10000), BENCH_CONTINUE_USERS (3000), BENCH_CONTINUE_RESYNCS (5),
 * BENCH_MEMORY_USERS (100000), BENCH_PLANNING_PAGES (10), BENCH_CUSTOMER_USERS (100000),
 * BENCH_PROVISION_SITE_USERS (100000). BENCH_ONLY=writes,continue,resync,customers,planning,provision,memory
 * picks scenarios. See README "Benchmarks" for what each row means.
 */
import os from "node:os";
import { serverAnswers } from "./lib/service";
import { median, ms, percentile, type Row, renderTable } from "./lib/stats";
import { startBenchWordPress } from "./lib/wordpress";
import { benchContinueLatency, type ContinueResult } from "./scenarios/continue-latency";
import { benchCustomerRescan, type CustomerRescanResult } from "./scenarios/customer-rescan";
import { benchMemory, type MemoryResult } from "./scenarios/memory";
import { benchPlanning, type PageCost, type PlanningResult } from "./scenarios/planning";
import { benchProvision, type ProvisionCase, type ProvisionResult } from "./scenarios/provision";
import { benchResync, type ResyncResult } from "./scenarios/resync";
import { benchWrites, type WriteResult } from "./scenarios/writes";

const size = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const only = process.env.BENCH_ONLY?.split(",").map((s) => s.trim());
const wanted = (scenario: string): boolean => !only || only.includes(scenario);
const n = (value: number): string => value.toLocaleString("en-US");
const load = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
const perUser = (requests: Record<string, number>, users: number): string => {
  const total = Object.values(requests).reduce((a, b) => a + b, 0);
  const parts = Object.entries(requests).map(([method, count]) => `${method} ${n(count)}`);
  return `${(total / users).toFixed(3)} WP req/user (${parts.join(", ")})`;
};

async function main(): Promise<void> {
  const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  const startedLoad = load();
  const database = (await serverAnswers()) ? "PostgreSQL (BENCH_DATABASE_URL / local server)" : "embedded PGlite";
  log(`${new Date().toISOString()}  ${os.cpus().length} cores  load ${startedLoad}  database: ${database}`);
  const rows: Row[] = [];
  const useWordPress = process.env.BENCH_SKIP_WORDPRESS !== "1" && (wanted("writes") || wanted("continue"));
  const wp = useWordPress ? startBenchWordPress({ reset: true }) : null;
  if (wp) log(`WordPress ${wp.url} (reset)`);

  if (wp && wanted("writes")) {
    log("writes: in-process PHP loop, then first sync and update through the service");
    rows.push(...writeRows(await benchWrites(wp, size("BENCH_USERS", 1000))));
  }
  if (wp && wanted("continue")) {
    log("continue: start + continue links over HTTP");
    const result = await benchContinueLatency(
      wp,
      size("BENCH_CONTINUE_USERS", 3000),
      size("BENCH_CONTINUE_RESYNCS", 5),
    );
    log(`continue calls of the first sync, ms in order: ${result.creating.map((t) => t.toFixed(0)).join(" ")}`);
    rows.push(...continueRows(result));
  }
  if (wanted("resync")) {
    log("resync: setup sync, then the timed re-sync");
    rows.push(resyncRow(await benchResync(size("BENCH_RESYNC_USERS", 10_000))));
  }
  if (wanted("customers")) {
    log("customers: setup sync of a customer tenant, then the timed full re-scan");
    rows.push(customerRescanRow(await benchCustomerRescan(size("BENCH_CUSTOMER_USERS", 100_000))));
  }
  if (wanted("planning")) {
    log("planning: pages of 999 against zero-latency Graph-free timings");
    rows.push(...planningRows(await benchPlanning(size("BENCH_PLANNING_PAGES", 10))));
  }
  if (wanted("provision")) {
    log("provision: one user on demand against a site of many");
    rows.push(...provisionRows(await benchProvision(size("BENCH_PROVISION_SITE_USERS", 100_000))));
  }
  if (wanted("memory")) {
    log("memory: simulator and each measured run in their own processes");
    rows.push(...memoryRows(await benchMemory(size("BENCH_MEMORY_USERS", 100_000))));
  }

  process.stdout.write(
    [
      `entra-wp-sync bench, ${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} cores,` +
        ` load average ${startedLoad} at start / ${load()} at end, database: ${database}`,
      "",
      renderTable(rows),
      "",
    ].join("\n"),
  );
}

function writeRows(r: WriteResult): Row[] {
  const firstMs = r.first.wallMs / r.users;
  const updateMs = r.update.wallMs / r.users;
  const firstRatio = firstMs / r.php.create;
  const updateRatio = updateMs / r.php.update;
  return [
    {
      what: `first sync, ${n(r.users)} new users -> real WordPress (${r.first.steps} steps)`,
      measured:
        `${(r.first.wallMs / 1000).toFixed(1)} s = ${firstMs.toFixed(1)} ms/user, ${perUser(r.first.wpRequests, r.users)}, ` +
        `${r.first.graphRequests} Graph req; REST creates alone ${r.rest.create.toFixed(1)} ms/user; in-process wp_insert_user ${r.php.create.toFixed(1)} ms/user ` +
        `(${r.phpBefore.create.toFixed(1)} before, ${r.phpAfter.create.toFixed(1)} after); ratio ${firstRatio.toFixed(2)}x`,
      target: "<= 1.3x in-process",
      pass: firstRatio <= 1.3,
    },
    {
      what: `update, ${n(r.users)} changed users (displayName) -> real WordPress`,
      measured:
        `${(r.update.wallMs / 1000).toFixed(1)} s = ${updateMs.toFixed(1)} ms/user, ${perUser(r.update.wpRequests, r.users)}; ` +
        `REST updates alone ${r.rest.update.toFixed(1)} ms/user; ` +
        `in-process wp_update_user ${r.php.update.toFixed(1)} ms/user ` +
        `(${r.phpBefore.update.toFixed(1)} before, ${r.phpAfter.update.toFixed(1)} after); ratio ${updateRatio.toFixed(2)}x`,
      target: "none (1.3x for reference)",
      pass: null,
    },
  ];
}

function continueRows(r: ContinueResult): Row[] {
  const describe = (samples: number[]) =>
    `p50 ${ms(percentile(samples, 50))}, p95 ${ms(percentile(samples, 95))}, p99 ${ms(percentile(samples, 99))}` +
    ` (n=${samples.length}, max ${ms(Math.max(...samples))})`;
  const budget = 20_000;
  return [
    {
      what: `continue call latency over HTTP, first sync of ${n(r.users)} (page 500, creates)`,
      measured: describe(r.creating),
      target: "p99 within STEP_BUDGET_MS 20 s",
      pass: percentile(r.creating, 99) < budget,
    },
    {
      what: `continue call latency over HTTP, re-sync of ${n(r.users)} (page 500, unchanged)`,
      measured: describe(r.unchanged),
      target: "p99 within STEP_BUDGET_MS 20 s",
      pass: percentile(r.unchanged, 99) < budget,
    },
  ];
}

function provisionRows(r: ProvisionResult): Row[] {
  const row = (what: string, c: ProvisionCase): Row => {
    const total = Object.values(c.requests).reduce((a, b) => a + b, 0);
    const parts = Object.entries(c.requests).map(([method, count]) => `${method} ${n(count)}`);
    return {
      what: `provision on demand, ${what}, site of ${n(r.siteUsers)} users (fake WP)`,
      measured:
        `${total} WP requests (${parts.join(", ")}), ${ms(c.ms)}, ${c.outcome} (${c.action}); ` +
        `listing the site would be ${n(Math.ceil(r.siteUsers / 100))} requests`,
      target: "a handful of requests, whatever the site's size",
      pass: c.outcome === "applied" && total <= 10,
    };
  };
  return [row("new user (create)", r.create), row("user with that e-mail (match + update)", r.match)];
}

function resyncRow(r: ResyncResult): Row {
  return {
    what: `re-sync, ${n(r.users)} unchanged users (Graph sim, fake WP)`,
    measured:
      `${(r.wallMs / 1000).toFixed(2)} s, ${r.wpRequests} WordPress requests, ${r.graphRequests} Graph requests, ` +
      `${n(r.unchanged)} unchanged (setup sync ${(r.setupMs / 1000).toFixed(1)} s)`,
    target: "< 10 s and 0 WP requests",
    pass: r.wallMs < 10_000 && r.wpRequests === 0 && r.unchanged === r.users,
  };
}

function customerRescanRow(r: CustomerRescanResult): Row {
  return {
    what: `customer tenant re-scan, ${n(r.users)} unchanged customers (full listing, Graph sim, fake WP)`,
    measured:
      `${(r.wallMs / 1000).toFixed(1)} s, ${r.graphRequests} Graph requests, ${r.wpRequests} WordPress requests ` +
      `(${r.wpWrites} writes), ${n(r.unchanged)} unchanged + ${n(r.skipped)} skipped without e-mail ` +
      `(setup sync ${(r.setupMs / 1000).toFixed(1)} s)`,
    target: "0 WP requests, 1 Graph request per 999",
    pass: r.wpRequests === 0 && r.graphRequests === Math.ceil(r.users / 999),
  };
}

function planningRows(r: PlanningResult): Row[] {
  const row = (what: string, pages: PageCost[]): Row => {
    const part = (key: keyof PageCost) => median(pages.map((page) => page[key])).toFixed(0);
    const total = median(pages.map((page) => page.totalMs));
    return {
      what: `planning + bookkeeping per page of ${r.pageSize}, ${what}`,
      measured:
        `median ${ms(total)} (reads+plan+apply ${part("planAndApplyMs")}, commit ${part("commitMs")}, lease/run ${part("otherMs")}), ` +
        `max ${ms(Math.max(...pages.map((page) => page.totalMs)))}; ${pages.length} pages, Graph fetch excluded, zero-latency WP`,
      target: "< 100 ms (median)",
      pass: total < 100,
    };
  };
  return [row("new users (creates)", r.creating), row("unchanged users", r.unchanged)];
}

function memoryRows(r: MemoryResult): Row[] {
  return [
    {
      what: `peak RSS, first sync of ${n(r.users)} users (Graph sim in a child process)`,
      measured:
        `${r.first.maxRssMb.toFixed(0)} MB (${r.first.rssBeforeRunMb.toFixed(0)} MB before the run, live heap after GC ${r.first.liveHeapMb.toFixed(0)} MB), run ${(r.first.wallMs / 1000).toFixed(0)} s, ` +
        `${perUser(r.first.wpRequests, r.first.users)}; the in-process fake WordPress keeps only the logins and e-mails taken`,
      target: "< 200 MB",
      pass: r.first.maxRssMb < 200,
    },
    {
      what: `peak RSS, listing ${n(r.users)} users (re-sync, fresh process)`,
      measured:
        `${r.resync.maxRssMb.toFixed(0)} MB (${r.resync.rssBeforeRunMb.toFixed(0)} MB before the run, live heap after GC ${r.resync.liveHeapMb.toFixed(0)} MB), run ${(r.resync.wallMs / 1000).toFixed(0)} s, ` +
        `${n(r.resync.users)} unchanged, ${Object.values(r.resync.wpRequests).reduce((a, b) => a + b, 0)} WP requests`,
      target: "< 200 MB",
      pass: r.resync.maxRssMb < 200,
    },
  ];
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
