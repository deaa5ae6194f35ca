/**
 * Admin routes for a SCIM job's bearer tokens: POST makes one (shown once, kept as a SHA-256),
 * GET lists them (never the token), DELETE revokes one. Several live at once, so a provider's
 * Secret Token can be rotated without a gap: make the new one, set it in the provider, revoke the old.
 */
import { randomBytes } from "node:crypto";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { ConflictError, NotFoundError } from "../../core/errors";
import { secretDigest } from "../../core/hash";
import { isScimJob } from "../../core/scim/job";
import { insertToken, listTokens, revokeToken, type ScimToken as StoredToken } from "../../db/scim";
import type { AppDeps } from "../deps";
import { NewScimToken, ScimToken } from "../models";
import { EmptyBody, JobId, JobParams, json, NoQuery, problems, ref } from "../schemas";
import { scimBaseUrl } from "./scim";

const admin = { tags: ["admin"] };

/** 32 random bytes: a token cannot be guessed, so a digest lookup needs no slow hash. */
export function makeScimToken(): string {
  return `scim_${randomBytes(32).toString("base64url")}`;
}

const view = (token: StoredToken) => ({
  id: token.id,
  createdAt: token.createdAt.toISOString(),
  lastUsedAt: token.lastUsedAt?.toISOString() ?? null,
  revokedAt: token.revokedAt?.toISOString() ?? null,
});

export async function registerScimTokenRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const routes = app.withTypeProvider<TypeBoxTypeProvider>();
  const pool = deps.db.pool;
  const scimJob = (id: string) => {
    const job = deps.sync.job(id);
    if (!isScimJob(job)) throw new ConflictError(`job ${id} is not a SCIM job (its source.kind is not "scim")`);
    return job;
  };

  routes.post(
    "/v1/jobs/:job/scim-tokens",
    {
      schema: {
        ...admin,
        summary: "Make a bearer token for the job's SCIM endpoint (shown once)",
        params: JobParams,
        querystring: NoQuery,
        body: EmptyBody,
        response: {
          201: json("The token: give it to the provider as its Secret Token.", ref(NewScimToken)),
          ...problems(400, 401, 404, 409, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const job = scimJob(request.params.job);
      const token = makeScimToken();
      const stored = await insertToken(pool, job.id, secretDigest(token));
      request.log.info({ job: job.id, tokenId: stored.id }, "SCIM token made");
      reply.code(201).header("cache-control", "no-store");
      return {
        id: stored.id,
        token,
        createdAt: stored.createdAt.toISOString(),
        tenantUrl: scimBaseUrl(deps.config.publicUrl, job.id),
      };
    },
  );

  routes.get(
    "/v1/jobs/:job/scim-tokens",
    {
      schema: {
        ...admin,
        summary: "The job's SCIM tokens (never the tokens themselves)",
        params: JobParams,
        querystring: NoQuery,
        response: {
          200: json(
            "Every token made for the job, revoked ones too.",
            Type.Object({ tokens: Type.Array(ref(ScimToken)) }),
          ),
          ...problems(400, 401, 404, 409, 429, 503),
        },
      },
    },
    async (request) => {
      const job = scimJob(request.params.job);
      return { tokens: (await listTokens(pool, job.id)).map(view) };
    },
  );

  routes.delete(
    "/v1/jobs/:job/scim-tokens/:id",
    {
      schema: {
        ...admin,
        summary: "Revoke one of the job's SCIM tokens (at once, on every replica)",
        params: Type.Object(
          { job: JobId, id: Type.String({ maxLength: 100, description: "The token's id." }) },
          { additionalProperties: false },
        ),
        querystring: NoQuery,
        response: {
          200: json("The revoked token.", ref(ScimToken)),
          ...problems(400, 401, 404, 409, 429, 503),
        },
      },
    },
    async (request) => {
      const job = scimJob(request.params.job);
      const revoked = await revokeToken(pool, job.id, request.params.id);
      if (!revoked) throw new NotFoundError(`job ${job.id} has no SCIM token ${request.params.id}`);
      request.log.info({ job: job.id, tokenId: revoked.id }, "SCIM token revoked");
      return view(revoked);
    },
  );
}
