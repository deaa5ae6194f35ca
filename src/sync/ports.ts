/**
 * The two narrow interfaces the engine owns for the outside world: Directory (Microsoft Graph,
 * implemented in src/graph) and Site (WordPress REST, src/wordpress); tests and benches swap in
 * simulators, and the composition root (src/runtime.ts) wires the real ones. The engine speaks no
 * HTTP. Its store is not behind a port: steps call the repositories of src/db directly, because a
 * step commits runs, items and the user map in one transaction (all SQL still lives in src/db).
 * Failures are thrown as UpstreamError (src/core/errors.ts) with a `kind`.
 */
import type { MembershipAssumption, MembershipChange, NetworkSite } from "../core/network";
import type { Assumption } from "../core/plan";
import type { GraphUser, WpUser, WpWrite } from "../core/users";

/** The wall-clock limit of the current step: waits (Retry-After, backoff) never run past it. */
export interface Budget {
  deadline: number; // epoch ms
}

export interface UsersQuery {
  mode: "full" | "delta";
  /** Graph $filter (full mode only; Graph delta supports no useful filter). */
  filter: string | null;
  /** $top, 1..999 (full mode only; delta page size is Graph's choice). */
  pageSize: number;
  /** $select: always includes id, accountEnabled, userType, mail, userPrincipalName. */
  select: string[];
}

export interface UsersPage {
  /** Users present on this page and enabled (accountEnabled !== false). */
  users: GraphUser[];
  /** Ids that delta reports @removed, plus users on this page with accountEnabled:false (both modes). */
  removed: string[];
  /** Absolute @odata.nextLink: the only cursor. null on the last page. */
  nextLink: string | null;
  /** @odata.deltaLink on the last page of a delta listing, else null. */
  deltaLink: string | null;
  /** @odata.count when Graph returned it (first page with $count=true), else null. */
  totalCount: number | null;
}

export interface Directory {
  /**
   * One page of users. cursor null starts the listing; in delta mode the engine passes the
   * stored deltaLink as cursor (or null for the initial delta). Throws UpstreamError kind
   * "delta-expired" (410, or 400 syncStateNotFound/resyncRequired), "page-expired"
   * (Directory_ExpiredPageToken), "throttled"/"transient" (retries exhausted), "auth"/"config".
   */
  fetchUsersPage(query: UsersQuery, cursor: string | null, budget: Budget): Promise<UsersPage>;
  /** One page of a group's transitive members that are users (ids only). */
  fetchGroupMembersPage(
    groupId: string,
    cursor: string | null,
    budget: Budget,
  ): Promise<{ userIds: string[]; nextLink: string | null }>;
  /**
   * The users among `ids` (at most ID_BATCH) that the job's query returns now: `users` enabled and
   * in the filter, `removed` the rest of `ids` (deleted, disabled or out of the filter). No cursor.
   */
  fetchUsersById(query: UsersQuery, ids: string[], budget: Budget): Promise<UsersPage>;
  /** One user by id (provision on demand); null when Graph says 404. */
  fetchUser(id: string, select: string[], budget: Budget): Promise<GraphUser | null>;
  /** Which of groupIds the user is a transitive member of (checkMemberGroups, for one user). */
  userGroups(id: string, groupIds: string[], budget: Budget): Promise<string[]>;
  /** The user's profile photo at PHOTO_SIZE (src/core/photo.ts); null when the user has none (404). */
  fetchPhoto(id: string, budget: Budget): Promise<Uint8Array | null>;
}

export interface SiteInfo {
  /** The service's own WordPress account: never modified or removed. */
  selfId: number;
  /** The companion plugin is installed: entra_object_id meta, exact filter, login block. */
  companionPlugin: boolean;
  /** Role -> capabilities as the companion plugin reports them; null without it (core roles are assumed). */
  roles: Readonly<Record<string, readonly string[]>> | null;
}

export interface Site {
  /** Checks the credentials (GET /users/me); UpstreamError kind "auth" names WP_URL/WP_USERNAME. */
  info(): Promise<SiteInfo>;
  /** One page (100 users) of GET /wp/v2/users?context=edit, for building a match index. */
  listUsers(page: number): Promise<{ users: WpUser[]; totalPages: number }>;
  getUser(id: number): Promise<WpUser | null>;
  /** Exact, case-insensitive lookup by e-mail or login (search is a substring match: compared client-side). */
  findUser(by: { email?: string; username?: string }): Promise<WpUser | null>;
  /** With the companion plugin: exact match on the entra_object_id meta; null without it. */
  findByEntraId(entraId: string): Promise<WpUser | null>;
  /** Create with a strong random password (never logged). Throws kind "exists" (code existing_user_login/email). */
  createUser(username: string, write: WpWrite, entraId: string): Promise<WpUser>;
  /**
   * The writes to an existing account take an optional `guard`: the roles whose capabilities the
   * account may hold (core/privileges.ts guardRoles). A guarded write is refused, with UpstreamError
   * kind "invalid" and code PROTECTED_CODE naming the capabilities, when the account holds an
   * elevated capability beyond them at the time of the write (a privilege given in WordPress after
   * the engine read the user). With the companion plugin the plugin checks it inside the write's
   * transaction; without it WordPress has no conditional write, and the site reads the user's
   * capabilities right before the write (src/wordpress/site.ts guardCheck, updateCheckedByRead).
   */
  updateUser(id: number, write: WpWrite, guard?: readonly string[]): Promise<WpUser>;
  /** Remove all roles and (with the companion plugin) flag the user so login is blocked. */
  deactivateUser(id: number, guard?: readonly string[]): Promise<void>;
  /** Clear the deactivation flag and set roles. */
  reactivateUser(id: number, write: WpWrite, guard?: readonly string[]): Promise<WpUser>;
  /**
   * Optional: an update or reactivation written only while WordPress still holds `assumption` of the
   * user (compared by the site inside the write's transaction, its guard included), so the engine
   * needs no read first. Answers the user as it was before (null: no such user), and after when
   * applied; null when the
   * site cannot check the assumption (a field WordPress does not show over REST): the engine then
   * reads the user first. Without the plugin's batch the site checks it on a read right before the write.
   */
  updateIfUnchanged?(
    id: number,
    kind: "update" | "reactivate",
    assumption: Assumption,
    write: WpWrite,
  ): Promise<ConditionalWrite | null>;
  /**
   * Optional: how many users' writes the site sends together (batch size x batches in flight) when
   * it batches them, so that the engine works on at least that many users of a page at once and the
   * batches fill; null when every write is its own request.
   */
  writesAtOnce?(): Promise<number | null>;
  /** DELETE ?force=true&reassign=<reassignTo>. */
  deleteUser(id: number, reassignTo: number, guard?: readonly string[]): Promise<void>;
  /**
   * With the companion plugin: stores the photo as the user's avatar, or removes it (null), so
   * WordPress shows its default. False without the plugin (nothing written).
   */
  setAvatar(id: number, photo: Uint8Array | null): Promise<boolean>;
}

export type ConditionalWrite =
  | { applied: true; before: WpUser; user: WpUser }
  | { applied: false; before: WpUser | null };

/** A network user: blog id -> roles for each site it belongs to (roles may be []), and whether a super admin. */
export interface NetworkMember {
  superAdmin: boolean;
  /** The companion plugin's sign-in block is set (network-wide). */
  deactivated: boolean;
  /** Capabilities that manage users, the site or others' content (core/privileges.ts) it holds on any site. */
  capabilities: string[];
  sites: Map<number, string[]>;
}

/** An account anywhere on the network, as the network-wide lookup finds it. */
export interface NetworkAccount extends NetworkMember {
  id: number;
  username: string;
  email: string;
  /** The entra_object_id the companion plugin stored on it; "" when none. */
  entraId: string;
}

/**
 * A WordPress multisite network (WP_URL is its main site), through the companion plugin's network
 * routes: the Site port still reads and writes the user records (network-wide) on the main site.
 */
export interface Network {
  /** Every site (deleted, archived and spam ones left out); ConfigError without the plugin or a super admin. */
  sites(): Promise<NetworkSite[]>;
  /** The user's memberships; kind "not-found" when the user is not on the network. */
  member(userId: number): Promise<NetworkMember>;
  /** Whether a login is taken anywhere on the network. */
  loginTaken(login: string): Promise<boolean>;
  /** The network's accounts with this Entra id, one of these e-mails or logins (members of any site, or of none). */
  find(by: { entraId: string; emails: readonly string[]; logins: readonly string[] }): Promise<NetworkAccount[]>;
  /**
   * Writes a plan of core/network.ts planMemberships in order; the first refusal stops it. `guard`
   * (core/privileges.ts guardRoles): the plugin writes nothing while the user holds, on any site, an
   * elevated capability beyond what these roles grant (UpstreamError "invalid", code
   * entra_wp_sync_protected), checked in the write's transaction.
   */
  apply(userId: number, changes: readonly MembershipChange[], guard: readonly string[]): Promise<void>;
  /**
   * apply, only while the user still holds `assumption` and passes `guard` (checked by the plugin
   * before anything is written): null when written, else the user as it is, with nothing written.
   */
  applyAssuming(
    userId: number,
    changes: readonly MembershipChange[],
    assumption: MembershipAssumption,
    guard: readonly string[],
  ): Promise<NetworkMember | null>;
}

/** What the service asks Graph to send to its notification endpoints (POST /subscriptions). */
export interface SubscriptionRequest {
  resource: string;
  changeType: string;
  notificationUrl: string;
  lifecycleNotificationUrl: string;
  clientState: string;
  expirationDateTime: Date;
}

/**
 * Microsoft Graph change-notification subscriptions. Errors are UpstreamError; renew and remove of
 * a subscription Graph no longer knows throw kind "not-found".
 */
export interface Subscriptions {
  create(request: SubscriptionRequest, budget: Budget): Promise<{ id: string; expiresAt: Date }>;
  renew(id: string, expirationDateTime: Date, budget: Budget): Promise<{ expiresAt: Date }>;
  remove(id: string, budget: Budget): Promise<void>;
}
