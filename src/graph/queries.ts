/** Building Graph URLs from a UsersQuery. */
import { UpstreamError } from "../core/errors";
import { ID_BATCH } from "../core/graph-query";
import type { UsersQuery } from "../sync/ports";

export { needsAdvancedQuery } from "../core/graph-query";

export function validatePageSize(pageSize: number): void {
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 999) {
    throw new UpstreamError(
      `source.pageSize must be an integer from 1 to 999 (Graph's $top limit); got ${pageSize}`,
      "graph",
      "config",
    );
  }
}

/** Graph takes percent-encoded values; the client passes an absolute URL's query through untouched. */
export function usersUrl(base: string, query: UsersQuery, advanced: boolean): string {
  const params = [selectParams(query.select)];
  if (query.filter) params.push(`$filter=${encodeURIComponent(query.filter)}`);
  params.push(`$top=${query.pageSize}`);
  if (advanced) params.push("$count=true");
  return `${base}/v1.0/users?${params.join("&")}`;
}

/** The job's query narrowed to some users by id (Graph caps `in` at 15 values: ID_BATCH). */
export function byIdsQuery(query: UsersQuery, ids: string[]): UsersQuery {
  if (ids.length === 0 || ids.length > ID_BATCH)
    throw new Error(`between 1 and ${ID_BATCH} ids per request (got ${ids.length})`);
  const inList = `id in (${ids.map((id) => `'${id.replace(/'/g, "''")}'`).join(", ")})`;
  return { ...query, filter: query.filter ? `(${query.filter}) and ${inList}` : inList, pageSize: ids.length };
}

/** Delta takes no $expand on users (user-delta.md): jobs that map the manager are refused delta mode. */
export function deltaUrl(base: string, query: UsersQuery): string {
  const select = query.select.filter((name) => !isManager(name));
  return `${base}/v1.0/users/delta?$select=${encodeURIComponent(selectList(select))}`;
}

/** What Graph returns of an expanded manager: enough for manager.id, .displayName, .mail, .userPrincipalName. */
export const MANAGER_SELECT = "id,displayName,mail,userPrincipalName";

const isManager = (name: string) => name.toLowerCase() === "manager";

/**
 * $select, plus $expand=manager(...) when the job reads the manager: a relationship, which Graph
 * returns through $expand only (users with no manager come without the property).
 */
export function selectParams(select: string[]): string {
  const params = [`$select=${encodeURIComponent(selectList(select.filter((name) => !isManager(name))))}`];
  if (select.some(isManager)) params.push(`$expand=${encodeURIComponent(`manager($select=${MANAGER_SELECT})`)}`);
  return params.join("&");
}

/** id is always returned; accountEnabled is needed to see disabled users (delta does not @remove them). */
export function selectList(select: string[]): string {
  return [...new Set(["id", "accountEnabled", ...select])].join(",");
}
