/**
 * Jobs, as declared in SYNC_JOBS_FILE (`{ "jobs": [...] }`) or, with no file, one job "default"
 * built from SYNC_* variables. Both go through the same validation (job-schema.ts, job-validation.ts), whose messages name the job,
 * the field (and the variable) and what is expected. Unknown keys and unknown SYNC_* variables are
 * errors: a typo must not silently fall back to a default.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { type Config, loadConfig, type SiteSettings, type SourceSettings } from "../config";
import { ConfigError } from "../core/errors";
import type { Job } from "../core/job";
import { JOB_ID, SYNC_VARIABLES, type SyncVariable } from "./job-schema";
import { validateJob } from "./job-validation";
import { show, suggest } from "./schema-problem";
import { checkTargetsOf, sitesFrom, sourcesFrom, type TargetEnvironment, withTenantKind } from "./sites-and-sources";

export { JOB_DEFAULTS, JOB_ID, SYNC_ENV_DEFAULTS, SYNC_VARIABLES, type SyncVariable } from "./job-schema";

/**
 * What one deployment serves: its jobs, and the WordPress sites and Entra sources they name. The
 * first site and source are always "default" (WP_*, AZURE_*; possibly incomplete: runs of a job
 * using them then fail naming what is missing), then those of the jobs file, secrets read.
 */
export interface Deployment {
  jobs: Job[];
  sites: SiteSettings[];
  sources: SourceSettings[];
}

type JobsConfig = Pick<Config, "jobsFile" | "syncEnv" | "publicUrl">;
/** The defaults of the "default" site and source, and the secrets' lookup; tests may leave them out. */
type DeploymentConfig = JobsConfig & Partial<Pick<Config, "wordpress" | "azure" | "variable">>;

/** The jobs, sites and sources, each secret read: a missing one is a ConfigError naming the entry and the variable. */
export function loadDeployment(config: DeploymentConfig): Deployment {
  return readDeployment(config, true);
}

/** The jobs only (sites and sources checked, their secrets left unread: the CLI needs only the job list). */
export function loadJobs(config: DeploymentConfig): Job[] {
  return readDeployment(config, false).jobs;
}

function readDeployment(config: DeploymentConfig, readSecrets: boolean): Deployment {
  const fallback = config.wordpress && config.azure && config.variable ? null : loadConfig({});
  const environment = {
    wordpress: config.wordpress ?? fallback!.wordpress,
    azure: config.azure ?? fallback!.azure,
    variable: config.variable ?? fallback!.variable,
  };
  const deployment = readJobs(config, (file) => ({
    ...environment,
    dir: path.dirname(file),
    readSecrets,
  }));
  checkNotificationUrl(deployment.jobs, config.publicUrl);
  return {
    jobs: deployment.jobs,
    sites: [environment.wordpress, ...deployment.sites],
    sources: [environment.azure, ...deployment.sources],
  };
}

/** Graph delivers change notifications to https URLs only, and must reach PUBLIC_URL to do so. */
function checkNotificationUrl(jobs: Job[], publicUrl: string): void {
  const job = jobs.find((j) => j.source.notifications);
  if (!job || new URL(publicUrl).protocol === "https:") return;
  throw new ConfigError(
    `job "${job.id}": source.notifications needs PUBLIC_URL to be an https:// URL that Microsoft Graph can reach (got ${publicUrl}); Graph sends change notifications over HTTPS only`,
  );
}

/** The jobs, and the sites and sources the jobs file names (none without a file); the caller adds "default". */
function readJobs(config: JobsConfig, environmentFor: (file: string) => TargetEnvironment): Deployment {
  const setVariables = Object.keys(config.syncEnv).filter((name) => config.syncEnv[name]?.trim());
  if (config.jobsFile !== null) {
    if (setVariables.length > 0) {
      throw new ConfigError(
        `${setVariables.join(", ")} ${setVariables.length === 1 ? "is" : "are"} set but SYNC_JOBS_FILE is used: ` +
          `declare the setting in ${config.jobsFile} instead (the variables only build the "default" job)`,
      );
    }
    const file = config.jobsFile;
    return parseDeployment(readJobsFile(file), file, environmentFor(file));
  }
  return { jobs: [validateJob(jobFromEnv(config.syncEnv), { id: "default", env: true })], sites: [], sources: [] };
}

function readJobsFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(error);
    throw new ConfigError(`SYNC_JOBS_FILE: cannot read ${file} (${reason})`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`SYNC_JOBS_FILE: ${file} is not valid JSON (${(error as Error).message})`);
  }
}

const FILE_KEYS = ["$schema", "sites", "sources", "jobs"];

/** The parsed content of a jobs file, validated. Exported for tests and for checking a file before use. */
export function parseJobsFile(content: unknown, file = "the jobs file"): Job[] {
  const { wordpress, azure } = loadConfig({});
  return parseDeployment(content, file, {
    wordpress,
    azure,
    variable: () => null,
    dir: process.cwd(),
    readSecrets: false,
  }).jobs;
}

/** A jobs file's jobs and its own named sites and sources, without "default" (secrets read when `environment` says so). */
export function parseDeployment(content: unknown, file: string, environment: TargetEnvironment): Deployment {
  const where = `SYNC_JOBS_FILE (${file})`;
  if (!isObject(content)) throw new ConfigError(`${where} must hold a JSON object like { "jobs": [...] }`);
  // "$schema" is for editors (jobs.schema.json); the service reads nothing from it.
  const unknown = Object.keys(content).filter((key) => !FILE_KEYS.includes(key));
  if (unknown.length > 0) {
    throw new ConfigError(
      `${where}: unknown key "${unknown[0]}" (expected only "jobs", "sites", "sources", and "$schema" for editors)`,
    );
  }
  if (content.$schema !== undefined && typeof content.$schema !== "string") {
    throw new ConfigError(
      `${where}: "$schema" must be a string, the path or URL of jobs.schema.json (got ${show(content.$schema)})`,
    );
  }
  const sites = sitesFrom(content.sites, where, environment);
  const sources = sourcesFrom(content.sources, where, environment);
  const jobs = content.jobs;
  if (!Array.isArray(jobs) || jobs.length === 0) {
    throw new ConfigError(`${where}: "jobs" must be a non-empty array of jobs`);
  }
  const seen = new Set<string>();
  const validated = jobs.map((raw, index) => {
    const id = isObject(raw) ? raw.id : undefined;
    if (typeof id !== "string" || !JOB_ID.test(id)) {
      throw new ConfigError(
        `${where}: job ${index + 1}: id must match ${JOB_ID.source} (lower-case letters, digits, "_" or "-"; got ${show(id)})`,
      );
    }
    if (seen.has(id)) throw new ConfigError(`${where}: job "${id}" is declared twice (ids must be unique)`);
    seen.add(id);
    return validateJob(withTenantKind(raw, sources, where), { id, env: false });
  });
  checkTargetsOf(validated, sites, sources, where);
  return { jobs: validated, sites, sources };
}

/** SYNC_* variables -> the raw shape of a job file entry; values are typed where they parse, else kept for the message. */
function jobFromEnv(env: Record<string, string>): Record<string, unknown> {
  const raw: Record<string, unknown> = { id: "default" };
  for (const [name, value] of Object.entries(env)) {
    if (!value.trim()) continue;
    if (!(name in SYNC_VARIABLES)) {
      const hint = suggest(name, Object.keys(SYNC_VARIABLES), (s) => s.replace(/_/g, ""));
      throw new ConfigError(
        `${name} is not a known variable${hint} (known: ${Object.keys(SYNC_VARIABLES).join(", ")})`,
      );
    }
    const { path } = SYNC_VARIABLES[name as SyncVariable];
    setPath(raw, path, envValue(name as SyncVariable, value.trim()));
  }
  return raw;
}

function envValue(name: SyncVariable, value: string): unknown {
  switch (name) {
    case "SYNC_GROUPS":
    case "SYNC_ATTRIBUTES":
    case "SYNC_MATCH":
    case "SYNC_MATCH_EMAIL_DOMAINS":
    case "SYNC_PROTECT_ROLES":
      return list(value);
    case "SYNC_PROTECT_USERS":
      return list(value).map(numeric);
    case "SYNC_PAGE_SIZE":
    case "SYNC_REASSIGN_TO":
    case "SYNC_MAX_DELETE_FRACTION":
    case "SYNC_MAX_DELETE_COUNT":
      return numeric(value);
    case "SYNC_CREATE":
    case "SYNC_UPDATE":
    case "SYNC_NOTIFICATIONS":
    case "SYNC_ADOPT_GUESTS":
    case "SYNC_ADOPT_UNVERIFIED_EMAILS":
    case "SYNC_ALLOW_PRIVILEGED_ROLES":
    case "SYNC_PHOTOS": {
      const lower = value.toLowerCase();
      if (["1", "true", "yes", "on"].includes(lower)) return true;
      if (["0", "false", "no", "off"].includes(lower)) return false;
      return value;
    }
    case "SYNC_FIELDS":
      try {
        return JSON.parse(value);
      } catch {
        throw new ConfigError(
          `SYNC_FIELDS must be a JSON object like {"email":"mail|userPrincipalName"} (got ${show(value)})`,
        );
      }
    case "SYNC_ROLE_GROUPS":
      return list(value).map((entry, index) => {
        const at = entry.indexOf("=");
        if (at <= 0 || at === entry.length - 1) {
          throw new ConfigError(
            `SYNC_ROLE_GROUPS entry ${index + 1} must look like "groupId=role" (got ${show(entry)})`,
          );
        }
        return { group: entry.slice(0, at).trim(), role: entry.slice(at + 1).trim() };
      });
    default:
      return value;
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) {
    node[part] ??= {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

function list(value: string): string[] {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

function numeric(value: string): number | string {
  const number = Number(value);
  return value.trim() !== "" && Number.isFinite(number) ? number : value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
