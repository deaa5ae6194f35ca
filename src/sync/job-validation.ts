/**
 * One job, validated: first against the jobs file's schema (job-schema.ts), then by the rules a
 * schema cannot say (a cron expression that parses, a time zone that exists, expressions, fields
 * that only make sense together, customer tenants' limits). Every message names the job, the field
 * (and, for the "default" job, the variable) and what is expected.
 */
import { Value } from "@sinclair/typebox/value";
import { Cron } from "croner";
import { ConfigError } from "../core/errors";
import {
  checkExpression,
  ExpressionError,
  graphPath,
  isShortForm,
  normaliseMapping,
  parseMapping,
} from "../core/expression";
import { needsAdvancedQuery } from "../core/graph-query";
import {
  type Job,
  type MatchKey,
  type NetworkTarget,
  SCOPING_OPERATORS,
  type ScopingClause,
  type SiteSelector,
} from "../core/job";
import { attributesOf } from "../core/mapping";
import { CORE_ROLES, grantPolicy } from "../core/privileges";
import { validateScimJob } from "../core/scim/job";
import { clauseProblem, scopingOperator } from "../core/scoping";
import { webhookKey } from "../net/webhook-signature";
import { JOB_DEFAULTS, JobSchema, SYNC_VARIABLES, type SyncVariable, USERNAME_RULES } from "./job-schema";
import { type SchemaNode, schemaProblem, show } from "./schema-problem";

const MAKE_SECRET = `make one with: echo "whsec_$(openssl rand -base64 32)"`;

export interface Origin {
  id: string;
  /** Built from SYNC_* variables: messages also name the variable. */
  env: boolean;
}

/** The raw job once it matches the schema: every section an object, every value of its type. */
// biome-ignore lint/suspicious/noExplicitAny: checked against JobSchema before it is read
type Checked = Record<string, any>;

export function validateJob(raw: unknown, origin: Origin): Job {
  const fail = (path: string, message: string): never => {
    const variable = origin.env ? variableFor(path) : undefined;
    throw new ConfigError(`job "${origin.id}"${variable ? ` (${variable})` : ""}: ${path} ${message}`);
  };
  const source = (raw as { source?: { kind?: unknown } } | null)?.source;
  if (source?.kind === "scim") return validateScimJob(raw as Checked, origin.id, (scim) => validateJob(scim, origin));
  const problem = schemaProblem(JobSchema as SchemaNode, raw);
  if (problem) fail(problem.path, problem.message.slice(problem.path.length + 1));
  // The schema is the authority: should the messages above ever miss what it refuses, say that.
  const error = Value.Errors(JobSchema, raw).First();
  if (error) fail(error.path.slice(1).replaceAll("/", "."), `is refused by the jobs schema: ${error.message}`);
  return jobFrom(raw as Checked, origin, fail);
}

function jobFrom(job: Checked, origin: Origin, fail: (path: string, message: string) => never): Job {
  const d = JOB_DEFAULTS;
  const trigger = job.trigger ?? {};
  const triggerMode = trigger.mode ?? d.trigger.mode;
  const timezone = trigger.timezone?.trim() ?? d.trigger.timezone;
  if (!isTimeZone(timezone))
    fail("trigger.timezone", `must be an IANA time zone such as "Europe/Berlin" (got ${show(timezone)})`);
  const schedule = optionalText(trigger.schedule);
  if (schedule === null && triggerMode === "schedule") {
    fail("trigger.schedule", `is required when trigger.mode is "schedule" (a cron expression such as "0 3 * * *")`);
  }
  if (schedule !== null) {
    const problem = cronProblem(schedule, timezone);
    if (problem)
      fail("trigger.schedule", `must be a 5- or 6-field cron expression (got ${show(schedule)}: ${problem})`);
  }

  if (job.dryRun === true) {
    fail(
      "dryRun",
      `is for SCIM jobs: a Graph job's runs are dry when asked for (POST /v1/jobs/${origin.id}/runs with {"dryRun": true}, or run ${origin.id} --dry-run)`,
    );
  }
  const source = job.source ?? {};
  const sourceMode = source.mode ?? d.source.mode;
  const filter = optionalText(source.filter);
  if (filter !== null && sourceMode === "delta") {
    fail("source.filter", `is only supported with source.mode "full" (Graph delta queries take no useful $filter)`);
  }
  const tenantKind = source.tenantKind ?? d.source.tenantKind;
  const customer = tenantKind === "external";
  const notifications = source.notifications ?? d.source.notifications;
  if (customer) checkCustomerJob(job, { mode: sourceMode, filter, notifications }, fail);
  const scopingFilters = ((source.scopingFilters ?? []) as unknown[][]).map((clauses, i) =>
    clauses.map((clause, j) => scopingClause(clause as Checked, `source.scopingFilters[${i}][${j}]`, fail)),
  );

  const match = matchOf(job.match, customer);
  if (match.adoptUnverifiedEmails && !customer) {
    fail(
      "match.adoptUnverifiedEmails",
      `applies only with source.tenantKind "external": in a workforce tenant mail is set by administrators, and every e-mail match is adopted within match.emailDomains`,
    );
  }
  const username = usernameOf(job.username, customer, fail);
  const fields = fieldsOf(job.fields, customer, fail);
  if (sourceMode === "delta") {
    const reader = Object.keys(fields).find((key) => attributesOf(fields[key]!).some(isManagerPath));
    const clause = scopingFilters.flat().find((c) => isManagerPath(graphPath(c.attribute)));
    const path = reader ? `fields.${reader}` : clause ? "source.scopingFilters" : null;
    if (path) fail(path, `reads the manager, which Graph's delta query cannot expand: use source.mode "full"`);
  }

  const roles = job.roles ?? {};
  const actions = job.actions ?? {};
  const missing = actions.missing ?? d.actions.missing;
  const reassignTo: number | null = actions.reassignTo ?? null;
  if (missing === "delete" && reassignTo === null) {
    fail(
      "actions.reassignTo",
      `is required when actions.missing is "delete" (the WordPress user id that receives the deleted users' posts)`,
    );
  }
  const webhook = optionalText(job.webhook);
  if (webhook !== null && !isHttpUrl(webhook))
    fail("webhook", `must be an http:// or https:// URL (got ${show(webhook)})`);
  // Never echoed in a message: it is a secret.
  const webhookSecret = optionalText(job.webhookSecret);
  if (webhookSecret !== null && webhookKey(webhookSecret) === null) {
    fail("webhookSecret", `must be "whsec_" followed by the base64 of 24 to 64 random bytes (${MAKE_SECRET})`);
  }
  if (webhook !== null && webhookSecret === null) {
    fail("webhookSecret", `is required with webhook: receivers check each event's signature with it (${MAKE_SECRET})`);
  }

  const defaultRole = roles.default?.trim() ?? d.roles.default;
  const roleGroups = unique(
    ((roles.groups ?? []) as Checked[]).map((entry) => ({ group: entry.group.trim(), role: entry.role.trim() })),
  );
  const network = job.network ? networkOf(job.network, defaultRole) : null;
  if (network !== null && roleGroups.length > 0) {
    fail(
      "roles.groups",
      `cannot be used with network: roles are per site there (network.groups: { "group", "site", "role" })`,
    );
  }

  const validated: Job = {
    id: origin.id,
    site: job.site ?? d.site,
    trigger: { mode: triggerMode, schedule, timezone },
    source: {
      kind: "graph",
      tenant: source.tenant ?? d.source.tenant,
      mode: sourceMode,
      filter,
      groups: unique(((source.groups ?? d.source.groups) as string[]).map((group) => group.trim())),
      pageSize: source.pageSize ?? d.source.pageSize,
      attributes: unique(source.attributes ?? d.source.attributes),
      tenantKind,
      notifications,
      scopingFilters,
    },
    match,
    username,
    fields,
    roles: {
      mode: roles.mode ?? d.roles.mode,
      default: defaultRole,
      groups: roleGroups,
      allowPrivileged: roles.allowPrivileged ?? d.roles.allowPrivileged,
    },
    actions: {
      create: actions.create ?? d.actions.create,
      update: actions.update ?? d.actions.update,
      missing,
      reassignTo,
    },
    protect: {
      roles: unique(((job.protect?.roles ?? d.protect.roles) as string[]).map((role) => role.trim())),
      users: unique(job.protect?.users ?? d.protect.users),
    },
    safety: {
      maxDeleteFraction: job.safety?.maxDeleteFraction ?? d.safety.maxDeleteFraction,
      maxDeleteCount: job.safety?.maxDeleteCount ?? d.safety.maxDeleteCount,
    },
    webhook,
    network,
    webhookSecret,
    photos: job.photos ?? d.photos,
    dryRun: false,
  };
  // Core roles are known here; other roles are checked once WordPress says what they allow (sync/step.ts).
  const problem = grantPolicy(validated, CORE_ROLES).problem;
  if (problem?.reason === "privileged") fail(problem.path, problem.message);
  return validated;
}

/** The short form (a list) is what jobs files said before the adoption rules; customers never match by login. */
function matchOf(raw: unknown, customer: boolean): Job["match"] {
  const d = JOB_DEFAULTS.match;
  const match: Checked = Array.isArray(raw) ? { by: raw } : ((raw as Checked | undefined) ?? {});
  const fallback: MatchKey[] = customer ? ["entraId", "email"] : d.by;
  return {
    by: unique((match.by as MatchKey[] | undefined) ?? fallback),
    emailDomains: unique(((match.emailDomains ?? d.emailDomains) as string[]).map((domain) => domain.toLowerCase())),
    adoptGuests: match.adoptGuests ?? d.adoptGuests,
    adoptUnverifiedEmails: match.adoptUnverifiedEmails ?? d.adoptUnverifiedEmails,
  };
}

/** The job's network target: sites by path or id, roles per site ("" = member without a role). */
function networkOf(n: Checked, defaultRole: string): NetworkTarget {
  const entries = (list: Checked[] | undefined): Checked[] =>
    (list ?? []).map((entry) => ({ ...entry, role: (entry.role as string).trim() }));
  return {
    sites: n.sites === undefined || n.sites === "all" ? "all" : unique(n.sites as SiteSelector[]),
    defaultRole: n.defaultRole === undefined ? defaultRole : (n.defaultRole as string).trim(),
    siteDefaults: entries(n.siteDefaults) as NetworkTarget["siteDefaults"],
    groups: entries(n.groups).map((entry) => ({
      ...entry,
      group: (entry.group as string).trim(),
    })) as NetworkTarget["groups"],
    deleteFromNetwork: n.deleteFromNetwork ?? false,
  };
}

/**
 * Customer tenants (Entra External ID, Azure AD B2C) have no change tracking and no advanced
 * queries, and their userPrincipalName is generated: refuse at start-up what cannot work there.
 */
function checkCustomerJob(
  job: Checked,
  source: { mode: string; filter: string | null; notifications: boolean },
  fail: (path: string, message: string) => never,
) {
  const where = `with source.tenantKind "external"`;
  if (source.notifications) {
    fail(
      "source.notifications",
      `cannot be true ${where}: Microsoft Graph sends no change notifications for External ID and B2C tenants; schedule full runs instead`,
    );
  }
  if (source.mode === "delta") {
    fail(
      "source.mode",
      `"delta" is not available ${where}: Microsoft Graph has no change tracking in External ID and B2C tenants (no /users/delta, no change notifications); use "full" and schedule it`,
    );
  }
  if (needsAdvancedQuery(source.filter)) {
    fail(
      "source.filter",
      `cannot use ne, not or endsWith ${where}: those are advanced queries, which External ID and B2C tenants do not support (got ${show(source.filter)})`,
    );
  }
  if (job.username === "upn" || job.username === "upnPrefix") {
    fail(
      "username",
      `cannot be ${show(job.username)} ${where}: customer accounts have a generated userPrincipalName (<guid>@<tenant>.onmicrosoft.com); their login is the userName identity, else the e-mail (leave username out)`,
    );
  }
  const matchKeys = Array.isArray(job.match) ? job.match : job.match?.by;
  if (Array.isArray(matchKeys) && matchKeys.includes("username")) {
    fail(
      Array.isArray(job.match) ? "match" : "match.by",
      `cannot include "username" ${where}: customers choose their user names themselves, so one could sign up as an existing WordPress login and take that account over (match by "entraId" and "email")`,
    );
  }
  if (job.fields && "email" in job.fields) {
    fail(
      "fields.email",
      `is derived ${where} (the emailAddress identity, then mail, then otherMails): leave it out of fields`,
    );
  }
}

/**
 * fields replaces the default mapping as a whole (so a default field can be dropped); email is
 * required, except for customer tenants, where it is derived from the sign-in identities.
 */
function fieldsOf(raw: Checked | undefined, derivedEmail: boolean, fail: (path: string, message: string) => never) {
  if (raw === undefined) {
    const { email: _derived, ...rest } = JOB_DEFAULTS.fields;
    return derivedEmail ? rest : { ...JOB_DEFAULTS.fields };
  }
  const fields: Record<string, string> = {};
  for (const [key, expression] of Object.entries(raw as Record<string, string>)) {
    const text = expression.trim();
    const problem = mappingProblem(text, false);
    if (problem) fail(`fields.${key}`, `${problem} in ${show(text)}`);
    fields[key] = normaliseMapping(text);
  }
  if (fields.email === undefined && !derivedEmail)
    fail("fields.email", `is required (WordPress needs an e-mail address), e.g. "mail|userPrincipalName"`);
  return fields;
}

/** A username rule, or an expression (the only place SelectUniqueValue is tried against WordPress). */
function usernameOf(raw: string | undefined, customer: boolean, fail: (path: string, message: string) => never) {
  // Customer logins never follow a rule (customer.ts): "email" records that they are not the UPN.
  if (raw === undefined) return customer ? "email" : JOB_DEFAULTS.username;
  const text = raw.trim();
  if ((USERNAME_RULES as readonly string[]).includes(text)) return text;
  if (isShortForm(text)) {
    fail(
      "username",
      `must be one of ${USERNAME_RULES.map((v) => `"${v}"`).join(", ")} or an expression (got ${show(text)})`,
    );
  }
  const problem = mappingProblem(text, true);
  if (problem) fail("username", `${problem} in ${show(text)}`);
  return text;
}

/**
 * Why a mapping ("a|b" or an Entra expression) cannot be used, with the position of the mistake;
 * null when it parses and type-checks. SelectUniqueValue only makes sense where uniqueness is checked.
 */
function mappingProblem(text: string, uniqueAllowed: boolean): string | null {
  try {
    const expr = parseMapping(text);
    if (!uniqueAllowed && expr.kind === "call" && expr.name === "SelectUniqueValue") {
      return "uses SelectUniqueValue, which only the username can (fields are not checked for uniqueness),";
    }
    checkExpression(expr);
    return null;
  } catch (error) {
    if (error instanceof ExpressionError) return `has a mistake at position ${error.position}: ${error.reason},`;
    throw error;
  }
}

/** One clause { attribute, operator, value } of a scoping filter, its operator and value checked. */
function scopingClause(clause: Checked, at: string, fail: (path: string, message: string) => never): ScopingClause {
  const operatorText = (clause.operator as string).trim();
  const operator = scopingOperator(operatorText);
  if (operator === null) {
    const names = SCOPING_OPERATORS.map((name) => name.replaceAll("_", " ")).join(", ");
    return fail(`${at}.operator`, `must be one of ${names} (got ${show(operatorText)})`);
  }
  const value = clause.value === undefined || clause.value === null ? null : String(clause.value);
  const result = { attribute: clause.attribute as string, operator, value };
  const problem = clauseProblem(result);
  if (problem) fail(`${at}.value`, problem);
  return result;
}

const isManagerPath = (path: string) => path.split(".")[0]!.toLowerCase() === "manager";

/** null, "" (and spaces) and absent all mean "not set". */
function optionalText(raw: string | null | undefined): string | null {
  const text = raw?.trim();
  return text ? text : null;
}

/** A list without repeats, in its first order (what a repeated value meant). */
function unique<T>(values: readonly T[]): T[] {
  const seen = new Set<string>();
  return values.filter((value) => {
    const key = JSON.stringify(value);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Why croner refuses the expression, or null. Nicknames croner knows ("@daily") are accepted too. */
function cronProblem(expression: string, timezone: string): string | null {
  try {
    const cron = new Cron(expression, { timezone, paused: true });
    return cron.nextRun() === null ? "it never fires" : null;
  } catch (error) {
    return (error as Error).message;
  }
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

/** The variable that set a path (the longest variable path that prefixes it). */
function variableFor(path: string): SyncVariable | undefined {
  let best: SyncVariable | undefined;
  for (const [name, variable] of Object.entries(SYNC_VARIABLES) as Array<[SyncVariable, { path: string }]>) {
    const prefix = variable.path;
    const matches = path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);
    if (matches && (best === undefined || prefix.length > SYNC_VARIABLES[best].path.length)) best = name;
  }
  return best;
}
