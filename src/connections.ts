/**
 * The adapters of every WordPress site and Entra source the deployment serves (DESIGN.md "Sites and
 * sources"), built once at start-up: "default" from WP_* and AZURE_* (a stand-in naming what is
 * missing when they are incomplete, so the service still starts), the others from the jobs file's
 * entries. Each site and each source gets adapters of its own, so nothing is shared between two of
 * them: limiter, plugin detection and write path per site; credentials, token cache and throttling
 * per source. Their log lines carry the site's or the source's name.
 */
import type { SiteSettings, SourceSettings } from "./config";
import { DEFAULT_TARGET } from "./core/job";
import { makeGraphDirectory } from "./graph";
import type { Logger } from "./logger";
import type { Metrics } from "./observe/metrics";
import type { Deployment } from "./sync/jobs";
import type { Directory, Network, Site, Subscriptions } from "./sync/ports";
import type { NamedTargets } from "./sync/targets";
import { unconfiguredDirectory, unconfiguredSite } from "./unconfigured";
import { makeWordPressNetwork, makeWordPressSite } from "./wordpress";

export interface SiteConnection {
  name: string;
  site: Site;
  /** Made when a job targets the site as a multisite network. */
  network?: Network;
}

export interface SourceConnection {
  name: string;
  directory: Directory;
  subscriptions: Subscriptions;
}

export interface Connections {
  /** "default" first. */
  sites: SiteConnection[];
  sources: SourceConnection[];
}

/** Test and bench hooks: the "default" site's and source's adapters, and named sites' adapters, replaced. */
export interface ConnectionOverrides {
  directory?: Directory;
  site?: Site;
  network?: Network;
  subscriptions?: Subscriptions;
  /** Named sites of the jobs file, by name (their settings are still read and checked). */
  sites?: ReadonlyMap<string, Site>;
}

export function openConnections(
  deployment: Deployment,
  logger: Logger,
  metrics: Metrics,
  overrides: ConnectionOverrides = {},
): Connections {
  const networked = new Set(deployment.jobs.filter((job) => job.network !== null).map((job) => job.site));
  const sites = deployment.sites.map((settings): SiteConnection => {
    const log = logger.child({ site: settings.name });
    const isDefault = settings.name === DEFAULT_TARGET;
    const site = (isDefault ? overrides.site : overrides.sites?.get(settings.name)) ?? makeSite(settings, log, metrics);
    const network =
      (isDefault ? overrides.network : undefined) ??
      (networked.has(settings.name) ? makeNetwork(settings, log, metrics) : null);
    return { name: settings.name, site, ...(network ? { network } : {}) };
  });
  const sources = deployment.sources.map((settings): SourceConnection => {
    const graph = makeDirectory(settings, logger.child({ tenant: settings.name }), metrics);
    const isDefault = settings.name === DEFAULT_TARGET;
    return {
      name: settings.name,
      directory: (isDefault ? overrides.directory : undefined) ?? graph,
      subscriptions: (isDefault ? overrides.subscriptions : undefined) ?? graph.subscriptions,
    };
  });
  return { sites, sources };
}

/** The sites and sources besides "default", as the engine and provisioning look them up by name. */
export function namedTargets({ sites, sources }: Connections): NamedTargets {
  const others = <T extends { name: string }>(list: T[]) => list.filter((entry) => entry.name !== DEFAULT_TARGET);
  return {
    sites: new Map(others(sites).map(({ name, ...target }) => [name, target])),
    sources: new Map(others(sources).map(({ name, ...target }) => [name, target])),
  };
}

/** The "default" site's adapters (the engine's `site` and `network`) and source's (`directory`). */
export function defaultTargets({ sites, sources }: Connections): {
  site: Site;
  network?: Network;
  directory: Directory;
  subscriptions: Subscriptions;
} {
  const { name: _site, ...site } = sites.find((entry) => entry.name === DEFAULT_TARGET)!;
  const { name: _source, ...source } = sources.find((entry) => entry.name === DEFAULT_TARGET)!;
  return { ...site, ...source };
}

/** The settings a site or source still lacks, by name ("WP_URL", ...): only "default" can lack any. */
function missingOf<T extends { setting: Record<string, string> }>(settings: T, required: Array<keyof T>): string[] {
  return required
    .filter((key) => !settings[key])
    .map((key) => (settings.setting as Record<string, string>)[key as string]!);
}

function makeDirectory(settings: SourceSettings, logger: Logger, metrics: Metrics) {
  const missing = missingOf(settings, ["tenantId", "clientId"]);
  if (!settings.clientSecret && !settings.certificatePath) {
    missing.push(`${settings.setting.clientSecret} or ${settings.setting.certificatePath}`);
  }
  if (missing.length > 0 || !settings.tenantId || !settings.clientId) return unconfiguredDirectory(missing);
  return makeGraphDirectory({
    tenantId: settings.tenantId,
    clientId: settings.clientId,
    clientSecret: settings.clientSecret ?? undefined,
    certificatePath: settings.certificatePath ?? undefined,
    authorityHost: settings.authorityHost ?? undefined,
    graphBaseUrl: settings.graphBaseUrl,
    setting: settings.setting,
    logger,
    metrics: metrics.graphHookFor(settings.name),
  });
}

function makeSite(settings: SiteSettings, logger: Logger, metrics: Metrics): Site {
  const { url, username, appPassword } = settings;
  if (!url || !username || !appPassword) {
    return unconfiguredSite(missingOf(settings, ["url", "username", "appPassword"]));
  }
  return makeWordPressSite({
    url,
    username,
    appPassword,
    concurrency: settings.concurrency,
    bulk: settings.bulk,
    batchSize: settings.batchSize,
    batchInFlight: settings.batchInFlight,
    setting: settings.setting,
    logger,
    metrics: metrics.wordpressHookFor(settings.name),
  });
}

/** The network client of a site that a job targets as a network (its check names what is missing otherwise). */
function makeNetwork(settings: SiteSettings, logger: Logger, metrics: Metrics): Network | null {
  const { url, username, appPassword, concurrency } = settings;
  if (!url || !username || !appPassword) return null;
  return makeWordPressNetwork({
    url,
    username,
    appPassword,
    concurrency,
    setting: settings.setting,
    logger,
    metrics: metrics.wordpressHookFor(settings.name),
  });
}
