/** Building Graph URLs from a UsersQuery. */
import { UpstreamError } from "../core/errors";
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
  const params = [`$select=${encodeURIComponent(selectList(query.select))}`];
  if (query.filter) params.push(`$filter=${encodeURIComponent(query.filter)}`);
  params.push(`$top=${query.pageSize}`);
  if (advanced) params.push("$count=true");
  return `${base}/v1.0/users?${params.join("&")}`;
}

export function deltaUrl(base: string, query: UsersQuery): string {
  return `${base}/v1.0/users/delta?$select=${encodeURIComponent(selectList(query.select))}`;
}

/** id is always returned; accountEnabled is needed to see disabled users (delta does not @remove them). */
export function selectList(select: string[]): string {
  return [...new Set(["id", "accountEnabled", ...select])].join(",");
}
