/**
 * Stand-ins for the directory and the site when their settings are missing, so the service still
 * starts (DESIGN.md: "With nothing set, npm start still starts"). A run that reaches them fails
 * at once with last_error naming exactly what to set — a configuration error, not a crash loop.
 */
import { UpstreamError } from "./core/errors";
import type { Directory, Site, Subscriptions } from "./sync/ports";

const standIns = new WeakSet<object>();

/** Whether this directory or site is a stand-in for missing settings (nothing to check or call). */
export function isStandIn(port: Directory | Site): boolean {
  return standIns.has(port);
}

function refuse(source: "graph" | "wordpress", missing: string[]): never {
  throw new UpstreamError(
    `${source === "graph" ? "Microsoft Graph" : "WordPress"} is not configured: set ${missing.join(", ")}`,
    source,
    "config",
  );
}

/** The directory stand-in, with subscriptions that fail the same way. */
export function unconfiguredDirectory(missing: string[]): Directory & { subscriptions: Subscriptions } {
  const fail = async (): Promise<never> => refuse("graph", missing);
  const directory: Directory & { subscriptions: Subscriptions } = {
    subscriptions: { create: fail, renew: fail, remove: fail },
    fetchUsersPage: fail,
    fetchUsersById: fail,
    fetchGroupMembersPage: fail,
    fetchUser: fail,
    userGroups: fail,
    fetchPhoto: fail,
  };
  standIns.add(directory);
  return directory;
}

export function unconfiguredSite(missing: string[]): Site {
  const fail = async (): Promise<never> => refuse("wordpress", missing);
  const site: Site = {
    info: fail,
    listUsers: fail,
    getUser: fail,
    findUser: fail,
    findByEntraId: fail,
    createUser: fail,
    updateUser: fail,
    deactivateUser: fail,
    reactivateUser: fail,
    deleteUser: fail,
    setAvatar: fail,
  };
  standIns.add(site);
  return site;
}
