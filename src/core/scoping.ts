/**
 * Scoping filters as Entra's provisioning defines them ("Scoping users or groups to be provisioned
 * with scoping filters"): a filter is clauses AND-ed together, a job's filters are OR-ed, and a
 * user passes when every clause of at least one filter is true. They are applied after the Graph
 * query, to the users it returns; a mapped user who stops passing is treated as missing.
 */
import { graphPath, readAttribute } from "./expression";
import { type Job, SCOPING_OPERATORS, type ScopingClause, type ScopingOperator } from "./job";
import { compileRegex } from "./regex";
import { inScope } from "./roles";
import type { GraphUser } from "./users";

/** The operators that compare with no value. */
export const UNARY_OPERATORS: ReadonlySet<ScopingOperator> = new Set(["IS_TRUE", "IS_FALSE", "IS_NULL", "IS_NOT_NULL"]);
const INTEGER = /^-?[0-9]+$/;

/** "NOT EQUALS", "not_equals", "Greater_Than" -> the canonical name; null when unknown. */
export function scopingOperator(name: string): ScopingOperator | null {
  const canonical = name.trim().toUpperCase().replace(/\s+/g, "_");
  return (SCOPING_OPERATORS as readonly string[]).includes(canonical) ? (canonical as ScopingOperator) : null;
}

/** Why a clause's value does not suit its operator, or null. */
export function clauseProblem(clause: ScopingClause): string | null {
  const { operator, value } = clause;
  if (UNARY_OPERATORS.has(operator)) return value === null ? null : `takes no value with ${operator}`;
  if (value === null) return `is required with ${operator}`;
  if (operator.startsWith("GREATER") || operator.startsWith("LESS")) {
    return INTEGER.test(value) ? null : `must be an integer with ${operator} (got ${JSON.stringify(value)})`;
  }
  if (operator.endsWith("REGEX_MATCH")) {
    try {
      compileRegex(value);
    } catch (error) {
      return `is not a valid regular expression (${(error as Error).message})`;
    }
  }
  return null;
}

/** The job's whole scope for one user: a member of its source.groups (if any) passing its scoping filters (if any). */
export function inJobScope(job: Job, user: GraphUser, groupIds: ReadonlySet<string>): boolean {
  return inScope(job, groupIds) && passesScopingFilters(job.source.scopingFilters, user);
}

/** The attributes the scoping filters read, as Graph property paths (for $select). */
export function scopingAttributes(job: Job): string[] {
  return job.source.scopingFilters.flatMap((clauses) => clauses.map((clause) => graphPath(clause.attribute)));
}

/** Unscoped (no filters) takes everyone; else at least one filter whose clauses all hold. */
export function passesScopingFilters(filters: readonly ScopingClause[][], user: GraphUser): boolean {
  return filters.length === 0 || filters.some((clauses) => clauses.every((clause) => holds(clause, user)));
}

/**
 * One clause for one user. As Entra documents, a clause on an empty value is false, except IS NULL
 * (true) and IS NOT NULL. Entra does not filter multi-valued attributes; here a clause holds for a
 * list when it holds for one of its values (EQUALS, INCLUDES, REGEX MATCH, comparisons) or, for the
 * negative operators, for none of them being a match.
 */
function holds(clause: ScopingClause, user: GraphUser): boolean {
  const value = readAttribute(user, graphPath(clause.attribute));
  const values = value === null ? [] : Array.isArray(value) ? value : [String(value)];
  const { operator } = clause;
  if (operator === "IS_NULL") return values.length === 0;
  if (values.length === 0) return false;
  const expected = clause.value ?? "";
  switch (operator) {
    case "IS_NOT_NULL":
      return true;
    case "IS_TRUE":
    case "IS_FALSE":
      return values.length === 1 && values[0]!.toLowerCase() === (operator === "IS_TRUE" ? "true" : "false");
    case "EQUALS":
      return values.includes(expected);
    case "NOT_EQUALS":
      return !values.includes(expected);
    case "INCLUDES":
      return values.some((v) => v.includes(expected));
    case "EXCLUDES":
      return !values.some((v) => v.includes(expected));
    case "REGEX_MATCH":
      return values.some((v) => compileRegex(expected).test(v));
    case "NOT_REGEX_MATCH":
      return !values.some((v) => compileRegex(expected).test(v));
    default:
      // Entra: "the attribute on the user must be an integer"; anything else does not compare.
      return values.some((v) => INTEGER.test(v) && compareIntegers(operator, BigInt(v), BigInt(expected)));
  }
}

function compareIntegers(operator: ScopingOperator, left: bigint, right: bigint): boolean {
  if (operator === "GREATER_THAN") return left > right;
  if (operator === "GREATER_THAN_OR_EQUALS") return left >= right;
  if (operator === "LESS_THAN") return left < right;
  return left <= right;
}
