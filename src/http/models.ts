/**
 * The JSON bodies the API answers with, as shared schemas (each an $id: one entry under
 * components/schemas in openapi.yaml, referenced with ref()). A response schema is also what
 * Fastify serialises with: a field that is not listed here is never sent, so a new field of a
 * run, an item or a job reaches the API only once it is added here.
 */
import { type TSchema, Type } from "@sinclair/typebox";
import { SCOPING_OPERATORS } from "../core/job";
import { FAILURE_KINDS } from "../core/run-alarm";
import { ITEM_ACTIONS, ITEM_STATUSES, RUN_MODES, RUN_STATES, RUN_TRIGGERS } from "../core/runs";
import { JobId, Nullable, Problem, ref, StringEnum } from "./schemas";

const Count = Type.Integer({ minimum: 0 });
const DateTime = Type.String({ format: "date-time" });
/** `{ field: [old, new] }` */
const Diff = Type.Record(Type.String(), Type.Array(Type.Unknown(), { minItems: 2, maxItems: 2 }), {
  description: "field -> [old, new]",
});

export const RunCounts = Type.Object(
  {
    seen: Count,
    created: Count,
    updated: Count,
    unchanged: Count,
    reactivated: Count,
    deactivated: Count,
    deleted: Count,
    skipped: Count,
    failed: Count,
  },
  { $id: "RunCounts" },
);

export const RunSummary = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    job: Type.String(),
    state: StringEnum(RUN_STATES),
    trigger: StringEnum(RUN_TRIGGERS),
    dryRun: Type.Boolean(),
    mode: StringEnum(RUN_MODES),
    step: Type.Integer(),
    counts: ref(RunCounts),
    totalEstimate: Nullable(Type.Integer({ description: "Users expected in total when Graph said so." })),
    createdAt: DateTime,
    startedAt: Nullable(DateTime),
    finishedAt: Nullable(DateTime),
    progressedAt: Type.String({ format: "date-time", description: "Last time a step made progress." }),
    lastError: Nullable(Type.String()),
    failure: Nullable(
      StringEnum([...FAILURE_KINDS], { description: "What made a failed run fail (lastError has the details)." }),
    ),
    acknowledgedAt: Nullable(
      Type.String({
        format: "date-time",
        description:
          "When an operator acknowledged the run (failed, or awaiting approval): its continue link answers 200 again.",
      }),
    ),
  },
  { $id: "RunSummary", description: "One run of a job." },
);

/**
 * A continue link's 503: the job's latest run failed, or awaits approval longer than
 * APPROVAL_OVERDUE_MS (src/core/run-alarm.ts); or, with Retry-After and none of these fields,
 * the database is unreachable.
 */
export const RunAlarm = Type.Object(
  {
    ...Problem.properties,
    job: Type.Optional(Type.String()),
    run: Type.Optional(
      Type.Object({
        id: Type.String({ format: "uuid" }),
        state: StringEnum(["failed", "awaiting_approval"]),
        failedAt: Type.Optional(DateTime),
        awaitingSince: Type.Optional(DateTime),
      }),
    ),
    failure: Type.Optional(StringEnum([...FAILURE_KINDS], { description: "What failed (never the upstream text)." })),
    todo: Type.Optional(Type.String({ description: "What to do, for a person." })),
  },
  {
    $id: "RunAlarm",
    description:
      'A problem+json saying the job needs an operator (reason "run failed" or "approval overdue"). Names what failed as a category, never the upstream error text, URLs, user names or e-mails.',
  },
);

export const RunItem = Type.Object(
  {
    id: Type.String(),
    entraId: Type.String(),
    wpUserId: Nullable(Type.Integer()),
    action: StringEnum(ITEM_ACTIONS),
    status: StringEnum(ITEM_STATUSES),
    diff: Diff,
    email: Nullable(Type.String()),
    displayName: Nullable(Type.String()),
    reason: Nullable(Type.String()),
    error: Nullable(Type.String()),
    createdAt: DateTime,
  },
  { $id: "RunItem", description: "The outcome for one user within a run." },
);

export const HistoryItem = Type.Object(
  {
    ...RunItem.properties,
    job: Type.String(),
    runId: Type.String({ format: "uuid" }),
    dryRun: Type.Boolean({ description: "The item was planned in a dry run: nothing was written." }),
  },
  { $id: "HistoryItem", description: "An item of one person's history: the outcome, its run and its job." },
);

export const RunProgress = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    state: RunSummary.properties.state,
    step: Type.Integer(),
    counts: ref(RunCounts),
    startedAt: Nullable(DateTime),
    finishedAt: Nullable(DateTime),
  },
  {
    $id: "RunProgress",
    description:
      "A run as a trigger link shows it: progress only. No upstream error text, URLs, user names or e-mails (the admin API's RunSummary has lastError and the items).",
  },
);

/** What starting a run answers, showing the run as `run` (links see its progress, the admin API all of it). */
function startResponse<T extends TSchema>($id: string, run: T) {
  return Type.Object(
    {
      job: Type.String(),
      started: Type.Boolean(),
      reason: Type.Optional(Type.String({ description: 'Why no run was started, e.g. "already running".' })),
      run,
    },
    { $id },
  );
}

export const StartResponse = startResponse("StartResponse", ref(RunProgress));
export const StartRunResponse = startResponse("StartRunResponse", ref(RunSummary));

export const ContinueResponse = Type.Object(
  {
    job: Type.String(),
    advanced: Type.Boolean(),
    reason: Type.Optional(
      Type.String({
        description: 'Why nothing advanced, e.g. "busy", "no active run", "completed", "awaiting approval".',
      }),
    ),
    run: Type.Union([ref(RunProgress), Type.Null()]),
    note: Type.Optional(
      Type.String({ description: "Present when the service drives the job's runs itself, so the call is optional." }),
    ),
  },
  { $id: "ContinueResponse" },
);

const SiteSelector = Type.Union([Type.String(), Type.Integer()], { description: 'A site path ("/hr/") or a site id.' });

export const Job = Type.Object(
  {
    id: JobId,
    site: Type.String({
      description:
        'The WordPress site the job writes to: a name from the jobs file\'s "sites", or "default" (WP_URL). Never its credentials.',
    }),
    trigger: Type.Object({
      mode: StringEnum(["manual", "link-start", "link-start-continue", "schedule"]),
      schedule: Nullable(Type.String()),
      timezone: Type.String(),
    }),
    source: Type.Object({
      kind: StringEnum(["graph", "scim"], {
        description: "scim: an identity provider pushes users to /scim/v2/{job}.",
      }),
      tenant: Type.String({
        description:
          'The Entra tenant the job reads: a name from the jobs file\'s "sources", or "default" (AZURE_TENANT_ID). Never its credentials.',
      }),
      mode: StringEnum(["full", "delta"]),
      filter: Nullable(Type.String()),
      groups: Type.Array(Type.String()),
      pageSize: Type.Integer(),
      attributes: Type.Array(Type.String()),
      scopingFilters: Type.Array(
        Type.Array(
          Type.Object({
            attribute: Type.String(),
            operator: StringEnum([...SCOPING_OPERATORS]),
            value: Nullable(Type.String()),
          }),
        ),
        { description: "OR-ed scoping filters, each an array of AND-ed clauses." },
      ),
      tenantKind: StringEnum(["workforce", "external"], {
        description: "external = an Entra External ID or Azure AD B2C customer tenant (full listings only).",
      }),
      notifications: Type.Boolean({
        description:
          'Near-real-time: Microsoft Graph change notifications applied as runs of kind "notification" (needs an https PUBLIC_URL).',
      }),
    }),
    match: Type.Object(
      {
        by: Type.Array(StringEnum(["entraId", "email", "username"])),
        emailDomains: Type.Array(Type.String(), { description: "Adoption by e-mail only within these (empty: any)." }),
        adoptGuests: Type.Boolean({ description: "Adopt existing accounts for guests by e-mail or user name too." }),
        adoptUnverifiedEmails: Type.Boolean({
          description:
            "Customer tenants: adopt by an address from mail or otherMails too (not only the e-mail sign-in).",
        }),
      },
      { description: "How an Entra user finds an existing WordPress account, and when that account may be adopted." },
    ),
    username: Type.String({
      description:
        'A rule ("upn", "upnPrefix", "email") or an expression in Entra\'s syntax (SelectUniqueValue allowed).',
    }),
    fields: Type.Record(Type.String(), Type.String(), {
      description: 'WordPress field -> "a|b" (first non-empty attribute) or an expression in Entra\'s syntax.',
    }),
    roles: Type.Object({
      mode: StringEnum(["replace", "add", "skip"]),
      default: Type.String(),
      groups: Type.Array(Type.Object({ group: Type.String(), role: Type.String() })),
      allowPrivileged: Type.Boolean({ description: "The job may grant roles that manage users or the site." }),
    }),
    actions: Type.Object({
      create: Type.Boolean(),
      update: Type.Boolean(),
      missing: StringEnum(["none", "deactivate", "delete"]),
      reassignTo: Nullable(Type.Integer()),
    }),
    protect: Type.Object({ roles: Type.Array(Type.String()), users: Type.Array(Type.Integer()) }),
    safety: Type.Object({ maxDeleteFraction: Type.Number(), maxDeleteCount: Type.Integer() }),
    photos: Type.Boolean({ description: "Profile photos from Graph as WordPress avatars (companion plugin)." }),
    dryRun: Type.Boolean({
      description: "SCIM jobs: every run is a dry run (items planned, nothing written to WordPress).",
    }),
    webhook: Nullable(
      Type.String({ description: "Only the origin is shown (https://host/[REDACTED]); the rest may hold a secret." }),
    ),
    network: Nullable(
      Type.Object(
        {
          sites: Type.Union([Type.Literal("all"), Type.Array(SiteSelector)], {
            description: '"all" (also sites created later), or site paths and ids.',
          }),
          defaultRole: Type.String({ description: '"" = a member without a role.' }),
          siteDefaults: Type.Array(Type.Object({ site: SiteSelector, role: Type.String() })),
          groups: Type.Array(Type.Object({ group: Type.String(), site: SiteSelector, role: Type.String() })),
          deleteFromNetwork: Type.Boolean(),
        },
        { description: "A multisite network target (null: a single site); docs/multisite.md." },
      ),
    ),
    webhookSecret: Nullable(
      Type.String({ description: 'The signing secret of the webhook\'s events, never shown ("[REDACTED]" when set).' }),
    ),
  },
  { $id: "Job", description: "A declared job (see the jobs file); the webhook keeps only its origin." },
);

export const JobDetail = Type.Intersect(
  [
    ref(Job),
    Type.Object({
      linksValidFrom: Nullable(
        Type.String({
          format: "date-time",
          description: "Link tokens issued before this instant are refused (null: never revoked).",
        }),
      ),
      activeRun: Type.Union([ref(RunSummary), Type.Null()]),
    }),
  ],
  { $id: "JobDetail", description: "A job, with its links' revocation cut-off and its active run." },
);

export const Links = Type.Object(
  { start: Type.String({ format: "uri" }), continue: Type.String({ format: "uri" }) },
  { $id: "Links" },
);

const StageError = Type.Optional(Type.String());

export const ProvisionTrace = Type.Object(
  {
    job: Type.String(),
    entraId: Type.String(),
    dryRun: Type.Boolean(),
    outcome: StringEnum(["not found", "out of scope", "planned", "applied", "refused", "failed"], {
      description:
        "refused: WordPress refused this user's data (stages.applied.error); failed: Graph or WordPress failed beyond retries (the failing stage has an error).",
    }),
    stages: Type.Object(
      {
        fetched: Type.Object({
          found: Type.Boolean(),
          user: Type.Union([
            Type.Object({
              id: Type.String(),
              displayName: Nullable(Type.String()),
              mail: Nullable(Type.String()),
              userPrincipalName: Nullable(Type.String()),
              accountEnabled: Type.Boolean(),
            }),
            Type.Null(),
          ]),
          graphRequests: Type.Integer(),
          ms: Type.Integer(),
          error: StageError,
        }),
        inScope: Type.Union([
          Type.Object({
            inScope: Type.Boolean(),
            reason: Nullable(Type.String({ examples: ["account disabled"] })),
            groups: Type.Array(Type.String(), {
              description: "The job's groups the user is a transitive member of.",
            }),
            groupsChecked: Type.Integer(),
            graphRequests: Type.Integer({ description: "One checkMemberGroups call per 20 groups." }),
            ms: Type.Integer(),
            error: StageError,
          }),
          Type.Null(),
        ]),
        matched: Type.Union([
          Type.Object({
            wpUserId: Nullable(Type.Integer()),
            how: Nullable(StringEnum(["user map", "entraId", "email", "username"])),
            mapState: Nullable(StringEnum(["active", "deactivated"])),
            ms: Type.Integer(),
            error: StageError,
          }),
          Type.Null(),
        ]),
        planned: Type.Union([
          Type.Object({
            action: StringEnum(ITEM_ACTIONS),
            wpUserId: Nullable(Type.Integer()),
            diff: Diff,
            reason: Nullable(Type.String()),
          }),
          Type.Null(),
        ]),
        applied: Type.Union([
          Type.Object({
            result: StringEnum(["ok", "planned", "failed"]),
            wpUserId: Nullable(Type.Integer()),
            error: Nullable(Type.String()),
            ms: Type.Integer(),
          }),
          Type.Null(),
        ]),
      },
      { description: "A stage not reached is null." },
    ),
  },
  { $id: "ProvisionTrace", description: "What syncing one user did at each stage." },
);

/** Every shared schema, registered once with the app (openapi.ts) so ref() resolves; Problem is problem.ts's. */
export const ScimToken = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    createdAt: Type.String({ format: "date-time" }),
    lastUsedAt: Nullable(Type.String({ format: "date-time", description: "Within a minute." })),
    revokedAt: Nullable(Type.String({ format: "date-time" })),
  },
  { $id: "ScimToken", description: "A bearer token of a SCIM job's endpoint (the token itself is never shown again)." },
);

export const NewScimToken = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    token: Type.String({ description: "The Secret Token for the provider: shown once, kept only as a hash." }),
    createdAt: Type.String({ format: "date-time" }),
    tenantUrl: Type.String({
      format: "uri",
      description:
        "The job's SCIM endpoint on PUBLIC_URL: the provider's Tenant URL (Entra) or connector base URL (Okta).",
    }),
  },
  { $id: "NewScimToken" },
);

/** What the SCIM endpoint answers: its bodies are RFC 7643/7644's (see /Schemas of a SCIM job). */
export const ScimAnswer = Type.Object(
  { schemas: Type.Array(Type.String()) },
  {
    $id: "ScimAnswer",
    additionalProperties: true,
    description: "A SCIM resource or ListResponse (RFC 7643, RFC 7644).",
  },
);

export const ScimErrorBody = Type.Object(
  {
    schemas: Type.Array(Type.String()),
    status: Type.String(),
    scimType: Type.Optional(Type.String()),
    detail: Type.String(),
  },
  { $id: "ScimError", description: "A SCIM error (RFC 7644 §3.12): status as a string, scimType for 400 and 409." },
);

export const MODELS = [
  RunCounts,
  RunSummary,
  RunItem,
  HistoryItem,
  RunProgress,
  StartResponse,
  StartRunResponse,
  ContinueResponse,
  RunAlarm,
  Job,
  JobDetail,
  Links,
  ProvisionTrace,
  ScimToken,
  NewScimToken,
  ScimAnswer,
  ScimErrorBody,
];
