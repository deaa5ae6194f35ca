/** Builds the app around the fake engine, with fixed secrets and a log stream a test can read. */

import type { FastifyInstance, RouteOptions } from "fastify";
import { type Config, loadConfig } from "../../src/config";
import type { Job } from "../../src/core/job";
import type { Database } from "../../src/db/pool";
import { buildApp } from "../../src/http/app";
import { makeMemoryLinkGenerations, signLink } from "../../src/links";
import type { LinkAction } from "../../src/links/tokens";
import { makeLogger } from "../../src/logger";
import { makeMetrics } from "../../src/observe/metrics";
import { aJob } from "../helpers/builders";
import { FakeSync } from "../helpers/fake-sync";
import { logSink } from "../helpers/log-sink";

export const ADMIN_TOKEN = "admin-token-for-tests-0123456789abcdef";
export const KEYS = [
  { kid: "current", secret: "current-signing-secret-0123456789abcdef" },
  { kid: "previous", secret: "previous-signing-secret-0123456789abcde" },
];

const fakeDb = {
  kind: "embedded",
  pool: { query: async () => ({ rows: [] }) },
  close: async () => undefined,
} as unknown as Database;

export interface Harness {
  app: FastifyInstance;
  sync: FakeSync;
  generations: ReturnType<typeof makeMemoryLinkGenerations>;
  logLines: string[];
  routes: RouteOptions[];
  config: Config;
  /** A valid token for the job and action at generation 1 (unless given). */
  token(job: string, act: LinkAction, gen?: number): Promise<string>;
  admin: { authorization: string };
}

export async function makeHarness(
  options: { jobs?: Job[]; env?: Record<string, string>; logLevel?: string } = {},
): Promise<Harness> {
  const config = loadConfig({ PUBLIC_URL: "https://sync.example.org", ...options.env });
  const log = logSink();
  const logger = makeLogger({ level: options.logLevel ?? "debug", destination: log.destination });
  logger.secrets.add(ADMIN_TOKEN);
  for (const key of KEYS) logger.secrets.add(key.secret);
  const sync = new FakeSync(
    options.jobs ?? [
      aJob().withId("staff").build(),
      aJob().withId("contractors").build(),
      aJob().withId("archive").withTrigger("manual").build(),
      aJob().withId("nightly").withTrigger("schedule", "0 3 * * *").build(),
    ],
  );
  const generations = makeMemoryLinkGenerations();
  const routes: RouteOptions[] = [];
  const app = await buildApp(
    {
      config,
      logger,
      db: fakeDb,
      secrets: { adminToken: ADMIN_TOKEN, signingKeys: KEYS },
      sync,
      linkGenerations: generations,
      metrics: makeMetrics(),
    },
    { onRoute: (route) => void routes.push(route) },
  );
  await app.ready();
  return {
    app,
    sync,
    generations,
    logLines: log.lines,
    routes,
    config,
    token: (job, act, gen = 1) => signLink(KEYS, { sub: job, act, gen }),
    admin: { authorization: `Bearer ${ADMIN_TOKEN}` },
  };
}
