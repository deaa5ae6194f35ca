/**
 * The signed trigger links: /v1/jobs/{job}/start and /v1/jobs/{job}/continue. GET and POST act,
 * HEAD only checks the token. Every healthy outcome is 200 (uptime monitors treat anything
 * else as "down"); refusals are problems: 401/403 for the token, 403 for a job whose trigger
 * mode does not take start links, 404 for a job that no longer exists.
 */

import type { IncomingMessage } from "node:http";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest, RawServerDefault, RouteGenericInterface } from "fastify";
import { AppError } from "../../core/errors";
import type { Job } from "../../core/job";
import { checkLinkClaims, LINK_ACTIONS, type LinkAction, LinkTokenError, readLink } from "../../links/tokens";
import { type AccessLimits, bearerToken } from "../auth";
import type { AppDeps } from "../deps";
import { ContinueResponse, StartResponse } from "../models";
import { JobParams, json, LINK_AUTH, problems, ref, START_CONFLICT } from "../schemas";
import { runProgress } from "../views";

// Other query parameters are tolerated: some monitors add cache-busting ones.
const LinkQuery = Type.Object({
  token: Type.Optional(
    Type.String({
      description: "The link token (or pass it as Authorization Bearer; the header wins when both are given).",
    }),
  ),
});

const common = { tags: ["links"], security: LINK_AUTH, params: JobParams, querystring: LinkQuery };

type TriggerRequest = FastifyRequest<
  RouteGenericInterface,
  RawServerDefault,
  IncomingMessage,
  typeof common,
  TypeBoxTypeProvider
>;

/** What each link does, for openapi.yaml. */
const DOCS = {
  start: {
    head: "Check a start link without starting anything",
    summary: "Start a run of the job",
    description:
      'Starts a run unless one is active (then started is false, reason "already running", with that run). Refused with 403 for jobs whose trigger mode is "manual" (started with the admin API or CLI) or "schedule" (started by their cron expression); the problem says how to run them. GET and POST do the same; the request body, if any, is ignored.',
    response: json("Started, or a run was already active.", ref(StartResponse)),
    conflict: START_CONFLICT,
  },
  continue: {
    head: "Check a continue link without advancing anything",
    summary: "Advance the job's active run by one step",
    description:
      'Every healthy outcome is 200 so uptime monitors stay green: advanced, or not advanced with a reason ("busy": another caller holds the run; "no active run"; "completed"; "awaiting approval"; "failed"). Allowed for every trigger mode; for jobs the service drives itself (anything but "link-start-continue") the body carries a note saying the call is optional. GET and POST do the same; the request body, if any, is ignored.',
    response: json("The outcome of the step.", ref(ContinueResponse)),
    conflict: {},
  },
} as const;

export async function registerTriggerRoutes(app: FastifyInstance, deps: AppDeps, limits: AccessLimits): Promise<void> {
  // Schedulers POST whatever body their tool sends (curl -d '' is form-encoded): it is never read.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, _body, done) => done(null, undefined));
  app.addHook("onSend", async (_request, reply) => {
    reply.header("cache-control", "no-store");
  });

  const readOptions = { audience: deps.secrets.linkAudience, defaultTtlSeconds: deps.config.linkDefaultTtlSeconds };

  /**
   * The token first, so a caller without a valid token learns nothing, not even whether the job
   * exists: a genuine token for job A used on job B is 403 whether B exists or not. A refused
   * token counts against its address's failure budget; an accepted one is served whatever that
   * budget says, and counts against its job and action's budget of calls.
   */
  async function authenticate(request: TriggerRequest, act: LinkAction, lookUp: boolean): Promise<Job | null> {
    const jobId = request.params.job;
    let job: Job | null;
    try {
      const claims = await readLink(deps.secrets.signingKeys, bearerToken(request) ?? request.query.token, readOptions);
      if (claims.sub !== jobId) throw new LinkTokenError("wrong-job");
      job = lookUp ? deps.sync.job(jobId) : null;
      checkLinkClaims(claims, { job: jobId, act, cutoff: await deps.linkCutoffs.get(jobId) });
    } catch (error) {
      if (error instanceof LinkTokenError) {
        // Past the address's budget this throws the 429 instead, unlogged: a guesser cannot flood the log.
        await limits.countFailure(request);
        request.log.info({ job: jobId, act, reason: error.reason }, "trigger link refused");
      }
      throw error;
    }
    await limits.countCall(`link:${jobId}:${act}`, deps.config.rateLimit.max);
    return job;
  }

  const routes = app.withTypeProvider<TypeBoxTypeProvider>();
  for (const act of LINK_ACTIONS) {
    const url = `/v1/jobs/:job/${act}`;
    const docs = DOCS[act];
    // Declared explicitly (and the GET's automatic HEAD turned off) because HEAD must never act.
    routes.route({
      method: "HEAD",
      url,
      schema: {
        ...common,
        summary: docs.head,
        description:
          "Verifies the token exactly as GET does (401/403 on failure, counted against the failed-authentication budget) and answers 200 with no body. Never acts.",
        response: {
          200: { description: "The link is valid for this job.", type: "null" },
          ...problems(400, 401, 403, 429),
        },
      },
      config: { swagger: { exposeHeadRoute: true } },
      handler: async (request, reply) => {
        await authenticate(request, act, false);
        return reply.code(200).send();
      },
    });
    routes.route({
      method: ["GET", "POST"],
      url,
      exposeHeadRoute: false,
      schema: {
        ...common,
        summary: docs.summary,
        description: docs.description,
        response: { 200: docs.response, ...problems(400, 401, 403, 404, 429, 503), ...docs.conflict },
      },
      handler: async (request) => {
        const job = (await authenticate(request, act, true))!;
        return act === "start" ? start(deps, job) : advance(deps, job);
      },
    });
  }
}

async function start(deps: AppDeps, job: Job) {
  refuseStartLink(job);
  const result = await deps.sync.startRun(job.id, { trigger: "link" });
  return { job: job.id, started: result.started, ...withReason(result.reason), run: runProgress(result.run) };
}

async function advance(deps: AppDeps, job: Job) {
  const result = await deps.sync.advanceJob(job.id);
  const run = result.run === null ? null : runProgress(result.run);
  const body = { job: job.id, advanced: result.advanced, ...withReason(result.reason), run };
  if (job.trigger.mode === "link-start-continue") return body;
  // Allowed (an extra step is harmless and the run is still exactly-once per step), but the caller
  // should know it is not needed.
  return {
    ...body,
    note: `Job "${job.id}" has trigger mode "${job.trigger.mode}": the service advances its runs itself, so calling this continue link is optional`,
  };
}

/**
 * `manual` jobs are started by people (admin API or CLI) and `schedule` jobs by their cron
 * expression: a start link that also started them would be a second, unplanned trigger.
 */
function refuseStartLink(job: Job): void {
  const howTo = `start a run with the admin API (POST /v1/jobs/${job.id}/runs with Authorization: Bearer <ADMIN_TOKEN>) or the CLI (entra-wp-sync run ${job.id})`;
  if (job.trigger.mode === "manual") {
    throw new AppError(`Job "${job.id}" is manual: start links do not start it; ${howTo}`, 403, "forbidden", {
      reason: "trigger mode",
      mode: "manual",
    });
  }
  if (job.trigger.mode === "schedule") {
    const when = job.trigger.schedule ? ` ("${job.trigger.schedule}", ${job.trigger.timezone})` : "";
    throw new AppError(
      `Job "${job.id}" runs on its schedule${when}: start links do not start it; to run it now, ${howTo}`,
      403,
      "forbidden",
      { reason: "trigger mode", mode: "schedule" },
    );
  }
}

const withReason = (reason: string | undefined) => (reason === undefined ? {} : { reason });
