/** Facts about Graph's query language that both the job validation and the Graph adapter need. */

/**
 * ne, not and endsWith are "advanced queries": Graph answers 400 Request_UnsupportedQuery unless the
 * request carries ConsistencyLevel: eventual and $count=true (aad-advanced-queries.md), and customer
 * tenants (External ID, B2C) support none of it. Literals are blanked first so a name like 'Ne Zha'
 * does not count.
 */
export function needsAdvancedQuery(filter: string | null): boolean {
  if (!filter) return false;
  const code = filter.replace(/'(?:[^']|'')*'/g, "''");
  return /\b(ne|not)\b/i.test(code) || /\bendswith\s*\(/i.test(code);
}

/** Graph caps an `in` filter at 15 values (graph-api-facts.md §1): users fetched by id per request. */
export const ID_BATCH = 15;
