/**
 * The README and .env.example stay in step with the code: every variable the service reads is
 * documented in both, and the SYNC_* defaults shown in .env.example are the loader's defaults.
 */
import fs from "node:fs";
import path from "node:path";
import { SYNC_ENV_DEFAULTS } from "../src/sync/jobs";

const root = path.resolve(__dirname, "..");
const read = (file: string) => fs.readFileSync(path.join(root, file), "utf8");

/** The names config.ts reads: every `(env, "NAME"` in the only reader of process.env. */
function configVariables(): string[] {
  const names = [...read("src/config.ts").matchAll(/\(env, "([A-Z][A-Z0-9_]+)"/g)].map((m) => m[1]!);
  return [...new Set(names)].sort();
}

describe("the documentation", () => {
  const envExample = read(".env.example");
  const readme = read("README.md");

  it("is self-contained: the README never sends a reader to a file a user's checkout does not have", () => {
    expect(readme).not.toMatch(/DESIGN\.md|design contract/i);
  });

  it("finds the variables config.ts reads (the extraction itself works)", () => {
    expect(configVariables()).toEqual(expect.arrayContaining(["PORT", "DATABASE_URL", "WP_APP_PASSWORD", "LEASE_MS"]));
  });

  it.each(configVariables())("documents %s in .env.example and in the README", (name) => {
    expect(envExample).toMatch(new RegExp(`^#? ?${name}=`, "m"));
    expect(readme).toContain(`\`${name}\``);
  });

  it.each(Object.entries(SYNC_ENV_DEFAULTS))("shows %s in .env.example with the loader's default", (name, value) => {
    const line = envExample.split("\n").find((l) => new RegExp(`^#? ?${name}=`).test(l));
    expect(line).toBeDefined();
    if (value !== "") expect(line!.replace(/^#? ?/, "")).toBe(`${name}=${value}`);
  });
});
