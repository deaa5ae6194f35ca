/**
 * The engine's Directory port over Microsoft Graph. One HTTP request per page: the absolute
 * @odata.nextLink (or deltaLink) is the only cursor, persisted by the engine between steps.
 */
import type { TokenCredential } from "@azure/identity";
import { type Client, ResponseType } from "@microsoft/microsoft-graph-client";
import { UpstreamError } from "../core/errors";
import { PHOTO_SIZE } from "../core/photo";
import type { GraphUser } from "../core/users";
import { attemptTimeout } from "../net/deadline";
import type { Budget, Directory, Subscriptions, UsersPage, UsersQuery } from "../sync/ports";
import { makeGraphClient } from "./client";
import { makeCredential } from "./credential";
import { AZURE_SETTING, type GraphDirectoryOptions } from "./options";
import { byIdsQuery, deltaUrl, needsAdvancedQuery, selectParams, usersUrl, validatePageSize } from "./queries";
import { type RetryPolicy, withRetries as retrying } from "./retry";

interface Collection {
  value?: Array<Record<string, unknown>>;
  "@odata.nextLink"?: string;
  "@odata.deltaLink"?: string;
  "@odata.count"?: number;
}

/** Graph caps checkMemberGroups at 20 group ids per request (user-checkmembergroups.md). */
const CHECK_MEMBER_GROUPS_MAX = 20;

/** The directory, plus the change-notification subscriptions made with the same client. */
export type GraphDirectory = Directory & { subscriptions: Subscriptions };

export function makeGraphDirectory(options: GraphDirectoryOptions): GraphDirectory {
  const base = new URL(options.graphBaseUrl).origin;
  // The credential holds the tenant's token cache (MSAL's, in memory): a new one starts empty.
  let credential: TokenCredential | null = makeCredential(options);
  let client: Client | null = null;
  let dropped = 0;
  // Built on first use so a directory that is never called costs no sockets.
  const graph = () => {
    credential ??= makeCredential(options);
    client ??= makeGraphClient(credential, options);
    return client;
  };
  const policy: RetryPolicy = {
    maxRetries: options.maxRetries ?? 4,
    maxRetryAfterMs: options.maxRetryAfterMs ?? 60_000,
    baseDelayMs: options.retryBaseDelayMs ?? 500,
    maxBackoffMs: 30_000,
    metrics: options.metrics ?? {},
  };
  const setting = options.setting ?? AZURE_SETTING;

  /**
   * Graph answers 401 to a token it no longer takes (the secret rotated, consent withdrawn, the
   * token revoked) although MSAL would keep handing out the cached one until it expires, up to an
   * hour. So a 401 drops this tenant's token (a new credential: an empty cache) and the call is
   * made once more with a fresh one; only a second refusal fails it. Calls in flight with the same
   * stale token drop it once between them (`dropped` counts the drops: each call knows the count it started with).
   */
  async function withRetries<T>(what: string, budget: Budget, policy: RetryPolicy, call: () => Promise<T>): Promise<T> {
    const used = dropped;
    try {
      return await retrying(what, budget, policy, call);
    } catch (error) {
      if (!rejectedToken(error)) throw error;
      if (dropped === used) {
        dropped++;
        options.logger.warn(
          `Graph refused the access token for ${setting.tenantId}=${options.tenantId} (HTTP 401): asking Entra for a fresh one`,
        );
        credential = null;
        client = null;
      }
      try {
        return await retrying(what, budget, policy, call);
      } catch (again) {
        throw rejectedToken(again) ? refusedTwice(again as UpstreamError) : again;
      }
    }
  }

  function refusedTwice(error: UpstreamError): UpstreamError {
    return new UpstreamError(
      `${error.message}. A fresh access token was refused too: the app (${setting.clientId}=${options.clientId}) is no longer allowed to read tenant ${setting.tenantId}=${options.tenantId}; check its admin consent and ${options.certificatePath ? setting.certificatePath : setting.clientSecret}`,
      error.source,
      error.kind,
      error.details,
    );
  }

  async function get(
    what: string,
    url: string,
    budget: Budget,
    headers: Record<string, string> = {},
  ): Promise<Collection> {
    return withRetries(what, budget, policy, () =>
      graph().api(url).headers(headers).option("signal", timeoutSignal(budget)).get(),
    );
  }

  const subscriptions: Subscriptions = {
    async create(request, budget) {
      const body = { ...request, expirationDateTime: request.expirationDateTime.toISOString() };
      // Not retried blindly: a create that timed out may exist in Graph. It expires unrenewed, and
      // its notifications are refused (its clientState was never stored).
      const created: { id: string; expirationDateTime: string } = await withRetries(
        `subscription on ${request.resource}`,
        budget,
        { ...policy, maxRetries: 0 },
        () => graph().api(`${base}/v1.0/subscriptions`).option("signal", timeoutSignal(budget)).post(body),
      );
      return { id: created.id, expiresAt: new Date(created.expirationDateTime) };
    },
    async renew(id, expirationDateTime, budget) {
      const url = `${base}/v1.0/subscriptions/${encodeURIComponent(id)}`;
      const renewed: { expirationDateTime: string } = await withRetries(
        `renewal of subscription ${id}`,
        budget,
        policy,
        () =>
          graph()
            .api(url)
            .option("signal", timeoutSignal(budget))
            .patch({ expirationDateTime: expirationDateTime.toISOString() }),
      );
      return { expiresAt: new Date(renewed.expirationDateTime) };
    },
    async remove(id, budget) {
      const url = `${base}/v1.0/subscriptions/${encodeURIComponent(id)}`;
      try {
        await withRetries(`deletion of subscription ${id}`, budget, policy, () =>
          graph().api(url).option("signal", timeoutSignal(budget)).delete(),
        );
      } catch (error) {
        if (!(error instanceof UpstreamError && error.kind === "not-found")) throw error;
      }
    },
  };

  return {
    subscriptions,
    async fetchUsersById(query: UsersQuery, ids: string[], budget: Budget): Promise<UsersPage> {
      const byIds = byIdsQuery(query, ids);
      const advanced = needsAdvancedQuery(byIds.filter);
      const headers: Record<string, string> = advanced ? { ConsistencyLevel: "eventual" } : {};
      const page = toUsersPage(await get("users by id", usersUrl(base, byIds, advanced), budget, headers));
      const returned = new Set([...page.users.map((user) => user.id), ...page.removed]);
      return { ...page, removed: [...page.removed, ...ids.filter((id) => !returned.has(id))], nextLink: null };
    },

    async fetchUsersPage(query: UsersQuery, cursor: string | null, budget: Budget): Promise<UsersPage> {
      if (query.mode === "delta") {
        const page = await get("users delta", cursor ?? deltaUrl(base, query), budget).catch((error: unknown) => {
          throw explainDeltaRefusal(error);
        });
        return toUsersPage(page);
      }
      validatePageSize(query.pageSize);
      const advanced = needsAdvancedQuery(query.filter);
      // Graph does not carry ConsistencyLevel into nextLinks: it must be sent on every page.
      const headers: Record<string, string> = advanced ? { ConsistencyLevel: "eventual" } : {};
      const page = await get("users listing", cursor ?? usersUrl(base, query, advanced), budget, headers);
      return toUsersPage(page);
    },

    async fetchGroupMembersPage(groupId: string, cursor: string | null, budget: Budget) {
      const first = `${base}/v1.0/groups/${encodeURIComponent(groupId)}/transitiveMembers?$select=id&$top=999`;
      const page = await get(`transitive members of group ${groupId}`, cursor ?? first, budget);
      // Nested groups (and devices, contacts) are members too; only users are in scope.
      const userIds = (page.value ?? [])
        .filter((m) => m["@odata.type"] === "#microsoft.graph.user")
        .map((m) => String(m["id"]));
      return { userIds, nextLink: page["@odata.nextLink"] ?? null };
    },

    async fetchUser(id: string, select: string[], budget: Budget): Promise<GraphUser | null> {
      const url = `${base}/v1.0/users/${encodeURIComponent(id)}?${selectParams(select)}`;
      try {
        const user = (await get(`user ${id}`, url, budget)) as Record<string, unknown>;
        delete user["@odata.context"];
        return user as GraphUser;
      } catch (error) {
        if (error instanceof UpstreamError && error.kind === "not-found") return null;
        throw error;
      }
    },

    async fetchPhoto(id: string, budget: Budget): Promise<Uint8Array | null> {
      const url = `${base}/v1.0/users/${encodeURIComponent(id)}/photos/${PHOTO_SIZE}/$value`;
      try {
        const bytes: ArrayBuffer = await withRetries(`photo of user ${id}`, budget, policy, () =>
          graph().api(url).responseType(ResponseType.ARRAYBUFFER).option("signal", timeoutSignal(budget)).get(),
        );
        return new Uint8Array(bytes);
      } catch (error) {
        // ImageNotFound: no photo (or none of this size); the user keeps WordPress's default avatar.
        if (error instanceof UpstreamError && error.kind === "not-found") return null;
        throw error;
      }
    },

    async userGroups(id: string, groupIds: string[], budget: Budget): Promise<string[]> {
      const found: string[] = [];
      const url = `${base}/v1.0/users/${encodeURIComponent(id)}/checkMemberGroups`;
      for (let i = 0; i < groupIds.length; i += CHECK_MEMBER_GROUPS_MAX) {
        const chunk = groupIds.slice(i, i + CHECK_MEMBER_GROUPS_MAX);
        try {
          const reply: Collection = await withRetries(`group check for user ${id}`, budget, policy, () =>
            graph().api(url).option("signal", timeoutSignal(budget)).post({ groupIds: chunk }),
          );
          for (const g of reply.value ?? []) found.push(String(g));
        } catch (error) {
          // A user deleted since the page was read is in no group.
          if (error instanceof UpstreamError && error.kind === "not-found") return [];
          throw error;
        }
      }
      return found;
    },
  };
}

/** Graph's 401: the token was refused (a 401 from the token endpoint is a credential failure, without a status). */
function rejectedToken(error: unknown): boolean {
  return error instanceof UpstreamError && error.kind === "auth" && error.details.status === 401;
}

function toUsersPage(page: Collection): UsersPage {
  const users: GraphUser[] = [];
  const removed: string[] = [];
  for (const item of page.value ?? []) {
    const id = String(item["id"]);
    if (item["@removed"] !== undefined || item["accountEnabled"] === false) removed.push(id);
    else users.push(item as GraphUser);
  }
  return {
    users,
    removed,
    nextLink: page["@odata.nextLink"] ?? null,
    deltaLink: page["@odata.deltaLink"] ?? null,
    totalCount: typeof page["@odata.count"] === "number" ? page["@odata.count"] : null,
  };
}

/**
 * Customer tenants (External ID, B2C) have no change tracking: Graph answers /users/delta with 400
 * Request_UnsupportedQuery "Change enumeration is not supported for requested tenant.". A job
 * declared as a workforce one against such a tenant learns what to change.
 */
function explainDeltaRefusal(error: unknown): unknown {
  if (!(error instanceof UpstreamError && error.details.code === "Request_UnsupportedQuery")) return error;
  const hint =
    '; this looks like an Entra External ID or Azure AD B2C tenant, which has no delta: declare the job with source.tenantKind "external" (full listings)';
  return new UpstreamError(`${error.message}${hint}`, error.source, error.kind, error.details);
}

/** A request that hangs must not hold the step past its deadline: each attempt gets what is left of it. */
function timeoutSignal(budget: Budget): AbortSignal {
  return AbortSignal.timeout(attemptTimeout(Number.POSITIVE_INFINITY, budget.deadline));
}
