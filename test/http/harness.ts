/**
 * Builds the app around the fake engine, with fixed secrets and a log stream a test can read. The
 * budgets and link cut-offs live in a real PostgreSQL database, one per test file, emptied for
 * every harness.
 */

import type { FastifyInstance, RouteOptions } from "fastify";
import type { ServiceSecrets } from "../../src/bootstrap";
import { type Config, loadConfig } from "../../src/config";
import { secretDigest } from "../../src/core/hash";
import type { Job } from "../../src/core/job";
import * as jobsRepository from "../../src/db/jobs";
import type { Database } from "../../src/db/pool";
import { buildApp } from "../../src/http/app";
import type { AppDeps } from "../../src/http/deps";
import { type LinkCutoffs, linkAudience, linkCutoffsFrom, type SignInput, signLink } from "../../src/links";
import type { LinkAction } from "../../src/links/tokens";
import { makeLogger } from "../../src/logger";
import { makeMetrics } from "../../src/observe/metrics";
import { aJob } from "../helpers/builders";
import { makeTestDatabase, silentLogger } from "../helpers/db";
import { FakeSync } from "../helpers/fake-sync";
import { logSink } from "../helpers/log-sink";

export const ADMIN_TOKEN = "admin-token-for-tests-0123456789abcdef";
export const KEYS = [
  { kid: "current", secret: "current-signing-secret-0123456789abcdef" },
  { kid: "previous", secret: "previous-signing-secret-0123456789abcde" },
];

export const AUDIENCE = linkAudience("test-deployment");

/** The secrets of a deployment whose admin token is ADMIN_TOKEN and whose keys are KEYS. */
export function testSecrets(overrides: Partial<ServiceSecrets> = {}): ServiceSecrets {
  return {
    adminTokenDigest: secretDigest(ADMIN_TOKEN),
    metricsTokenDigest: null,
    signingKeys: KEYS,
    linkAudience: AUDIENCE,
    ...overrides,
  };
}

/**
 * The app around a real engine's sync service on the test file's database, with testSecrets() and
 * the link cut-offs in that database; env adds to the configuration, deps to the app's dependencies.
 */
export function buildEngineApp(
  db: Database,
  sync: AppDeps["sync"],
  options: { env?: Record<string, string>; deps?: Partial<AppDeps> } = {},
): Promise<FastifyInstance> {
  return buildApp({
    config: loadConfig({ PUBLIC_URL: "https://sync.example.org", ...options.env }),
    logger: silentLogger,
    db,
    secrets: testSecrets(),
    sync,
    linkCutoffs: linkCutoffsFrom(db.pool, jobsRepository),
    ...options.deps,
  });
}

/** A token as this deployment mints them, valid for an hour unless the claims say otherwise. */
export function tokenFor(job: string, act: LinkAction, claims: Partial<SignInput> = {}): Promise<string> {
  const iat = claims.iat ?? Math.floor(Date.now() / 1000);
  return signLink(KEYS, { sub: job, act, aud: AUDIENCE, iat, exp: iat + 3600, ...claims });
}

let shared: Promise<Database> | null = null;
afterAll(async () => {
  await (await shared)?.close();
});

export interface Harness {
  app: FastifyInstance;
  sync: FakeSync;
  db: Database;
  linkCutoffs: LinkCutoffs;
  logLines: string[];
  routes: RouteOptions[];
  config: Config;
  /** A valid token for the job and action (claims override the defaults). */
  token(job: string, act: LinkAction, claims?: Partial<SignInput>): Promise<string>;
  admin: { authorization: string };
  /** A second app on the same database and engine, like another replica (the caller closes it). */
  replica(): Promise<FastifyInstance>;
}

export async function makeHarness(
  options: { jobs?: Job[]; env?: Record<string, string>; logLevel?: string; secrets?: Partial<ServiceSecrets> } = {},
): Promise<Harness> {
  const config = loadConfig({ PUBLIC_URL: "https://sync.example.org", ...options.env });
  const log = logSink();
  const logger = makeLogger({ level: options.logLevel ?? "debug", destination: log.destination });
  logger.secrets.add(ADMIN_TOKEN);
  for (const key of KEYS) logger.secrets.add(key.secret);
  const jobs = options.jobs ?? [
    aJob().withId("staff").build(),
    aJob().withId("contractors").build(),
    aJob().withId("archive").withTrigger("manual").build(),
    aJob().withId("nightly").withTrigger("schedule", "0 3 * * *").build(),
  ];
  const sync = new FakeSync(jobs);
  shared ??= makeTestDatabase();
  const db = await shared;
  await db.pool.query("truncate rate_limit_buckets");
  await db.pool.query("delete from jobs");
  await jobsRepository.mirrorJobs(db.pool, jobs);
  const linkCutoffs = linkCutoffsFrom(db.pool, jobsRepository);
  const routes: RouteOptions[] = [];
  const deps = { config, logger, db, secrets: testSecrets(options.secrets), sync, linkCutoffs, metrics: makeMetrics() };
  const app = await buildApp(deps, { onRoute: (route) => void routes.push(route) });
  await app.ready();
  return {
    replica: async () => {
      const replica = await buildApp({ ...deps, metrics: makeMetrics() });
      await replica.ready();
      return replica;
    },
    app,
    sync,
    db,
    linkCutoffs,
    logLines: log.lines,
    routes,
    config,
    token: tokenFor,
    admin: { authorization: `Bearer ${ADMIN_TOKEN}` },
  };
}
