/**
 * The composition root: builds every long-lived part of the service from the config, in one
 * place, for `serve` and for the CLI commands that work without HTTP (run, status, links).
 * Directory and site fall back to stand-ins that fail runs with a clear configuration error
 * when their settings are missing, so the service always starts.
 */

import v8 from "node:v8";
import type { DestinationStream } from "pino";
import { ensureSecrets, type ServiceSecrets } from "./bootstrap";
import { type Config, secretsOf } from "./config";
import { defaultTargets, namedTargets, openConnections } from "./connections";
import { ConfigError, coerceError } from "./core/errors";
import type { Job } from "./core/job";
import * as jobsRepository from "./db/jobs";
import { migrate } from "./db/migrate";
import { type Database, describeDatabaseUrl, isDatabaseUnavailable, openDatabase } from "./db/pool";
import { outboxBacklog } from "./db/webhook-outbox";
import { type LinkCutoffs, linkCutoffsFrom } from "./links/revocations";
import { type Logger, makeLogger, type SecretRegistry } from "./logger";
import { type Metrics, makeMetrics } from "./observe/metrics";
import { type Pruner, startPruner } from "./observe/pruner";
import { makeWatchdog, type Watchdog } from "./observe/watchdog";
import { makeWebhookDelivery, type WebhookDelivery } from "./observe/webhook";
import { checkConnections } from "./startup-checks";
import { type Driver, startDriver } from "./sync/driver";
import { type EngineService, makeSyncService, type RunEvents } from "./sync/engine";
import { type Deployment, loadDeployment } from "./sync/jobs";
import { NOTIFICATIONS_PATH, type RefusalReason } from "./sync/notification-inbox";
import { type NotificationWorker, startNotificationWorker } from "./sync/notifications";
import type { Directory, Network, Site, Subscriptions } from "./sync/ports";
import { makeProvisionService, type ProvisionService } from "./sync/provision";
import { makeScimService, SCIM_MAX_BACKLOG, SCIM_MAX_OPERATIONS, SCIM_WAIT_MS, type ScimService } from "./sync/scim";

export interface Runtime {
  config: Config;
  logger: Logger & { secrets: SecretRegistry };
  db: Database;
  secrets: ServiceSecrets;
  jobs: Job[];
  sync: EngineService;
  linkCutoffs: LinkCutoffs;
  metrics: Metrics;
  /** Delivers the webhook outbox (started by startBackground, like the driver). */
  webhooks: WebhookDelivery;
  watchdog: Watchdog;
  /** Provision on demand (POST /v1/jobs/{job}/users/{entraId}/sync). */
  provision: ProvisionService;
  /** The SCIM jobs' endpoints: writes stored, then applied by the notification worker. */
  scim: ScimService;
  /** The driver once startBackground() started it, else null. */
  driver: Driver | null;
  /** Subscriptions and notification runs, once startBackground() started them, else null. */
  notificationWorker: NotificationWorker | null;
  /** What the notification endpoint reports (AppDeps.notifications). */
  notifications: { onStored(): void; onRefused(reason: RefusalReason): void };
  /**
   * Checks the Graph and WordPress credentials once and logs the outcome: a wrong password shows
   * at start-up with a message naming the setting, and the service keeps serving (no crash loop).
   * Never rejects.
   */
  checkConnections(): Promise<void>;
  /** Starts the background work of a serving process (driver, watchdog, pruner). */
  startBackground(): void;
  /** Stops the driver first (its step in flight finishes and commits), then closes the rest. */
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Where the once-only admin token line goes (the terminal by default). */
  print?: (line: string) => void;
  logDestination?: DestinationStream;
  /** Test hooks: replace the Graph directory or the WordPress site. */
  directory?: Directory;
  site?: Site;
  /** Test hook: the multisite network (default: WP_URL's, made when a job targets a network). */
  network?: Network;
  /** Test hook: the Graph subscriptions (default: the Graph directory's own). */
  subscriptions?: Subscriptions;
  /** Test and bench hook: the jobs file's named sites, by name (default: WordPress over REST). */
  sites?: ReadonlyMap<string, Site>;
}

/**
 * Ask V8 to collect garbage before the heap grows more than 20 % over what is live. A first sync
 * of 100,000 users keeps only ~30 MB live (the run's match index), but with V8's default growth
 * the heap swelled to 190 MB of garbage before a full GC and the process peaked at 312 MB RSS;
 * with this setting it peaked at 191-203 MB (bench, fake WordPress in-process) in the same time.
 */
function collectGarbageSooner(): void {
  v8.setFlagsFromString("--heap-growing-percent=20");
}

export async function openRuntime(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
  collectGarbageSooner();
  const logger = makeLogger({
    level: config.logLevel,
    secrets: secretsOf(config),
    destination: options.logDestination,
  });
  // Jobs first: a bad jobs file (or a secret it names missing) stops the process before anything is opened.
  const deployment = loadDeployment(config);
  const { jobs } = deployment;
  for (const secret of secretsOfDeployment(deployment)) logger.secrets.add(secret);
  const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, logger });
  try {
    await migrate(db.pool, logger);
    const secrets = await ensureSecrets(config, db, logger, options.print);
    const metrics = makeMetrics({ jobs });
    const connections = openConnections(deployment, logger, metrics, options);
    const { site, network, directory, subscriptions } = defaultTargets(connections);
    const targets = namedTargets(connections);
    const sync = makeSyncService({
      db,
      directory,
      site,
      ...(network ? { network } : {}),
      targets,
      jobs,
      logger,
      stepBudgetMs: config.stepBudgetMs,
      maxFailedSteps: config.maxFailedSteps,
      ...(config.leaseMs === null ? {} : { leaseMs: config.leaseMs }),
      events: runEvents(metrics, () => webhooks.wake()),
    });
    const webhooks = makeWebhookDelivery({
      db: db.pool,
      jobs,
      logger,
      owner: sync.owner,
      onDelivery: (result) => metrics.recordWebhookDelivery(result),
    });
    metrics.watchWebhookOutbox(() => outboxBacklog(db.pool));
    await sync.ready();
    metrics.watchActiveRuns(sync);
    metrics.watchNotifications(db.pool);
    const watchdog = makeWatchdog({ service: sync, staleMs: config.watchdogStaleMs, logger, metrics });
    const provision = makeProvisionService({
      db,
      directory,
      site,
      targets,
      jobs,
      logger,
      stepBudgetMs: config.stepBudgetMs,
    });
    let pruner: Pruner | null = null;
    const runtime: Runtime = {
      config,
      logger,
      db,
      secrets,
      jobs,
      sync,
      linkCutoffs: linkCutoffsFrom(db.pool, jobsRepository),
      metrics,
      webhooks,
      watchdog,
      provision,
      scim: makeScimService({
        db,
        jobs,
        poke: () => runtime.notificationWorker?.poke(),
        waitMs: SCIM_WAIT_MS,
        maxBacklog: SCIM_MAX_BACKLOG,
        maxOperations: SCIM_MAX_OPERATIONS,
      }),
      driver: null,
      notificationWorker: null,
      notifications: {
        onStored: () => runtime.notificationWorker?.poke(),
        onRefused: (reason) => metrics.recordNotificationRefused(reason),
      },
      checkConnections: () => checkConnections(connections, jobs, logger),
      startBackground() {
        runtime.driver ??= startDriver({
          sync,
          jobs,
          db,
          logger,
          intervalMs: config.driverIntervalMs,
          stepsPerSite: config.stepsPerSite,
        });
        runtime.notificationWorker ??= startNotificationWorker({
          sync,
          subscriptions,
          tenants: new Map(connections.sources.map((source) => [source.name, source.subscriptions] as const)),
          jobs,
          db,
          logger,
          notificationUrl: `${config.publicUrl.replace(/\/+$/, "")}${NOTIFICATIONS_PATH}`,
          intervalMs: config.driverIntervalMs,
          owner: sync.owner,
        });
        watchdog.start();
        webhooks.start();
        pruner ??= startPruner({ db: db.pool, days: config.historyDays, logger });
      },
      async close() {
        await Promise.all([runtime.driver?.stop(), runtime.notificationWorker?.stop()]);
        watchdog.stop();
        await pruner?.stop();
        await webhooks.stop();
        await db.close();
      },
    };
    return runtime;
  } catch (error) {
    await db.close().catch(() => undefined);
    throw lostDuringStartUp(config, error);
  }
}

/** The secrets the jobs file's entries name and its jobs' webhook secrets, for the logger to scrub. */
function secretsOfDeployment({ jobs, sites, sources }: Deployment): string[] {
  return [
    ...jobs.map((job) => job.webhookSecret),
    ...sites.map((site) => site.appPassword),
    ...sources.map((source) => source.clientSecret),
  ].filter((value): value is string => value !== null);
}

/**
 * The database connection lost while the runtime was being opened (migrations, secrets, the
 * engine's first reads): one line naming the server, not a stack trace.
 */
function lostDuringStartUp(config: Config, error: unknown): unknown {
  if (!isDatabaseUnavailable(error)) return error;
  const database = config.databaseUrl
    ? `DATABASE_URL (${describeDatabaseUrl(config.databaseUrl)})`
    : `the embedded database in DATA_DIR ${config.dataDir}`;
  return new ConfigError(
    `${database}: the connection was lost during start-up (${coerceError(error).message}); check that the server is up and stays reachable, then start again`,
  );
}

/** Metrics and webhooks observe the engine; neither can slow or break a step. */
function runEvents(metrics: Metrics, wakeWebhooks: () => void): RunEvents {
  return {
    onStep({ job, phase, ms, items }) {
      metrics.recordStep(job.id, phase, ms);
      metrics.recordItems(job.id, items);
    },
    onRunSettled({ job, run }) {
      if (run.state !== "awaiting_approval") metrics.recordRunFinished(job.id, run.state);
      // The event itself is already in the outbox (written with the run's last transition).
      if (job.webhook) wakeWebhooks();
    },
    onLeaseTakeover({ job }) {
      metrics.recordLeaseTakeover(job.id);
    },
  };
}
