/**
 * Graph routes over the simulated tenant. Page tokens encode a scan position, never a result set,
 * so a page costs one page of work and memory however large the tenant (100,000 users in the bench).
 */
import { FilterError, parseFilter } from "./filter";
import type { SimTenant } from "./tenant";
import { DEFAULT_SELECT, EXTENSION_PROPERTY, project, type SimUser, USER_PROPERTIES } from "./users";

export interface RouteContext {
  origin: string;
  tenant: SimTenant;
  pathname: string;
  params: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  deltaPageSize: number;
}

export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** An error Graph would answer with its JSON envelope; the server adds innerError. */
export class GraphFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const encodeToken = (state: object) => Buffer.from(JSON.stringify(state)).toString("base64url");

function decodeToken<T>(token: string, onError: () => GraphFailure): T {
  try {
    return JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as T;
  } catch {
    throw onError();
  }
}

/** The original query with a new $skiptoken, as Graph builds nextLinks (paging.md). */
function nextLink(ctx: RouteContext, skiptoken: string): string {
  const parts: string[] = [];
  for (const [key, value] of ctx.params) if (key !== "$skiptoken") parts.push(`${key}=${encodeURIComponent(value)}`);
  parts.push(`$skiptoken=${skiptoken}`);
  return `${ctx.origin}${ctx.pathname}?${parts.join("&")}`;
}

function parseTop(ctx: RouteContext): number {
  const raw = ctx.params.get("$top");
  if (raw === null) return 100;
  const top = Number(raw);
  if (!Number.isInteger(top) || top < 1 || top > 999) {
    throw new GraphFailure(
      400,
      "Request_UnsupportedQuery",
      `Invalid page size specified: '${raw}'. Must be between 1 and 999 inclusive.`,
    );
  }
  return top;
}

function parseSelect(ctx: RouteContext): string[] | null {
  const raw = ctx.params.get("$select");
  if (raw === null || raw.trim() === "") return null;
  const props = raw.split(",").map((p) => p.trim());
  for (const p of props) {
    if (!USER_PROPERTIES.has(p) && !EXTENSION_PROPERTY.test(p)) {
      throw new GraphFailure(
        400,
        "Request_BadRequest",
        `Could not find a property named '${p}' on type 'microsoft.graph.user'.`,
      );
    }
  }
  if (props.includes("customSecurityAttributes")) requirePermission(ctx, "CustomSecAttributeAssignment.Read.All");
  return props;
}

/** Graph answers 403 when the app lacks an application permission a query needs. */
function requirePermission(ctx: RouteContext, permission: string): void {
  if (!ctx.tenant.permissions.has(permission)) {
    throw new GraphFailure(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.");
  }
}

/** The manager properties a $expand=manager($select=...) asks for; null without $expand. */
function parseExpand(ctx: RouteContext): string[] | null {
  const raw = ctx.params.get("$expand");
  if (raw === null) return null;
  const match = /^manager(?:\(\$select=([^)]*)\))?$/.exec(raw.trim());
  if (!match) {
    throw new GraphFailure(
      400,
      "BadRequest",
      `Parsing OData Select and Expand failed: Could not find a property named '${raw}'.`,
    );
  }
  const select = match[1]?.split(",").map((p) => p.trim()) ?? DEFAULT_SELECT;
  for (const p of select) {
    if (!USER_PROPERTIES.has(p)) {
      throw new GraphFailure(
        400,
        "Request_BadRequest",
        `Could not find a property named '${p}' on type 'microsoft.graph.user'.`,
      );
    }
  }
  return [...select];
}

/** The user with its manager expanded when asked; a user without a manager has no manager property. */
function withManager(ctx: RouteContext, user: SimUser, select: readonly string[], expand: string[] | null) {
  const out = project(user, select);
  const manager = expand && user.managerId ? ctx.tenant.getUser(user.managerId) : undefined;
  if (manager) out["manager"] = { "@odata.type": "#microsoft.graph.user", ...project(manager, expand!) };
  return out;
}

function isEventual(ctx: RouteContext): boolean {
  const header = ctx.headers["consistencylevel"];
  return typeof header === "string" && header.toLowerCase() === "eventual";
}

function context(ctx: RouteContext, entitySet: string, select: string[] | null): string {
  return `${ctx.origin}/v1.0/$metadata#${entitySet}${select ? `(${select.join(",")})` : ""}`;
}

export function listUsers(ctx: RouteContext): Reply {
  if (ctx.params.has("$skip"))
    throw new GraphFailure(400, "Request_BadRequest", "'$skip' is not supported by the service.");
  const select = parseSelect(ctx);
  const expand = parseExpand(ctx);
  // Graph caps a page at 100 users when it expands a relationship, whatever $top says.
  const top = expand ? Math.min(parseTop(ctx), 100) : parseTop(ctx);
  const advancedHeaders = isEventual(ctx) && ctx.params.get("$count") === "true";
  let test: ((u: import("./users").SimUser) => boolean) | null = null;
  const filterText = ctx.params.get("$filter");
  if (filterText !== null) {
    try {
      const parsed = parseFilter(filterText);
      if (parsed.advanced && !advancedHeaders)
        throw new GraphFailure(400, "Request_UnsupportedQuery", "Unsupported Query.");
      test = parsed.test;
    } catch (error) {
      if (error instanceof FilterError)
        throw new GraphFailure(400, "BadRequest", `Invalid filter clause: ${error.message}`);
      throw error;
    }
  }
  const skiptoken = ctx.params.get("$skiptoken");
  const start = skiptoken === null ? 0 : decodeToken<{ i: number }>(skiptoken, badSkipToken).i;
  const { tenant } = ctx;
  const value: Array<Record<string, unknown>> = [];
  let next: number | null = null;
  for (let i = start; i < tenant.slotCount; i++) {
    const user = tenant.userAt(i);
    if (!user || (test && !test(user))) continue;
    if (value.length === top) {
      next = i;
      break;
    }
    value.push(withManager(ctx, user, select ?? DEFAULT_SELECT, expand));
  }
  const body: Record<string, unknown> = { "@odata.context": context(ctx, "users", select) };
  if (advancedHeaders && skiptoken === null) {
    let count = 0;
    for (const user of tenant.users()) if (!test || test(user)) count++;
    body["@odata.count"] = count;
  }
  if (next !== null) body["@odata.nextLink"] = nextLink(ctx, encodeToken({ i: next }));
  body["value"] = value;
  return { status: 200, body };
}

const badSkipToken = () => new GraphFailure(400, "Request_BadRequest", "Invalid skip token.");

export function getUser(ctx: RouteContext, id: string): Reply {
  const select = parseSelect(ctx);
  const expand = parseExpand(ctx);
  const user = ctx.tenant.getUser(id);
  if (!user) throw notFound(id);
  const body = withManager(ctx, user, select ?? DEFAULT_SELECT, expand);
  return { status: 200, body: { "@odata.context": context(ctx, "users/$entity", select), ...body } };
}

/** The sizes Graph stores a profile photo in (profilephoto-get.md). */
const PHOTO_SIZES = new Set([
  "48x48",
  "64x64",
  "96x96",
  "120x120",
  "240x240",
  "360x360",
  "432x432",
  "504x504",
  "648x648",
]);

/** GET /users/{id}/photos/{size}/$value: the bytes with their type, or Graph's 404 ImageNotFound. */
export function getPhoto(ctx: RouteContext, id: string, size: string): Reply {
  if (!ctx.tenant.getUser(id)) throw notFound(id);
  const photo = ctx.tenant.photos.get(id);
  if (!photo || !PHOTO_SIZES.has(size)) {
    throw new GraphFailure(
      404,
      "ImageNotFound",
      "Exception of type 'Microsoft.Fast.Profile.Core.Exception.ImageNotFoundException' was thrown.",
    );
  }
  return { status: 200, body: photo.bytes, headers: { "Content-Type": photo.contentType } };
}

const notFound = (id: string) =>
  new GraphFailure(
    404,
    "Request_ResourceNotFound",
    `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
  );

interface DeltaPageState {
  phase: "initial" | "changes";
  pos: number;
  since: number;
  upTo: number;
  select: string[] | null;
}

export function usersDelta(ctx: RouteContext): Reply {
  const { tenant } = ctx;
  // user-delta.md: users take no $expand (only groups expand members).
  if (ctx.params.has("$expand")) throw new GraphFailure(400, "Request_UnsupportedQuery", "Unsupported Query.");
  const deltatoken = ctx.params.get("$deltatoken");
  const skiptoken = ctx.params.get("$skiptoken");
  const syncStateNotFound = () =>
    new GraphFailure(
      400,
      "syncStateNotFound",
      "The sync state generation is not found. The delta token is expired and data must be synchronized again.",
    );
  let state: DeltaPageState;
  if (deltatoken === "latest") {
    return deltaReply(ctx, [], null, { since: tenant.seq, select: parseSelect(ctx) });
  } else if (deltatoken !== null && deltatoken !== "") {
    const token = decodeToken<{ since: number; select: string[] | null }>(deltatoken, syncStateNotFound);
    if (typeof token.since !== "number" || token.since > tenant.seq) throw syncStateNotFound();
    state = { phase: "changes", pos: 0, since: token.since, upTo: tenant.seq, select: token.select };
  } else if (skiptoken !== null) {
    state = decodeToken<DeltaPageState>(skiptoken, badSkipToken);
  } else {
    state = { phase: "initial", pos: 0, since: 0, upTo: tenant.seq, select: parseSelect(ctx) };
  }
  const select = state.select ?? DEFAULT_SELECT;
  const value: Array<Record<string, unknown>> = [];
  let pos = state.pos;
  if (state.phase === "initial") {
    for (; pos < tenant.slotCount && value.length < ctx.deltaPageSize; pos++) {
      const user = tenant.userAt(pos);
      if (user) value.push(project(user, select));
    }
    const more = pos < tenant.slotCount;
    return deltaReply(ctx, value, more ? { ...state, pos } : null, { since: state.upTo, select: state.select });
  }
  const tracked = new Set(select);
  const changes = tenant
    .changesBetween(state.since, state.upTo)
    .filter((c) => c.removed || c.props === null || [...c.props].some((p) => tracked.has(p)));
  for (; pos < changes.length && value.length < ctx.deltaPageSize; pos++) {
    const change = changes[pos]!;
    const user = tenant.userAt(change.index);
    if (change.removed || !user) {
      const id = tenant.userIdAt(change.index);
      value.push({ id, "@removed": { reason: change.removed ?? "deleted" } });
    } else value.push(project(user, select));
  }
  const more = pos < changes.length;
  return deltaReply(ctx, value, more ? { ...state, pos } : null, { since: state.upTo, select: state.select });
}

function deltaReply(
  ctx: RouteContext,
  value: Array<Record<string, unknown>>,
  next: DeltaPageState | null,
  delta: { since: number; select: string[] | null },
): Reply {
  const base = `${ctx.origin}/v1.0/users/delta`;
  const link = next
    ? { "@odata.nextLink": `${base}?$skiptoken=${encodeToken(next)}` }
    : { "@odata.deltaLink": `${base}?$deltatoken=${encodeToken(delta)}` };
  return { status: 200, body: { "@odata.context": context(ctx, "users", delta.select), ...link, value } };
}

export function transitiveMembers(ctx: RouteContext, groupId: string): Reply {
  const select = parseSelect(ctx);
  const expand = parseExpand(ctx);
  // Graph caps a page at 100 users when it expands a relationship, whatever $top says.
  const top = expand ? Math.min(parseTop(ctx), 100) : parseTop(ctx);
  if (!ctx.tenant.groups.has(groupId)) throw notFound(groupId);
  const skiptoken = ctx.params.get("$skiptoken");
  const offset = skiptoken === null ? 0 : decodeToken<{ o: number }>(skiptoken, badSkipToken).o;
  const members = ctx.tenant.transitiveMembers(groupId);
  const value = members.slice(offset, offset + top).map((m) =>
    m.kind === "user"
      ? { "@odata.type": "#microsoft.graph.user", ...project(m.user, select ?? DEFAULT_SELECT) }
      : {
          "@odata.type": "#microsoft.graph.group",
          id: m.group.id,
          ...(select ? {} : { displayName: m.group.displayName }),
        },
  );
  const body: Record<string, unknown> = { "@odata.context": context(ctx, "directoryObjects", select) };
  if (offset + top < members.length) body["@odata.nextLink"] = nextLink(ctx, encodeToken({ o: offset + top }));
  body["value"] = value;
  return { status: 200, body };
}

export function checkMemberGroups(ctx: RouteContext, userIdValue: string): Reply {
  const groupIds = (ctx.body as { groupIds?: unknown } | null)?.groupIds;
  if (!Array.isArray(groupIds) || groupIds.some((g) => typeof g !== "string")) {
    throw new GraphFailure(400, "Request_BadRequest", "The request body must contain 'groupIds', an array of strings.");
  }
  if (groupIds.length > 20) {
    throw new GraphFailure(
      400,
      "Request_BadRequest",
      `Too many group ids: ${groupIds.length}. At most 20 are allowed.`,
    );
  }
  if (!ctx.tenant.getUser(userIdValue)) throw notFound(userIdValue);
  const value = (groupIds as string[]).filter((g) => ctx.tenant.isTransitiveMember(userIdValue, g));
  return { status: 200, body: { "@odata.context": `${ctx.origin}/v1.0/$metadata#Collection(Edm.String)`, value } };
}
