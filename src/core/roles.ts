/** Scoping and role resolution from the job's groups a user is a (transitive) member of. */
import type { Job, RoleMode } from "./job";

/** Graph returns group ids in lower case; a job file may spell them in upper case. */
export function isMember(groupIds: ReadonlySet<string>, groupId: string): boolean {
  if (groupIds.has(groupId)) return true;
  const lower = groupId.toLowerCase();
  for (const id of groupIds) if (id.toLowerCase() === lower) return true;
  return false;
}

/** Unscoped jobs take every user; scoped jobs only members of at least one source.groups group. */
export function inScope(job: Job, groupIds: ReadonlySet<string>): boolean {
  const scoping = job.source.groups;
  return scoping.length === 0 || scoping.some((groupId) => isMember(groupIds, groupId));
}

/** The role of the first role-mapping group the user is in, else the default; undefined when roles are left alone. */
export function resolveRoles(job: Job, groupIds: ReadonlySet<string>): string[] | undefined {
  if (job.roles.mode === "skip") return undefined;
  const mapped = job.roles.groups.find((entry) => isMember(groupIds, entry.group));
  return [mapped ? mapped.role : job.roles.default];
}

/**
 * The full role list to send, or undefined when nothing is to be written: mode "skip", nothing
 * resolved, or the result already equals the current roles as a set. "add" never removes a role.
 */
export function rolesToWrite(mode: RoleMode, desired: string[] | undefined, current: string[]): string[] | undefined {
  if (mode === "skip" || desired === undefined) return undefined;
  const result = mode === "add" ? [...current, ...desired.filter((role) => !current.includes(role))] : [...desired];
  return sameSet(result, current) ? undefined : result;
}

export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((item) => right.has(item));
}
