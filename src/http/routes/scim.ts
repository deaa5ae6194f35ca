/**
 * The SCIM 2.0 endpoint of SCIM jobs (DESIGN.md "SCIM source"): /scim/v2/{job}/Users, /Groups and
 * the discovery documents, for Microsoft Entra's provisioning service, Okta and other providers.
 * Its own scope: bodies are application/scim+json (or JSON), every error is a SCIM error body
 * with its scimType (RFC 7644 §3.12), never problem+json or internals. Access is a bearer token of
 * the job (routes/scim-tokens.ts): checked first, so a valid token is never refused because other
 * callers failed; failures count against the address's budget, as link tokens' do.
 */
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { type Static, Type } from "@sinclair/typebox";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError, RateLimitedError } from "../../core/errors";
import { secretDigest } from "../../core/hash";
import { ScimError } from "../../core/scim/errors";
import { resourceTypes, schemaDocuments, serviceProviderConfig } from "../../core/scim/resource";
import { isDatabaseUnavailable } from "../../db/pool";
import { tokenJob } from "../../db/scim";
import { SCIM_MAX_OPERATIONS, type ScimService } from "../../sync/scim";
import { type AccessLimits, bearerToken } from "../auth";
import type { AppDeps } from "../deps";
import { ScimAnswer, ScimErrorBody } from "../models";
import { JobId, ref } from "../schemas";

export const SCIM_PREFIX = "/scim/v2";

/** A SCIM job's base URL: what the provider calls its Tenant URL (Entra) or connector base URL (Okta). */
export function scimBaseUrl(publicUrl: string, job: string): string {
  return `${publicUrl.replace(/\/+$/, "")}${SCIM_PREFIX}/${job}`;
}
const MEDIA_TYPE = "application/scim+json";
const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
/** Entra adds group members in chunks; a large group's PATCH stays far below this. */
export const SCIM_BODY_LIMIT = 1024 * 1024;

const tags = ["scim"];
const security = [{ scimToken: [] }];
const ScimBody = Type.Object({}, { additionalProperties: true, description: "A SCIM resource or PatchOp (RFC 7644)." });
const answer = (description: string) => ({ description, content: { [MEDIA_TYPE]: { schema: ref(ScimAnswer) } } });
// Made afresh for each route, as every route's schemas are (a route may not share another's objects).
const errors = () =>
  Object.fromEntries(
    [
      [400, "Malformed JSON, filter, path, PATCH or value (scimType says which), or too many operations (tooMany)."],
      [401, "Missing, unknown or revoked token."],
      [403, "A token of another job."],
      [404, "No such SCIM job, user or group."],
      [409, "userName, externalId or displayName already taken (scimType uniqueness)."],
      [413, "The body is larger than 1 MiB."],
      [429, "Too many failed authentications from this address; Retry-After says when to try again."],
      [503, "Too many changes wait for WordPress, or the database is unreachable; Retry-After says when to try again."],
    ].map(([status, description]) => [
      status,
      { description, content: { [MEDIA_TYPE]: { schema: ref(ScimErrorBody) } } },
    ]),
  );
const JobOnly = Type.Object({ job: JobId }, { additionalProperties: false });
const WithId = Type.Object(
  { job: JobId, id: Type.String({ maxLength: 200, description: "The resource's id." }) },
  { additionalProperties: false },
);
const ListQuery = Type.Object(
  {
    filter: Type.Optional(
      Type.String({ maxLength: 1000, description: '`eq` joined by `and`, e.g. userName eq "a@b.c"' }),
    ),
    startIndex: Type.Optional(Type.Integer({ description: "1-based." })),
    count: Type.Optional(Type.Integer({ minimum: 0 })),
    attributes: Type.Optional(Type.String({ maxLength: 1000 })),
    excludedAttributes: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: true },
);
const SelectQuery = Type.Object(
  {
    attributes: Type.Optional(Type.String({ maxLength: 1000 })),
    excludedAttributes: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: true },
);

export async function registerScimRoutes(
  app: FastifyInstance,
  deps: AppDeps & { scim?: ScimService },
  limits: AccessLimits,
): Promise<void> {
  const { scim } = deps;
  const pool = deps.db.pool;
  const baseOf = (job: string) => scimBaseUrl(deps.config.publicUrl, job);

  app.addContentTypeParser(
    MEDIA_TYPE,
    { parseAs: "string", bodyLimit: SCIM_BODY_LIMIT },
    app.getDefaultJsonParser("error", "error"),
  );
  app.setErrorHandler((error, request, reply) => sendScimError(reply, scimErrorOf(error as Error, request)));
  app.setNotFoundHandler((request, reply) =>
    sendScimError(reply, new ScimError(404, null, `no SCIM route for ${request.method} ${request.url.split("?")[0]}`)),
  );
  app.addHook("onSend", async (_request, reply) => {
    reply.header("cache-control", "no-store");
  });
  app.addHook("onRequest", async (request) => {
    const { job } = request.params as { job?: string };
    const token = bearerToken(request);
    const owner = token === null ? null : await tokenJob(pool, secretDigest(token));
    if (owner === null) {
      await limits.countFailure(request);
      throw new ScimError(
        401,
        null,
        token === null ? "an Authorization: Bearer <token> header is needed" : "the token is not valid",
      );
    }
    if (owner !== job) throw new ScimError(403, null, "the token belongs to another job");
    if (!scim?.isScimJob(owner)) throw new ScimError(404, null, `no SCIM job ${owner}`);
  });

  const service = (): ScimService => {
    if (!scim) throw new ScimError(404, null, "this process serves no SCIM endpoint");
    return scim;
  };
  const routes = app.withTypeProvider<TypeBoxTypeProvider>();
  const send = (reply: FastifyReply, status: number, body: unknown) => reply.code(status).type(MEDIA_TYPE).send(body);
  const schema = (summary: string, params: typeof JobOnly | typeof WithId, ok: number, extra: object = {}) => ({
    tags,
    security,
    summary,
    params,
    response: { [ok]: ok === 204 ? { description: "Done.", type: "null" } : answer(summary), ...errors() },
    ...extra,
  });

  routes.get(
    "/:job/ServiceProviderConfig",
    { schema: schema("What this SCIM endpoint supports", JobOnly, 200) },
    (_r, reply) => send(reply, 200, serviceProviderConfig(SCIM_MAX_OPERATIONS, SCIM_BODY_LIMIT)),
  );
  routes.get(
    "/:job/ResourceTypes",
    { schema: schema("The resource types: User and Group", JobOnly, 200) },
    (request, reply) => {
      const types = resourceTypes(baseOf(request.params.job));
      send(reply, 200, {
        schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        totalResults: types.length,
        startIndex: 1,
        itemsPerPage: types.length,
        Resources: types,
      });
    },
  );
  routes.get(
    "/:job/Schemas",
    { schema: schema("The supported attributes, exactly", JobOnly, 200) },
    (request, reply) => {
      const docs = schemaDocuments(baseOf(request.params.job));
      send(reply, 200, {
        schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        totalResults: docs.length,
        startIndex: 1,
        itemsPerPage: docs.length,
        Resources: docs,
      });
    },
  );

  for (const kind of ["Users", "Groups"] as const) {
    const users = kind === "Users";
    routes.get(
      `/:job/${kind}`,
      { schema: schema(`List or find ${kind.toLowerCase()}`, JobOnly, 200, { querystring: ListQuery }) },
      async (request, reply) => {
        const q = request.query as Static<typeof ListQuery>;
        const query = {
          ...(q.filter === undefined ? {} : { filter: q.filter }),
          ...(q.startIndex === undefined ? {} : { startIndex: q.startIndex }),
          ...(q.count === undefined ? {} : { count: q.count }),
          ...(q.attributes === undefined ? {} : { attributes: q.attributes }),
          ...(q.excludedAttributes === undefined ? {} : { excludedAttributes: q.excludedAttributes }),
        };
        const base = baseOf(request.params.job);
        const list = users
          ? await service().listUsers(request.params.job, base, query)
          : await service().listGroups(request.params.job, base, query);
        return send(reply, 200, list);
      },
    );
    routes.get(
      `/:job/${kind}/:id`,
      { schema: schema(`One of the ${kind.toLowerCase()}`, WithId, 200, { querystring: SelectQuery }) },
      async (request, reply) => {
        const { job, id } = request.params as Static<typeof WithId>;
        const found = users
          ? await service().getUser(job, baseOf(job), id)
          : await service().getGroup(job, baseOf(job), id);
        return send(reply, 200, found);
      },
    );
    routes.post(
      `/:job/${kind}`,
      {
        bodyLimit: SCIM_BODY_LIMIT,
        schema: schema(`Create a ${kind.slice(0, -1).toLowerCase()}`, JobOnly, 201, { body: ScimBody }),
      },
      async (request, reply) => {
        const { job } = request.params;
        const created = users
          ? await service().createUser(job, baseOf(job), request.body)
          : (await service().createGroup(job, baseOf(job), request.body)).group;
        reply.header("location", (created.meta as { location: string }).location);
        return send(reply, 201, created);
      },
    );
    routes.put(
      `/:job/${kind}/:id`,
      {
        bodyLimit: SCIM_BODY_LIMIT,
        schema: schema(`Replace a ${kind.slice(0, -1).toLowerCase()}`, WithId, 200, { body: ScimBody }),
      },
      async (request, reply) => {
        const { job, id } = request.params as Static<typeof WithId>;
        const replaced = users
          ? await service().replaceUser(job, baseOf(job), id, request.body)
          : (await service().replaceGroup(job, baseOf(job), id, request.body)).group;
        return send(reply, 200, replaced);
      },
    );
    routes.patch(
      `/:job/${kind}/:id`,
      {
        bodyLimit: SCIM_BODY_LIMIT,
        schema: schema(`Modify a ${kind.slice(0, -1).toLowerCase()} (PatchOp)`, WithId, 200, { body: ScimBody }),
      },
      async (request, reply) => {
        const { job, id } = request.params as Static<typeof WithId>;
        const patched = users
          ? await service().patchUser(job, baseOf(job), id, request.body)
          : (await service().patchGroup(job, baseOf(job), id, request.body)).group;
        return send(reply, 200, patched);
      },
    );
    routes.delete(
      `/:job/${kind}/:id`,
      { schema: schema(`Delete a ${kind.slice(0, -1).toLowerCase()}`, WithId, 204) },
      async (request, reply) => {
        const { job, id } = request.params as Static<typeof WithId>;
        if (users) await service().deleteUser(job, id);
        else await service().deleteGroup(job, id);
        return reply.code(204).send();
      },
    );
  }
}

/** Any error as a SCIM error: typed ones keep their status; anything unexpected is a 500 naming nothing internal. */
function scimErrorOf(error: FastifyError | Error, request: FastifyRequest): ScimError {
  if (error instanceof ScimError) return error;
  if (error instanceof RateLimitedError) return new ScimError(429, null, error.message, error.retryAfterSeconds);
  if (error instanceof AppError) return new ScimError(error.status, null, error.message);
  const fastifyError = error as FastifyError;
  if (fastifyError.validation)
    return new ScimError(400, "invalidValue", `invalid ${fastifyError.validationContext ?? "input"}: ${error.message}`);
  if (
    fastifyError.code === "FST_ERR_CTP_INVALID_JSON_BODY" ||
    fastifyError.code === "FST_ERR_CTP_EMPTY_JSON_BODY" ||
    error instanceof SyntaxError
  ) {
    return new ScimError(400, "invalidSyntax", "the body is not valid JSON");
  }
  if (fastifyError.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
    return new ScimError(413, null, `the body is larger than ${SCIM_BODY_LIMIT} bytes`);
  }
  const status = fastifyError.statusCode;
  if (status && status >= 400 && status < 500) return new ScimError(status, null, error.message);
  if (isDatabaseUnavailable(error)) {
    request.log.warn({ err: error }, "database unreachable");
    return new ScimError(503, null, "the database is not reachable right now; try again shortly", 5);
  }
  request.log.error({ err: error }, "SCIM request failed");
  return new ScimError(500, null, "the server failed to handle the request; the error is in the service log");
}

function sendScimError(reply: FastifyReply, error: ScimError): FastifyReply {
  if (error.retryAfter !== null) reply.header("retry-after", String(error.retryAfter));
  if (error.status === 401) reply.header("www-authenticate", 'Bearer realm="entra-wp-sync"');
  return reply
    .code(error.status)
    .type(MEDIA_TYPE)
    .send({
      schemas: [ERROR_SCHEMA],
      status: String(error.status),
      ...(error.scimType ? { scimType: error.scimType } : {}),
      detail: error.message,
    });
}
