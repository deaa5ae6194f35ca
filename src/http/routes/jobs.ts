/** Admin routes under /v1/jobs: jobs, starting and listing runs, minting and revoking links. */
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { makeLinks } from "../../links/urls";
import type { AppDeps } from "../deps";
import { Job, JobDetail, Links, ProvisionTrace, RunSummary, StartRunResponse } from "../models";
import { sendProblem } from "../problem";
import {
  EmptyBody,
  JobId,
  JobParams,
  json,
  NoQuery,
  Nullable,
  Problem,
  problem,
  problems,
  ref,
  StringEnum,
} from "../schemas";
import { jobView } from "../views";

const admin = { tags: ["admin"] };
const DryRun = Type.Optional(Type.Boolean({ default: false, description: "Plan only; WordPress is not written." }));

export async function registerJobRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { sync } = deps;
  const routes = app.withTypeProvider<TypeBoxTypeProvider>();

  routes.get(
    "/v1/jobs",
    {
      schema: {
        ...admin,
        summary: "List the declared jobs",
        querystring: NoQuery,
        response: {
          200: json("Every job, webhook URLs redacted.", Type.Object({ jobs: Type.Array(ref(Job)) })),
          ...problems(400, 401, 429, 503),
        },
      },
    },
    async () => ({ jobs: sync.jobs().map(jobView) }),
  );

  routes.get(
    "/v1/jobs/:job",
    {
      schema: {
        ...admin,
        summary: "One job, its links' revocation cut-off and its active run",
        params: JobParams,
        querystring: NoQuery,
        response: { 200: json("The job.", ref(JobDetail)), ...problems(400, 401, 404, 429, 503) },
      },
    },
    async (request) => {
      const job = sync.job(request.params.job);
      const [activeRun, cutoff] = await Promise.all([sync.activeRun(job.id), deps.linkCutoffs.get(job.id)]);
      return { ...jobView(job), linksValidFrom: validFromView(cutoff.validFrom), activeRun };
    },
  );

  // 201 with the new run; 200 with started:false and the active run when one is already going.
  routes.post(
    "/v1/jobs/:job/runs",
    {
      schema: {
        ...admin,
        summary: "Start a run (any trigger mode)",
        description:
          '201 with the new run (and a Location header). When a run is already active: 200 with started false, reason "already running" and that run; but a dry run asked for while a run that writes is active is refused with 409 (the caller must not take that run for its dry run). The body is optional.',
        params: JobParams,
        querystring: NoQuery,
        body: Type.Object(
          {
            dryRun: DryRun,
            trigger: Type.Optional(
              StringEnum(["manual", "cli"], {
                default: "manual",
                description: "Recorded as the run's trigger: \"cli\" when the CLI's run command asks.",
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          201: {
            ...json("Started.", ref(StartRunResponse)),
            headers: { Location: { type: "string", description: "/v1/runs/{id} of the new run." } },
          },
          200: json("A run was already active (started false).", ref(StartRunResponse)),
          ...problems(400, 401, 404, 429, 503),
          409: problem(409, {
            description:
              "A dry run was asked for while a run that writes is active; or runs of the job kept starting and ending while this one tried to start (try again).",
          }),
        },
      },
    },
    async (request, reply) => {
      const job = sync.job(request.params.job);
      const { dryRun = false, trigger = "manual" } = request.body;
      const result = await sync.startRun(job.id, { trigger, dryRun });
      if (result.started) reply.code(201).header("location", `/v1/runs/${result.run.id}`);
      return {
        job: job.id,
        started: result.started,
        ...(result.reason === undefined ? {} : { reason: result.reason }),
        run: result.run,
      };
    },
  );

  routes.get(
    "/v1/jobs/:job/runs",
    {
      schema: {
        ...admin,
        summary: "The job's runs, newest first",
        params: JobParams,
        querystring: Type.Object(
          {
            limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
            before: Type.Optional(
              Type.String({
                format: "uuid",
                description: "Only runs older than this run (pass the previous page's nextBefore).",
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: json(
            "A page of runs.",
            Type.Object({
              runs: Type.Array(ref(RunSummary)),
              nextBefore: Nullable(
                Type.String({
                  format: "uuid",
                  description:
                    "The before value of the next page (the last run's id); null when this page was the last.",
                }),
              ),
            }),
          ),
          ...problems(400, 401, 404, 429, 503),
        },
      },
    },
    async (request) => {
      const job = sync.job(request.params.job);
      const { limit, before } = request.query;
      const runs = await sync.runs(job.id, { limit, ...(before === undefined ? {} : { before }) });
      const last = runs.length === limit ? runs[runs.length - 1] : undefined;
      return { runs, nextBefore: last ? last.id : null };
    },
  );

  routes.post(
    "/v1/jobs/:job/links",
    {
      schema: {
        ...admin,
        summary: "Mint a start and a continue link for the job",
        description:
          'Full URLs on PUBLIC_URL with the token in ?token=, bound to this deployment (a deployment with another database refuses them, even with the same signing keys). A start link of a "manual" or "schedule" job is refused when called (403); its continue link works. The body is optional.',
        params: JobParams,
        querystring: NoQuery,
        body: Type.Object(
          {
            expiresIn: Type.Optional(
              Type.Union([Type.String({ maxLength: 20, examples: ["30d"] }), Type.Integer()], {
                description:
                  'Lifetime: seconds, or a number with s, m, h or d ("30d", "12h", "15m", "3600s"); from 60 seconds to 3650 days. Absent: LINK_DEFAULT_TTL (default 365 days).',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: json("The links.", ref(Links)), ...problems(400, 401, 404, 429, 503) },
      },
    },
    async (request) => {
      const job = sync.job(request.params.job);
      const { expiresIn } = request.body;
      return makeLinks(deps, job.id, expiresIn === undefined ? {} : { expiresIn });
    },
  );

  routes.post(
    "/v1/jobs/:job/links/revoke",
    {
      schema: {
        ...admin,
        summary: "Revoke every link of the job minted so far",
        description:
          'Sets the job\'s cut-off to the next whole second: tokens issued before it then get 401 (reason "revoked"), across restarts and replicas; links minted afterwards work. The cut-off only moves forward.',
        params: JobParams,
        querystring: NoQuery,
        body: EmptyBody,
        response: {
          200: json(
            "The new cut-off.",
            Type.Object({
              job: Type.String(),
              linksValidFrom: Type.String({
                format: "date-time",
                description: "Link tokens issued before this instant are refused.",
              }),
            }),
          ),
          ...problems(400, 401, 404, 429, 503),
        },
      },
    },
    async (request) => {
      const job = sync.job(request.params.job);
      // Never null here: a revoked job's cut-off is a real instant.
      const linksValidFrom = new Date((await deps.linkCutoffs.revoke(job.id)).validFrom * 1000).toISOString();
      request.log.info({ job: job.id, linksValidFrom }, "links revoked: earlier link tokens of the job no longer work");
      return { job: job.id, linksValidFrom };
    },
  );

  // Provision on demand; an app built without it (tests of other routes) answers 501.
  const provision = deps.provision;
  routes.post(
    "/v1/jobs/:job/users/:entraId/sync",
    {
      schema: {
        ...admin,
        summary: "Sync one user now (or plan it) with a trace of each stage",
        description:
          "Fetches the user from Graph, checks the job's groups for this one user (checkMemberGroups: one Graph call per 20 groups), finds the WordPress user (user map, else the job's match keys), plans and applies exactly as a run would, and records the outcome in the user map (not in a dry run). A run creating the same user at the same time cannot duplicate it: a create that WordPress answers \"exists\" adopts that user. A disabled account is out of scope (removing users is a run's reconciliation). A job with a multisite `network` answers 409: start a run of it instead. A SCIM job answers 409 too: its provider pushes its users, there is no directory to read one from. The body is optional.",
        params: Type.Object(
          {
            job: JobId,
            entraId: Type.String({ minLength: 1, maxLength: 100, description: "The Entra object id of the user." }),
          },
          { additionalProperties: false },
        ),
        querystring: NoQuery,
        body: Type.Object(
          {
            dryRun: Type.Optional(
              Type.Boolean({ description: "Plan only; nothing is written to WordPress or the user map." }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: json("The trace (outcome planned, applied, refused or out of scope).", ref(ProvisionTrace)),
          502: json(
            "Graph or WordPress failed beyond retries; the stage that failed carries the error.",
            ref(ProvisionTrace),
          ),
          ...problems(400, 401, 409, 429, 501, 503),
          404: problem(404, {
            description:
              'Unknown job, or no such user in Entra; then the problem carries the trace (outcome "not found").',
            body: Type.Intersect([ref(Problem), Type.Object({ trace: Type.Optional(ref(ProvisionTrace)) })]),
          }),
        },
      },
    },
    async (request, reply) => {
      const job = sync.job(request.params.job);
      if (!provision) return sendProblem(reply, 501, "Syncing one user is not available in this process");
      const trace = await provision.syncUser(job.id, request.params.entraId, { dryRun: request.body.dryRun ?? false });
      if (trace.outcome === "not found") {
        return sendProblem(reply, 404, `Entra user ${request.params.entraId} not found in the directory`, { trace });
      }
      // Graph or WordPress failed (retries exhausted): the trace names the stage and the upstream error.
      if (trace.outcome === "failed") reply.code(502);
      return trace;
    },
  );
}

/** The revocation cut-off as the admin API shows it: links issued before this instant are refused (null: never revoked). */
function validFromView(seconds: number): string | null {
  return seconds === 0 ? null : new Date(seconds * 1000).toISOString();
}
