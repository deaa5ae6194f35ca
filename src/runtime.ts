/**
 * The composition root: builds every long-lived part of the service from the config, in one
 * place, for `serve` and for the CLI commands that work without HTTP (run, status, links).
 * Directory and site fall back to stand-ins that fail runs with a clear configuration error
 * when their settings are missing, so the service always starts.
 */

import v8 from "node:v8";
import type { DestinationStream } from "pino";
import { ensureSecrets, type ServiceSecrets } from "./bootstrap";
import { type Config, missingForSync, secretsOf } from "./config";
import { ConfigError, coerceError } from "./core/errors";
import { DEFAULT_TARGET, type Job } from "./core/job";
import { selectFor } from "./core/mapping";
import { selectSites } from "./core/network";
import { describePermissions, graphPermissions } from "./core/permissions";
import { grantPolicy } from "./core/privileges";
import * as jobsRepository from "./db/jobs";
import { migrate } from "./db/migrate";
import { type Database, describeDatabaseUrl, isDatabaseUnavailable, openDatabase } from "./db/pool";
import { outboxBacklog } from "./db/webhook-outbox";
import { type GraphDirectory, makeGraphDirectory } from "./graph";
import { type LinkCutoffs, linkCutoffsFrom } from "./links/revocations";
import { type Logger, makeLogger, type SecretRegistry } from "./logger";
import { type Metrics, makeMetrics } from "./observe/metrics";
import { type Pruner, startPruner } from "./observe/pruner";
import { makeWatchdog, type Watchdog } from "./observe/watchdog";
import { makeWebhookDelivery, type WebhookDelivery } from "./observe/webhook";
import { type Driver, startDriver } from "./sync/driver";
import { type EngineService, makeSyncService, type RunEvents } from "./sync/engine";
import { type Deployment, loadDeployment } from "./sync/jobs";
import { NOTIFICATIONS_PATH, type RefusalReason } from "./sync/notification-inbox";
import { type NotificationWorker, startNotificationWorker } from "./sync/notifications";
import type { Directory, Network, Site, SiteInfo, Subscriptions } from "./sync/ports";
import { makeProvisionService, type ProvisionService } from "./sync/provision";
import { makeScimService, SCIM_MAX_BACKLOG, SCIM_MAX_OPERATIONS, SCIM_WAIT_MS, type ScimService } from "./sync/scim";
import { isStandIn, unconfiguredDirectory, unconfiguredSite } from "./unconfigured";
import { makeWordPressNetwork, makeWordPressSite } from "./wordpress";

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
}

/**
 * Ask V8 to collect garbage before the heap grows more than 20 % over what is live. A first sync
 * of 100,000 users keeps only ~30 MB live (the run's match index), but with V8's default growth
 * the heap swelled to 190 MB of garbage before a full GC and the process peaked at 312 MB RSS;
 * with this setting it peaked at 191-203 MB (bench, fake WordPress in-process) in the same time.
 */
const NO_SUCH_USER = "00000000-0000-0000-0000-000000000000";

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
  refuseNamedTargetsForNow(jobs);
  const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, logger });
  try {
    await migrate(db.pool, logger);
    const secrets = await ensureSecrets(config, db, logger, options.print);
    const metrics = makeMetrics();
    const graph = makeDirectory(config, logger, metrics);
    const directory = options.directory ?? graph;
    const subscriptions = options.subscriptions ?? graph.subscriptions;
    const site = options.site ?? makeSite(config, logger, metrics);
    const network = options.network ?? makeNetwork(config, jobs, logger, metrics);
    const sync = makeSyncService({
      db,
      directory,
      site,
      ...(network ? { network } : {}),
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
    const provision = makeProvisionService({ db, directory, site, jobs, logger, stepBudgetMs: config.stepBudgetMs });
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
      async checkConnections() {
        // Stand-ins for missing settings are skipped: "a real sync still needs ..." said so already.
        const checks: Array<[string, Directory | Site, () => Promise<unknown>]> = [
          ["WordPress", site, async () => reportRoleProblems(jobs, await site.info(), logger)],
          // A network job needs the plugin, a super admin, and sites that its selectors name.
          ...jobs.flatMap((job): Array<[string, Site, () => Promise<unknown>]> => {
            const target = job.network;
            if (target === null || !network) return [];
            return [
              [
                `WordPress network (job ${job.id})`,
                site,
                async () => selectSites(job.id, target, await network.sites()),
              ],
            ];
          }),
          // A user that cannot exist: Graph's 404 proves the token and the permission were accepted,
          // without touching the users listing that runs page through.
          [
            "Microsoft Graph",
            directory,
            () => directory.fetchUser(NO_SUCH_USER, ["id"], { deadline: Date.now() + 30_000 }),
          ],
        ];
        const passed = await Promise.all(
          checks
            .filter(([, port]) => !isStandIn(port))
            .map(async ([name, , check]) => {
              try {
                await check();
                logger.info(`${name} connection checked: credentials accepted`);
                return name;
              } catch (error) {
                const failure = coerceError(error);
                logger.error({ err: failure }, `${name} connection check failed: ${failure.message}`);
                return null;
              }
            }),
        );
        // With the credentials accepted, each job's own query: what its attributes need shows now.
        if (passed.includes("Microsoft Graph")) {
          await Promise.all(jobs.filter(queryCanBeRefused).map((job) => checkJobQuery(job, directory, logger)));
        }
      },
      startBackground() {
        runtime.driver ??= startDriver({ sync, jobs, db, logger, intervalMs: config.driverIntervalMs });
        runtime.notificationWorker ??= startNotificationWorker({
          sync,
          subscriptions,
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
 * Until the engine resolves each job's own site and source, a job naming another than "default"
 * would be run against the default ones: refused instead, naming the job.
 */
function refuseNamedTargetsForNow(jobs: readonly Job[]): void {
  const job = jobs.find((j) => j.site !== DEFAULT_TARGET || j.source.tenant !== DEFAULT_TARGET);
  if (job) {
    throw new ConfigError(
      `job "${job.id}": site and source.tenant other than "default" are not served by this version yet`,
    );
  }
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

/**
 * What Graph can refuse in a job's query beyond what the credential check proved: a $filter, a
 * custom security attribute (403 without its permission), a schema extension (400 when unknown),
 * the manager's $expand. Other jobs cost no start-up listing request.
 */
function queryCanBeRefused(job: Job): boolean {
  const select = selectFor(job);
  return (
    job.source.filter !== null ||
    graphPermissions(job).some((p) => p.permission === "CustomSecAttributeAssignment.Read.All") ||
    select.some((name) => name === "manager" || name.startsWith("extension_"))
  );
}

/**
 * One user of the job's own listing ($select, $expand, $filter): a permission the job's attributes
 * need (customSecurityAttributes) or a filter Graph refuses shows at start-up, not at the first run.
 */
async function checkJobQuery(job: Job, directory: Directory, logger: Logger): Promise<void> {
  const permissions = describePermissions(graphPermissions(job));
  const query = { mode: "full" as const, filter: job.source.filter, pageSize: 1, select: selectFor(job) };
  try {
    await directory.fetchUsersPage(query, null, { deadline: Date.now() + 30_000 });
    logger.info(`job "${job.id}": Graph accepts its query; it needs the application permissions ${permissions}`);
  } catch (error) {
    const failure = coerceError(error);
    logger.error(
      { err: failure },
      `job "${job.id}": Graph refused its query: ${failure.message}. This job needs the application permissions ${permissions}`,
    );
  }
}

function makeDirectory(config: Config, logger: Logger, metrics: Metrics): GraphDirectory {
  const missing = missingForSync(config).filter((line) => line.startsWith("AZURE"));
  const { azure } = config;
  if (missing.length > 0 || !azure.tenantId || !azure.clientId) return unconfiguredDirectory(names(missing));
  return makeGraphDirectory({
    tenantId: azure.tenantId,
    clientId: azure.clientId,
    clientSecret: azure.clientSecret ?? undefined,
    certificatePath: azure.certificatePath ?? undefined,
    authorityHost: azure.authorityHost ?? undefined,
    graphBaseUrl: azure.graphBaseUrl,
    logger,
    metrics: metrics.graphHook,
  });
}

function makeSite(config: Config, logger: Logger, metrics: Metrics): Site {
  const missing = missingForSync(config).filter((line) => line.startsWith("WP_"));
  const { wordpress } = config;
  if (missing.length > 0 || !wordpress.url || !wordpress.username || !wordpress.appPassword) {
    return unconfiguredSite(names(missing));
  }
  return makeWordPressSite({
    url: wordpress.url,
    username: wordpress.username,
    appPassword: wordpress.appPassword,
    concurrency: wordpress.concurrency,
    bulk: wordpress.bulk,
    batchSize: wordpress.batchSize,
    batchInFlight: wordpress.batchInFlight,
    logger,
    metrics: metrics.wordpressHook,
  });
}

/** The network client, when a job targets a network and WordPress is configured (its check names what is missing otherwise). */
function makeNetwork(config: Config, jobs: readonly Job[], logger: Logger, metrics: Metrics): Network | null {
  const { url, username, appPassword, concurrency } = config.wordpress;
  if (!jobs.some((job) => job.network !== null) || !url || !username || !appPassword) return null;
  return makeWordPressNetwork({ url, username, appPassword, concurrency, logger, metrics: metrics.wordpressHook });
}

/**
 * Roles a job may not grant on this site (core roles were checked with the jobs file; the others
 * only WordPress can tell): said at start-up, while each run of that job fails before writing.
 */
function reportRoleProblems(jobs: readonly Job[], info: SiteInfo, logger: Logger): void {
  for (const job of jobs) {
    const problem = grantPolicy(job, info.roles).problem;
    if (problem) logger.error(`job "${job.id}": ${problem.path} ${problem.message}; its runs fail until this is fixed`);
  }
}

/** "AZURE_TENANT_ID (the Entra tenant ...)" -> "AZURE_TENANT_ID" */
function names(lines: string[]): string[] {
  return lines.map((line) => line.split(" (")[0]!);
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
