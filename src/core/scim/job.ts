/**
 * A job whose source is `{ "kind": "scim" }` (DESIGN.md "SCIM source"): its fields map SCIM
 * attribute paths, its username rule names userName, and what only a Graph listing has (source
 * mode, filter, groups, schedules, network targets, photos) is refused with a message naming it.
 * The rest is validated as any job's, by the validator handed in (src/sync/job-schema.ts).
 */
import { ConfigError } from "../errors";
import type { Job } from "../job";
import { ScimError } from "./errors";
import { engineMapping, SCIM_DEFAULT_FIELDS, SCIM_USERNAME_RULES } from "./user";

const GRAPH_ONLY = ["trigger", "network", "photos"] as const;

export function validateScimJob(
  job: Record<string, unknown>,
  id: string,
  validate: (raw: Record<string, unknown>) => Job,
): Job {
  const fail = (path: string, message: string): never => {
    throw new ConfigError(`job "${id}": ${path} ${message}`);
  };
  const source = job.source as Record<string, unknown>;
  for (const key of Object.keys(source)) {
    if (key !== "kind") fail(`source.${key}`, `is not used by a SCIM job (its provider pushes users): leave it out`);
  }
  for (const key of GRAPH_ONLY) {
    if (job[key] !== undefined) fail(key, `is not used by a SCIM job (its provider pushes users): leave it out`);
  }
  const rawFields = job.fields ?? SCIM_DEFAULT_FIELDS;
  if (typeof rawFields !== "object" || rawFields === null || Array.isArray(rawFields)) {
    fail("fields", `must be an object of WordPress field -> SCIM attribute paths (got ${JSON.stringify(rawFields)})`);
  }
  const fields: Record<string, unknown> = {};
  for (const [key, mapping] of Object.entries(rawFields as Record<string, unknown>)) {
    if (typeof mapping !== "string" || !mapping.trim()) {
      fail(`fields.${key}`, `must be SCIM attribute paths joined by "|" (got ${JSON.stringify(mapping)})`);
    }
    try {
      fields[key] = engineMapping(mapping as string);
    } catch (error) {
      if (!(error instanceof ScimError)) throw error;
      fail(
        `fields.${key}`,
        `must be SCIM attribute paths joined by "|" such as 'emails[type eq "work"].value|userName': ${error.message}`,
      );
    }
  }
  const username = job.username ?? "userName";
  const rule = typeof username === "string" ? SCIM_USERNAME_RULES[username] : undefined;
  if (rule === undefined) {
    fail(
      "username",
      `must be one of ${Object.keys(SCIM_USERNAME_RULES)
        .map((r) => `"${r}"`)
        .join(", ")} for a SCIM job (got ${JSON.stringify(username)})`,
    );
  }
  const dryRun = job.dryRun ?? false;
  if (typeof dryRun !== "boolean") fail("dryRun", `must be true or false (got ${JSON.stringify(dryRun)})`);
  const validated = validate({
    ...job,
    source: {},
    trigger: { mode: "manual" },
    fields,
    username: rule,
    dryRun: false,
  });
  return { ...validated, source: { ...validated.source, kind: "scim" }, dryRun: dryRun as boolean };
}

/** Whether the job's users are pushed over SCIM (no Graph listing). */
export function isScimJob(job: Pick<Job, "source">): boolean {
  return job.source.kind === "scim";
}
