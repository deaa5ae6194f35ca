import fs from "node:fs";
import path from "node:path";
import { SYNC_VARIABLES } from "../../src/sync/jobs";

/**
 * The variables the service reads: every `(env, "NAME"` in config.ts, the only reader of
 * process.env, and the SYNC_* variables it hands to the jobs loader, which knows them by name.
 */
export function serviceVariables(): string[] {
  const config = fs.readFileSync(path.resolve(__dirname, "../../src/config.ts"), "utf8");
  const names = [...config.matchAll(/\(env, "([A-Z][A-Z0-9_]+)"/g)].map((m) => m[1]!);
  return [...new Set([...names, ...Object.keys(SYNC_VARIABLES)])].sort();
}
