/**
 * What to do with one Entra user, decided from the job, the user, the user map and (when needed)
 * WordPress's current state. Pure: the engine does the I/O before (fetch, match) and after (apply).
 */
import { isUnmatchableCustomer, signInNote } from "./customer";
import { hashOf } from "./hash";
import type { Job, MatchKey } from "./job";
import { desiredFields, emailLengthProblem } from "./mapping";
import { adoptionRefusal } from "./match";
import { type Grants, guardRoles, privilegesBeyond } from "./privileges";
import { resolveRoles, rolesToWrite } from "./roles";
import { inJobScope } from "./scoping";
import { usernameCandidate } from "./username";
import type { GraphUser, WpUser, WpWrite } from "./users";

/** One row of the user map: what the service last wrote for an Entra user. */
export interface MapEntry {
  wpUserId: number;
  hash: string;
  state: "active" | "deactivated";
  fields: Record<string, string>;
  roles: string[] | null;
  /**
   * Roles the service gave this user that the account did not hold before: they never protect the
   * user from the service (a leaver granted administrator by the job loses it).
   */
  granted: string[];
  /** Network jobs: blog id -> the role the service last wrote there ("" = member without a role). */
  sites?: Record<string, string> | null;
}

export type PlannedAction = "create" | "update" | "unchanged" | "reactivate" | "skip";

export interface UserPlan {
  entraId: string;
  action: PlannedAction;
  wpUserId: number | null;
  /** For create: the candidate (the engine makes it unique); else the current login when known. */
  username: string | null;
  /** Only fields that differ (+ roles when they change); {fields:{}} when nothing. */
  write: WpWrite;
  /** Full desired fields (stored in the user map after apply). */
  desired: Record<string, string>;
  /** Roles to store in the user map after apply: those written, else those resolved. */
  roles: string[] | undefined;
  /** hashOf(desired, resolved roles), to store after apply. */
  hash: string;
  /** field -> [old, new]; "roles" -> [old[], new[]]. */
  diff: Record<string, [unknown, unknown]>;
  /** Roles the service will have granted after apply (MapEntry.granted). */
  granted: string[];
  /** Why skipped, or extra information. */
  reason: string | null;
  /** Set when the plan refuses the user (a failed item): an account it must not adopt. */
  refusal: string | null;
  email: string | null;
  displayName: string | null;
}

export interface PlanInput {
  job: Job;
  user: GraphUser;
  groupIds: ReadonlySet<string>;
  mapEntry: MapEntry | null;
  /** WordPress's current state of the user when the engine fetched or matched it; null when unknown/not found. */
  current: WpUser | null;
  /** The service's own WordPress account id (always protected). */
  selfId: number;
  /** How `current` was found when the user is not mapped: the adoption rules apply (core/match.ts). */
  matchedBy: MatchKey | null;
  /** What the job's roles grant on this site (core/privileges.ts grantPolicy): adoption and protection judge by it. */
  grants: Grants;
}

/**
 * Whether planUser needs WordPress's current state of the user. False for a mapped, active user
 * whose desired hash equals the stored one (unchanged: zero WordPress requests, which is what makes
 * a re-sync of 10,000 unchanged users cheap), for users out of scope, and for customers with
 * nothing to create or match them by (customer.ts).
 */
export function needsCurrent(input: Pick<PlanInput, "job" | "user" | "groupIds" | "mapEntry">): boolean {
  const { job, user, groupIds, mapEntry } = input;
  if (!inJobScope(job, user, groupIds)) return false;
  if (mapEntry === null) return !isUnmatchableCustomer(job, user);
  if (mapEntry.state !== "active") return true;
  return mapEntry.hash !== hashOf(desiredFields(job, user), resolveRoles(job, groupIds));
}

/**
 * Never modified or removed: the service's own account, protect.users, holders of protect.roles or
 * administrator, and accounts holding an elevated capability (edit_users, promote_users,
 * manage_options, others' content, ...: core/privileges.ts) that the job could not have given them,
 * by the rule adoption applies, whatever role carries it: a custom role made in WordPress counts as
 * administrator does. What the service itself granted (`granted`: those roles, and what they allow)
 * never protects: a leaver the job made an administrator loses it.
 */
export function isProtected(
  job: Job,
  wpUser: { id: number; roles: readonly string[]; capabilities: readonly string[] },
  selfId: number,
  granted: readonly string[],
  grants: Grants,
): boolean {
  return (
    protectedByName(job, wpUser, selfId, granted) || privilegesBeyond(wpUser.capabilities, grants, granted).length > 0
  );
}

/** isProtected by the account's id or its roles' names alone. */
function protectedByName(
  job: Job,
  wpUser: { id: number; roles: readonly string[] },
  selfId: number,
  granted: readonly string[],
): boolean {
  const protecting = protectingRoles(job, granted);
  return (
    wpUser.id === selfId ||
    job.protect.users.includes(wpUser.id) ||
    wpUser.roles.some((role) => protecting.includes(role))
  );
}

/** The roles that make an account protected (isProtected): administrator and protect.roles, unless the service granted them. */
export function protectingRoles(job: Job, granted: readonly string[]): string[] {
  return ["administrator", ...job.protect.roles].filter((role) => !granted.includes(role));
}

/**
 * What planUser read of WordPress's current user, as a condition on it: `fields` (job field names)
 * hold exactly these values, the roles are `exactly` this list, or hold `noneOf` these, and the
 * account holds no elevated capability beyond what the `guard` roles grant (isProtected). A write
 * sent with it is applied only while WordPress still holds it (Site.updateIfUnchanged).
 */
export interface Assumption {
  fields: Record<string, string>;
  roles: { exactly: string[] } | { noneOf: string[] };
  guard: string[];
}

/**
 * A mapped user as the service last left it in WordPress, from its user map entry, with the
 * Assumption that makes a plan against it the plan against the real user: everything planUser reads
 * of a mapped user's current state (the values of the desired fields, compared by diffFields; the
 * roles, which rolesToWrite, grantedAfter and the diff read whole, or, with roles.mode "skip", only
 * isProtected reads, so then only "none of the protecting roles"; the capabilities, which isProtected
 * judges by the job's and the granted roles (guardRoles); the id, which is the map's).
 * Null when the map cannot say: a desired field the service never wrote, roles it never stored.
 */
export function assumedCurrent(
  input: Pick<PlanInput, "job" | "user" | "mapEntry">,
): { user: WpUser; assumption: Assumption } | null {
  const { job, user, mapEntry } = input;
  if (mapEntry === null) return null;
  const fields: Record<string, string> = {};
  for (const field of Object.keys(desiredFields(job, user))) {
    const last = mapEntry.fields[field];
    if (last === undefined) return null;
    fields[field] = last;
  }
  let roles: Assumption["roles"];
  // Deactivation took every role away, whatever the mode.
  if (mapEntry.state === "deactivated") roles = { exactly: [] };
  else if (job.roles.mode === "skip") roles = { noneOf: protectingRoles(job, mapEntry.granted) };
  else if (mapEntry.roles === null) return null;
  else roles = { exactly: mapEntry.roles };
  const wpUser: WpUser = {
    id: mapEntry.wpUserId,
    username: "",
    email: "",
    name: "",
    first_name: "",
    last_name: "",
    nickname: "",
    description: "",
    url: "",
    roles: "exactly" in roles ? roles.exactly : [],
    capabilities: [],
    meta: {},
  };
  for (const [field, value] of Object.entries(fields)) {
    if (field.startsWith("meta.")) wpUser.meta[field.slice("meta.".length)] = value;
    else (wpUser as unknown as Record<string, unknown>)[field] = value;
  }
  return { user: wpUser, assumption: { fields, roles, guard: guardRoles(job, mapEntry.granted) } };
}

/** What the service has granted once `written` replaced `current`: it keeps none of the account's own roles. */
export function grantedAfter(current: readonly string[], written: readonly string[], granted: readonly string[]) {
  const own = current.filter((role) => !granted.includes(role));
  return written.filter((role) => !own.includes(role));
}

/** Desired fields whose value differs from the current one, as [old, new]; e-mail compared case-insensitively. */
export function diffFields(
  current: Record<string, string>,
  desired: Record<string, string>,
): Record<string, [unknown, unknown]> {
  const diff: Record<string, [unknown, unknown]> = {};
  for (const [field, value] of Object.entries(desired)) {
    const old = current[field];
    const same = field === "email" ? old?.toLowerCase() === value.toLowerCase() : old === value;
    if (!same) diff[field] = [old ?? null, value];
  }
  return diff;
}

/** A WordPress user's values under the job's field names (email, first_name, ..., meta.<key>). */
export function currentFields(job: Job, wpUser: WpUser): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const field of Object.keys(job.fields)) {
    const value = field.startsWith("meta.")
      ? wpUser.meta[field.slice("meta.".length)]
      : (wpUser as unknown as Record<string, unknown>)[field];
    if (typeof value === "string") fields[field] = value;
  }
  return fields;
}

/** The plan for one user; a social customer account's provider is noted on it (customer.ts). */
export function planUser(input: PlanInput): UserPlan {
  const plan = decide(input);
  const note = signInNote(input.job, input.user);
  if (note === null) return plan;
  return { ...plan, reason: plan.reason === null ? note : `${plan.reason} (${note})` };
}

function decide(input: PlanInput): UserPlan {
  const { job, user, groupIds, mapEntry, current, selfId } = input;
  const granted = mapEntry?.granted ?? [];
  const desired = desiredFields(job, user);
  const resolved = resolveRoles(job, groupIds);
  const base = {
    entraId: user.id,
    desired,
    roles: resolved,
    hash: hashOf(desired, resolved),
    email: desired.email ?? (typeof user.mail === "string" ? user.mail : null),
    displayName: typeof user.displayName === "string" ? user.displayName : null,
    granted,
    refusal: null,
  };
  const nothing: WpWrite = { fields: {} };
  const skip = (reason: string, wpUserId: number | null): UserPlan => ({
    ...base,
    action: "skip",
    wpUserId,
    username: current?.username ?? null,
    write: nothing,
    diff: {},
    reason,
  });

  if (!inJobScope(job, user, groupIds)) return skip("out of scope", mapEntry?.wpUserId ?? null);
  const tooLong = emailLengthProblem(desired.email);
  if (tooLong) return { ...skip("e-mail too long", current?.id ?? mapEntry?.wpUserId ?? null), refusal: tooLong };

  if (mapEntry?.state === "active" && mapEntry.hash === base.hash) {
    return {
      ...base,
      action: "unchanged",
      wpUserId: mapEntry.wpUserId,
      username: current?.username ?? null,
      write: nothing,
      diff: {},
      reason: null,
    };
  }

  if (current === null) return planCreate(job, user, base, mapEntry !== null);

  if (protectedByName(job, current, selfId, granted)) return skip("protected", current.id);
  if (mapEntry === null && input.matchedBy !== null) {
    // Its privileges refuse an account found by e-mail or name, saying which (the rule isProtected applies).
    const refusal = adoptionRefusal(job, user, current, input.matchedBy, input.grants.grantable);
    if (refusal) return { ...skip("not adopted", current.id), refusal };
  }
  if (isProtected(job, current, selfId, granted, input.grants)) return skip("protected", current.id);

  const diff = diffFields(currentFields(job, current), desired);
  const fields = Object.fromEntries(Object.keys(diff).map((field) => [field, desired[field]!]));

  if (mapEntry?.state === "deactivated") {
    // Deactivation stripped every role, so roles are always written back: in "skip" mode the default.
    const roles = resolved ?? [job.roles.default];
    return {
      ...base,
      action: "reactivate",
      wpUserId: current.id,
      username: current.username,
      write: { fields, roles },
      roles,
      granted: grantedAfter(current.roles, roles, granted),
      diff: { ...diff, roles: [current.roles, roles] },
      reason: null,
    };
  }

  const roles = rolesToWrite(job.roles.mode, resolved, current.roles);
  if (roles !== undefined) diff.roles = [current.roles, roles];
  const write: WpWrite = roles === undefined ? { fields } : { fields, roles };
  if (Object.keys(diff).length === 0) {
    // Includes adopting a matched user that already looks as desired: only the map changes.
    return {
      ...base,
      action: "unchanged",
      wpUserId: current.id,
      username: current.username,
      write: nothing,
      diff,
      reason: null,
    };
  }
  if (!job.actions.update) return { ...skip("updates disabled", current.id), diff };
  return {
    ...base,
    action: "update",
    wpUserId: current.id,
    username: current.username,
    write,
    roles: roles ?? resolved,
    granted: roles === undefined ? granted : grantedAfter(current.roles, roles, granted),
    diff,
    reason: null,
  };
}

type PlanBase = Pick<
  UserPlan,
  "entraId" | "desired" | "roles" | "hash" | "email" | "displayName" | "granted" | "refusal"
>;

function planCreate(job: Job, user: GraphUser, base: PlanBase, wasMapped: boolean): UserPlan {
  const skip = (reason: string): UserPlan => ({
    ...base,
    action: "skip",
    wpUserId: null,
    username: null,
    write: { fields: {} },
    diff: {},
    reason,
  });
  if (!job.actions.create) return skip("creates disabled");
  // WordPress refuses a user without an e-mail address (rest_invalid_param on create).
  if (base.desired.email === undefined) return skip("no e-mail");
  // In "skip" mode roles are never updated, but a new user still needs one: the default.
  const roles = base.roles ?? [job.roles.default];
  const diff: Record<string, [unknown, unknown]> = {};
  for (const [field, value] of Object.entries(base.desired)) diff[field] = [null, value];
  diff.roles = [null, roles];
  return {
    ...base,
    action: "create",
    wpUserId: null,
    username: usernameCandidate(job, user),
    write: { fields: { ...base.desired }, roles },
    roles,
    granted: roles,
    diff,
    reason: wasMapped ? "mapped WordPress user no longer exists" : null,
  };
}
