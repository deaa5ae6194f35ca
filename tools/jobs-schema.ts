/**
 * Writes jobs.schema.json from the schema the service validates jobs files with (src/sync/job-schema.ts):
 * `npm run jobs-schema` after changing it. test/sync/job-schema.test.ts fails while the committed
 * file differs from what the schema generates.
 */
import fs from "node:fs";
import path from "node:path";
import { jobsJsonSchema } from "../src/sync/job-schema";

/** jobs.schema.json beside package.json, from tools/ or from dist/tools/ alike. */
function schemaFile(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "package.json"))) return path.join(dir, "jobs.schema.json");
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${__dirname}`);
  }
}

const file = schemaFile();
const text = jobsJsonSchema();
fs.writeFileSync(file, text);
console.log(`wrote ${file} (${text.length} bytes)`);
