/** JSON schemas shared by the routes (validation only; openapi.yaml documents the same shapes). */

export const jobParams = {
  type: "object",
  required: ["job"],
  additionalProperties: false,
  properties: { job: { type: "string", minLength: 1, maxLength: 100 } },
} as const;

export const runParams = {
  type: "object",
  required: ["id"],
  additionalProperties: false,
  properties: { id: { type: "string", format: "uuid" } },
} as const;

/** For routes that take no query parameters. */
export const noQuery = { type: "object", additionalProperties: false, properties: {} } as const;

/** For POST routes that take no body: absent or `{}`. */
export const emptyBody = { type: "object", additionalProperties: false, properties: {} } as const;
