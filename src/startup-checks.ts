/**
 * The start-up checks (Runtime.checkConnections): every WordPress site and every Entra source the
 * deployment serves is asked once whether it accepts the service's credentials, and each outcome
 * is one log line naming the site or the source; then what only they can tell about each job (roles
 * a site does not let it grant, a network's sites, a query Graph refuses). A wrong password shows
 * at start-up, and the service keeps serving (no crash loop). Never rejects.
 */
import type { Connections, SiteConnection } from "./connections";
import { coerceError } from "./core/errors";
import { DEFAULT_TARGET, type Job } from "./core/job";
import { selectFor } from "./core/mapping";
import { selectSites } from "./core/network";
import { describePermissions, graphPermissions } from "./core/permissions";
import { grantPolicy } from "./core/privileges";
import type { Logger } from "./logger";
import type { Directory, SiteInfo } from "./sync/ports";
import { isStandIn } from "./unconfigured";

/** A user that cannot exist: Graph's 404 proves the token and the permission were accepted. */
const NO_SUCH_USER = "00000000-0000-0000-0000-000000000000";

export async function checkConnections(connections: Connections, jobs: readonly Job[], logger: Logger): Promise<void> {
  // Stand-ins for missing settings are skipped: "a real sync still needs ..." said so already.
  const sites = connections.sites.filter((entry) => !isStandIn(entry.site));
  const sources = connections.sources.filter((entry) => !isStandIn(entry.directory));
  const [, checked] = await Promise.all([
    Promise.all(sites.flatMap((entry) => siteChecks(entry, jobs, logger))),
    Promise.all(
      sources.map(async (entry) => {
        // Without touching the users listing that runs page through.
        const ok = await check(`Microsoft Graph${named(entry.name, "source")}`, logger, () =>
          entry.directory.fetchUser(NO_SUCH_USER, ["id"], { deadline: Date.now() + 30_000 }),
        );
        return ok ? entry : null;
      }),
    ),
  ]);
  // With the credentials accepted, each job's own query: what its attributes need shows now.
  const accepted = new Map(checked.flatMap((entry) => (entry ? [[entry.name, entry.directory] as const] : [])));
  await Promise.all(
    jobs.filter(queryCanBeRefused).flatMap((job) => {
      const directory = accepted.get(job.source.tenant);
      return directory ? [checkJobQuery(job, directory, logger)] : [];
    }),
  );
}

/** ' site "intranet"' for a named one; nothing for "default", whose lines read as they always have. */
function named(name: string, what: "site" | "source"): string {
  return name === DEFAULT_TARGET ? "" : ` ${what} "${name}"`;
}

/** The site's credentials and its jobs' roles; a network job's plugin, super admin and selected sites. */
function siteChecks(entry: SiteConnection, jobs: readonly Job[], logger: Logger): Array<Promise<boolean>> {
  const own = jobs.filter((job) => job.site === entry.name);
  const { site, network } = entry;
  const checks = [
    check(`WordPress${named(entry.name, "site")}`, logger, async () =>
      reportRoleProblems(own, await site.info(), logger),
    ),
  ];
  for (const job of own) {
    const target = job.network;
    if (target === null || !network) continue;
    checks.push(
      check(`WordPress network (job ${job.id})`, logger, async () =>
        selectSites(job.id, target, await network.sites()),
      ),
    );
  }
  return checks;
}

async function check(name: string, logger: Logger, work: () => Promise<unknown>): Promise<boolean> {
  try {
    await work();
    logger.info(`${name} connection checked: credentials accepted`);
    return true;
  } catch (error) {
    const failure = coerceError(error);
    logger.error({ err: failure }, `${name} connection check failed: ${failure.message}`);
    return false;
  }
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

/**
 * Roles a job may not grant on its site (core roles were checked with the jobs file; the others
 * only WordPress can tell): said at start-up, while each run of that job fails before writing.
 */
function reportRoleProblems(jobs: readonly Job[], info: SiteInfo, logger: Logger): void {
  for (const job of jobs) {
    const problem = grantPolicy(job, info.roles).problem;
    if (problem) logger.error(`job "${job.id}": ${problem.path} ${problem.message}; its runs fail until this is fixed`);
  }
}
