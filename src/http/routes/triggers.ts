/**
 * The signed trigger links: /v1/jobs/{job}/start and /v1/jobs/{job}/continue. GET and POST act,
 * HEAD only checks the token. Every healthy outcome is 200 (uptime monitors treat anything
 * else as "down"); refusals are problems: 401/403 for the token, 403 for a job whose trigger
 * mode does not take start links, 404 for a job that no longer exists.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { AppError } from "../../core/errors";
import type { Job } from "../../core/job";
import { checkLinkClaims, LINK_ACTIONS, type LinkAction, LinkTokenError, readLink } from "../../links/tokens";
import { type AuthFailureBudget, bearerToken } from "../auth";
import type { AppDeps } from "../deps";
import { jobParams } from "../schemas";

type TriggerRequest = FastifyRequest<{ Params: { job: string }; Querystring: { token?: string } }>;

const schema = {
  params: jobParams,
  // Other query parameters are tolerated: some monitors add cache-busting ones.
  querystring: { type: "object", properties: { token: { type: "string" } } },
} as const;

export async function registerTriggerRoutes(
  app: FastifyInstance,
  deps: AppDeps,
  budget: AuthFailureBudget,
): Promise<void> {
  // Schedulers POST whatever body their tool sends (curl -d '' is form-encoded): it is never read.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, _body, done) => done(null, undefined));
  app.addHook("onRequest", budget.guard);
  app.addHook("onSend", async (_request, reply) => {
    reply.header("cache-control", "no-store");
  });

  /**
   * The token first, so a caller without a valid token learns nothing, not even whether the job
   * exists: a genuine token for job A used on job B is 403 whether B exists or not.
   */
  async function authenticate(request: TriggerRequest, act: LinkAction, lookUp: boolean): Promise<Job | null> {
    const jobId = request.params.job;
    try {
      const claims = await readLink(deps.secrets.signingKeys, bearerToken(request) ?? request.query.token);
      if (claims.sub !== jobId) throw new LinkTokenError("wrong-job");
      const job = lookUp ? deps.sync.job(jobId) : null;
      checkLinkClaims(claims, { job: jobId, act, gen: await deps.linkGenerations.get(jobId) });
      return job;
    } catch (error) {
      if (error instanceof LinkTokenError) {
        await budget.fail(request);
        request.log.info({ job: jobId, act, reason: error.reason }, "trigger link refused");
      }
      throw error;
    }
  }

  const rateLimit = { max: deps.config.rateLimit.max, timeWindow: 60_000 };
  for (const act of LINK_ACTIONS) {
    const url = `/v1/jobs/:job/${act}`;
    // Declared explicitly (and the GET's automatic HEAD turned off) because HEAD must never act.
    app.route({
      method: "HEAD",
      url,
      schema,
      config: { rateLimit },
      handler: async (request: TriggerRequest, reply) => {
        await authenticate(request, act, false);
        return reply.code(200).send();
      },
    });
    app.route({
      method: ["GET", "POST"],
      url,
      exposeHeadRoute: false,
      schema,
      config: { rateLimit },
      handler: async (request: TriggerRequest) => {
        const job = (await authenticate(request, act, true))!;
        return act === "start" ? start(deps, job) : advance(deps, job);
      },
    });
  }
}

async function start(deps: AppDeps, job: Job) {
  refuseStartLink(job);
  const result = await deps.sync.startRun(job.id, { trigger: "link" });
  return { job: job.id, started: result.started, ...withReason(result.reason), run: result.run };
}

async function advance(deps: AppDeps, job: Job) {
  const result = await deps.sync.advanceJob(job.id);
  const body = { job: job.id, advanced: result.advanced, ...withReason(result.reason), run: result.run };
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
