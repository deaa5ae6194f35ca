/**
 * Graph user -> the WordPress fields a job wants. A field's expression names Graph attributes joined
 * by "|"; the first one with a non-empty value wins ("mail|userPrincipalName"). A dotted name reads a
 * nested property ("onPremisesExtensionAttributes.extensionAttribute1"); $select gets its first part.
 */
import type { GraphUser } from "../sync/ports";
import { CUSTOMER_SELECTED, customerEmail, isCustomerJob } from "./customer";
import type { Job } from "./job";

/** Selected on every listing: the engine and the plan need them whatever the job maps. */
export const ALWAYS_SELECTED = ["id", "accountEnabled", "userType", "mail", "userPrincipalName", "displayName"];

/** The attribute names of one expression, in order ("mail|userPrincipalName" -> two). */
export function attributesOf(expression: string): string[] {
  return expression
    .split("|")
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
}

/** $select for a job's listing: always-selected attributes, mapped attributes, extra attributes; no duplicates. */
export function selectFor(job: Job): string[] {
  const names = [
    ...ALWAYS_SELECTED,
    ...(isCustomerJob(job) ? CUSTOMER_SELECTED : []),
    ...Object.values(job.fields).flatMap((expression) => attributesOf(expression).map(topLevel)),
    ...job.source.attributes.map(topLevel),
  ];
  // Graph treats $select names case-insensitively, so "Mail" would only repeat "mail".
  const seen = new Set<string>();
  return names.filter((name) => {
    const key = name.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Column sizes of wp_users that WordPress 6.1 does not check before inserting: a longer value
 * makes the insert fail and the REST request die with a PHP fatal (HTTP 500), so values are cut
 * here, by characters (the columns are utf8mb4 varchar).
 */
export const WP_FIELD_MAX_LENGTH: Readonly<Record<string, number>> = { name: 250, url: 100 };

/** WordPress field -> value for one user. A field whose expression yields nothing is left out, never "". */
export function desiredFields(job: Job, user: GraphUser): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [field, expression] of Object.entries(job.fields)) {
    const value = evaluate(expression, user);
    if (value !== null) fields[field] = truncate(value, WP_FIELD_MAX_LENGTH[field]);
  }
  // Customer tenants: the e-mail comes from the sign-in identities, never from a mapping (job-schema.ts).
  if (isCustomerJob(job)) {
    const email = customerEmail(user);
    if (email !== null) fields.email = email;
  }
  return fields;
}

function truncate(value: string, max: number | undefined): string {
  if (max === undefined) return value;
  const characters = Array.from(value); // code points: an emoji is one character to MariaDB
  return characters.length <= max ? value : characters.slice(0, max).join("").trimEnd();
}

/** The first non-empty value among the expression's attributes, trimmed; null when there is none. */
export function evaluate(expression: string, user: GraphUser): string | null {
  for (const name of attributesOf(expression)) {
    const value = stringify(read(user, name));
    if (value !== null) return value;
  }
  return null;
}

function topLevel(name: string): string {
  return name.split(".")[0]!;
}

function read(user: GraphUser, name: string): unknown {
  let value: unknown = user;
  for (const part of name.split(".")) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
    value = property(value as Record<string, unknown>, part);
  }
  return value;
}

/** Graph answers in its own casing ("givenName") whatever the job wrote ("GivenName"). */
function property(object: Record<string, unknown>, name: string): unknown {
  if (name in object) return object[name];
  const lower = name.toLowerCase();
  const key = Object.keys(object).find((candidate) => candidate.toLowerCase() === lower);
  return key === undefined ? undefined : object[key];
}

function stringify(value: unknown): string | null {
  if (typeof value === "string") return value.trim() || null;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) {
    // Multi-valued attributes (businessPhones, otherMails, proxyAddresses) read as one line.
    const parts = value.map(stringify).filter((part): part is string => part !== null);
    return parts.length > 0 ? parts.join(", ") : null;
  }
  return null;
}
