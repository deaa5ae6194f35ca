/**
 * A WordPress multisite network, through the companion plugin's network routes: core REST cannot
 * add an existing user to another site (400 "already registered"), remove one from a site, or
 * delete from the network (DELETE /wp/v2/users/{id} answers 501 on multisite). The plugin wraps
 * add_user_to_blog, remove_user_from_blog and wpmu_delete_user behind the capability checks
 * WordPress's own screens make (promote_user, remove_user, manage_network_users + delete_user).
 */
import { ConfigError, UpstreamError } from "../core/errors";
import type { MembershipAssumption, MembershipChange, NetworkSite } from "../core/network";
import type { NetworkAccount, NetworkMember } from "../sync/ports";
import { connectWordPress, type WordPressClient, type WordPressConnectionOptions } from "./client";

/** WP_URL is the network's main site. */
export type WordPressNetworkOptions = WordPressConnectionOptions;

/** Blog id -> the user's roles there; a site is listed when the user is a member (roles may be []). */
export type Memberships = Map<number, string[]>;

export interface WordPressNetwork {
  /**
   * The network's sites (deleted, archived and spam ones left out), after checking what a network
   * target needs: the companion plugin, a multisite WP_URL and a super admin WP_USERNAME. Called at
   * start-up and before every run (sites created later then count for "all").
   */
  sites(): Promise<NetworkSite[]>;
  memberships(userId: number): Promise<Memberships>;
  /** The user's memberships and super admin flag; UpstreamError kind "not-found" when no such user is on the network. */
  member(userId: number): Promise<NetworkMember>;
  /** Whether a login is taken anywhere on the network (core REST finds only members of one site). */
  loginTaken(login: string): Promise<boolean>;
  /** The network's accounts with this Entra id, e-mail or login, wherever they are members. */
  find(by: { entraId: string; emails: readonly string[]; logins: readonly string[] }): Promise<NetworkAccount[]>;
  /** Adds the user to the site, or sets the role of a member ("" = member without a role). */
  setMembership(siteId: number, userId: number, role: string): Promise<Memberships>;
  removeMembership(siteId: number, userId: number): Promise<Memberships>;
  /** wpmu_delete_user: removes the user from every site and the network. Super admins are refused; `guard` as apply's. */
  deleteFromNetwork(userId: number, guard?: readonly string[]): Promise<void>;
  /**
   * Writes a plan of planMemberships in order, a user's membership changes in one request; the
   * first refusal stops it (the next run redoes the rest). `guard`: as the batch's (sync/ports.ts).
   */
  apply(userId: number, changes: readonly MembershipChange[], guard: readonly string[]): Promise<void>;
  /** apply, only while the user holds `assumption` (the plugin checks it first): null when written, else the user as it is. */
  applyAssuming(
    userId: number,
    changes: readonly MembershipChange[],
    assumption: MembershipAssumption,
    guard: readonly string[],
  ): Promise<NetworkMember | null>;
}

const ROUTE = "/entra-wp-sync/v1/network";
/** The companion plugin's first version with everything a network run uses (1.7.1: the memberships' guard). */
const NETWORK_PLUGIN = [1, 7, 1] as const;

function atLeast(version: string, minimum: readonly number[]): boolean {
  const parts = version.split(".").map((part) => Number.parseInt(part, 10) || 0);
  for (let i = 0; i < minimum.length; i++) {
    if ((parts[i] ?? 0) !== minimum[i]) return (parts[i] ?? 0) > minimum[i]!;
  }
  return true;
}

/** The plugin's ENTRA_WP_SYNC_BATCH_MAX: changes one membership request may carry. */
const MEMBERSHIPS_PER_REQUEST = 100;

export function makeWordPressNetwork(options: WordPressNetworkOptions): WordPressNetwork {
  const client: WordPressClient = connectWordPress(options);
  const { setting } = client.context;
  const where = `${setting.url}=${client.context.url}`;

  async function sites(): Promise<NetworkSite[]> {
    let body: { version?: unknown; super_admin?: unknown; sites?: unknown };
    try {
      body = (await client.request({ method: "GET", route: ROUTE })).body as typeof body;
    } catch (error) {
      throw await explainNetworkRefusal(error);
    }
    if (body.super_admin !== true) throw notSuperAdmin();
    if (!Array.isArray(body.sites))
      throw new UpstreamError(`WordPress ${ROUTE}: no site list in the answer`, "wordpress", "config");
    const list = body.sites.map((site: { id: number; path: string; url: string; main?: unknown }) => ({
      id: Number(site.id),
      path: String(site.path),
      url: String(site.url),
      main: site.main === true,
    }));
    // Plugin 1.6.0 names its version here; before it, the sign-in block in the memberships route
    // would be ignored (a deactivated leaver could still sign in), and before 1.7.1 the guard (an
    // account given a privilege in WordPress would still be written), so older plugins are refused.
    if (typeof body.version !== "string" || !atLeast(body.version, NETWORK_PLUGIN)) {
      throw new ConfigError(
        `The companion plugin at ${where} is older than ${NETWORK_PLUGIN.join(".")}, which network jobs need ` +
          "(network login check, memberships per user, sign-in block of deactivated users, the guard of " +
          "membership writes): install the current " +
          "companion plugin (wordpress-plugin/entra-wp-sync/, network activated)",
      );
    }
    return list;
  }

  /** 404 on the network route: plugin missing, or not a network; 403: not a super admin. */
  async function explainNetworkRefusal(error: unknown): Promise<unknown> {
    if (!(error instanceof UpstreamError)) return error;
    if (error.details.status === 403) return notSuperAdmin();
    if (error.details.status !== 404) return error;
    try {
      await client.request({ method: "GET", route: "/entra-wp-sync/v1/status" });
    } catch {
      return new ConfigError(
        `The job targets a multisite network, but the companion plugin is not installed at ${where}: core REST ` +
          "cannot add an existing user to another site, remove one from a site or delete from the network " +
          "(copy wordpress-plugin/entra-wp-sync/ to wp-content/plugins/ and network activate it)",
      );
    }
    return new ConfigError(
      `The job targets a multisite network, but ${where} is a single WordPress site (remove "network" from the job)`,
    );
  }

  function notSuperAdmin(): ConfigError {
    return new ConfigError(
      `${setting.username}=${options.username} must be a super admin of the network at ${where}: on a network only super ` +
        "admins create users, and adding, removing and deleting users across sites needs manage_network_users",
    );
  }

  async function member(userId: number): Promise<NetworkMember> {
    const { body } = await client.request({ method: "GET", route: `${ROUTE}/users/${userId}` });
    return toMember(body);
  }

  async function memberships(userId: number): Promise<Memberships> {
    return (await member(userId)).sites;
  }

  async function loginTaken(login: string): Promise<boolean> {
    const { body } = await client.request({ method: "GET", route: `${ROUTE}/logins`, query: { login } });
    return (body as { taken?: unknown } | null)?.taken === true;
  }

  async function find(by: {
    entraId: string;
    emails: readonly string[];
    logins: readonly string[];
  }): Promise<NetworkAccount[]> {
    // Lists as WordPress reads them in a query string: comma-separated (no e-mail or login has a comma).
    const query = { entra_id: by.entraId, email: by.emails.join(","), login: by.logins.join(",") };
    const { body } = await client.request({ method: "GET", route: `${ROUTE}/users`, query });
    const users = (body as { users?: unknown } | null)?.users;
    if (!Array.isArray(users))
      throw new UpstreamError(`WordPress ${ROUTE}/users: no user list`, "wordpress", "transient");
    return users.map((u: { id?: unknown; username?: unknown; email?: unknown; entra_id?: unknown }) => ({
      ...toMember(u),
      id: Number(u.id),
      username: String(u.username ?? ""),
      email: String(u.email ?? ""),
      entraId: String(u.entra_id ?? ""),
    }));
  }

  async function setMembership(siteId: number, userId: number, role: string): Promise<Memberships> {
    const route = `${ROUTE}/sites/${siteId}/members/${userId}`;
    return toMemberships((await client.request({ method: "POST", route, body: { role } })).body);
  }

  async function removeMembership(siteId: number, userId: number): Promise<Memberships> {
    const route = `${ROUTE}/sites/${siteId}/members/${userId}`;
    return toMemberships((await client.request({ method: "DELETE", route })).body);
  }

  async function deleteFromNetwork(userId: number, guard?: readonly string[]): Promise<void> {
    // Lists as WordPress reads them in a query string: comma-separated (no role name has a comma).
    const query = guard === undefined ? undefined : { guard: guard.join(",") };
    await client.request({ method: "DELETE", route: `${ROUTE}/users/${userId}`, ...(query ? { query } : {}) });
  }

  /**
   * A user's membership changes in one request per MEMBERSHIPS_PER_REQUEST (the plugin applies
   * them in order and stops at the first refusal), the sign-in block with the first one (the plugin
   * sets or clears it before any membership); a network delete on its own. Each change is
   * idempotent, so a retried request redoes nothing twice.
   */
  async function apply(userId: number, changes: readonly MembershipChange[], guard: readonly string[]): Promise<void> {
    await write(userId, changes, undefined, guard);
  }

  async function applyAssuming(
    userId: number,
    changes: readonly MembershipChange[],
    assumption: MembershipAssumption,
    guard: readonly string[],
  ): Promise<NetworkMember | null> {
    const expect = {
      sites: Object.fromEntries([...assumption.sites].map(([site, roles]) => [String(site), roles])),
      none_of: assumption.noneOf,
      own: assumption.own,
    };
    return write(userId, changes, expect, guard);
  }

  /**
   * The first request carries the sign-in block, the assumption and the guard (each later one the
   * guard again: a privilege given between two requests refuses the rest); a network delete its own
   * guard. Null when all was written, else the user as it is.
   */
  async function write(
    userId: number,
    changes: readonly MembershipChange[],
    expect: object | undefined,
    guard: readonly string[],
  ): Promise<NetworkMember | null> {
    const sites = changes.flatMap(
      (change): Array<{ site: number; role?: string; remove?: true }> =>
        change.kind === "member"
          ? [{ site: change.site, role: change.role }]
          : change.kind === "remove"
            ? [{ site: change.site, remove: true }]
            : [],
    );
    const block = changes.find((change) => change.kind === "deactivate" || change.kind === "reactivate");
    let first: { deactivated?: boolean; expect?: object } | null = {
      deactivated: block ? block.kind === "deactivate" : undefined,
      expect,
    };
    const needsFirst = first.deactivated !== undefined || expect !== undefined;
    for (let from = 0; from < sites.length || (first && needsFirst); from += MEMBERSHIPS_PER_REQUEST) {
      const body = { changes: sites.slice(from, from + MEMBERSHIPS_PER_REQUEST), guard, ...first };
      const answer = await client.request({ method: "POST", route: `${ROUTE}/users/${userId}/memberships`, body });
      if ((answer.body as { applied?: unknown } | null)?.applied === false) return toMember(answer.body);
      first = null;
    }
    if (changes.some((change) => change.kind === "delete")) await deleteFromNetwork(userId, guard);
    return null;
  }

  return {
    sites,
    memberships,
    member,
    loginTaken,
    find,
    setMembership,
    removeMembership,
    deleteFromNetwork,
    apply,
    applyAssuming,
  };
}

function toMember(body: unknown): NetworkMember {
  const b = body as { super_admin?: unknown; deactivated?: unknown; capabilities?: unknown } | null;
  const capabilities = Array.isArray(b?.capabilities) ? b.capabilities.filter((c) => typeof c === "string") : [];
  return {
    superAdmin: b?.super_admin === true,
    deactivated: b?.deactivated === true,
    capabilities,
    sites: toMemberships(body),
  };
}

function toMemberships(body: unknown): Memberships {
  const sites = (body as { sites?: Record<string, unknown> } | null)?.sites ?? {};
  const out: Memberships = new Map();
  for (const [id, roles] of Object.entries(sites)) {
    out.set(Number(id), Array.isArray(roles) ? roles.filter((r): r is string => typeof r === "string") : []);
  }
  return out;
}
