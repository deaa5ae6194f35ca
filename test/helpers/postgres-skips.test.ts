/**
 * Tests that need a PostgreSQL server skip visibly, with the reason in their title, when none
 * answers (they used to return early and pass having checked nothing), and the whole run fails
 * instead under REQUIRE_POSTGRES=1, as CI sets it. Checked by running jest on them in a child
 * process pointed at a port where nothing listens.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { NO_POSTGRES_REASON } from "./db";
import { makeTempDir } from "./leftovers";

const root = path.resolve(__dirname, "../..");
const NOWHERE = "postgres://postgres@127.0.0.1:1/test";
const SERVER_TESTS = ["uses the PostgreSQL server named by DATABASE_URL", "names a database that does not exist"];

interface JestReport {
  testResults: Array<{ assertionResults: Array<{ title: string; status: string }> }>;
}

/** This run's environment without what its own global-setup handed to the workers. */
function parentEnv(): NodeJS.ProcessEnv {
  const { TEST_DB_MODE: _mode, TEST_TEMPLATE_DB: _template, ...env } = process.env;
  return env;
}

async function jestWithoutServer(extraEnv: Record<string, string>) {
  const out = path.join(makeTempDir("ews-skips-"), "report.json");
  const child = spawn(
    process.execPath,
    [
      path.join(root, "node_modules/jest/bin/jest.js"),
      "--json",
      `--outputFile=${out}`,
      "--testNamePattern",
      SERVER_TESTS.join("|"),
      "test/main.test.ts",
      "test/db/connection-errors.test.ts",
    ],
    { cwd: root, env: { ...parentEnv(), ...extraEnv, TEST_DATABASE_URL: NOWHERE }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr.on("data", (chunk) => {
    output += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  const report = fs.existsSync(out) ? (JSON.parse(fs.readFileSync(out, "utf8")) as JestReport) : null;
  return { code, output, report };
}

// A child jest on a shared, loaded machine: generous, so a slow start is not taken for a failure.
const CHILD_JEST_MS = 240_000;

it(
  "skips the tests that need a server, saying why, when no PostgreSQL server answers",
  async () => {
    const { code, output, report } = await jestWithoutServer({ REQUIRE_POSTGRES: "0" });
    expect({ code, output: code === 0 ? "" : output }).toEqual({ code: 0, output: "" });
    const outcomes = report!.testResults
      .flatMap((file) => file.assertionResults)
      .filter((test) => SERVER_TESTS.some((name) => test.title.startsWith(name)))
      .map((test) => [test.title, test.status]);
    expect(outcomes).toEqual(
      expect.arrayContaining(
        SERVER_TESTS.map((name) => [expect.stringMatching(`^${name}.*\\(${NO_POSTGRES_REASON}\\)$`), "pending"]),
      ),
    );
    expect(outcomes).toHaveLength(SERVER_TESTS.length);
  },
  CHILD_JEST_MS,
);

it("fails the run instead under REQUIRE_POSTGRES=1", async () => {
  const { code, output } = await jestWithoutServer({ REQUIRE_POSTGRES: "1" });
  expect(code).not.toBe(0);
  expect(output).toContain(
    "REQUIRE_POSTGRES=1 but no PostgreSQL server answers at postgres://postgres@127.0.0.1:1/test",
  );
});
