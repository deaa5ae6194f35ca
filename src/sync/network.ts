/**
 * Network jobs (WordPress multisite): one Entra user is one network account, created once and a
 * member of each selected site with the role the job maps there (core/network.ts rolesPerSite and
 * planMemberships). The account's fields are network-wide: they are read and written through the
 * Site port on the main site (WP_URL), as on a single site, batch writes included; memberships and
 * roles per site go through the Network port (the companion plugin's network routes).
 *
 * Every account the service creates starts as a member of the main site (core REST creates it
 * there, without a role unless the job selects the main site): core REST reads and updates a user
 * only through a site it belongs to, so that membership is what keeps the account reachable.
 */
import { UpstreamError } from "../core/errors";
import { hashOf } from "../core/hash";
import type { Job, MatchKey } from "../core/job";
import { desiredFields } from "../core/mapping";
import { emailsOf, matchUser, withoutLogins } from "../core/match";
import {
  type MembershipChange,
  type NetworkSite,
  networkLoginCandidate,
  networkLoginProblem,
  planMemberships,
  rolesPerSite,
} from "../core/network";
import {
  assumedCurrent,
  isProtected,
  type MapEntry,
  type PlanInput,
  planUser,
  protectingRoles,
  type UserPlan,
} from "../core/plan";
import { guardRoles } from "../core/privileges";
import { uniqueUsername, usernameCandidate, usernameCandidates } from "../core/username";
import { ENTRA_ID_META, type GraphUser, type WpUser } from "../core/users";
import type { ItemInput } from "../db/items";
import type { MapWrite } from "../db/user-map";
import { claim, failedForThisUserOnly, isUserError, itemOf, type PageClaims, type UserOutcome } from "./apply";
import type { Network, NetworkAccount, NetworkMember } from "./ports";
import type { StepContext } from "./step-context";
import { makeUserIndex } from "./user-index";

/** Blog id -> role, as stored in the user map (keys are strings in JSON). */
type WrittenSites = Record<string, string>;

/** The network client; ctx.sites() has checked it exists (every caller reads the sites first). */
export function networkOf(ctx: StepContext): Network {
  return ctx.deps.network!;
}

/**
 * The fingerprint of a network user: its fields and its role on every selected site. A site added
 * to the network (with sites "all") or a changed mapping changes it, so the user is planned again.
 */
export function networkHash(fields: Record<string, string>, roles: ReadonlyMap<number, string>): string {
  return hashOf(
    fields,
    [...roles].map(([site, role]) => `${site}=${role}`),
  );
}

/**
 * Whether the service must leave this network user alone: a super admin (every capability on every
 * site), its own account, protect.users, a holder of administrator or a protect.roles role on any
 * site, except a role the service itself wrote on that site (as granted roles on a single site), or
 * of an elevated capability on any site that neither the job's roles nor the roles it wrote grant.
 * An account about to be adopted is judged on its capabilities by the plan instead (`capabilities`
 * false), whose refusal names them (core/plan.ts).
 */
export async function protectedOnNetwork(
  ctx: StepContext,
  wpUserId: number,
  member: Pick<NetworkMember, "superAdmin" | "sites" | "capabilities">,
  written: WrittenSites | null | undefined,
  capabilities = true,
): Promise<boolean> {
  if (member.superAdmin) return true;
  const selfId = await ctx.deps.selfId();
  const grants = await ctx.grants();
  const held = { id: wpUserId, roles: [], capabilities: capabilities ? member.capabilities : [] };
  if (isProtected(ctx.job, held, selfId, writtenRoles(written), grants)) return true;
  return [...member.sites].some(([site, roles]) => {
    const mine = written?.[String(site)];
    return isProtected(ctx.job, { id: wpUserId, roles, capabilities: [] }, selfId, mine ? [mine] : [], grants);
  });
}

/**
 * The item's diff for membership changes: "site:<path>" -> [roles before (null: no member), role
 * after (null: removed)]; "signIn" -> ["allowed", "blocked"] or back for the network-wide block.
 */
export function membershipDiff(
  changes: readonly MembershipChange[],
  before: ReadonlyMap<number, readonly string[]>,
  sites: readonly NetworkSite[],
): Record<string, [unknown, unknown]> {
  const diff: Record<string, [unknown, unknown]> = {};
  const path = (id: number) => sites.find((site) => site.id === id)?.path ?? String(id);
  for (const change of changes) {
    if (change.kind === "delete") diff.network = ["member", null];
    else if (change.kind === "deactivate") diff.signIn = ["allowed", "blocked"];
    else if (change.kind === "reactivate") diff.signIn = ["blocked", "allowed"];
    else
      diff[`site:${path(change.site)}`] = [
        before.get(change.site) ?? null,
        change.kind === "member" ? change.role : null,
      ];
  }
  return diff;
}

/** One user in scope of a network job: its account's fields on the main site, then its memberships. */
export async function syncNetworkUser(
  ctx: StepContext,
  user: GraphUser,
  groupIds: ReadonlySet<string>,
  mapEntry: MapEntry | null,
  claims: PageClaims,
): Promise<UserOutcome> {
  const { job, deps } = ctx;
  const target = job.network!;
  const { all, selected } = await ctx.sites();
  const wanted = rolesPerSite(target, selected, groupIds);
  const desired = desiredFields(job, user);
  const hash = networkHash(desired, wanted);
  const sites: WrittenSites = Object.fromEntries([...wanted].map(([site, role]) => [String(site), role]));
  // An unchanged user with unchanged memberships costs no WordPress request.
  if (mapEntry?.state === "active" && mapEntry.hash === hash) {
    const item = itemFor(user, desired, { action: "unchanged", wpUserId: mapEntry.wpUserId, diff: {} });
    return { item, map: null };
  }

  // The fields are planned as on a single site, with roles left to the memberships.
  const fieldsJob: Job = { ...job, roles: { ...job.roles, mode: "skip" } };
  const written = mapEntry?.sites ?? null;
  const main = all.find((site) => site.main);
  const input: Omit<PlanInput, "current"> = {
    job: fieldsJob,
    user,
    groupIds,
    // Never "unchanged" by the fields' own hash: the stored hash covers the memberships too.
    mapEntry: mapEntry && { ...mapEntry, hash: "", granted: main && written?.[main.id] ? [written[main.id]!] : [] },
    selfId: await deps.selfId(),
    matchedBy: null,
    grants: await ctx.grants(),
  };
  if (mapEntry?.state === "active") {
    const written = await syncWithoutRead(ctx, { user, desired, input, wanted, hash, sites });
    if (written) return written;
  }
  const network = networkOf(ctx);
  let current: WpUser | null = null;
  let member: NetworkMember | null = null;
  let checked: CheckedLogins = { asked: new Set(), taken: new Set() };
  /** Why the user name did not pick its account (item 13); said on the item of the account made instead. */
  let notByName: string | null = null;
  /** WordPress refused this user's write (the guard found a privilege given since the read): a failed item. */
  const refusedItem = (wpUserId: number, error: unknown): UserOutcome => {
    if (!isUserError(error)) throw error;
    return {
      item: { ...itemFor(user, desired, { action: "update", wpUserId, status: "failed" }), error: error.message },
      map: null,
    };
  };
  if (mapEntry) {
    try {
      current = await mappedAccount(ctx, mapEntry.wpUserId, main, networkGuard(job, written));
    } catch (error) {
      return refusedItem(mapEntry.wpUserId, error);
    }
  } else {
    const index = await ctx.index();
    let match = matchUser(job, user, desired, index);
    if (match?.by === "username") {
      const account = match.account;
      const found = await network.member(account.id);
      if (await protectedOnNetwork(ctx, account.id, found, null)) {
        notByName = shunnedLogin(account.username, account.id, found.superAdmin);
        match = matchUser(job, user, desired, withoutLogins(index, new Set([account.id])));
      } else member = found;
    }
    current = match ? await deps.site.getUser(match.account.id) : null;
    input.matchedBy = match?.by ?? null;
    if (!match) {
      // Not a member of the main site, so not in its index: an account elsewhere on the network.
      const lookup = await matchOnNetwork(ctx, user, desired);
      notByName ??= lookup.notByName;
      checked = lookup.logins;
      if (lookup.match) {
        const { account, by } = lookup.match;
        if (await protectedOnNetwork(ctx, account.id, account, null, false)) {
          return {
            item: itemFor(user, desired, { action: "skip", wpUserId: account.id, reason: "protected" }),
            map: null,
          };
        }
        // The adoption rules of a single site, on what the account may do on any site.
        const refused = planUser({ ...input, current: outsiderAsWpUser(account), matchedBy: by });
        if (refused.refusal) return { item: itemOf(refused, "failed", refused.refusal), map: null };
        if (refused.action === "skip") return { item: itemOf(refused, "ok"), map: null };
        if (ctx.run.dryRun) {
          const reason = `adopts network user ${account.id} (matched by ${by}), not a member of the main site yet: its fields are compared once it is`;
          return {
            item: itemFor(user, desired, { action: "update", wpUserId: account.id, status: "planned", reason }),
            map: null,
          };
        }
        try {
          if (main)
            await network.apply(account.id, [{ kind: "member", site: main.id, role: "" }], networkGuard(job, null));
        } catch (error) {
          return refusedItem(account.id, error);
        }
        current = await deps.site.getUser(account.id);
        member = {
          ...account,
          sites: new Map([...(main ? [[main.id, []] as [number, string[]]] : []), ...account.sites]),
        };
        input.matchedBy = by;
      }
    }
  }
  member ??= current ? await network.member(current.id) : null;
  const adopting = input.matchedBy !== null;
  if (current && member && (await protectedOnNetwork(ctx, current.id, member, written, !adopting))) {
    return { item: itemFor(user, desired, { action: "skip", wpUserId: current.id, reason: "protected" }), map: null };
  }
  // Adoption is refused for privileges held on any site of the network, not only on the main one.
  const judged = current && member && adopting ? withCapabilities(current, member.capabilities) : current;
  const plan = planUser({ ...input, current: judged });
  if (plan.refusal) return { item: itemOf(plan, "failed", plan.refusal), map: null };
  if (plan.action === "skip") return { item: itemOf(plan, "ok"), map: null };

  // A new account starts as a member of the main site without a role (what core REST's create does).
  const before: Map<number, string[]> = member?.sites ?? new Map(main ? [[main.id, []]] : []);
  const membershipsFrom = (current: ReadonlyMap<number, readonly string[]>) =>
    planMemberships(target, selected, wanted, current, {
      missing: job.actions.missing,
      protectedRoles: [],
      deactivated: mapEntry?.state === "deactivated",
    });
  let changes = membershipsFrom(before);
  const { roles: _fieldsOnly, ...fieldDiff } = plan.diff;
  const diff = { ...fieldDiff, ...membershipDiff(changes, before, all) };
  const fieldsChange = Object.keys(plan.write.fields).length > 0;
  if (plan.action !== "create" && plan.action !== "reactivate" && changes.length > 0 && !job.actions.update) {
    return {
      item: itemFor(user, desired, { action: "skip", wpUserId: plan.wpUserId, diff, reason: "updates disabled" }),
      map: null,
    };
  }
  const action =
    plan.action === "create" || plan.action === "reactivate"
      ? plan.action
      : fieldsChange || changes.length > 0
        ? "update"
        : "unchanged";
  let reason = plan.action === "create" && notByName !== null ? notByName : plan.reason;
  const outcome = (wpUserId: number | null, status: ItemInput["status"] = "ok"): ItemInput =>
    itemFor(user, desired, { action, wpUserId, diff, status, reason });
  if (ctx.run.dryRun) return { item: outcome(plan.wpUserId, "planned"), map: null };

  let wpUserId = plan.wpUserId;
  try {
    if (!mapEntry && wpUserId !== null) await claim(ctx, plan.entraId, { wpUserId }, claims);
    if (plan.action === "create") {
      // The main site's role goes with the create (one request less), when the job selects it.
      const mainRole = main ? wanted.get(main.id) : undefined;
      const created = await createAccount(ctx, user, plan, mainRole ? [mainRole] : [], claims, checked);
      wpUserId = created.id;
      if (notByName !== null) reason = `${notByName}: created with the login "${created.username}"`;
      // Planned again from what the create answered: a member of the main site with the roles sent.
      if (main) changes = membershipsFrom(new Map([[main.id, created.roles]]));
    } else if (fieldsChange) {
      await deps.site.updateUser(wpUserId!, { fields: plan.write.fields }, networkGuard(job, written));
    }
  } catch (error) {
    if (isUserError(error) || (await failedForThisUserOnly(ctx, error)))
      return { item: { ...outcome(wpUserId, "failed"), error: (error as Error).message }, map: null };
    throw error;
  }
  const map = accountMap(user, wpUserId!, hash, plan, desired, sites);
  try {
    await network.apply(wpUserId!, changes, networkGuard(job, written));
  } catch (error) {
    // The account exists (it may be new): remember it, with a hash that plans the memberships again next run.
    if (isUserError(error))
      return { item: { ...outcome(wpUserId, "failed"), error: (error as Error).message }, map: { ...map, hash: "" } };
    throw error;
  }
  return { item: outcome(wpUserId), map };
}

/**
 * A changed, mapped, active user written without reading it first (as a single site's updates
 * without a read, core/plan.ts assumedCurrent): planned against the user as the service last left
 * it (the map's fields and its role on each site), its memberships written by the plugin only while
 * the user still holds that on those sites, is no super admin and holds no protecting role on any
 * site (the protection check of the read path), then its fields by the conditional write of the
 * main site. Null, with nothing written, when the map cannot say or the user changed: the caller
 * then reads and plans as always. The protection check comes first, so a user who became protected
 * since is never written.
 */
async function syncWithoutRead(
  ctx: StepContext,
  at: {
    user: GraphUser;
    desired: Record<string, string>;
    input: Omit<PlanInput, "current">;
    wanted: ReadonlyMap<number, string>;
    hash: string;
    sites: WrittenSites;
  },
): Promise<UserOutcome | null> {
  const { job, deps } = ctx;
  const { user, desired, input, wanted } = at;
  const mapEntry = input.mapEntry!;
  const written = mapEntry.sites;
  if (ctx.run.dryRun || !deps.site.updateIfUnchanged || !job.actions.update || !written) return null;
  const id = mapEntry.wpUserId;
  if (isProtected(job, { id, roles: [], capabilities: [] }, input.selfId, [], input.grants)) return null;
  const assumed = assumedCurrent(input);
  if (!assumed) return null;
  const plan = planUser({ ...input, current: assumed.user });
  if (plan.action !== "update" && plan.action !== "unchanged") return null;
  const { all, selected } = await ctx.sites();
  // The sites the service wrote and still selects, as it left them.
  const before = new Map(
    Object.entries(written)
      .filter(([site]) => wanted.has(Number(site)))
      .map(([site, role]): [number, string[]] => [Number(site), role ? [role] : []]),
  );
  const changes = planMemberships(job.network!, selected, wanted, before, {
    missing: job.actions.missing,
    protectedRoles: [],
  });
  const assumption = { sites: before, noneOf: protectingRoles(job, []), own: written };
  const fail = (error: unknown): UserOutcome => ({
    item: {
      ...itemFor(user, desired, { action: "update", wpUserId: id, status: "failed" }),
      error: (error as Error).message,
    },
    map: null,
  });
  try {
    if ((await networkOf(ctx).applyAssuming(id, changes, assumption, networkGuard(job, written))) !== null) return null;
  } catch (error) {
    if (isUserError(error)) return fail(error);
    throw error;
  }
  let fieldsPlan = plan;
  try {
    if (Object.keys(plan.write.fields).length > 0) {
      const answer = await deps.site.updateIfUnchanged(id, "update", assumed.assumption, { fields: plan.write.fields });
      if (!answer?.applied) {
        // Someone changed the account's fields (or its main-site roles) since: plan them from what it holds.
        const current = answer?.before ?? (await deps.site.getUser(id));
        fieldsPlan = current ? planUser({ ...input, current }) : plan;
        if (!current || fieldsPlan.refusal || fieldsPlan.action === "skip") return null;
        if (Object.keys(fieldsPlan.write.fields).length > 0) {
          await deps.site.updateUser(id, { fields: fieldsPlan.write.fields }, networkGuard(job, written));
        }
      }
    }
  } catch (error) {
    if (isUserError(error) || (await failedForThisUserOnly(ctx, error))) return fail(error);
    throw error;
  }
  const { roles: _fieldsOnly, ...fieldDiff } = fieldsPlan.diff;
  const diff = { ...fieldDiff, ...membershipDiff(changes, before, all) };
  const action = Object.keys(diff).length > 0 ? "update" : "unchanged";
  return {
    item: itemFor(user, desired, { action, wpUserId: id, diff, reason: fieldsPlan.reason }),
    map: accountMap(user, id, at.hash, fieldsPlan, desired, at.sites),
  };
}

/**
 * The guard of a write to a network account (core/privileges.ts guardRoles): the job's roles and
 * those it wrote on any site. Its fields' writes are checked on the main site, where they are
 * written; its memberships' on every site it belongs to (the plugin's network routes).
 */
export function networkGuard(job: Job, written: WrittenSites | null | undefined): string[] {
  return guardRoles(job, writtenRoles(written));
}

/** The roles the service wrote on the network's sites ("" is a membership without one). */
function writtenRoles(written: WrittenSites | null | undefined): string[] {
  return Object.values(written ?? {}).filter((role) => role !== "");
}

/** The user map row of a network account: roles are per site on a network, so `sites` holds them. */
function accountMap(
  user: GraphUser,
  wpUserId: number,
  hash: string,
  plan: UserPlan,
  desired: Record<string, string>,
  sites: WrittenSites,
): MapWrite {
  return {
    entraId: user.id,
    wpUserId,
    hash,
    state: "active",
    email: plan.email,
    fields: desired,
    roles: [],
    granted: [],
    sites,
  };
}

/** The logins a new account of this user may get (core/network.ts), in the order they are tried. */
function networkLogins(job: Job, user: GraphUser): string[] {
  return [...new Set(usernameCandidates(job, user).map((candidate) => networkLoginCandidate(candidate, user.id)))];
}

/** Logins the network-wide lookup asked about: those it found an account for are taken. */
interface CheckedLogins {
  asked: ReadonlySet<string>;
  taken: ReadonlySet<string>;
}

/**
 * The unmapped user's account elsewhere on the network (a member of other sites only, or of none),
 * by the job's match order over the network-wide lookup, or null. The same request asks about the
 * logins a create would try, so a create needs no login check of its own.
 */
async function matchOnNetwork(
  ctx: StepContext,
  user: GraphUser,
  desired: Record<string, string>,
): Promise<{
  match: { account: NetworkAccount; by: MatchKey } | null;
  logins: CheckedLogins;
  notByName: string | null;
}> {
  const by = ctx.job.match.by;
  const candidates = networkLogins(ctx.job, user);
  const found = await networkOf(ctx).find({
    entraId: by.includes("entraId") ? user.id : "",
    emails: by.includes("email") ? emailsOf(ctx.job, user, desired) : [],
    logins: [...new Set([...(by.includes("username") ? [usernameCandidate(ctx.job, user)] : []), ...candidates])],
  });
  const lower = (login: string) => login.toLowerCase();
  const logins = { asked: new Set(candidates), taken: new Set(found.map((account) => lower(account.username))) };
  const accounts = new Map(found.map((account) => [account.id, account]));
  // Only the job's match keys adopt: an account found by a login a create would try is not this user's.
  // Nor does a login pick a protected account (a super admin "admin" and an Entra user admin@...).
  const shielded = new Set<number>();
  for (const account of found) {
    if (await protectedOnNetwork(ctx, account.id, account, null)) shielded.add(account.id);
  }
  const index = makeUserIndex(found.map(outsiderAsWpUser));
  const byName = matchUser(ctx.job, user, desired, index);
  const match = matchUser(ctx.job, user, desired, withoutLogins(index, shielded));
  const shunned =
    byName?.by === "username" && shielded.has(byName.account.id) ? accounts.get(byName.account.id)! : null;
  return {
    match: match ? { account: accounts.get(match.account.id)!, by: match.by } : null,
    logins,
    notByName: shunned && shunnedLogin(shunned.username, shunned.id, shunned.superAdmin),
  };
}

/**
 * Why a network user was not matched to the account its user name names. A user name is the weakest
 * of the match keys (a UPN prefix "admin" is nobody's proof of being the network's "admin"), and an
 * account the service may not touch would keep the Entra user skipped on every run: it gets an
 * account of its own instead, with a login the network accepts (networkLoginCandidate).
 */
function shunnedLogin(login: string, id: number, superAdmin: boolean): string {
  const what = superAdmin ? "a super admin" : "a protected account";
  return `not matched by user name to "${login}" (WordPress user ${id}), ${what}`;
}

/** What matching and the adoption rules read of an account found on the network (no fields: it is not readable yet). */
function outsiderAsWpUser(account: NetworkAccount): WpUser {
  const blank = { name: "", first_name: "", last_name: "", nickname: "", description: "", url: "" };
  return {
    ...blank,
    id: account.id,
    username: account.username,
    email: account.email,
    roles: [],
    capabilities: [...account.capabilities],
    meta: account.entraId ? { [ENTRA_ID_META]: account.entraId } : {},
  };
}

function withCapabilities(user: WpUser, capabilities: readonly string[]): WpUser {
  return { ...user, capabilities: [...new Set([...user.capabilities, ...capabilities])] };
}

/**
 * The mapped account on the main site. A member of the network that left the main site (a removal
 * by a job selecting it) is made a member again, without a role, so its fields can be read and
 * written; a dry run writes nothing, and plans a create instead.
 */
async function mappedAccount(
  ctx: StepContext,
  wpUserId: number,
  main: NetworkSite | undefined,
  guard: readonly string[],
): Promise<WpUser | null> {
  const { site } = ctx.deps;
  const found = await site.getUser(wpUserId);
  if (found || !main || ctx.run.dryRun) return found;
  try {
    await networkOf(ctx).member(wpUserId);
  } catch (error) {
    if (error instanceof UpstreamError && error.kind === "not-found") return null;
    throw error;
  }
  await networkOf(ctx).apply(wpUserId, [{ kind: "member", site: main.id, role: "" }], guard);
  return site.getUser(wpUserId);
}

/**
 * Creates the account on the main site with a login the network accepts (core/network.ts), free
 * on the whole network: checked before the POST, since a taken login answers a bare 400 (by the
 * lookup that found no account to adopt, else one request per login tried). The same Entra user
 * always derives the same login, so a re-created user gets its old name back when free.
 */
async function createAccount(
  ctx: StepContext,
  user: GraphUser,
  plan: UserPlan,
  roles: string[],
  claims: PageClaims,
  checked: CheckedLogins,
): Promise<WpUser> {
  const index = await ctx.index();
  const network = networkOf(ctx);
  const candidates = networkLogins(ctx.job, user);
  const takenOnNetwork = new Set<string>();
  const taken = (login: string) => takenOnNetwork.has(login) || claims.logins.has(login) || !!index.byLogin(login);
  let login: string;
  for (;;) {
    login = candidates.find((candidate) => !taken(candidate)) ?? uniqueUsername(candidates[0]!, taken, "");
    const problem = networkLoginProblem(login);
    if (problem) {
      throw new UpstreamError(`the network refuses the login "${login}": it ${problem}`, "wordpress", "invalid");
    }
    const takenThere = checked.asked.has(login) ? checked.taken.has(login) : await network.loginTaken(login);
    if (!takenThere) break;
    takenOnNetwork.add(login);
  }
  claims.logins.add(login);
  if (plan.write.fields.email) await claim(ctx, plan.entraId, { email: plan.write.fields.email }, claims);
  const created = await ctx.deps.site.createUser(login, { fields: plan.write.fields, roles }, plan.entraId);
  index.add(created);
  return created;
}

function itemFor(
  user: GraphUser,
  desired: Record<string, string>,
  what: Pick<ItemInput, "action" | "wpUserId"> & Partial<Pick<ItemInput, "diff" | "status" | "reason">>,
): ItemInput {
  return {
    entraId: user.id,
    wpUserId: what.wpUserId,
    action: what.action,
    status: what.status ?? "ok",
    diff: what.diff ?? {},
    email: desired.email ?? (typeof user.mail === "string" ? user.mail : null),
    displayName: typeof user.displayName === "string" ? user.displayName : null,
    reason: what.reason ?? null,
    error: null,
  };
}
