/**
 * Prometheus metrics on a registry of our own (never prom-client's global one, so two apps in one
 * process, as in tests, never collide). Every label is bounded: job ids and the names of sites and
 * tenants come from the jobs file, states, actions and phases from fixed lists, status codes from
 * HTTP; never a user or run id. A job's instruments carry its `site` and `tenant`, WordPress's the
 * site's, Graph's the tenant's, so one deployment serving several sites can be read per site.
 * Anything outside the known values is reported as "other" rather than growing a new series.
 *
 * The Graph and WordPress clients call the hook objects; they already define the shapes
 * (src/graph/options.ts GraphMetrics, src/wordpress/client.ts WordPressMetrics), and the hooks
 * below satisfy both structurally.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { DEFAULT_TARGET, type Job } from "../core/job";
import { COUNTER_OF, ITEM_ACTIONS, RUN_STATES, type RunState } from "../core/runs";
import { type NotificationStats, notificationStats } from "../db/notifications";
import type { Queryable } from "../db/pool";
import { listSubscriptions, type Subscription } from "../db/subscriptions";
import type { OutboxBacklog } from "../db/webhook-outbox";
import type { SyncService } from "../sync/service";
import type { DeliveryResult } from "./webhook";

export const METRIC_PREFIX = "entra_wp_sync_";

const KNOWN_STATES: ReadonlySet<string> = new Set(RUN_STATES);
/** Item actions (RunItem.action) plus the RunCounts spellings, so either vocabulary can be recorded. */
const ACTIONS: Record<string, string> = {
  ...Object.fromEntries(
    ITEM_ACTIONS.flatMap((action) => [
      [action, action],
      [COUNTER_OF[action], action],
    ]),
  ),
  fail: "failed",
  failed: "failed",
};
const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]);
/** Upstream error codes are short identifiers (Graph "Request_ResourceNotFound", WordPress "existing_user_login"). */
const CODE = /^[A-Za-z0-9_.-]{1,64}$/;
const PHASE = /^[a-z_]{1,32}$/;

const SECONDS_BUCKETS_REQUEST = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** A step is bounded by STEP_BUDGET_MS (default 20 s, at most 600 s). */
const SECONDS_BUCKETS_STEP = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];

export interface GraphRequestEvent {
  method?: string;
  /** 0 when no response came back (network error, timeout). */
  status: number;
  code: string | null;
  ms: number;
}

export interface WordPressRequestEvent {
  method: string;
  /** 0 or "error" when no response came back. */
  status: number | "error";
  code?: string | null;
  ms: number;
  /** A batch of user writes: counted in wordpress_batch_requests_total, its operations by onOperation. */
  batch?: boolean;
}

export interface GraphHook {
  onRequest(event: GraphRequestEvent): void;
  onThrottle(waitMs: number): void;
}

/** The shape src/wordpress/client.ts calls (WordPressMetrics). */
export interface WordPressHook {
  onRequest(event: WordPressRequestEvent): void;
  onOperation(event: Omit<WordPressRequestEvent, "ms" | "batch">): void;
}

export interface Metrics {
  registry: Registry;
  /** The hooks of the "default" tenant and site. */
  graphHook: GraphHook;
  wordpressHook: WordPressHook;
  /** The hooks a named tenant's Graph client and a named site's WordPress client call. */
  graphHookFor(tenant: string): GraphHook;
  wordpressHookFor(site: string): WordPressHook;
  recordRunFinished(job: string, state: RunState): void;
  /** Users handled in a step (or a run), by action: { create: 3, unchanged: 120 } or RunCounts-style keys. */
  recordItems(job: string, countsByAction: Partial<Record<string, number>>): void;
  recordStep(job: string, phase: string, ms: number): void;
  recordLeaseTakeover(job: string): void;
  recordWatchdog(job: string): void;
  /** active_runs is read from the service at scrape time (one activeRun query per job). */
  watchActiveRuns(service: Pick<SyncService, "jobs" | "activeRun">): void;
  /** A notification the endpoint refused (wrong clientState, unknown subscription, malformed). */
  recordNotificationRefused(reason: string): void;
  /** Subscription and notification gauges are read from the database at scrape time. */
  watchNotifications(db: Queryable): void;
  recordWebhookDelivery(result: DeliveryResult): void;
  /** webhook_outbox_events is read at scrape time (one query). */
  watchWebhookOutbox(read: () => Promise<OutboxBacklog>): void;
}

function bounded(value: string, allowed: (v: string) => boolean): string {
  return allowed(value) ? value : "other";
}

function statusLabel(status: number | "error"): string {
  if (status === "error" || status === 0) return "0";
  return Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : "other";
}

/** Which site and tenant a job's instruments are labelled with (the jobs file's names). */
export interface MetricsOptions {
  jobs?: readonly Pick<Job, "id" | "site" | "source">[];
}

export function makeMetrics(options: MetricsOptions = {}): Metrics {
  const targetsOf = new Map(
    (options.jobs ?? []).map((job) => [job.id, { site: job.site, tenant: job.source.tenant }] as const),
  );
  /** A job's labels: its own, with its site and tenant ("default" for a job the file does not declare). */
  const ofJob = (job: string) => ({ job, ...(targetsOf.get(job) ?? { site: DEFAULT_TARGET, tenant: DEFAULT_TARGET }) });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  const registers = [registry];
  const name = (base: string) => METRIC_PREFIX + base;

  const runs = new Counter({
    name: name("runs_total"),
    help: "Runs that reached a final state, by job (its site and tenant) and state",
    labelNames: ["job", "site", "tenant", "state"] as const,
    registers,
  });
  const users = new Counter({
    name: name("users_total"),
    help: "Users handled by runs, by job (its site and tenant) and action",
    labelNames: ["job", "site", "tenant", "action"] as const,
    registers,
  });
  const steps = new Histogram({
    name: name("step_duration_seconds"),
    help: "Duration of one step of a run, by job (its site and tenant) and phase",
    labelNames: ["job", "site", "tenant", "phase"] as const,
    buckets: SECONDS_BUCKETS_STEP,
    registers,
  });
  const graphRequests = new Counter({
    name: name("graph_requests_total"),
    help: "HTTP exchanges with Microsoft Graph (each retry counts), by tenant, status (0: no response) and Graph error code",
    labelNames: ["tenant", "status", "code"] as const,
    registers,
  });
  const graphDuration = new Histogram({
    name: name("graph_request_duration_seconds"),
    help: "Duration of one HTTP exchange with Microsoft Graph, by tenant",
    labelNames: ["tenant"] as const,
    buckets: SECONDS_BUCKETS_REQUEST,
    registers,
  });
  const graphThrottle = new Counter({
    name: name("graph_throttle_wait_seconds_total"),
    help: "Time spent waiting before retries because Microsoft Graph throttled, by tenant",
    labelNames: ["tenant"] as const,
    registers,
  });
  const wpRequests = new Counter({
    name: name("wordpress_requests_total"),
    help: "WordPress's answers, by method, status (0: no response) and WordPress error code: one per HTTP exchange (each retry counts), except that a batch of user writes counts one per operation, as its own request would have (the batch exchange itself: wordpress_batch_requests_total)",
    labelNames: ["site", "method", "status", "code"] as const,
    registers,
  });
  const wpBatches = new Counter({
    name: name("wordpress_batch_requests_total"),
    help: "HTTP exchanges carrying a batch of user writes (companion plugin; each retry counts), by site, status (0: no response) and WordPress error code",
    labelNames: ["site", "status", "code"] as const,
    registers,
  });
  const wpDuration = new Histogram({
    name: name("wordpress_request_duration_seconds"),
    help: "Duration of one HTTP exchange with WordPress, batches included, by site",
    labelNames: ["site"] as const,
    buckets: SECONDS_BUCKETS_REQUEST,
    registers,
  });
  const leaseTakeovers = new Counter({
    name: name("lease_takeovers_total"),
    help: "Runs whose expired lease was taken over from another process (a crashed or stuck step)",
    labelNames: ["job", "site", "tenant"] as const,
    registers,
  });
  const watchdogAlarms = new Counter({
    name: name("watchdog_alarms_total"),
    help: "Active runs the watchdog found making no progress for WATCHDOG_STALE_MS",
    labelNames: ["job", "site", "tenant"] as const,
    registers,
  });
  const webhookDeliveries = new Counter({
    name: name("webhook_deliveries_total"),
    help: "Webhook delivery attempts by result: delivered, retry (another attempt later) or gave_up",
    labelNames: ["result"] as const,
    registers,
  });
  let outbox: (() => Promise<OutboxBacklog>) | null = null;
  new Gauge({
    name: name("webhook_outbox_events"),
    help: "Webhook events in the outbox by state: pending (not delivered yet) or given_up",
    labelNames: ["state"] as const,
    registers,
    async collect() {
      const backlog = await outbox?.().catch(() => undefined);
      if (!backlog) return;
      this.set({ state: "pending" }, backlog.pending);
      this.set({ state: "given_up" }, backlog.givenUp);
    },
  });
  let source: Pick<SyncService, "jobs" | "activeRun"> | null = null;
  new Gauge({
    name: name("active_runs"),
    help: "Runs not yet in a final state (awaiting_approval included), by job (its site and tenant)",
    labelNames: ["job", "site", "tenant"] as const,
    registers,
    async collect() {
      if (!source) return;
      const jobs = source.jobs();
      // A scrape must not fail because the database hiccupped: keep the last values instead.
      const active = await Promise.all(jobs.map((job) => source!.activeRun(job.id).catch(() => undefined)));
      jobs.forEach((job, index) => {
        const run = active[index];
        if (run !== undefined) this.set(ofJob(job.id), run ? 1 : 0);
      });
    },
  });

  const refused = new Counter({
    name: name("notifications_refused_total"),
    help: "Graph notifications refused by the endpoint, by reason (a wrong clientState is a forgery or a leak)",
    labelNames: ["reason"] as const,
    registers,
  });
  let notificationsDb: Queryable | null = null;
  // One read of the database serves the four gauges of a scrape (they collect concurrently).
  let snapshot: { at: number; read: Promise<[Subscription[], NotificationStats[]]> } | null = null;
  const readNotifications = (): Promise<[Subscription[], NotificationStats[]]> | null => {
    if (!notificationsDb) return null;
    if (!snapshot || Date.now() - snapshot.at > 1000) {
      snapshot = {
        at: Date.now(),
        read: Promise.all([listSubscriptions(notificationsDb), notificationStats(notificationsDb)]),
      };
    }
    return snapshot.read;
  };
  /** A gauge read from that snapshot; a scrape never fails because the database hiccupped (last values kept). */
  const notificationGauge = (
    base: string,
    help: string,
    labelNames: readonly string[],
    fill: (gauge: Gauge<string>, subscriptions: Subscription[], stats: NotificationStats[]) => void,
  ) =>
    new Gauge({
      name: name(base),
      help,
      labelNames,
      registers,
      async collect() {
        const read = readNotifications();
        if (!read) return;
        try {
          const [subscriptions, stats] = await read;
          this.reset();
          fill(this, subscriptions, stats);
        } catch {}
      },
    });
  notificationGauge(
    "subscription_expiry_seconds",
    "Seconds until each Graph subscription expires (negative: expired; absent: none in Graph yet)",
    ["job", "resource"],
    (gauge, subscriptions) => {
      for (const s of subscriptions) {
        if (s.wanted && s.expiresAt)
          gauge.set({ job: s.jobId, resource: s.resource }, (s.expiresAt.getTime() - Date.now()) / 1000);
      }
    },
  );
  notificationGauge(
    "notification_lag_seconds",
    "Age of the oldest change notification not applied yet (0: none pending), by job",
    ["job"],
    (gauge, _s, stats) => {
      for (const stat of stats) gauge.set({ job: stat.jobId }, stat.oldestPendingAge);
    },
  );
  notificationGauge(
    "notifications_pending",
    "Change notifications stored and not applied yet, by job",
    ["job"],
    (gauge, _s, stats) => {
      for (const stat of stats) gauge.set({ job: stat.jobId }, stat.pending);
    },
  );
  notificationGauge(
    "notification_applied_lag_seconds",
    "Receipt to applied, for the slowest notification of the job's last notification run",
    ["job"],
    (gauge, _s, stats) => {
      for (const stat of stats) if (stat.lastAppliedLag !== null) gauge.set({ job: stat.jobId }, stat.lastAppliedLag);
    },
  );

  const wordpressLabels = (event: Omit<WordPressRequestEvent, "ms">) => {
    const noResponse = event.status === "error" || event.status === 0;
    const code = event.code ?? (noResponse ? "network" : "none");
    return {
      method: bounded(event.method.toUpperCase(), (m) => METHODS.has(m)),
      status: statusLabel(event.status),
      code: bounded(code, (c) => CODE.test(c)),
    };
  };
  const wordpressHookFor = (site: string): WordPressHook => ({
    onRequest(event) {
      const { method, ...rest } = wordpressLabels(event);
      if (event.batch) wpBatches.inc({ site, ...rest });
      else wpRequests.inc({ site, method, ...rest });
      wpDuration.observe({ site }, event.ms / 1000);
    },
    onOperation: (event) => wpRequests.inc({ site, ...wordpressLabels(event) }),
  });
  const graphHookFor = (tenant: string): GraphHook => ({
    onRequest(event) {
      const code = event.code ?? (event.status === 0 ? "network" : "none");
      graphRequests.inc({ tenant, status: statusLabel(event.status), code: bounded(code, (c) => CODE.test(c)) });
      graphDuration.observe({ tenant }, event.ms / 1000);
    },
    onThrottle(waitMs) {
      if (waitMs > 0) graphThrottle.inc({ tenant }, waitMs / 1000);
    },
  });

  return {
    registry,
    graphHook: graphHookFor(DEFAULT_TARGET),
    wordpressHook: wordpressHookFor(DEFAULT_TARGET),
    graphHookFor,
    wordpressHookFor,
    recordRunFinished(job, state) {
      runs.inc({ ...ofJob(job), state: bounded(state, (s) => KNOWN_STATES.has(s)) });
    },
    recordItems(job, countsByAction) {
      for (const [key, count] of Object.entries(countsByAction)) {
        if (key === "seen" || !count || count <= 0) continue;
        users.inc({ ...ofJob(job), action: ACTIONS[key] ?? "other" }, count);
      }
    },
    recordStep(job, phase, ms) {
      steps.observe({ ...ofJob(job), phase: bounded(phase, (p) => PHASE.test(p)) }, ms / 1000);
    },
    recordLeaseTakeover(job) {
      leaseTakeovers.inc(ofJob(job));
    },
    recordWatchdog(job) {
      watchdogAlarms.inc(ofJob(job));
    },
    watchActiveRuns(service) {
      source = service;
    },
    recordNotificationRefused(reason) {
      refused.inc({ reason: bounded(reason.replace(/ /g, "_"), (r) => /^[A-Za-z_]{1,32}$/.test(r)) });
    },
    watchNotifications(db) {
      notificationsDb = db;
    },
    recordWebhookDelivery(result) {
      webhookDeliveries.inc({ result });
    },
    watchWebhookOutbox(read) {
      outbox = read;
    },
  };
}
