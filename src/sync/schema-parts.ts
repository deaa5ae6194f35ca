/**
 * The building blocks of the jobs file's schema (job-schema.ts for jobs, sites-schema.ts for sites
 * and sources): each says in its errorMessage what a person should write, as schema-problem.ts
 * reports it.
 */
import { type TSchema, Type } from "@sinclair/typebox";

/** Job ids and the names of sites and sources: what links, URLs, metrics labels and logs carry safely. */
export const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** A string with something besides spaces in it (trimmed when read). */
export const Text = (options: object = {}) =>
  Type.String({ pattern: "\\S", errorMessage: "must be a non-empty string", ...options });
/** Absent, null and "" all mean "not set". */
export const Optional = (options: object = {}) =>
  Type.Union([Type.String(), Type.Null()], { errorMessage: "must be a string, or null for none", ...options });
export const OneOf = (values: readonly string[], options: object = {}) =>
  Type.Union(
    values.map((value) => Type.Literal(value)),
    options,
  );
/** An object that refuses keys it does not list, so a typo cannot pass silently. */
export const Section = (properties: Record<string, TSchema>, options: object = {}) =>
  Type.Object(properties, { additionalProperties: false, ...options });
