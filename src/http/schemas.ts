/**
 * The building blocks of the route schemas (TypeBox, so each route's TypeScript types are derived
 * from the same schema that validates its input, serialises its output and documents it in
 * openapi.yaml): path and query parameters, the problem+json answers, and small type helpers.
 * The JSON bodies the API answers with are in models.ts.
 */
import { type SchemaOptions, type Static, type TSchema, Type } from "@sinclair/typebox";

/** A string from a fixed list, as `{ type: "string", enum }` (one keyword, not a union of constants). */
export function StringEnum<const T extends readonly string[]>(values: T, options: SchemaOptions = {}) {
  return Type.Unsafe<T[number]>({ ...options, type: "string", enum: [...values] });
}

/** A primitive or enum schema that also admits null, as `type: [..., "null"]`. */
export function Nullable<T extends TSchema>(schema: T) {
  const { type, enum: values, ...rest } = schema as { type?: string; enum?: unknown[] };
  if (typeof type !== "string") throw new Error("Nullable() takes a schema with one type; use a union for others");
  return Type.Unsafe<Static<T> | null>({
    ...rest,
    type: [type, "null"],
    ...(values ? { enum: [...values, null] } : {}),
  });
}

/**
 * A reference to a shared schema (models.ts, registered by $id in openapi.ts): it appears once
 * in openapi.yaml under components/schemas, and keeps its TypeScript type here.
 */
export function ref<T extends TSchema & { $id?: string }>(schema: T) {
  if (!schema.$id) throw new Error("ref() needs a schema with an $id");
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id));
}

/** Who may call a route, in OpenAPI's terms (the schemes are declared in openapi.ts). */
type Security = Array<Record<string, string[]>>;
export const LINK_AUTH: Security = [{ linkToken: [] }, { linkBearer: [] }];
export const NO_AUTH: Security = [];

export const JobId = Type.String({ minLength: 1, maxLength: 100, description: "The job id." });

export const JobParams = Type.Object({ job: JobId }, { additionalProperties: false });

export const RunParams = Type.Object(
  { id: Type.String({ format: "uuid", description: "The run id." }) },
  { additionalProperties: false },
);

/** For routes that take no query parameters. */
export const NoQuery = Type.Object({}, { additionalProperties: false });

/** For POST routes that take no body: absent or `{}`. */
export const EmptyBody = Type.Object({}, { additionalProperties: false });

/** A JSON answer with its description. */
export function json<T extends TSchema>(description: string, schema: T) {
  return { description, content: { "application/json": { schema } } };
}

/** A text answer (HTML, YAML, Prometheus) with its description. */
export function text(description: string, mediaType: string) {
  return { description, content: { [mediaType]: { schema: Type.String() } } };
}

const RETRY_AFTER = { type: "integer", description: "Seconds to wait." };

/**
 * Every problem status the API answers, with what it means (and its name under
 * components/responses in openapi.yaml). A route lists the ones it can answer
 * (`problems(400, 401, 404)`), so its serializer knows their bodies and openapi.yaml documents
 * them; a status not listed would be serialised without a schema.
 */
export const PROBLEMS = {
  400: { name: "BadRequest", description: "Invalid input; the detail and errors name the field." },
  401: {
    name: "Unauthorized",
    description:
      "Missing, malformed, badly signed, unknown-key, other-deployment, expired or revoked token (reason says which), or a missing or wrong admin (or metrics) token. Past the failed-authentication budget of the client address, refusals are 429 instead; a valid token is served whatever that budget says.",
    headers: {
      "WWW-Authenticate": {
        type: "string",
        description: 'Bearer realm="entra-wp-sync" (with error="invalid_token" when a token was given).',
      },
    },
  },
  403: {
    name: "Forbidden",
    description:
      'A genuine link token for another job (reason "wrong-job") or action ("wrong-action"), or a start link on a job whose trigger mode does not take one (reason "trigger mode").',
  },
  404: { name: "NotFound", description: "Unknown job or run." },
  409: {
    name: "Conflict",
    description: "The transition is not allowed from the run's state (state says which it is in).",
  },
  429: {
    name: "TooManyRequests",
    description:
      "Rate limited: a failing attempt from a client address that had more than RATE_LIMIT_AUTH_FAILURES failed authentications (401/403 token refusals) in 15 minutes, on any authenticated route; or a valid call past its budget: RATE_LIMIT_MAX calls a minute per job and action for the trigger links (whoever calls them), RATE_LIMIT_ADMIN_MAX a minute for the admin token. Budgets are shared by every replica.",
    headers: { "Retry-After": RETRY_AFTER },
  },
  501: { name: "NotImplemented", description: "Not available in this process." },
  503: {
    name: "Unavailable",
    description:
      "The database is not reachable right now (the service recovers by itself once it is); Retry-After says when to try again.",
    headers: { "Retry-After": RETRY_AFTER },
  },
} as const;

export type ProblemStatus = keyof typeof PROBLEMS;

/** RFC 9457 problem details: every error leaves in this shape (problem.ts sendProblem). */
export const Problem = Type.Object(
  {
    type: Type.String({ description: "Always about:blank." }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String({ description: "What went wrong, for a person." }),
    instance: Type.String({ description: "The request path (without the query)." }),
    reason: Type.Optional(
      Type.String({
        description:
          'For token refusals: missing, malformed, bad-signature, unknown-kid, wrong-deployment, expired, revoked, wrong-job or wrong-action; "trigger mode" for a start link refused by the job\'s mode; for the admin or metrics token: missing or invalid.',
      }),
    ),
    mode: Type.Optional(Type.String({ description: 'With reason "trigger mode": the job\'s trigger mode.' })),
    state: Type.Optional(Type.String({ description: "For 409: the state the run is in." })),
    field: Type.Optional(Type.String({ description: "For some 400s: the field that is wrong." })),
    errors: Type.Optional(
      Type.Array(Type.Object({ field: Type.String({ examples: ["body/dryRun"] }), message: Type.String() }), {
        description: "For 400 validation failures, one entry per problem.",
      }),
    ),
  },
  { $id: "Problem", description: "RFC 9457 problem details." },
);

const ProblemRef = ref(Problem);

/**
 * The problem+json answer for one status: its meaning (overridable where a route means something
 * more precise) and the body schema, Problem unless the route's problems carry more.
 */
export function problem<B extends TSchema = typeof ProblemRef>(
  status: ProblemStatus,
  overrides: { body?: B; description?: string; headers?: undefined } = {},
) {
  const { name: _name, ...meaning } = PROBLEMS[status];
  const { body = ProblemRef, ...rest } = overrides;
  return { ...meaning, ...rest, content: { "application/problem+json": { schema: body as B } } };
}

/** Starting a run can lose a race that keeps repeating (sync/engine.ts startRun): rare, but a 409. */
export const START_CONFLICT = {
  409: problem(409, {
    description: "Runs of the job kept starting and ending while this one tried to start; try again.",
  }),
};

/** The problem answers of a route, keyed by status, for its `response` schema. */
export function problems<S extends ProblemStatus>(...statuses: S[]) {
  return Object.fromEntries(statuses.map((status) => [status, problem(status)])) as Record<
    S,
    ReturnType<typeof problem<typeof ProblemRef>>
  >;
}
