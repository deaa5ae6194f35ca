/**
 * The jobs file's named sites and sources (DESIGN.md "Sites and sources"), validated and with their
 * secrets read: each entry names the environment variable or the file that holds its secret, and a
 * missing one stops the start with one line naming the entry and the variable (or file). The
 * environment's WP_* and AZURE_* settings are the site and the source named "default".
 */
import { accessSync, constants, readFileSync } from "node:fs";
import path from "node:path";
import type { SiteSettings, SourceSettings } from "../config";
import { ConfigError } from "../core/errors";
import { DEFAULT_TARGET, type Job, type TenantKind } from "../core/job";
import { isScimJob } from "../core/scim/job";
import { type SchemaNode, schemaProblem, suggest } from "./schema-problem";
import { SitesSchema, SourcesSchema } from "./sites-schema";

/** What the named entries inherit, and where their secrets are looked up. */
export interface TargetEnvironment {
  /** The "default" site and source (WP_*, AZURE_*); named entries inherit their tuning from them. */
  wordpress: SiteSettings;
  azure: SourceSettings;
  variable(name: string): string | null;
  /** Relative secret files are read from here: the jobs file's folder. */
  dir: string;
  /** false: the entries are checked, their secrets left unread (the CLI only needs the job list). */
  readSecrets: boolean;
}

/** Keys that would put a secret in the file itself: refused with a message saying what to write instead. */
const SECRET_KEYS: Record<string, string> = {
  appPassword: "appPasswordEnv or appPasswordFile",
  password: "appPasswordEnv or appPasswordFile",
  clientSecret: "clientSecretEnv or clientSecretFile",
  secret: "clientSecretEnv or clientSecretFile",
  certificate: "certificatePathEnv or certificateFile",
};

type Entry = Record<string, unknown>;

export function sitesFrom(raw: unknown, where: string, env: TargetEnvironment): SiteSettings[] {
  return entriesOf(raw, "sites", SitesSchema as SchemaNode, where).map(([name, entry]) => {
    const at = `${where}: site "${name}"`;
    const secret = secretOf(entry, `sites.${name}`, at, "appPassword", env, {
      needs: "its Application Password",
      allowed: ["appPasswordEnv", "appPasswordFile"],
    });
    const inherited = env.wordpress;
    return {
      name,
      url: absoluteUrl(entry.url as string, `${at}: url`),
      username: (entry.username as string).trim(),
      appPassword: secret.value,
      concurrency: (entry.concurrency as number | undefined) ?? inherited.concurrency,
      bulk: (entry.bulkWrites as boolean | undefined) ?? inherited.bulk,
      batchSize: (entry.batchSize as number | undefined) ?? inherited.batchSize,
      batchInFlight: (entry.batchInFlight as number | undefined) ?? inherited.batchInFlight,
      setting: { url: `sites.${name}.url`, username: `sites.${name}.username`, appPassword: secret.setting },
    };
  });
}

export function sourcesFrom(raw: unknown, where: string, env: TargetEnvironment): SourceSettings[] {
  return entriesOf(raw, "sources", SourcesSchema as SchemaNode, where).map(([name, entry]) => {
    const at = `${where}: source "${name}"`;
    const credential = secretOf(entry, `sources.${name}`, at, "credential", env, {
      needs: "the app's credential",
      allowed: ["clientSecretEnv", "clientSecretFile", "certificatePathEnv", "certificateFile"],
    });
    const certificate = credential.key.startsWith("certificate");
    const inherited = env.azure;
    const own = (key: string) => `sources.${name}.${key}`;
    return {
      name,
      tenantId: (entry.tenantId as string).trim(),
      clientId: (entry.clientId as string).trim(),
      clientSecret: certificate ? null : credential.value,
      certificatePath: certificate ? credential.value : null,
      authorityHost: optionalUrl(entry.authorityHost, `${at}: authorityHost`) ?? inherited.authorityHost,
      graphBaseUrl: optionalUrl(entry.graphBaseUrl, `${at}: graphBaseUrl`) ?? inherited.graphBaseUrl,
      tenantKind: (entry.tenantKind as TenantKind | undefined) ?? null,
      setting: {
        tenantId: own("tenantId"),
        clientId: own("clientId"),
        clientSecret: certificate ? own("clientSecretEnv") : credential.setting,
        certificatePath: certificate ? credential.setting : own("certificateFile"),
        authorityHost: entry.authorityHost === undefined ? inherited.setting.authorityHost : own("authorityHost"),
      },
    };
  });
}

/**
 * A job reading a source whose entry says its tenantKind takes that kind, before it is validated
 * (a customer tenant's rules depend on it); a job saying the other kind contradicts its source.
 */
export function withTenantKind(raw: unknown, sources: readonly SourceSettings[], where: string): unknown {
  if (typeof raw !== "object" || raw === null) return raw;
  const job = raw as { id?: unknown; source?: { kind?: unknown; tenant?: unknown; tenantKind?: unknown } };
  const source = job.source;
  if (source?.kind === "scim") return raw;
  const entry = sources.find((candidate) => candidate.name === (source?.tenant ?? DEFAULT_TARGET));
  if (!entry?.tenantKind) return raw;
  if (source?.tenantKind !== undefined && source.tenantKind !== entry.tenantKind) {
    throw new ConfigError(
      `${where}: job "${String(job.id)}": source.tenantKind ${JSON.stringify(source.tenantKind)} contradicts its source "${entry.name}", which is "${entry.tenantKind}" (sources.${entry.name}.tenantKind): leave it out`,
    );
  }
  return { ...job, source: { ...source, tenantKind: entry.tenantKind } };
}

/** A job naming a site or source that is not declared is refused, with the names that are. */
export function checkTargetsOf(
  jobs: readonly Job[],
  sites: readonly Pick<SiteSettings, "name">[],
  sources: readonly Pick<SourceSettings, "name">[],
  where: string,
): void {
  const known = (entries: readonly { name: string }[]) => [DEFAULT_TARGET, ...entries.map((entry) => entry.name)];
  const siteNames = known(sites);
  const sourceNames = known(sources);
  for (const job of jobs) {
    if (!siteNames.includes(job.site)) {
      throw new ConfigError(
        `${where}: job "${job.id}": site "${job.site}" is not declared in "sites"${suggest(job.site, siteNames, loose)} (declared: ${siteNames.join(", ")})`,
      );
    }
    if (!isScimJob(job) && !sourceNames.includes(job.source.tenant)) {
      throw new ConfigError(
        `${where}: job "${job.id}": source.tenant "${job.source.tenant}" is not declared in "sources"${suggest(job.source.tenant, sourceNames, loose)} (declared: ${sourceNames.join(", ")})`,
      );
    }
  }
}

const loose = (name: string) => name.replace(/[-_]/g, "");

/** The section's entries once it matches its schema, "default" refused (it is the environment's). */
function entriesOf(
  raw: unknown,
  section: "sites" | "sources",
  schema: SchemaNode,
  where: string,
): Array<[string, Entry]> {
  if (raw === undefined) return [];
  if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) {
    for (const [name, entry] of Object.entries(raw)) {
      const secretKey = Object.keys(typeof entry === "object" && entry !== null ? entry : {}).find(
        (key) => key in SECRET_KEYS,
      );
      if (secretKey) {
        throw new ConfigError(
          `${where}: ${section}.${name}.${secretKey}: secrets are never written in the jobs file; put it in an environment variable or a file and name that with ${SECRET_KEYS[secretKey]}`,
        );
      }
    }
  }
  const problem = schemaProblem(schema, raw, section);
  if (problem) throw new ConfigError(`${where}: ${problem.message}`);
  const entries = Object.entries(raw as Record<string, Entry>);
  const reserved = entries.find(([name]) => name === DEFAULT_TARGET);
  if (reserved) {
    const variables = section === "sites" ? "WP_URL, WP_USERNAME and WP_APP_PASSWORD" : "the AZURE_* variables";
    throw new ConfigError(
      `${where}: ${section}.${DEFAULT_TARGET}: "${DEFAULT_TARGET}" is the ${section === "sites" ? "site" : "source"} of ${variables}; give this one another name`,
    );
  }
  return entries;
}

/**
 * The one secret an entry names (exactly one of `allowed`), read from its variable or file. A
 * variable holding a certificate path, or a certificate file, is checked to be readable and its
 * path returned. `setting` says where the value came from, for messages (never the value).
 */
function secretOf(
  entry: Entry,
  prefix: string,
  at: string,
  what: string,
  env: TargetEnvironment,
  rule: { needs: string; allowed: string[] },
): { key: string; value: string | null; setting: string } {
  const given = rule.allowed.filter((key) => entry[key] !== undefined);
  const choices = rule.allowed.join(", ");
  if (given.length !== 1) {
    throw new ConfigError(
      given.length === 0
        ? `${at}: names no ${what === "credential" ? "credential" : "Application Password"}: set one of ${choices} (the variable or file holding ${rule.needs})`
        : `${at}: ${given.join(" and ")} are both set: name ${rule.needs} once (one of ${choices})`,
    );
  }
  const key = given[0]!;
  const named = (entry[key] as string).trim();
  const isCertificate = key.startsWith("certificate");
  if (key.endsWith("Env")) {
    const setting = `${named} (${prefix}.${key})`;
    if (!env.readSecrets) return { key, value: null, setting };
    const value = env.variable(named);
    if (value === null) throw new ConfigError(`${at}: ${key} names ${named}, which is not set (or is empty)`);
    if (isCertificate) checkReadable(path.resolve(value), `${at}: ${key} names ${named}, whose path ${value}`);
    return { key, value: isCertificate ? path.resolve(value) : value, setting };
  }
  const file = path.resolve(env.dir, named);
  const setting = `the file ${file} (${prefix}.${key})`;
  if (!env.readSecrets) return { key, value: null, setting };
  if (isCertificate) {
    checkReadable(file, `${at}: ${key} ${file}`);
    return { key, value: file, setting };
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(`${at}: ${key} ${file} cannot be read (${reason(error)})`);
  }
  const value = text.trim();
  if (!value) throw new ConfigError(`${at}: ${key} ${file} is empty`);
  return { key, value, setting };
}

function checkReadable(file: string, what: string): void {
  try {
    accessSync(file, constants.R_OK);
  } catch (error) {
    throw new ConfigError(`${what} cannot be read (${reason(error)})`);
  }
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES") return "permission denied";
  if (code === "EISDIR") return "it is a folder";
  return code ?? String(error);
}

/** The schema checked the scheme; URL checks the rest (a host, no spaces), as config.ts does for WP_URL. */
function absoluteUrl(value: string, what: string): string {
  const text = value.trim();
  try {
    new URL(text);
  } catch {
    throw new ConfigError(`${what} must be an absolute URL (got "${text.slice(0, 100)}")`);
  }
  return text.replace(/\/+$/, "");
}

function optionalUrl(value: unknown, what: string): string | null {
  return typeof value === "string" ? absoluteUrl(value, what) : null;
}
