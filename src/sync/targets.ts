/**
 * The WordPress sites and Entra sources of one deployment, by name (DESIGN.md "Sites and sources"):
 * every job's runs, provisioning and subscriptions use the site its `site` names and the source
 * its `source.tenant` names. The site and source named "default" (WP_*, AZURE_*) are the ones the
 * engine's deps have always carried, so a deployment without a jobs file's `sites` and `sources`,
 * and every test that hands in one site and one directory, works unchanged.
 *
 * Each site keeps its own adapters (and so its own plugin detection, write path, roles, limiter
 * and circuit) and each source its own (credentials, token cache, throttling, subscriptions):
 * nothing is shared between two of them.
 */
import { UpstreamError } from "../core/errors";
import { DEFAULT_TARGET, type Job } from "../core/job";
import type { Directory, Network, Site, Subscriptions } from "./ports";

export interface SiteTarget {
  site: Site;
  /** The multisite network the site is the main site of; present when a job targets it as a network. */
  network?: Network;
}

export interface SourceTarget {
  directory: Directory;
  /** Change-notification subscriptions made with the same credentials. */
  subscriptions?: Subscriptions;
}

/** The jobs file's named sites and sources, besides "default". */
export interface NamedTargets {
  sites: ReadonlyMap<string, SiteTarget>;
  sources: ReadonlyMap<string, SourceTarget>;
}

export interface Targets {
  /** The job's own site; a name nothing serves is a configuration error naming the job. */
  siteOf(job: Pick<Job, "id" | "site">): SiteTarget;
  sourceOf(job: Pick<Job, "id" | "source">): SourceTarget;
}

export function makeTargets(defaults: SiteTarget & SourceTarget, named?: NamedTargets): Targets {
  const { site, network, directory, subscriptions } = defaults;
  const sites = new Map<string, SiteTarget>([[DEFAULT_TARGET, { site, ...(network ? { network } : {}) }]]);
  const sources = new Map<string, SourceTarget>([
    [DEFAULT_TARGET, { directory, ...(subscriptions ? { subscriptions } : {}) }],
  ]);
  for (const [name, entry] of named?.sites ?? []) sites.set(name, entry);
  for (const [name, entry] of named?.sources ?? []) sources.set(name, entry);
  // The jobs file's names were checked at start-up: only a test wiring fewer targets than its jobs name gets here.
  const unknown = (jobId: string, what: string, name: string): never => {
    throw new UpstreamError(
      `job "${jobId}": ${what} "${name}" is not served by this deployment`,
      "wordpress",
      "config",
    );
  };
  return {
    siteOf: (job) => sites.get(job.site) ?? unknown(job.id, "site", job.site),
    sourceOf: (job) => sources.get(job.source.tenant) ?? unknown(job.id, "source.tenant", job.source.tenant),
  };
}

/** What a job's site is configured by, for messages: WP_* for "default", its entry otherwise. */
export function siteSettingsOf(site: string): string {
  return site === DEFAULT_TARGET ? "WP_URL, WP_USERNAME, WP_APP_PASSWORD" : `the jobs file's sites.${site}`;
}

/**
 * What is built once per site (or network) and kept: its info, its runs' match indexes. A job on
 * one site never sees another site's.
 */
export function oncePer<K extends object, T>(build: (key: K) => T): (key: K) => T {
  const kept = new WeakMap<K, T>();
  return (key) => {
    let value = kept.get(key);
    if (value === undefined) {
      value = build(key);
      kept.set(key, value);
    }
    return value;
  };
}
