/**
 * The service as the bench drives it: a fresh database per scenario (the local PostgreSQL when one
 * answers, else the embedded one), the runtime built by openRuntime at default settings, and runs
 * driven step by step with each step timed.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import { Client } from "pg";
import { loadConfig } from "../../src/config";
import type { RunSummary } from "../../src/core/runs";
import { openRuntime, type Runtime } from "../../src/runtime";
import type { Directory, Network, Site } from "../../src/sync/ports";
import type { GraphSimulator } from "../../tools/graph-sim";

/** Where the bench keeps its databases: BENCH_DATABASE_URL's server, else the embedded PostgreSQL. */
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const WORK_DIR = resolve(".tmp/bench");

let answered: Promise<boolean> | null = null;

/** Whether the PostgreSQL server at BENCH_DATABASE_URL answers (asked once per process). */
export function serverAnswers(): Promise<boolean> {
  answered ??= (async () => {
    const client = new Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.end();
      return true;
    } catch {
      return false;
    }
  })();
  return answered;
}

/**
 * A database of the bench's own: dropped and created again (PostgreSQL) or a new data directory
 * (embedded) unless `reuse` (a second process continuing the first one's scenario).
 */
export async function benchDatabase(name: string, reuse = false): Promise<{ DATABASE_URL?: string; DATA_DIR: string }> {
  const dataDir = join(WORK_DIR, name);
  if (!reuse) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const server = await serverAnswers();
  // Not "ews_...": the test suite's global setup drops stale databases with that prefix.
  const database = `entra_wp_sync_bench_${name.replace(/[^a-z0-9_]/g, "_")}`;
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  if (!server) return { DATA_DIR: dataDir };
  if (reuse) return { DATABASE_URL: url.toString(), DATA_DIR: dataDir };
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${database} with (force)`);
    await admin.query(`create database ${database}`);
  } finally {
    await admin.end();
  }
  return { DATABASE_URL: url.toString(), DATA_DIR: dataDir };
}

export interface BenchServiceOptions {
  name: string;
  sim: Pick<GraphSimulator, "url" | "tenantId" | "clientId" | "clientSecret">;
  /** The WordPress site (a counting REST site or a MemorySite); the runtime builds nothing else for it. */
  site: Site;
  directory?: Directory;
  /** A multisite network's client, for network jobs. */
  network?: Network;
  /** The jobs file's named sites, by name (as RuntimeOptions.sites). */
  sites?: ReadonlyMap<string, Site>;
  /** Extra environment (SYNC_PAGE_SIZE, LOG_LEVEL, RATE_LIMIT_MAX...); defaults otherwise. */
  env?: Record<string, string>;
  /** Receives every log line as parsed JSON (LOG_LEVEL decides which). */
  onLog?: (entry: Record<string, unknown>) => void;
  /** Continue with the database an earlier process of the same scenario left (default: a fresh one). */
  reuseDatabase?: boolean;
}

export async function openBenchService(options: BenchServiceOptions): Promise<Runtime> {
  const database = await benchDatabase(options.name, options.reuseDatabase);
  const config = loadConfig({
    ...database,
    LOG_LEVEL: "warn",
    ADMIN_TOKEN: "bench-admin-token-0123456789abcdef",
    LINK_SIGNING_KEYS: "bench:bench-signing-secret-0123456789abcdef0123",
    AZURE_TENANT_ID: options.sim.tenantId,
    AZURE_CLIENT_ID: options.sim.clientId,
    AZURE_CLIENT_SECRET: options.sim.clientSecret,
    AZURE_AUTHORITY_HOST: options.sim.url,
    GRAPH_BASE_URL: options.sim.url,
    // The site is passed in; these only satisfy the "what a real sync still needs" check.
    WP_URL: "http://127.0.0.1:9",
    WP_USERNAME: "bench",
    WP_APP_PASSWORD: "bench",
    ...options.env,
  });
  return openRuntime(config, {
    site: options.site,
    ...(options.directory ? { directory: options.directory } : {}),
    ...(options.network ? { network: options.network } : {}),
    ...(options.sites ? { sites: options.sites } : {}),
    print: () => undefined,
    logDestination: logSink(options.onLog),
  });
}

function logSink(onLog?: (entry: Record<string, unknown>) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      const text = chunk.toString("utf8");
      if (onLog) {
        for (const line of text.split("\n")) if (line.trim()) onLog(JSON.parse(line) as Record<string, unknown>);
      } else if (/"level":(40|50|60)/.test(text)) {
        process.stderr.write(text);
      }
      done();
    },
  });
}

const SETTLED = new Set(["completed", "failed", "cancelled", "awaiting_approval"]);

export interface DrivenRun {
  run: RunSummary;
  wallMs: number;
  /** Wall time of each advanceRun call, in order. */
  stepMs: number[];
}

/** Starts a manual run of the default job and advances it until it settles, timing each step. */
export async function driveRun(runtime: Runtime, jobId = "default"): Promise<DrivenRun> {
  const started = performance.now();
  const start = await runtime.sync.startRun(jobId, { trigger: "manual" });
  if (!start.started) throw new Error(`a run of ${jobId} is already active: ${start.run.id}`);
  const stepMs: number[] = [];
  for (;;) {
    const before = performance.now();
    const result = await runtime.sync.advanceRun(start.run.id);
    stepMs.push(performance.now() - before);
    const run = result.run!;
    if (SETTLED.has(run.state)) {
      if (run.state !== "completed") throw new Error(`run ${run.id} ${run.state}: ${run.lastError ?? ""}`);
      return { run, wallMs: performance.now() - started, stepMs };
    }
  }
}

/** Where a run's wall time went, from the engine's "page done" debug log (LOG_LEVEL debug) and the site's busy time. */
export interface Stages {
  /** Graph pages fetched (simulator included). */
  graphMs: number;
  /** Waiting for WordPress (CountingSite.busyMs). */
  wordpressMs: number;
  /** The pages' transactions: items, user map, run counters. */
  commitMs: number;
  /** The rest: database reads and planning, the lease, the reconcile step, the bench's own calls. */
  otherMs: number;
}

/** Collects the engine's per-page timings; pass `onLog` to openBenchService with LOG_LEVEL debug. */
export function pageTimings(): {
  onLog: (entry: Record<string, unknown>) => void;
  /** The run's stages since the last call, given its wall time and the site's busy time. */
  take: (wallMs: number, wordpressMs: number) => Stages;
} {
  let graphMs = 0;
  let commitMs = 0;
  return {
    onLog(entry) {
      if (Number(entry.level) >= 40) process.stderr.write(`${JSON.stringify(entry)}\n`);
      if (entry.msg !== "page done") return;
      graphMs += Number(entry.fetchMs);
      commitMs += Number(entry.commitMs);
    },
    take(wallMs, wordpressMs) {
      const stages = { graphMs, wordpressMs, commitMs, otherMs: wallMs - graphMs - wordpressMs - commitMs };
      graphMs = 0;
      commitMs = 0;
      return stages;
    },
  };
}
