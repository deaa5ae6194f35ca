/**
 * What a job may say: the defaults, the SYNC_* variables of the "default" job, and the TypeBox
 * schema of the jobs file. The service validates every job with this schema (job-validation.ts
 * adds the rules that span fields), and jobs.schema.json is generated from it (`npm run
 * jobs-schema`), so editors check the same things. Loading lives in jobs.ts.
 *
 * Adding a key: add it here (with a description and its default), to JOB_DEFAULTS and the Job
 * type, and read it in job-validation.ts; document it in docs/jobs.md (test/docs.test.ts checks).
 */
import { Type } from "@sinclair/typebox";
import type { Job } from "../core/job";
import { DEFAULT_TARGET, SCOPING_OPERATORS } from "../core/job";
import { NAME, OneOf, Optional, Section, Text } from "./schema-parts";
import { SitesSchema, SourcesSchema, TargetName, TENANT_KINDS } from "./sites-schema";

export const JOB_DEFAULTS: Readonly<Omit<Job, "id">> = {
  site: DEFAULT_TARGET,
  trigger: { mode: "link-start-continue", schedule: null, timezone: "UTC" },
  source: {
    kind: "graph",
    tenant: DEFAULT_TARGET,
    mode: "full",
    filter: null,
    groups: [],
    pageSize: 500,
    attributes: [],
    tenantKind: "workforce",
    notifications: false,
    scopingFilters: [],
  },
  match: { by: ["entraId", "email", "username"], emailDomains: [], adoptGuests: false, adoptUnverifiedEmails: false },
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
  dryRun: false,
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
  SYNC_ADOPT_UNVERIFIED_EMAILS: { path: "match.adoptUnverifiedEmails", default: "false" },
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

export const JOB_ID = NAME;
export const TRIGGER_MODES = ["manual", "link-start", "link-start-continue", "schedule"] as const;
export const SOURCE_KINDS = ["graph", "scim"] as const;
export const SOURCE_MODES = ["full", "delta"] as const;
export { TENANT_KINDS };
export const MATCH_KEYS = ["entraId", "email", "username"] as const;
export const USERNAME_RULES = ["upn", "upnPrefix", "email"] as const;
export const ROLE_MODES = ["replace", "add", "skip"] as const;
export const MISSING_ACTIONS = ["none", "deactivate", "delete"] as const;
export const FIELD_KEY = /^(email|first_name|last_name|name|nickname|description|url|meta\.[a-z0-9_]+)$/;
const EMAIL_DOMAIN =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$/;
const ATTRIBUTE = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$/;
const SITE_PATH = /^\/([A-Za-z0-9_-]+\/)?$/;
/** Spaces around a role name are tolerated (and trimmed); "" is a member without a role. */
const ROLE = /^\s*[A-Za-z0-9_-]*\s*$/;

const d = JOB_DEFAULTS;

const Attribute = (options: object = {}) =>
  Type.String({
    pattern: ATTRIBUTE.source,
    errorMessage: 'must be a Graph attribute name such as "department"',
    ...options,
  });
const Role = (description: string) =>
  Type.String({
    pattern: ROLE.source,
    errorMessage: 'must be a role name, or "" for a member without a role',
    description,
  });
const Site = Type.Union([Type.String({ pattern: SITE_PATH.source }), Type.Integer({ minimum: 1 })], {
  errorMessage: 'must be a site path such as "/" or "/hr/", or a site id',
  description: 'A site of the network: its path ("/", "/hr/") or its id.',
});
const MatchKeys = Type.Array(OneOf(MATCH_KEYS), {
  minItems: 1,
  description: "How an Entra user finds an existing WordPress account, tried in this order.",
});

const trigger = Section(
  {
    mode: Type.Optional(
      OneOf(TRIGGER_MODES, {
        default: d.trigger.mode,
        description:
          "Who starts and advances runs. link-start-continue: a start link starts a run and nothing advances it until the continue link is called (one step per call); link-start: a start link starts, the service finishes; schedule: the service starts runs at trigger.schedule; manual: the admin API or the CLI starts them.",
      }),
    ),
    schedule: Type.Optional(
      Optional({
        description: 'Cron expression (5 or 6 fields) at which a "schedule" job starts a run, e.g. "0 3 * * *".',
      }),
    ),
    timezone: Type.Optional(
      Text({ default: d.trigger.timezone, description: 'IANA time zone of the schedule, e.g. "Europe/Berlin".' }),
    ),
  },
  { description: "When runs start and what advances them." },
);

const scopingClause = Section(
  {
    attribute: Attribute({ description: "The Graph attribute the clause tests." }),
    operator: Text({
      description: `One of ${SCOPING_OPERATORS.map((name) => name.replaceAll("_", " ")).join(", ")} (spaces or underscores, any case).`,
    }),
    value: Type.Optional(
      Type.Union([Type.String(), Type.Integer(), Type.Null()], {
        errorMessage: "must be a string or an integer",
        description: "What the attribute is compared with (none for IS TRUE, IS NULL, ...).",
      }),
    ),
  },
  { description: "One clause of a scoping filter." },
);

const source = Section(
  {
    kind: Type.Optional(
      OneOf(SOURCE_KINDS, {
        default: d.source.kind,
        description:
          "graph: the service reads Microsoft Graph; scim: an identity provider pushes users to /scim/v2/{job} (docs/scim.md).",
      }),
    ),
    tenant: Type.Optional(
      TargetName('The Entra tenant read: a name from "sources", or "default" (the AZURE_* variables).'),
    ),
    mode: Type.Optional(
      OneOf(SOURCE_MODES, {
        default: d.source.mode,
        description: "full: every run lists every user; delta: after the first run, only changes.",
      }),
    ),
    filter: Type.Optional(
      Optional({ description: 'Graph $filter for the users, e.g. "accountEnabled eq true" (full mode only).' }),
    ),
    groups: Type.Optional(
      Type.Array(Text(), {
        default: d.source.groups,
        description: "Group object ids: only their transitive members are synced (GroupMember.Read.All).",
      }),
    ),
    pageSize: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 999,
        default: d.source.pageSize,
        description: "Users per Graph page, that is per step.",
      }),
    ),
    attributes: Type.Optional(
      Type.Array(Attribute(), { default: d.source.attributes, description: "Extra Graph attributes to read." }),
    ),
    tenantKind: Type.Optional(
      OneOf(TENANT_KINDS, {
        default: d.source.tenantKind,
        description:
          'external: an Entra External ID or Azure AD B2C customer tenant (default: its source\'s tenantKind, else "workforce").',
      }),
    ),
    notifications: Type.Optional(
      Type.Boolean({
        default: d.source.notifications,
        description: "Near-real-time sync from Microsoft Graph change notifications (needs an https PUBLIC_URL).",
      }),
    ),
    scopingFilters: Type.Optional(
      Type.Array(
        Type.Array(scopingClause, {
          minItems: 1,
          errorMessage: 'must be a non-empty array of clauses {"attribute", "operator", "value"}',
        }),
        {
          default: d.source.scopingFilters,
          description: "A user is in scope when all clauses of one filter hold (no filters: everyone).",
        },
      ),
    ),
  },
  { description: "Which Entra users the job reads." },
);

const match = Type.Union(
  [
    MatchKeys,
    Section({
      by: Type.Optional(MatchKeys),
      emailDomains: Type.Optional(
        Type.Array(
          Type.String({
            pattern: EMAIL_DOMAIN.source,
            errorMessage: 'must be an e-mail domain such as "contoso.com"',
          }),
          { default: d.match.emailDomains, description: "Adopt by e-mail only within these domains (empty: any)." },
        ),
      ),
      adoptGuests: Type.Optional(
        Type.Boolean({ default: d.match.adoptGuests, description: "Adopt existing accounts for guests too." }),
      ),
      adoptUnverifiedEmails: Type.Optional(
        Type.Boolean({
          default: d.match.adoptUnverifiedEmails,
          description:
            'Customer tenants (source.tenantKind "external"): adopt by an address from mail or otherMails too, which customers and social providers assert without proof (default: only the e-mail sign-in).',
        }),
      ),
    }),
  ],
  {
    errorMessage: {
      type: 'must be a list of match keys, or an object { "by", "emailDomains", "adoptGuests", "adoptUnverifiedEmails" }',
    },
    description: "How an Entra user finds a WordPress account it is not synced to yet (a list is short for by).",
  },
);

const roles = Section(
  {
    mode: Type.Optional(
      OneOf(ROLE_MODES, {
        default: d.roles.mode,
        description: "replace: set the mapped role; add: add it; skip: never touch roles after creation.",
      }),
    ),
    default: Type.Optional(Text({ default: d.roles.default, description: "The role when no group mapping applies." })),
    groups: Type.Optional(
      Type.Array(
        Section(
          { group: Text({ description: "Group object id." }), role: Text({ description: "WordPress role." }) },
          {
            required: ["group", "role"],
            errorMessage: 'must be an object { "group": "<group id>", "role": "<role>" }',
          },
        ),
        { default: d.roles.groups, description: "Role per group; the first group the user is in wins." },
      ),
    ),
    allowPrivileged: Type.Optional(
      Type.Boolean({
        default: d.roles.allowPrivileged,
        description: "Allow granting roles that manage users or the site (administrator, ...).",
      }),
    ),
  },
  { description: "The WordPress roles of synced users." },
);

const network = Section(
  {
    sites: Type.Optional(
      Type.Union([Type.Literal("all"), Type.Array(Site, { minItems: 1 })], {
        errorMessage: 'must be "all" or a non-empty list of site paths and ids',
        default: "all",
        description: '"all" (every site, also those created later) or the sites\' paths and ids.',
      }),
    ),
    defaultRole: Type.Optional(Role("The role on a selected site when nothing else applies (default: roles.default).")),
    siteDefaults: Type.Optional(
      Type.Array(
        Section(
          { site: Site, role: Role("The site's default role.") },
          { required: ["site", "role"], errorMessage: 'must be an object { "site": "/hr/", "role": "<role>" }' },
        ),
        { default: [], description: "A default role per site." },
      ),
    ),
    groups: Type.Optional(
      Type.Array(
        Section(
          { group: Text({ description: "Group object id." }), site: Site, role: Role("The role on that site.") },
          {
            required: ["group", "site", "role"],
            errorMessage: 'must be an object { "group": "<group id>", "site": "/hr/", "role": "<role>" }',
          },
        ),
        { default: [], description: "Role per group and site; on a site, the first group the user is in wins." },
      ),
    ),
    deleteFromNetwork: Type.Optional(
      Type.Boolean({
        default: false,
        description: 'With actions.missing "delete": delete leavers from the whole network, not only from the sites.',
      }),
    ),
  },
  { description: "A WordPress multisite network: the sites the job's users join and their roles there." },
);

/** One job of the jobs file. */
export const JobSchema = Section(
  {
    id: Type.String({
      pattern: JOB_ID.source,
      description: 'The job\'s name in links, the API, metrics and logs: a-z, 0-9, "_" and "-", up to 63 characters.',
    }),
    site: Type.Optional(
      TargetName('The WordPress site written to: a name from "sites", or "default" (the WP_* variables).'),
    ),
    trigger: Type.Optional(trigger),
    source: Type.Optional(source),
    match: Type.Optional(match),
    username: Type.Optional(
      Text({
        default: d.username,
        description: `How a new user's login is made: ${USERNAME_RULES.join(", ")}, or an expression in Entra's syntax.`,
      }),
    ),
    fields: Type.Optional(
      Type.Record(Type.String({ pattern: FIELD_KEY.source }), Text(), {
        additionalProperties: false,
        default: d.fields,
        errorMessage: {
          type: "must be an object of WordPress field -> Graph attributes",
          additionalProperties:
            "is not a WordPress field (expected email, first_name, last_name, name, nickname, description, url or meta.<key> with a-z, 0-9, _)",
        },
        description:
          'WordPress field -> Graph attributes ("a|b": the first non-empty) or an expression; replaces the default mapping as a whole.',
      }),
    ),
    roles: Type.Optional(roles),
    actions: Type.Optional(
      Section(
        {
          create: Type.Optional(Type.Boolean({ default: d.actions.create, description: "Create new users." })),
          update: Type.Optional(Type.Boolean({ default: d.actions.update, description: "Update synced users." })),
          missing: Type.Optional(
            OneOf(MISSING_ACTIONS, {
              default: d.actions.missing,
              description: "What happens to users who left the job's scope.",
            }),
          ),
          reassignTo: Type.Optional(
            Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
              description: 'WordPress user id that receives a deleted user\'s posts; required with missing "delete".',
            }),
          ),
        },
        { description: "What the job may do." },
      ),
    ),
    protect: Type.Optional(
      Section(
        {
          roles: Type.Optional(
            Type.Array(Text(), {
              minItems: 1,
              default: d.protect.roles,
              errorMessage: {
                minItems:
                  "must not be empty: administrators are always protected; leave protect.roles out, or list the roles to protect besides administrator",
              },
              description: "Accounts with these roles are never modified or removed (administrator always is).",
            }),
          ),
          users: Type.Optional(
            Type.Array(Type.Integer({ minimum: 1 }), {
              default: d.protect.users,
              description: "WordPress user ids never modified or removed.",
            }),
          ),
        },
        { description: "Accounts the job never touches." },
      ),
    ),
    safety: Type.Optional(
      Section(
        {
          maxDeleteFraction: Type.Optional(
            Type.Number({
              minimum: 0,
              maximum: 1,
              default: d.safety.maxDeleteFraction,
              description: "A run removing more than this fraction of the job's users waits for approval.",
            }),
          ),
          maxDeleteCount: Type.Optional(
            Type.Integer({
              minimum: 0,
              default: d.safety.maxDeleteCount,
              description: "A run removing more than this many users waits for approval.",
            }),
          ),
        },
        { description: "Limits on removals." },
      ),
    ),
    webhook: Type.Optional(
      Optional({ description: "http(s) URL that receives an event when a run completes, fails or awaits approval." }),
    ),
    webhookSecret: Type.Optional(
      Optional({
        writeOnly: true,
        description: 'Signs the webhook events: "whsec_" + base64 of 24-64 random bytes; required with webhook.',
      }),
    ),
    network: Type.Optional(Type.Union([network, Type.Null()])),
    photos: Type.Optional(
      Type.Boolean({ default: d.photos, description: "Entra profile photos as WordPress avatars (needs the plugin)." }),
    ),
    dryRun: Type.Optional(
      Type.Boolean({
        default: d.dryRun,
        description:
          "SCIM jobs: every write the provider pushes is planned and recorded as an item with its diff; nothing is written to WordPress. Once it is off again, what was stored meanwhile is applied.",
      }),
    ),
  },
  { description: "One sync job: which Entra users go into which WordPress, how, and what happens to leavers." },
);

/** The jobs file: `{ "$schema"?: ..., "sites"?: {...}, "sources"?: {...}, "jobs": [...] }`. */
export const JobsFileSchema = Section(
  {
    $schema: Type.Optional(Type.String({ description: "Where editors find this schema; ignored by the service." })),
    sites: Type.Optional(SitesSchema),
    sources: Type.Optional(SourcesSchema),
    jobs: Type.Array(JobSchema, { minItems: 1, description: "The jobs; each id unique." }),
  },
  { title: "entra-wp-sync jobs file", description: "SYNC_JOBS_FILE: the jobs entra-wp-sync runs." },
);

/** jobs.schema.json: the jobs file's schema as JSON Schema (draft-07, what editors read best). */
export function jobsJsonSchema(): string {
  const document = { $schema: "http://json-schema.org/draft-07/schema#", ...JobsFileSchema };
  return `${JSON.stringify(document, null, 2)}\n`;
}
