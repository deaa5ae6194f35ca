/**
 * What a job may say and how it is checked: the defaults, the SYNC_* variables of the "default"
 * job, and the validation shared by the jobs file and the variables, whose messages name the job,
 * the field (and the variable) and what is expected. Loading lives in jobs.ts.
 */
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
import type {
  Job,
  MatchKey,
  MissingAction,
  NetworkTarget,
  RoleMode,
  SiteSelector,
  SourceMode,
  TenantKind,
  TriggerMode,
  UsernameRule,
} from "../core/job";
import { SCOPING_OPERATORS, type ScopingClause } from "../core/job";
import { attributesOf } from "../core/mapping";
import { CORE_ROLES, grantPolicy } from "../core/privileges";
import { clauseProblem, scopingOperator } from "../core/scoping";
import { webhookKey } from "../net/webhook-signature";

export const JOB_DEFAULTS: Readonly<Omit<Job, "id">> = {
  trigger: { mode: "link-start-continue", schedule: null, timezone: "UTC" },
  source: {
    mode: "full",
    filter: null,
    groups: [],
    pageSize: 500,
    attributes: [],
    tenantKind: "workforce",
    notifications: false,
    scopingFilters: [],
  },
  match: { by: ["entraId", "email", "username"], emailDomains: [], adoptGuests: false },
  username: "upn",
  fields: { first_name: "givenName", last_name: "surname", name: "displayName", email: "mail|userPrincipalName" },
  roles: { mode: "replace", default: "subscriber", groups: [], allowPrivileged: false },
  actions: { create: true, update: true, missing: "deactivate", reassignTo: null },
  protect: { roles: ["administrator"], users: [] },
  safety: { maxDeleteFraction: 0.1, maxDeleteCount: 100 },
  webhook: null,
  network: null,
  webhookSecret: null,
  photos: false,
};

/**
 * Every SYNC_* variable of the "default" job: the job field it sets and its default as it would be
 * written in .env ("" = unset). Lists are comma-separated; SYNC_FIELDS is a JSON object that replaces
 * the default mapping; SYNC_ROLE_GROUPS is "groupId=role,groupId=role".
 */
export const SYNC_VARIABLES = {
  SYNC_TRIGGER_MODE: { path: "trigger.mode", default: "link-start-continue" },
  SYNC_SCHEDULE: { path: "trigger.schedule", default: "" },
  SYNC_TIMEZONE: { path: "trigger.timezone", default: "UTC" },
  SYNC_SOURCE_MODE: { path: "source.mode", default: "full" },
  SYNC_FILTER: { path: "source.filter", default: "" },
  SYNC_GROUPS: { path: "source.groups", default: "" },
  SYNC_PAGE_SIZE: { path: "source.pageSize", default: "500" },
  SYNC_ATTRIBUTES: { path: "source.attributes", default: "" },
  SYNC_TENANT_KIND: { path: "source.tenantKind", default: "workforce" },
  SYNC_NOTIFICATIONS: { path: "source.notifications", default: "false" },
  SYNC_MATCH: { path: "match.by", default: "entraId,email,username" },
  SYNC_MATCH_EMAIL_DOMAINS: { path: "match.emailDomains", default: "" },
  SYNC_ADOPT_GUESTS: { path: "match.adoptGuests", default: "false" },
  SYNC_USERNAME: { path: "username", default: "upn" },
  SYNC_FIELDS: { path: "fields", default: JSON.stringify(JOB_DEFAULTS.fields) },
  SYNC_ROLE_MODE: { path: "roles.mode", default: "replace" },
  SYNC_DEFAULT_ROLE: { path: "roles.default", default: "subscriber" },
  SYNC_ROLE_GROUPS: { path: "roles.groups", default: "" },
  SYNC_ALLOW_PRIVILEGED_ROLES: { path: "roles.allowPrivileged", default: "false" },
  SYNC_CREATE: { path: "actions.create", default: "true" },
  SYNC_UPDATE: { path: "actions.update", default: "true" },
  SYNC_MISSING: { path: "actions.missing", default: "deactivate" },
  SYNC_REASSIGN_TO: { path: "actions.reassignTo", default: "" },
  SYNC_PROTECT_ROLES: { path: "protect.roles", default: "administrator" },
  SYNC_PROTECT_USERS: { path: "protect.users", default: "" },
  SYNC_MAX_DELETE_FRACTION: { path: "safety.maxDeleteFraction", default: "0.1" },
  SYNC_MAX_DELETE_COUNT: { path: "safety.maxDeleteCount", default: "100" },
  SYNC_WEBHOOK_URL: { path: "webhook", default: "" },
  SYNC_WEBHOOK_SECRET: { path: "webhookSecret", default: "" },
  SYNC_PHOTOS: { path: "photos", default: "false" },
} as const;
export type SyncVariable = keyof typeof SYNC_VARIABLES;

/** Name -> default, for checking docs/configuration.md and .env.example against the code. */
export const SYNC_ENV_DEFAULTS: Readonly<Record<SyncVariable, string>> = Object.fromEntries(
  Object.entries(SYNC_VARIABLES).map(([name, variable]) => [name, variable.default]),
) as Record<SyncVariable, string>;

const MAKE_SECRET = `make one with: echo "whsec_$(openssl rand -base64 32)"`;

export const JOB_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const FIELD_KEY = /^(email|first_name|last_name|name|nickname|description|url|meta\.[a-z0-9_]+)$/;
const EMAIL_DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)+$/;
const ATTRIBUTE = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$/;

export interface Origin {
  id: string;
  /** Built from SYNC_* variables: messages also name the variable. */
  env: boolean;
}

/** Reads one job's raw object section by section, failing with the job, the path and what was expected. */
class JobReader {
  constructor(private readonly origin: Origin) {}

  fail(path: string, message: string): never {
    const variable = this.origin.env ? variableFor(path) : undefined;
    const job = `job "${this.origin.id}"${variable ? ` (${variable})` : ""}`;
    throw new ConfigError(`${job}: ${path} ${message}`);
  }

  section(raw: unknown, path: string, keys: readonly string[]): Record<string, unknown> {
    if (raw === undefined) return {};
    if (!isObject(raw)) this.fail(path, `must be an object (got ${show(raw)})`);
    for (const key of Object.keys(raw)) {
      if (!keys.includes(key)) {
        const hint = suggest(key, keys, (s) => s.toLowerCase());
        this.fail(`${path ? `${path}.` : ""}${key}`, `is not a known key${hint} (expected one of: ${keys.join(", ")})`);
      }
    }
    return raw;
  }

  oneOf<T extends string>(raw: unknown, path: string, values: readonly T[], fallback: T): T {
    if (raw === undefined) return fallback;
    if (typeof raw !== "string" || !values.includes(raw as T)) {
      this.fail(path, `must be one of ${values.map((v) => `"${v}"`).join(", ")} (got ${show(raw)})`);
    }
    return raw as T;
  }

  integer(raw: unknown, path: string, min: number, max: number, fallback: number): number {
    if (raw === undefined) return fallback;
    if (typeof raw !== "number" || !Number.isInteger(raw) || raw < min || raw > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
      this.fail(path, `must be an integer ${range} (got ${show(raw)})`);
    }
    return raw;
  }

  number(raw: unknown, path: string, min: number, max: number, fallback: number): number {
    if (raw === undefined) return fallback;
    if (typeof raw !== "number" || !Number.isFinite(raw) || raw < min || raw > max) {
      this.fail(path, `must be a number from ${min} to ${max} (got ${show(raw)})`);
    }
    return raw;
  }

  boolean(raw: unknown, path: string, fallback: boolean): boolean {
    if (raw === undefined) return fallback;
    if (typeof raw !== "boolean") this.fail(path, `must be true or false (got ${show(raw)})`);
    return raw;
  }

  text(raw: unknown, path: string, fallback: string): string {
    if (raw === undefined) return fallback;
    if (typeof raw !== "string" || !raw.trim()) this.fail(path, `must be a non-empty string (got ${show(raw)})`);
    return raw.trim();
  }

  /** null, "" and absent all mean "not set". */
  nullableText(raw: unknown, path: string): string | null {
    if (raw === undefined || raw === null || raw === "") return null;
    return this.text(raw, path, "");
  }

  list<T>(raw: unknown, path: string, fallback: readonly T[], item: (value: unknown, path: string) => T): T[] {
    if (raw === undefined) return [...fallback];
    if (!Array.isArray(raw)) this.fail(path, `must be an array (got ${show(raw)})`);
    const items = raw.map((value, index) => item(value, `${path}[${index}]`));
    return items.filter((value, index) => items.indexOf(value) === index);
  }
}

export function validateJob(raw: unknown, origin: Origin): Job {
  const r = new JobReader(origin);
  const job = r.section(raw, "", [
    "id",
    "trigger",
    "source",
    "match",
    "username",
    "fields",
    "roles",
    "actions",
    "protect",
    "safety",
    "webhook",
    "network",
    "webhookSecret",
    "photos",
  ]);
  const d = JOB_DEFAULTS;

  const trigger = r.section(job.trigger, "trigger", ["mode", "schedule", "timezone"]);
  const modes: TriggerMode[] = ["manual", "link-start", "link-start-continue", "schedule"];
  const triggerMode = r.oneOf(trigger.mode, "trigger.mode", modes, d.trigger.mode);
  const timezone = r.text(trigger.timezone, "trigger.timezone", d.trigger.timezone);
  if (!isTimeZone(timezone))
    r.fail("trigger.timezone", `must be an IANA time zone such as "Europe/Berlin" (got ${show(timezone)})`);
  const schedule = r.nullableText(trigger.schedule, "trigger.schedule");
  if (schedule === null && triggerMode === "schedule") {
    r.fail("trigger.schedule", `is required when trigger.mode is "schedule" (a cron expression such as "0 3 * * *")`);
  }
  if (schedule !== null) {
    const problem = cronProblem(schedule, timezone);
    if (problem)
      r.fail("trigger.schedule", `must be a 5- or 6-field cron expression (got ${show(schedule)}: ${problem})`);
  }

  const source = r.section(job.source, "source", [
    "mode",
    "filter",
    "groups",
    "pageSize",
    "attributes",
    "tenantKind",
    "notifications",
    "scopingFilters",
  ]);
  const sourceMode = r.oneOf<SourceMode>(source.mode, "source.mode", ["full", "delta"], d.source.mode);
  const filter = r.nullableText(source.filter, "source.filter");
  if (filter !== null && sourceMode === "delta") {
    r.fail("source.filter", `is only supported with source.mode "full" (Graph delta queries take no useful $filter)`);
  }
  const groups = r.list(source.groups, "source.groups", d.source.groups, (v, p) => r.text(v, p, ""));
  const pageSize = r.integer(source.pageSize, "source.pageSize", 1, 999, d.source.pageSize);
  const attributes = r.list(source.attributes, "source.attributes", d.source.attributes, (v, p) => attribute(r, v, p));
  const kinds: TenantKind[] = ["workforce", "external"];
  const tenantKind = r.oneOf(source.tenantKind, "source.tenantKind", kinds, d.source.tenantKind);
  const customer = tenantKind === "external";
  const notifications = r.boolean(source.notifications, "source.notifications", d.source.notifications);
  if (customer) checkCustomerJob(r, job, { mode: sourceMode, filter, notifications });
  const scopingFilters = r.list(source.scopingFilters, "source.scopingFilters", [], (v, p) => scopingFilter(r, v, p));

  const match = validateMatch(r, job.match, customer);
  const rules: UsernameRule[] = ["upn", "upnPrefix", "email"];
  // Customer logins never follow a rule (customer.ts): "email" records that they are not the UPN.
  const username = usernameOf(r, job.username, rules, customer ? "email" : (d.username as UsernameRule));
  const fields = validateFields(r, job.fields, customer);
  if (sourceMode === "delta") {
    const reader = Object.keys(fields).find((key) => attributesOf(fields[key]!).some(isManagerPath));
    const clause = scopingFilters.flat().find((c) => isManagerPath(graphPath(c.attribute)));
    const path = reader ? `fields.${reader}` : clause ? "source.scopingFilters" : null;
    if (path) r.fail(path, `reads the manager, which Graph's delta query cannot expand: use source.mode "full"`);
  }

  const roles = r.section(job.roles, "roles", ["mode", "default", "groups", "allowPrivileged"]);
  const roleModes: RoleMode[] = ["replace", "add", "skip"];
  const roleGroups = r.list(roles.groups, "roles.groups", d.roles.groups, (v, p) => {
    const entry = r.section(v, p, ["group", "role"]);
    if (entry.group === undefined || entry.role === undefined)
      r.fail(p, `must be an object { "group": "<group id>", "role": "<role>" }`);
    return { group: r.text(entry.group, `${p}.group`, ""), role: r.text(entry.role, `${p}.role`, "") };
  });

  const actions = r.section(job.actions, "actions", ["create", "update", "missing", "reassignTo"]);
  const missings: MissingAction[] = ["none", "deactivate", "delete"];
  const missing = r.oneOf(actions.missing, "actions.missing", missings, d.actions.missing);
  const reassignTo =
    actions.reassignTo === null || actions.reassignTo === undefined
      ? null
      : r.integer(actions.reassignTo, "actions.reassignTo", 1, Number.MAX_SAFE_INTEGER, 0);
  if (missing === "delete" && reassignTo === null) {
    r.fail(
      "actions.reassignTo",
      `is required when actions.missing is "delete" (the WordPress user id that receives the deleted users' posts)`,
    );
  }

  const protect = r.section(job.protect, "protect", ["roles", "users"]);
  if (Array.isArray(protect.roles) && protect.roles.length === 0) {
    r.fail(
      "protect.roles",
      `must not be empty: administrators are always protected; leave protect.roles out, or list the roles to protect besides administrator`,
    );
  }
  const safety = r.section(job.safety, "safety", ["maxDeleteFraction", "maxDeleteCount"]);
  const webhook = r.nullableText(job.webhook, "webhook");
  if (webhook !== null && !isHttpUrl(webhook))
    r.fail("webhook", `must be an http:// or https:// URL (got ${show(webhook)})`);
  // Never echoed in a message: it is a secret.
  const webhookSecret = r.nullableText(job.webhookSecret, "webhookSecret");
  if (webhookSecret !== null && webhookKey(webhookSecret) === null) {
    r.fail("webhookSecret", `must be "whsec_" followed by the base64 of 24 to 64 random bytes (${MAKE_SECRET})`);
  }
  if (webhook !== null && webhookSecret === null) {
    r.fail(
      "webhookSecret",
      `is required with webhook: receivers check each event's signature with it (${MAKE_SECRET})`,
    );
  }

  const defaultRole = r.text(roles.default, "roles.default", d.roles.default);
  const network =
    job.network === undefined || job.network === null ? null : validateNetwork(r, job.network, defaultRole);
  if (network !== null && roleGroups.length > 0) {
    r.fail(
      "roles.groups",
      `cannot be used with network: roles are per site there (network.groups: { "group", "site", "role" })`,
    );
  }

  const validated: Job = {
    id: origin.id,
    trigger: { mode: triggerMode, schedule, timezone },
    source: { mode: sourceMode, filter, groups, pageSize, attributes, tenantKind, notifications, scopingFilters },
    match,
    username,
    fields,
    roles: {
      mode: r.oneOf(roles.mode, "roles.mode", roleModes, d.roles.mode),
      default: defaultRole,
      groups: roleGroups,
      allowPrivileged: r.boolean(roles.allowPrivileged, "roles.allowPrivileged", d.roles.allowPrivileged),
    },
    actions: {
      create: r.boolean(actions.create, "actions.create", d.actions.create),
      update: r.boolean(actions.update, "actions.update", d.actions.update),
      missing,
      reassignTo,
    },
    protect: {
      roles: r.list(protect.roles, "protect.roles", d.protect.roles, (v, p) => r.text(v, p, "")),
      users: r.list(protect.users, "protect.users", d.protect.users, (v, p) =>
        r.integer(v, p, 1, Number.MAX_SAFE_INTEGER, 0),
      ),
    },
    safety: {
      maxDeleteFraction: r.number(
        safety.maxDeleteFraction,
        "safety.maxDeleteFraction",
        0,
        1,
        d.safety.maxDeleteFraction,
      ),
      maxDeleteCount: r.integer(
        safety.maxDeleteCount,
        "safety.maxDeleteCount",
        0,
        Number.MAX_SAFE_INTEGER,
        d.safety.maxDeleteCount,
      ),
    },
    webhook,
    network,
    webhookSecret,
    photos: r.boolean(job.photos, "photos", d.photos),
  };
  // Core roles are known here; other roles are checked once WordPress says what they allow (sync/step.ts).
  const problem = grantPolicy(validated, CORE_ROLES).problem;
  if (problem?.reason === "privileged") r.fail(problem.path, problem.message);
  return validated;
}

function validateMatch(r: JobReader, raw: unknown, customer: boolean): Job["match"] {
  const d = JOB_DEFAULTS.match;
  const keys: MatchKey[] = ["entraId", "email", "username"];
  const match = Array.isArray(raw) ? { by: raw } : r.section(raw, "match", ["by", "emailDomains", "adoptGuests"]);
  const path = matchKeysPath(raw);
  const fallback: MatchKey[] = customer ? ["entraId", "email"] : d.by;
  const by = r.list(match.by, path, fallback, (v, p) => r.oneOf(v, p, keys, "email"));
  if (by.length === 0) r.fail(path, `must name at least one of ${keys.join(", ")}`);
  const emailDomains = r.list(match.emailDomains, "match.emailDomains", d.emailDomains, (v, p) => {
    const domain = r.text(v, p, "").toLowerCase();
    if (!EMAIL_DOMAIN.test(domain)) r.fail(p, `must be an e-mail domain such as "contoso.com" (got ${show(v)})`);
    return domain;
  });
  return { by, emailDomains, adoptGuests: r.boolean(match.adoptGuests, "match.adoptGuests", d.adoptGuests) };
}

const SITE_PATH = /^\/([A-Za-z0-9_-]+\/)?$/;
const ROLE = /^[A-Za-z0-9_-]*$/;

/** The job's network target: sites by path or id, roles per site ("" = member without a role). */
function validateNetwork(r: JobReader, raw: unknown, defaultRole: string): NetworkTarget {
  const n = r.section(raw, "network", ["sites", "defaultRole", "siteDefaults", "groups", "deleteFromNetwork"]);
  const site = (v: unknown, p: string): SiteSelector => {
    if (typeof v === "number" && Number.isInteger(v) && v >= 1) return v;
    if (typeof v === "string" && SITE_PATH.test(v)) return v;
    return r.fail(p, `must be a site path such as "/" or "/hr/", or a site id (got ${show(v)})`);
  };
  const role = (v: unknown, p: string): string => {
    if (typeof v !== "string" || !ROLE.test(v.trim())) {
      r.fail(p, `must be a role name, or "" for a member without a role (got ${show(v)})`);
    }
    return v.trim();
  };
  let sites: NetworkTarget["sites"] = "all";
  if (n.sites !== undefined && n.sites !== "all") {
    if (!Array.isArray(n.sites) || n.sites.length === 0) {
      r.fail("network.sites", `must be "all" or a non-empty list of site paths and ids (got ${show(n.sites)})`);
    }
    sites = r.list(n.sites, "network.sites", [], site);
  }
  const siteDefaults = r.list(n.siteDefaults, "network.siteDefaults", [], (v, p) => {
    const entry = r.section(v, p, ["site", "role"]);
    if (entry.site === undefined || entry.role === undefined)
      r.fail(p, `must be an object { "site": "/hr/", "role": "<role>" }`);
    return { site: site(entry.site, `${p}.site`), role: role(entry.role, `${p}.role`) };
  });
  const groups = r.list(n.groups, "network.groups", [], (v, p) => {
    const entry = r.section(v, p, ["group", "site", "role"]);
    if (entry.group === undefined || entry.site === undefined || entry.role === undefined) {
      r.fail(p, `must be an object { "group": "<group id>", "site": "/hr/", "role": "<role>" }`);
    }
    return {
      group: r.text(entry.group, `${p}.group`, ""),
      site: site(entry.site, `${p}.site`),
      role: role(entry.role, `${p}.role`),
    };
  });
  return {
    sites,
    defaultRole: n.defaultRole === undefined ? defaultRole : role(n.defaultRole, "network.defaultRole"),
    siteDefaults,
    groups,
    deleteFromNetwork: r.boolean(n.deleteFromNetwork, "network.deleteFromNetwork", false),
  };
}

/**
 * Customer tenants (Entra External ID, Azure AD B2C) have no change tracking and no advanced
 * queries, and their userPrincipalName is generated: refuse at start-up what cannot work there.
 */
function checkCustomerJob(
  r: JobReader,
  job: Record<string, unknown>,
  source: { mode: SourceMode; filter: string | null; notifications: boolean },
) {
  const where = `with source.tenantKind "external"`;
  if (source.notifications) {
    r.fail(
      "source.notifications",
      `cannot be true ${where}: Microsoft Graph sends no change notifications for External ID and B2C tenants; schedule full runs instead`,
    );
  }
  if (source.mode === "delta") {
    r.fail(
      "source.mode",
      `"delta" is not available ${where}: Microsoft Graph has no change tracking in External ID and B2C tenants (no /users/delta, no change notifications); use "full" and schedule it`,
    );
  }
  if (needsAdvancedQuery(source.filter)) {
    r.fail(
      "source.filter",
      `cannot use ne, not or endsWith ${where}: those are advanced queries, which External ID and B2C tenants do not support (got ${show(source.filter)})`,
    );
  }
  if (job.username === "upn" || job.username === "upnPrefix") {
    r.fail(
      "username",
      `cannot be ${show(job.username)} ${where}: customer accounts have a generated userPrincipalName (<guid>@<tenant>.onmicrosoft.com); their login is the userName identity, else the e-mail (leave username out)`,
    );
  }
  const matchKeys = Array.isArray(job.match) ? job.match : isObject(job.match) ? job.match.by : undefined;
  if (Array.isArray(matchKeys) && matchKeys.includes("username")) {
    r.fail(
      matchKeysPath(job.match),
      `cannot include "username" ${where}: customers choose their user names themselves, so one could sign up as an existing WordPress login and take that account over (match by "entraId" and "email")`,
    );
  }
  if (isObject(job.fields) && "email" in job.fields) {
    r.fail(
      "fields.email",
      `is derived ${where} (the emailAddress identity, then mail, then otherMails): leave it out of fields`,
    );
  }
}

/** Where a job's match keys are: the short form (a list) is what jobs files said before the adoption rules. */
function matchKeysPath(raw: unknown): string {
  return Array.isArray(raw) || raw === undefined ? "match" : "match.by";
}

/**
 * fields replaces the default mapping as a whole (so a default field can be dropped); email is
 * required, except for customer tenants, where it is derived from the sign-in identities.
 */
function validateFields(r: JobReader, raw: unknown, derivedEmail: boolean): Record<string, string> {
  if (raw === undefined) {
    const { email: _derived, ...rest } = JOB_DEFAULTS.fields;
    return derivedEmail ? rest : { ...JOB_DEFAULTS.fields };
  }
  if (!isObject(raw)) r.fail("fields", `must be an object of WordPress field -> Graph attributes (got ${show(raw)})`);
  const fields: Record<string, string> = {};
  for (const [key, expression] of Object.entries(raw)) {
    const path = `fields.${key}`;
    if (!FIELD_KEY.test(key)) {
      r.fail(
        path,
        `is not a WordPress field (expected email, first_name, last_name, name, nickname, description, url or meta.<key> with a-z, 0-9, _)`,
      );
    }
    const text = r.text(expression, path, "");
    const problem = mappingProblem(text, false);
    if (problem) r.fail(path, `${problem} in ${show(text)}`);
    fields[key] = normaliseMapping(text);
  }
  if (fields.email === undefined && !derivedEmail)
    r.fail("fields.email", `is required (WordPress needs an e-mail address), e.g. "mail|userPrincipalName"`);
  return fields;
}

/** A username rule, or an expression (the only place SelectUniqueValue is tried against WordPress). */
function usernameOf(r: JobReader, raw: unknown, rules: UsernameRule[], fallback: UsernameRule): string {
  if (raw === undefined || (typeof raw === "string" && (rules as string[]).includes(raw))) {
    return r.oneOf(raw, "username", rules, fallback);
  }
  const text = r.text(raw, "username", "");
  if (isShortForm(text)) {
    r.fail("username", `must be one of ${rules.map((v) => `"${v}"`).join(", ")} or an expression (got ${show(text)})`);
  }
  const problem = mappingProblem(text, true);
  if (problem) r.fail("username", `${problem} in ${show(text)}`);
  return text.trim();
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

/** One scoping filter: a non-empty array of clauses { attribute, operator, value }, all of which must hold. */
function scopingFilter(r: JobReader, raw: unknown, path: string): ScopingClause[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    r.fail(path, `must be a non-empty array of clauses {"attribute", "operator", "value"} (got ${show(raw)})`);
  }
  return raw.map((item, index) => {
    const at = `${path}[${index}]`;
    const clause = r.section(item, at, ["attribute", "operator", "value"]);
    const operatorText = r.text(clause.operator, `${at}.operator`, "");
    const operator = scopingOperator(operatorText);
    if (operator === null) {
      const names = SCOPING_OPERATORS.map((name) => name.replaceAll("_", " ")).join(", ");
      r.fail(`${at}.operator`, `must be one of ${names} (got ${show(operatorText)})`);
    }
    const rawValue = clause.value;
    if (rawValue !== undefined && rawValue !== null && typeof rawValue !== "string" && !Number.isInteger(rawValue)) {
      r.fail(`${at}.value`, `must be a string or an integer (got ${show(rawValue)})`);
    }
    const value = rawValue === undefined || rawValue === null ? null : String(rawValue);
    const result = { attribute: attribute(r, clause.attribute, `${at}.attribute`), operator, value };
    const problem = clauseProblem(result);
    if (problem) r.fail(`${at}.value`, problem);
    return result;
  });
}

const isManagerPath = (path: string) => path.split(".")[0]!.toLowerCase() === "manager";

function attribute(r: JobReader, raw: unknown, path: string): string {
  const name = r.text(raw, path, "");
  if (!ATTRIBUTE.test(name)) r.fail(path, `must be a Graph attribute name such as "department" (got ${show(name)})`);
  return name;
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

export function suggest(name: string, known: readonly string[], normalise: (s: string) => string): string {
  const match = known.find((candidate) => normalise(candidate).toLowerCase() === normalise(name).toLowerCase());
  return match ? ` (did you mean ${match}?)` : "";
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function show(value: unknown): string {
  return value === undefined ? "nothing" : JSON.stringify(value);
}
