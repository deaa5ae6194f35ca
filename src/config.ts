/**
 * The only reader of process.env. Every variable the service reads is
 * validated once here; an invalid value throws ConfigError naming the variable and what is expected.
 * Defaults live in one object so .env.example, docs/configuration.md and the code agree (test/docs.test.ts).
 */
import net from "node:net";
import path from "node:path";
import { BadRequestError, ConfigError } from "./core/errors";
import { DEFAULT_TARGET, type Job, type TenantKind } from "./core/job";
import { parseExpiresIn } from "./links/expiry";
import type { SigningKey } from "./links/tokens";

export const DEFAULTS = {
  PORT: 3000,
  HOST: "0.0.0.0",
  DATA_DIR: "./data",
  LOG_LEVEL: "info",
  STEP_BUDGET_MS: 20_000,
  WP_CONCURRENCY: 4,
  WP_BULK_WRITES: true,
  WP_BATCH_SIZE: 100,
  WP_BATCH_IN_FLIGHT: 2,
  GRAPH_BASE_URL: "https://graph.microsoft.com",
  MAX_FAILED_STEPS: 5,
  DRIVER_INTERVAL_MS: 2_000,
  STEPS_PER_SITE: 4,
  WATCHDOG_STALE_MS: 15 * 60_000,
  APPROVAL_OVERDUE_MS: 24 * 3_600_000,
  HISTORY_DAYS: 30,
  RATE_LIMIT_MAX: 60,
  RATE_LIMIT_ADMIN_MAX: 600,
  RATE_LIMIT_AUTH_FAILURES: 10,
  LINK_DEFAULT_TTL: "365d",
  TRUST_PROXY: false,
  STATUS_PUBLIC: false,
} as const;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  port: number;
  host: string;
  publicUrl: string;
  logLevel: LogLevel;
  /** null: start the embedded PostgreSQL (PGlite) in dataDir. */
  databaseUrl: string | null;
  dataDir: string;
  /** null: generated once and persisted in the database (printed once). */
  adminToken: string | null;
  /** Empty: one key is generated once and persisted in the database. First signs, all verify. */
  linkSigningKeys: SigningKey[];
  /** LINK_DEFAULT_TTL: lifetime of a link minted without expiresIn (and of old links that carry no exp). */
  linkDefaultTtlSeconds: number;
  /** METRICS_TOKEN: null leaves /metrics open. */
  metricsToken: string | null;
  stepBudgetMs: number;
  /** LEASE_MS: how long a step's lease holds without its owner committing; null: 3 step budgets, at least 60 s. */
  leaseMs: number | null;
  /** Consecutive failed steps after which a run fails. */
  maxFailedSteps: number;
  driverIntervalMs: number;
  /**
   * Steps of one site's jobs the driver runs at once in this process. Each site has slots of its
   * own, so a site that is down or slow only ever holds its own.
   */
  stepsPerSite: number;
  watchdogStaleMs: number;
  /** A run awaiting approval longer than this turns its job's continue link non-2xx. */
  approvalOverdueMs: number;
  historyDays: number;
  /**
   * Valid calls per minute, per job and action (links: max) and for the admin token (adminMax);
   * failed authentications per client address per 15 minutes (authFailures).
   */
  rateLimit: { max: number; adminMax: number; authFailures: number };
  /** Fastify's trustProxy: false, or the proxies' addresses/CIDRs. Never true, never a hop count. */
  trustProxy: TrustProxy;
  /** /status readable without the admin token (it never shows secrets either way). */
  statusPublic: boolean;
  jobsFile: string | null;
  /** SYNC_* variables for the `default` job when no jobs file is given (validated by the jobs loader). */
  syncEnv: Record<string, string>;
  /** The source named "default": AZURE_* and GRAPH_BASE_URL. */
  azure: SourceSettings;
  /** The site named "default": WP_*. */
  wordpress: SiteSettings;
  /**
   * An environment variable a site or source of the jobs file names for its secret (null: unset
   * or blank). A function, so that the config never holds, logs or prints other variables' values.
   */
  variable(name: string): string | null;
}

/**
 * A WordPress site jobs write to: "default" from WP_*, or one of the jobs file's `sites`. `setting`
 * is how messages name where each value came from ("WP_URL", or `sites.intranet.url`), so an
 * operator knows what to fix; never the secret itself.
 */
export interface SiteSettings {
  name: string;
  url: string | null;
  username: string | null;
  appPassword: string | null;
  /** Requests in flight to the site at once. */
  concurrency: number;
  /** Writes through the companion plugin's batch endpoint when it has one (docs/plugin.md "Bulk writes"). */
  bulk: boolean;
  /** Operations per batch request (at most what the plugin accepts) and batch requests in flight at once. */
  batchSize: number;
  batchInFlight: number;
  setting: { url: string; username: string; appPassword: string };
}

/** An Entra tenant jobs read: "default" from AZURE_*, or one of the jobs file's `sources` (`setting` as for sites). */
export interface SourceSettings {
  name: string;
  tenantId: string | null;
  clientId: string | null;
  clientSecret: string | null;
  certificatePath: string | null;
  authorityHost: string | null;
  graphBaseUrl: string;
  /** The kind of tenant, when the entry says: the source.tenantKind of the jobs reading it (null: each job's own). */
  tenantKind: TenantKind | null;
  setting: { tenantId: string; clientId: string; clientSecret: string; certificatePath: string; authorityHost: string };
}

export type TrustProxy = false | string[];

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | null {
  const value = env[name]?.trim();
  return value ? value : null;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name)?.toLowerCase();
  if (raw === undefined || raw === null) return fallback;
  if (["1", "true", "yes", "on"].includes(raw)) return true;
  if (["0", "false", "no", "off"].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false (got "${raw}")`);
}

function url(env: Env, name: string, protocols: string[]): string | null {
  const raw = str(env, name);
  if (raw === null) return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be an absolute URL (got "${raw}")`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must use ${protocols.join(" or ")} (got "${parsed.protocol}")`);
  }
  return raw.replace(/\/+$/, "");
}

/** LINK_SIGNING_KEYS: "kid:secret,kid2:secret2"; secrets of at least 32 characters (HS256 wants 256 bits). */
function signingKeys(env: Env): SigningKey[] {
  const raw = str(env, "LINK_SIGNING_KEYS");
  if (raw === null) return [];
  return raw.split(",").map((entry, index) => {
    const at = entry.indexOf(":");
    const kid = entry.slice(0, at).trim();
    const secret = entry.slice(at + 1).trim();
    if (at <= 0 || !/^[A-Za-z0-9._-]{1,64}$/.test(kid)) {
      throw new ConfigError(
        `LINK_SIGNING_KEYS entry ${index + 1} must look like "kid:secret" with a kid of letters, digits, ".", "_" or "-"`,
      );
    }
    if (secret.length < 32) {
      throw new ConfigError(`LINK_SIGNING_KEYS key "${kid}" must have a secret of at least 32 characters`);
    }
    return { kid, secret };
  });
}

/** Names proxy-addr (Fastify's trustProxy) understands besides addresses and CIDRs. */
const PROXY_RANGES = ["loopback", "linklocal", "uniquelocal"];

const SAFER_PROXY_SETTING =
  "name the proxies' addresses instead (e.g. TRUST_PROXY=10.0.0.2, TRUST_PROXY=10.0.0.0/8 or TRUST_PROXY=loopback,uniquelocal)";

/**
 * TRUST_PROXY: what Fastify's trustProxy takes, minus what lets a client forge its address with
 * X-Forwarded-For (and so pick whose failure budget it spends): `true` trusts every hop, and a
 * hop count cannot tell a proxy from a client that connects directly (Fastify 5.12.1 stopped
 * honouring hop counts for that reason: it now ignores them).
 */
function trustProxy(env: Env): TrustProxy {
  const raw = str(env, "TRUST_PROXY");
  if (raw === null || ["false", "no", "off", "0"].includes(raw.toLowerCase())) return false;
  if (["true", "yes", "on"].includes(raw.toLowerCase())) {
    throw new ConfigError(
      `TRUST_PROXY=${raw} would trust every hop, so any client could forge X-Forwarded-For; ${SAFER_PROXY_SETTING}`,
    );
  }
  if (/^\d+$/.test(raw)) {
    throw new ConfigError(
      `TRUST_PROXY=${raw}: a hop count cannot tell a proxy from a client that connects directly, and Fastify ignores it; ${SAFER_PROXY_SETTING}`,
    );
  }
  return raw.split(",").map((entry) => {
    const value = entry.trim();
    const [address, prefix, ...rest] = value.split("/");
    const family = net.isIP(address ?? "");
    const validPrefix =
      prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 6 ? 128 : 32));
    if (PROXY_RANGES.includes(value) || (family !== 0 && validPrefix && rest.length === 0)) return value;
    throw new ConfigError(
      `TRUST_PROXY must be false or a comma-separated list of the proxies' addresses or CIDRs (or ${PROXY_RANGES.join(", ")}) (got "${value.slice(0, 60)}")`,
    );
  });
}

/** LINK_DEFAULT_TTL: a duration as links take it ("365d", "12h", seconds). */
function duration(env: Env, name: string, fallback: string): number {
  const raw = str(env, name) ?? fallback;
  try {
    return parseExpiresIn(raw);
  } catch (error) {
    if (error instanceof BadRequestError) {
      throw new ConfigError(
        `${name} must be a duration from 60 seconds to 3650 days like "365d", "12h" or "3600" (got "${raw.slice(0, 40)}")`,
      );
    }
    throw error;
  }
}

export function loadConfig(env: Env = process.env): Config {
  const port = int(env, "PORT", DEFAULTS.PORT, 0, 65535);
  const logLevel = (str(env, "LOG_LEVEL") ?? DEFAULTS.LOG_LEVEL).toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")} (got "${logLevel}")`);
  }
  const databaseUrl = str(env, "DATABASE_URL");
  if (databaseUrl !== null && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError("DATABASE_URL must be a postgres:// or postgresql:// connection string");
  }
  const adminToken = str(env, "ADMIN_TOKEN");
  if (adminToken !== null && adminToken.length < 24) {
    throw new ConfigError("ADMIN_TOKEN must be at least 24 characters (or unset to have one generated)");
  }
  const metricsToken = str(env, "METRICS_TOKEN");
  if (metricsToken !== null && metricsToken.length < 24) {
    throw new ConfigError("METRICS_TOKEN must be at least 24 characters (or unset to leave /metrics open)");
  }
  const clientSecret = str(env, "AZURE_CLIENT_SECRET");
  const certificatePath = str(env, "AZURE_CLIENT_CERTIFICATE_PATH");
  if (clientSecret && certificatePath) {
    throw new ConfigError("Set either AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH, not both");
  }
  const syncEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith("SYNC_") && name !== "SYNC_JOBS_FILE" && value !== undefined) syncEnv[name] = value;
  }
  const jobsFile = str(env, "SYNC_JOBS_FILE");
  const stepBudgetMs = int(env, "STEP_BUDGET_MS", DEFAULTS.STEP_BUDGET_MS, 1000, 600_000);
  const leaseMs = str(env, "LEASE_MS") === null ? null : int(env, "LEASE_MS", 0, 1000, 3_600_000);
  // A lease that ends before the step's budget hands a healthy step's run to another replica.
  if (leaseMs !== null && leaseMs < stepBudgetMs) {
    throw new ConfigError(`LEASE_MS must be at least STEP_BUDGET_MS (${stepBudgetMs}) (got "${leaseMs}")`);
  }
  return {
    port,
    host: str(env, "HOST") ?? DEFAULTS.HOST,
    publicUrl: url(env, "PUBLIC_URL", ["http:", "https:"]) ?? `http://localhost:${port}`,
    logLevel: logLevel as LogLevel,
    databaseUrl,
    dataDir: path.resolve(str(env, "DATA_DIR") ?? DEFAULTS.DATA_DIR),
    adminToken,
    linkSigningKeys: signingKeys(env),
    linkDefaultTtlSeconds: duration(env, "LINK_DEFAULT_TTL", DEFAULTS.LINK_DEFAULT_TTL),
    metricsToken,
    stepBudgetMs,
    leaseMs,
    maxFailedSteps: int(env, "MAX_FAILED_STEPS", DEFAULTS.MAX_FAILED_STEPS, 1, 1000),
    driverIntervalMs: int(env, "DRIVER_INTERVAL_MS", DEFAULTS.DRIVER_INTERVAL_MS, 100, 3_600_000),
    stepsPerSite: int(env, "STEPS_PER_SITE", DEFAULTS.STEPS_PER_SITE, 1, 64),
    watchdogStaleMs: int(env, "WATCHDOG_STALE_MS", DEFAULTS.WATCHDOG_STALE_MS, 10_000, 7 * 86_400_000),
    approvalOverdueMs: int(env, "APPROVAL_OVERDUE_MS", DEFAULTS.APPROVAL_OVERDUE_MS, 60_000, 30 * 86_400_000),
    historyDays: int(env, "HISTORY_DAYS", DEFAULTS.HISTORY_DAYS, 1, 3650),
    rateLimit: {
      max: int(env, "RATE_LIMIT_MAX", DEFAULTS.RATE_LIMIT_MAX, 1, 1_000_000),
      adminMax: int(env, "RATE_LIMIT_ADMIN_MAX", DEFAULTS.RATE_LIMIT_ADMIN_MAX, 1, 1_000_000),
      authFailures: int(env, "RATE_LIMIT_AUTH_FAILURES", DEFAULTS.RATE_LIMIT_AUTH_FAILURES, 1, 1_000_000),
    },
    trustProxy: trustProxy(env),
    statusPublic: bool(env, "STATUS_PUBLIC", DEFAULTS.STATUS_PUBLIC),
    jobsFile: jobsFile === null ? null : path.resolve(jobsFile),
    syncEnv,
    variable: (name) => str(env, name),
    azure: {
      name: DEFAULT_TARGET,
      tenantId: str(env, "AZURE_TENANT_ID"),
      clientId: str(env, "AZURE_CLIENT_ID"),
      clientSecret,
      certificatePath: certificatePath === null ? null : path.resolve(certificatePath),
      authorityHost: url(env, "AZURE_AUTHORITY_HOST", ["https:"]),
      graphBaseUrl: url(env, "GRAPH_BASE_URL", ["https:"]) ?? DEFAULTS.GRAPH_BASE_URL,
      tenantKind: null,
      setting: {
        tenantId: "AZURE_TENANT_ID",
        clientId: "AZURE_CLIENT_ID",
        clientSecret: "AZURE_CLIENT_SECRET",
        certificatePath: "AZURE_CLIENT_CERTIFICATE_PATH",
        authorityHost: "AZURE_AUTHORITY_HOST",
      },
    },
    wordpress: {
      name: DEFAULT_TARGET,
      url: url(env, "WP_URL", ["http:", "https:"]),
      username: str(env, "WP_USERNAME"),
      appPassword: str(env, "WP_APP_PASSWORD"),
      concurrency: int(env, "WP_CONCURRENCY", DEFAULTS.WP_CONCURRENCY, 1, 64),
      bulk: bool(env, "WP_BULK_WRITES", DEFAULTS.WP_BULK_WRITES),
      batchSize: int(env, "WP_BATCH_SIZE", DEFAULTS.WP_BATCH_SIZE, 1, 100),
      batchInFlight: int(env, "WP_BATCH_IN_FLIGHT", DEFAULTS.WP_BATCH_IN_FLIGHT, 1, 16),
      setting: { url: "WP_URL", username: "WP_USERNAME", appPassword: "WP_APP_PASSWORD" },
    },
  };
}

/**
 * What a real sync still needs: one line each, logged at start-up (never the values). Given the
 * jobs, only what the jobs on the "default" site and source need: a jobs file whose jobs all name
 * their own needs no WP_* or AZURE_* variable.
 */
export function missingForSync(config: Config, jobs?: readonly Pick<Job, "site" | "source">[]): string[] {
  const missing: string[] = [];
  const { azure, wordpress } = config;
  const onDefault = (uses: (job: Pick<Job, "site" | "source">) => boolean) => !jobs || jobs.some(uses);
  const readsDefault = onDefault((job) => job.source.kind === "graph" && job.source.tenant === DEFAULT_TARGET);
  const writesDefault = onDefault((job) => job.site === DEFAULT_TARGET);
  if (readsDefault) missing.push(...missingForSource(azure));
  if (writesDefault) missing.push(...missingForSite(wordpress));
  return missing;
}

function missingForSource(azure: SourceSettings): string[] {
  const missing: string[] = [];
  if (!azure.tenantId) missing.push("AZURE_TENANT_ID (the Entra tenant to read users from)");
  if (!azure.clientId) missing.push("AZURE_CLIENT_ID (the app registration with User.Read.All)");
  if (!azure.clientSecret && !azure.certificatePath) {
    missing.push("AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH (the app's credential)");
  }
  return missing;
}

function missingForSite(wordpress: SiteSettings): string[] {
  const missing: string[] = [];
  if (!wordpress.url) missing.push("WP_URL (the WordPress site to write users to)");
  if (!wordpress.username) missing.push("WP_USERNAME (a WordPress administrator)");
  if (!wordpress.appPassword) missing.push("WP_APP_PASSWORD (an Application Password of WP_USERNAME)");
  return missing;
}

/** Every configured secret, for log redaction of values that might surface in a message. */
export function secretsOf(config: Config): string[] {
  return [
    config.adminToken,
    config.metricsToken,
    config.azure.clientSecret,
    config.wordpress.appPassword,
    ...config.linkSigningKeys.map((key) => key.secret),
  ].filter((value): value is string => typeof value === "string" && value.length > 0);
}
