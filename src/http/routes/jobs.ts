/** Admin routes under /v1/jobs: jobs, starting and listing runs, minting and revoking links. */
import type { FastifyInstance } from "fastify";
import { makeLinks } from "../../links/urls";
import type { AppDeps } from "../app";
import { sendProblem } from "../problem";
import { emptyBody, jobParams, noQuery } from "../schemas";
import { jobView } from "../views";

type JobParams = { Params: { job: string } };

export async function registerJobRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { sync } = deps;

  app.get("/v1/jobs", { schema: { querystring: noQuery } }, async () => ({ jobs: sync.jobs().map(jobView) }));

  app.get<JobParams>("/v1/jobs/:job", { schema: { params: jobParams, querystring: noQuery } }, async (request) => {
    const job = sync.job(request.params.job);
    const [activeRun, cutoff] = await Promise.all([sync.activeRun(job.id), deps.linkCutoffs.get(job.id)]);
    return { ...jobView(job), linksValidFrom: validFromView(cutoff.validFrom), activeRun };
  });

  // 201 with the new run; 200 with started:false and the active run when one is already going.
  app.post<JobParams & { Body: { dryRun?: boolean } }>(
    "/v1/jobs/:job/runs",
    {
      schema: {
        params: jobParams,
        querystring: noQuery,
        body: { type: "object", additionalProperties: false, properties: { dryRun: { type: "boolean" } } },
      },
    },
    async (request, reply) => {
      const job = sync.job(request.params.job);
      const result = await sync.startRun(job.id, { trigger: "manual", dryRun: request.body.dryRun ?? false });
      if (result.started) reply.code(201).header("location", `/v1/runs/${result.run.id}`);
      return {
        job: job.id,
        started: result.started,
        ...(result.reason === undefined ? {} : { reason: result.reason }),
        run: result.run,
      };
    },
  );

  app.get<JobParams & { Querystring: { limit: number; before?: string } }>(
    "/v1/jobs/:job/runs",
    {
      schema: {
        params: jobParams,
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            limit: { type: "integer", minimum: 1, maximum: 100, default: 20 },
            before: { type: "string", format: "uuid" },
          },
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

  app.post<JobParams & { Body: { expiresIn?: string | number } }>(
    "/v1/jobs/:job/links",
    {
      schema: {
        params: jobParams,
        querystring: noQuery,
        body: {
          type: "object",
          additionalProperties: false,
          properties: { expiresIn: { anyOf: [{ type: "string", maxLength: 20 }, { type: "integer" }] } },
        },
      },
    },
    async (request) => {
      const job = sync.job(request.params.job);
      const { expiresIn } = request.body;
      return makeLinks(deps, job.id, expiresIn === undefined ? {} : { expiresIn });
    },
  );

  app.post<JobParams>(
    "/v1/jobs/:job/links/revoke",
    { schema: { params: jobParams, querystring: noQuery, body: emptyBody } },
    async (request) => {
      const job = sync.job(request.params.job);
      const linksValidFrom = validFromView((await deps.linkCutoffs.revoke(job.id)).validFrom);
      request.log.info({ job: job.id, linksValidFrom }, "links revoked: earlier link tokens of the job no longer work");
      return { job: job.id, linksValidFrom };
    },
  );

  // Provision on demand; an app built without it (tests of other routes) answers 501.
  const provision = deps.provision;
  app.post<{ Params: { job: string; entraId: string }; Body: { dryRun?: boolean } }>(
    "/v1/jobs/:job/users/:entraId/sync",
    {
      schema: {
        params: {
          type: "object",
          required: ["job", "entraId"],
          additionalProperties: false,
          properties: { job: jobParams.properties.job, entraId: { type: "string", minLength: 1, maxLength: 100 } },
        },
        querystring: noQuery,
        body: { type: "object", additionalProperties: false, properties: { dryRun: { type: "boolean" } } },
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
