/**
 * WordPress multisite networks: which sites a job reaches, the role a user gets on each, and the
 * logins a network accepts. Pure rules; the network's sites come from the companion plugin
 * (src/wordpress/network.ts).
 */
import { ConfigError } from "./errors";
import type { MissingAction, NetworkTarget, SiteSelector } from "./job";
import { isMember } from "./roles";

export interface NetworkSite {
  id: number;
  /** "/", "/hr/", ... (subdirectory networks); on subdomain networks "/" for every site. */
  path: string;
  url: string;
  /** The network's main site (WP_URL): every user the service creates starts as a member of it. */
  main: boolean;
}

export function describeSelector(selector: SiteSelector): string {
  return typeof selector === "number" ? `site id ${selector}` : `site "${selector}"`;
}

function matches(site: NetworkSite, selector: SiteSelector): boolean {
  return typeof selector === "number" ? site.id === selector : site.path === selector;
}

/**
 * The sites a job writes to, from the network's current list (so "all" includes new sites). A
 * selector that names no site fails with the job and the selector: a typo must not silently skip
 * a site, nor drop the memberships a run would otherwise keep there.
 */
export function selectSites(jobId: string, target: NetworkTarget, sites: readonly NetworkSite[]): NetworkSite[] {
  const named = [
    ...(target.sites === "all" ? [] : target.sites),
    ...target.siteDefaults.map((entry) => entry.site),
    ...target.groups.map((entry) => entry.site),
  ];
  for (const selector of named) {
    if (!sites.some((site) => matches(site, selector))) {
      const known = sites.map((site) => `${site.path} (id ${site.id})`).join(", ");
      throw new ConfigError(
        `job "${jobId}": network names ${describeSelector(selector)}, which is not a site of the network (sites: ${known})`,
      );
    }
  }
  if (target.sites === "all") return [...sites];
  const selectors = target.sites;
  return sites.filter((site) => selectors.some((selector) => matches(site, selector)));
}

/** Blog id -> role ("" = member without a role) for a user in the job's scope, on each selected site. */
export function rolesPerSite(
  target: NetworkTarget,
  sites: readonly NetworkSite[],
  groupIds: ReadonlySet<string>,
): Map<number, string> {
  const roles = new Map<number, string>();
  for (const site of sites) {
    const mapped = target.groups.find((entry) => matches(site, entry.site) && isMember(groupIds, entry.group));
    const siteDefault = target.siteDefaults.find((entry) => matches(site, entry.site));
    roles.set(site.id, mapped?.role ?? siteDefault?.role ?? target.defaultRole);
  }
  return roles;
}

/** wpmu_validate_user_signup's default illegal_names (wp-includes/ms-functions.php). */
export const RESERVED_LOGINS: readonly string[] = [
  "www",
  "web",
  "root",
  "admin",
  "main",
  "invite",
  "administrator",
  "files",
  "blog",
];
const MAX_NETWORK_LOGIN = 60;

/**
 * Why a network refuses this login (wpmu_validate_user_signup), or null: lowercase a-z and 0-9
 * only, at least 4 characters, not all digits, not a reserved name. Checked before every POST so a
 * refusal names the rule instead of WordPress's 400 "user_name".
 */
export function networkLoginProblem(login: string, reserved: readonly string[] = RESERVED_LOGINS): string | null {
  if (!/^[a-z0-9]+$/.test(login)) return "must be lowercase letters a-z and digits only";
  if (login.length < 4) return "must be at least 4 characters";
  if (login.length > MAX_NETWORK_LOGIN) return `must be at most ${MAX_NETWORK_LOGIN} characters`;
  if (/^[0-9]+$/.test(login)) return "must not be all digits";
  if (reserved.includes(login)) return "is a reserved name on the network";
  return null;
}

/**
 * A login a network accepts, derived from the job's candidate (usernameCandidate: UPN, its prefix
 * or the e-mail, already reduced to what sanitize_user keeps): everything but a-z0-9 dropped, so
 * `John.Doe@contoso.com` becomes `johndoecontosocom` with rule "upn" and `johndoe` with
 * "upnPrefix". Too short, reserved or nothing left: the object id's first hex digits are appended,
 * which keeps the name stable across runs. All digits: prefixed with "u". Made unique with
 * uniqueUsername(login, taken, "") (a network login takes no "-"; logins are network-wide).
 */
export function networkLoginCandidate(candidate: string, entraId: string): string {
  let login = candidate.toLowerCase().replace(/[^a-z0-9]/g, "");
  if (/^[0-9]+$/.test(login)) login = `u${login}`;
  if (login.length < 4 || RESERVED_LOGINS.includes(login)) {
    login = `${login || "user"}${entraId
      .replace(/[^0-9a-f]/gi, "")
      .toLowerCase()
      .slice(0, 8)}`;
  }
  return login.slice(0, MAX_NETWORK_LOGIN);
}

/**
 * One write on a network: a membership with a role (added or changed), a removal, a network delete,
 * or the companion plugin's sign-in block (its deactivated flag: user meta, so network-wide) set or
 * cleared. The block always comes first in a plan: a leaver is refused at sign-in before its roles
 * go, and a returning user is let in again before it gets roles (the plugin gives a blocked user none).
 */
export type MembershipChange =
  | { kind: "member"; site: number; role: string }
  | { kind: "remove"; site: number }
  | { kind: "delete" }
  | { kind: "deactivate" }
  | { kind: "reactivate" };

/**
 * What a membership plan read of the user, as a condition the companion plugin checks before it
 * writes (so the service need not read the user first): exactly `sites`' roles on those sites ([] =
 * a member without a role), none of `noneOf` on any site except the role `own` names for that site,
 * not a super admin and not deactivated.
 */
export interface MembershipAssumption {
  sites: ReadonlyMap<number, readonly string[]>;
  noneOf: readonly string[];
  own: Readonly<Record<string, string>>;
}

/**
 * What to write for one user, from the memberships WordPress reports (blog id -> roles) to what the
 * job wants: `desired` (blog id -> role, from rolesPerSite) for a user in scope, or null for a
 * leaver, who loses the roles ("deactivate"), the memberships, or the account ("delete" with
 * deleteFromNetwork) on the selected sites. A deactivated leaver is also blocked from signing in on
 * every site of the network (one account, one login), and unblocked when it returns
 * (`policy.deactivated`: the job deactivated it). Sites the job does not select keep their
 * memberships and roles, and a user holding a protected role on any site is never touched. Nothing
 * to write is an empty list, so a re-run of unchanged users costs no write.
 */
export function planMemberships(
  target: NetworkTarget,
  selected: readonly NetworkSite[],
  desired: ReadonlyMap<number, string> | null,
  current: ReadonlyMap<number, readonly string[]>,
  policy: { missing: MissingAction; protectedRoles: readonly string[]; deactivated?: boolean },
): MembershipChange[] {
  for (const roles of current.values()) {
    if (roles.some((role) => policy.protectedRoles.includes(role))) return [];
  }
  if (desired === null) {
    if (policy.missing === "none") return [];
    if (policy.missing === "delete" && target.deleteFromNetwork) return [{ kind: "delete" }];
    const members = selected.filter((site) => current.has(site.id));
    if (policy.missing === "delete") return members.map((site) => ({ kind: "remove", site: site.id }));
    return [
      { kind: "deactivate" },
      ...members
        .filter((site) => (current.get(site.id) ?? []).length > 0)
        .map((site): MembershipChange => ({ kind: "member", site: site.id, role: "" })),
    ];
  }
  const changes: MembershipChange[] = policy.deactivated ? [{ kind: "reactivate" }] : [];
  for (const site of selected) {
    const role = desired.get(site.id);
    if (role === undefined) continue;
    const have = current.get(site.id);
    const want = role === "" ? [] : [role];
    if (have === undefined || have.length !== want.length || !want.every((r) => have.includes(r))) {
      changes.push({ kind: "member", site: site.id, role });
    }
  }
  return changes;
}
