/**
 * Graph user -> the WordPress fields a job wants. A field's mapping is "a|b" (the first non-empty
 * attribute) or an expression in Entra's syntax (src/core/expression.ts); both read nested values by
 * a dotted path ("onPremisesExtensionAttributes.extensionAttribute1", "manager.mail").
 */
import { CUSTOMER_SELECTED, customerEmail, isCustomerJob } from "./customer";
import { attributesIn, type Expr, evaluateExpression, graphPath, parseMapping } from "./expression";
import { toText } from "./expression-functions";
import type { Job } from "./job";
import { scopingAttributes } from "./scoping";
import type { GraphUser } from "./users";

/** Selected on every listing: the engine and the plan need them whatever the job maps. */
export const ALWAYS_SELECTED = ["id", "accountEnabled", "userType", "mail", "userPrincipalName", "displayName"];

/** Mappings are parsed (and checked) once per text, at start-up, not once per user. */
const compiled = new Map<string, Expr>();
export function compiledMapping(text: string): Expr {
  let expr = compiled.get(text);
  if (expr === undefined) {
    expr = parseMapping(text);
    compiled.set(text, expr);
  }
  return expr;
}

/** The Graph attribute paths one mapping reads ("mail|userPrincipalName" -> two). */
export function attributesOf(mapping: string): string[] {
  return attributesIn(compiledMapping(mapping));
}

/**
 * $select for a job's listing: always-selected attributes, mapped attributes, extra attributes; no
 * duplicates. "manager" is a relationship, not a property: the Graph adapter expands it.
 */
export function selectFor(job: Job): string[] {
  const names = [
    ...ALWAYS_SELECTED,
    ...(isCustomerJob(job) ? CUSTOMER_SELECTED : []),
    ...Object.values(job.fields).flatMap((mapping) => attributesOf(mapping).map(topLevel)),
    ...job.source.attributes.map((name) => topLevel(graphPath(name))),
    ...scopingAttributes(job).map(topLevel),
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

/**
 * wp_users.user_email's size. An e-mail cannot be cut like a name: a longer one is refused (the
 * user's item fails, naming it), since WordPress would die on the create or, on an update, answer
 * 200 with the old address still stored.
 */
export const WP_EMAIL_MAX_LENGTH = 100;

/** Why WordPress cannot store this e-mail, or null when it can. */
export function emailLengthProblem(email: string | undefined): string | null {
  const length = email === undefined ? 0 : Array.from(email).length;
  return length > WP_EMAIL_MAX_LENGTH
    ? `the e-mail address has ${length} characters; WordPress stores at most ${WP_EMAIL_MAX_LENGTH}`
    : null;
}

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

/** The mapping's value for a user, trimmed; null when it yields nothing (a field is then left out). */
export function evaluate(mapping: string, user: GraphUser): string | null {
  return toText(evaluateExpression(compiledMapping(mapping), user))?.trim() || null;
}

function topLevel(name: string): string {
  return name.split(".")[0]!;
}
