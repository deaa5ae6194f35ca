/**
 * The jobs file's schema: jobs.schema.json is what the service's schema generates, an editor
 * reading it (ajv, as editors' JSON Schema validators do) judges jobs files as the service does,
 * and every jobs-file example of the README and docs/ is valid and names the schema.
 */
import fs from "node:fs";
import path from "node:path";
import { Value } from "@sinclair/typebox/value";
import Ajv from "ajv";
import { ConfigError } from "../../src/core/errors";
import { JobSchema, jobsJsonSchema } from "../../src/sync/job-schema";
import { parseJobsFile } from "../../src/sync/jobs";
import { type SchemaNode, schemaProblem } from "../../src/sync/schema-problem";
import { TEST_WEBHOOK_SECRET } from "../helpers/builders";

const root = path.resolve(__dirname, "../..");
const committed = fs.readFileSync(path.join(root, "jobs.schema.json"), "utf8");
// errorMessage is an editor's keyword (VS Code), not a standard one: strict mode would refuse it.
const editor = new Ajv({ strict: false, allErrors: true }).compile(JSON.parse(committed));

/** Every ```json block of the README and docs/ that is a jobs file, with its file. */
function documentedJobsFiles(): Array<[string, string]> {
  const files = ["README.md", ...fs.readdirSync(path.join(root, "docs")).map((f) => `docs/${f}`)];
  return files.flatMap((file) =>
    [...fs.readFileSync(path.join(root, file), "utf8").matchAll(/```json\n([\s\S]*?)```/g)]
      .map((m) => m[1]!)
      .filter((block) => /^\s*\{\s*"\$schema"|"jobs"\s*:/.test(block))
      .map((block): [string, string] => [file, block]),
  );
}

const MISTAKES: Array<Record<string, unknown>> = [
  { trigers: {} },
  { trigger: { mode: "cron" } },
  { source: { pageSize: 1000 } },
  { source: { pagesize: 10 } },
  { source: { scopingFilters: [[]] } },
  { match: ["email", "upn"] },
  { match: { by: [] } },
  { match: { emailDomains: ["@contoso.com"] } },
  { fields: { email: "mail", mail: "x" } },
  { fields: { email: "" } },
  { roles: { groups: [{ group: "g" }] } },
  { actions: { reassignTo: 0 } },
  { actions: { create: "yes" } },
  { protect: { roles: [] } },
  { protect: { users: [1, -2] } },
  { safety: { maxDeleteFraction: 1.5 } },
  { network: { sites: [] } },
  { network: { sites: ["hr"] } },
  { network: { groups: [{ group: "g", role: "editor" }] } },
  { network: { siteDefaults: [{ site: "/hr/", role: "a role" }] } },
  { webhookSecret: 12345 },
  { photos: "yes" },
];

describe("jobs.schema.json", () => {
  it("is exactly what the service's schema generates (after changing it, run npm run jobs-schema)", () => {
    expect(committed.split("\n")).toEqual(jobsJsonSchema().split("\n"));
  });

  it("finds the documented jobs files (the extraction itself works)", () => {
    const files = documentedJobsFiles().map(([file]) => file);
    expect(files).toEqual(expect.arrayContaining(["README.md", "docs/jobs.md"]));
  });

  it.each(documentedJobsFiles())(
    "accepts the jobs file of %s, which names the schema, as the service does",
    (_file, text) => {
      const content = JSON.parse(text.replace(/"whsec_<[^"]*>"/g, JSON.stringify(TEST_WEBHOOK_SECRET)));
      expect(content.$schema).toBe("./jobs.schema.json");
      expect(editor(content)).toBe(true);
      expect(() => parseJobsFile(content)).not.toThrow();
    },
  );

  it.each(MISTAKES)("refuses %j in an editor and at start-up alike", (mistake) => {
    const file = { $schema: "./jobs.schema.json", jobs: [{ id: "staff", ...mistake }] };
    expect(editor(file)).toBe(false);
    expect(() => parseJobsFile(file)).toThrow(ConfigError);
    // The messages are read from the schema by schemaProblem; TypeBox, checking the same schema, agrees.
    const job = file.jobs[0];
    expect(schemaProblem(JobSchema as SchemaNode, job)).not.toBeNull();
    expect(Value.Check(JobSchema, job)).toBe(false);
  });

  it("lets the service ignore $schema, and only a string there", () => {
    expect(parseJobsFile({ $schema: "https://example.test/jobs.schema.json", jobs: [{ id: "a" }] })).toHaveLength(1);
    expect(() => parseJobsFile({ $schema: 1, jobs: [{ id: "a" }] })).toThrow('"$schema" must be a string');
  });
});
