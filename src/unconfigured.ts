/**
 * Stand-ins for the directory and the site when their settings are missing, so the service still
 * starts (DESIGN.md: "With nothing set, npm start still starts"). A run that reaches them fails
 * at once with last_error naming exactly what to set — a configuration error, not a crash loop.
 */
import { UpstreamError } from "./core/errors";
import type { Directory, Site } from "./sync/ports";

function refuse(source: "graph" | "wordpress", missing: string[]): never {
  throw new UpstreamError(
    `${source === "graph" ? "Microsoft Graph" : "WordPress"} is not configured: set ${missing.join(", ")}`,
    source,
    "config",
  );
}

export function unconfiguredDirectory(missing: string[]): Directory {
  const fail = async (): Promise<never> => refuse("graph", missing);
  return { fetchUsersPage: fail, fetchGroupMembersPage: fail, fetchUser: fail, userGroups: fail };
}

export function unconfiguredSite(missing: string[]): Site {
  const fail = async (): Promise<never> => refuse("wordpress", missing);
  return {
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
  };
}
