/**
 * The documentation stays in step with the code: every variable the service reads has an entry in
 * docs/configuration.md and .env.example (the SYNC_* defaults shown there are the loader's), every
 * key of the jobs file's schema has one in docs/jobs.md, and every relative link between the
 * README, docs/ and the root's markdown files resolves, #anchors included.
 */
import fs from "node:fs";
import path from "node:path";
import { JobSchema, JobsFileSchema } from "../src/sync/job-schema";
import { SYNC_ENV_DEFAULTS } from "../src/sync/jobs";
import type { SchemaNode } from "../src/sync/schema-problem";
import { serviceVariables } from "./helpers/service-variables";

const root = path.resolve(__dirname, "..");
const read = (file: string) => fs.readFileSync(path.join(root, file), "utf8");

/** What a user's checkout documents: the README, docs/ and the root's other markdown files. */
const MARKDOWN = [
  "README.md",
  "CHANGELOG.md",
  "SECURITY.md",
  ...fs
    .readdirSync(path.join(root, "docs"))
    .filter((file) => file.endsWith(".md"))
    .map((file) => `docs/${file}`),
];

/**
 * The keys a jobs file may hold, read from the schema the service validates with: "trigger.mode",
 * "roles.groups[].group", "fields.<field>" for a map's keys; a union's variants share a path.
 */
function schemaKeys(node: SchemaNode, prefix = ""): string[] {
  const at = (key: string) => (prefix ? `${prefix}.${key}` : key);
  const keys = Object.entries(node.properties ?? {}).flatMap(([key, child]) => [
    at(key),
    ...schemaKeys(child, at(key)),
  ]);
  // A map's keys: a job's fields ("fields.<field>"), the sites and sources by name ("sites.<name>.url").
  for (const child of Object.values(node.patternProperties ?? {})) {
    const key = at(prefix === "fields" ? "<field>" : "<name>");
    keys.push(key, ...schemaKeys(child, key));
  }
  if (node.items) keys.push(...schemaKeys(node.items, `${prefix}[]`));
  for (const variant of node.anyOf ?? []) keys.push(...schemaKeys(variant, prefix));
  return [...new Set(keys)];
}

function jobsFileKeys(): string[] {
  const file = (JobsFileSchema as SchemaNode).properties ?? {};
  const named = (key: "sites" | "sources") => schemaKeys(file[key]!, key);
  return [...Object.keys(file), ...named("sites"), ...named("sources"), ...schemaKeys(JobSchema as SchemaNode)];
}

/** Markdown outside fenced code blocks, line by line. */
function prose(text: string): string[] {
  let fenced = false;
  return text.split("\n").filter((line) => {
    if (line.trimStart().startsWith("```")) fenced = !fenced;
    return !fenced && !line.trimStart().startsWith("```");
  });
}

/** GitHub's heading anchors: lower case, punctuation dropped (but "-" and "_"), each space a "-". */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  for (const line of prose(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const slug = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    let unique = slug;
    for (let n = 1; anchors.has(unique); n++) unique = `${slug}-${n}`;
    anchors.add(unique);
  }
  return anchors;
}

/** Relative links of a markdown file that do not resolve: a missing file, or an anchor its target lacks. */
function brokenLinks(file: string, text: string, readTarget: (file: string) => string | null): string[] {
  const broken: string[] = [];
  const lines = prose(text).map((line) => line.replace(/`[^`]*`/g, ""));
  for (const [, target] of lines.join("\n").matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target!)) continue; // https:, mailto:
    const [pathPart, anchor] = target!.split("#", 2) as [string, string | undefined];
    const targetFile =
      pathPart === "" ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), pathPart));
    const content = pathPart === "" ? text : readTarget(targetFile);
    if (content === null) broken.push(`${file}: ${target} (no file ${targetFile})`);
    else if (anchor !== undefined && !anchorsOf(content).has(anchor)) {
      broken.push(`${file}: ${target} (no heading "#${anchor}" in ${targetFile})`);
    }
  }
  return broken;
}

function readIfExists(file: string): string | null {
  const full = path.join(root, file);
  if (!fs.existsSync(full)) return null;
  return fs.statSync(full).isDirectory() ? "" : fs.readFileSync(full, "utf8");
}

/** A document's table rows by what their first cell names in backquotes: `NAME` -> the row's cells. */
function tableRows(file: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of prose(read(file))) {
    if (!line.startsWith("|")) continue;
    const cells = line
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim().replace(/\\\|/g, "|"));
    for (const [, name] of cells[0]!.matchAll(/`([^`]+)`/g)) rows.set(name!, cells);
  }
  return rows;
}
const configurationRows = () => tableRows("docs/configuration.md");

describe("the documentation", () => {
  const envExample = read(".env.example");

  it.each(MARKDOWN)("is self-contained: %s never sends a reader to a file a user's checkout does not have", (file) => {
    expect(read(file)).not.toMatch(/DESIGN\.md|design contract/i);
  });

  it("keeps the README a newcomer's page (at most about 300 lines)", () => {
    expect(read("README.md").split("\n").length).toBeLessThanOrEqual(320);
  });

  it("finds the variables the service reads (the extraction itself works)", () => {
    expect(serviceVariables()).toEqual(
      expect.arrayContaining(["PORT", "DATABASE_URL", "WP_APP_PASSWORD", "LEASE_MS", "SYNC_JOBS_FILE", "SYNC_PHOTOS"]),
    );
  });

  it.each(serviceVariables())("documents %s in .env.example and in docs/configuration.md's tables", (name) => {
    expect(envExample).toMatch(new RegExp(`^#? ?${name}=`, "m"));
    expect(configurationRows().has(name)).toBe(true);
  });

  it.each(Object.entries(SYNC_ENV_DEFAULTS))("shows %s in .env.example with the loader's default", (name, value) => {
    const line = envExample.split("\n").find((l) => new RegExp(`^#? ?${name}=`).test(l));
    expect(line).toBeDefined();
    if (value !== "") expect(line!.replace(/^#? ?/, "")).toBe(`${name}=${value}`);
  });

  it.each(Object.entries(SYNC_ENV_DEFAULTS))(
    "shows %s in docs/configuration.md with the loader's default",
    (name, value) => {
      const cells = configurationRows().get(name);
      expect(cells?.[1]).toBe(value === "" ? "unset" : `\`${value}\``);
    },
  );

  it("finds the jobs file's keys in its schema (the extraction itself works)", () => {
    expect(jobsFileKeys()).toEqual(
      expect.arrayContaining(["jobs", "id", "source.pageSize", "match.by", "roles.groups[].role", "fields.<field>"]),
    );
    expect(jobsFileKeys()).toContain("source.scopingFilters[][].operator");
    expect(jobsFileKeys()).toContain("network.groups[].site");
    expect(jobsFileKeys()).toEqual(expect.arrayContaining(["sites.<name>.appPasswordEnv", "sources.<name>.tenantId"]));
  });

  it.each(jobsFileKeys())("documents the jobs-file key %s in docs/jobs.md's table", (key) => {
    expect(tableRows("docs/jobs.md").has(key)).toBe(true);
  });

  it.each(MARKDOWN)("has only relative links that resolve, anchors included: %s", (file) => {
    expect(brokenLinks(file, read(file), readIfExists)).toEqual([]);
  });

  it.each(MARKDOWN.filter((file) => file.startsWith("docs/") && file !== "docs/README.md"))(
    "lists %s in the index, docs/README.md",
    (file) => {
      expect(read("docs/README.md")).toContain(`](${path.posix.basename(file)})`);
    },
  );

  it("finds broken links (the checker itself works)", () => {
    const docs: Record<string, string> = { "docs/a.md": "# A title\n## The `SYNC_*` variables, again\n" };
    const readTarget = (file: string) => docs[file] ?? null;
    const text = [
      "[ok](a.md#a-title) [ok](a.md#the-sync_-variables-again) [web](https://example.com/x#y)",
      "[no file](b.md) [no anchor](a.md#missing) [own anchor](#nowhere)",
      "```",
      "[in code](c.md)",
      "```",
    ].join("\n");
    expect(brokenLinks("docs/index.md", text, readTarget)).toEqual([
      "docs/index.md: b.md (no file docs/b.md)",
      'docs/index.md: a.md#missing (no heading "#missing" in docs/a.md)',
      'docs/index.md: #nowhere (no heading "#nowhere" in docs/index.md)',
    ]);
  });
});
