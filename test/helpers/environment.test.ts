/**
 * The test environment removes what a passing file left behind (its cloned database, its
 * temporary directories) and keeps what a failing file left, naming it. Checked by running jest
 * on two fixture files in a child process.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Client } from "pg";
import { adminUrl } from "./db-names";
import { makeTempDir } from "./leftovers";

const root = path.resolve(__dirname, "../..");

async function databaseExists(name: string): Promise<boolean> {
  const admin = new Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    return (await admin.query("select 1 from pg_database where datname = $1::text", [name])).rowCount === 1;
  } finally {
    await admin.end();
  }
}

async function dropDatabase(name: string): Promise<void> {
  const admin = new Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`drop database if exists ${name} with (force)`).finally(() => admin.end());
}

it("drops a passing file's database and directories, and keeps a failing file's, naming them", async () => {
  const out = path.join(makeTempDir("ews-leftovers-"), "out.jsonl");
  const config = {
    rootDir: root,
    roots: ["<rootDir>/test/fixtures/leftovers"],
    testMatch: ["**/*.fixture.ts"],
    transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] },
    testEnvironment: "<rootDir>/test/helpers/environment.ts",
    globalSetup: "<rootDir>/test/helpers/global-setup.ts",
    globalTeardown: "<rootDir>/test/helpers/global-teardown.ts",
  };
  const child = spawn(
    process.execPath,
    [path.join(root, "node_modules/jest/bin/jest.js"), "--config", JSON.stringify(config)],
    {
      cwd: root,
      env: { ...process.env, LEFTOVERS_OUT: out },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  child.stdout.resume();
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  expect(code).toBe(1); // the failing fixture
  const made = fs
    .readFileSync(out, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { file: string; db: string | null; dir: string });
  const passed = made.find((m) => m.file === "passes")!;
  const failed = made.find((m) => m.file === "fails")!;
  try {
    expect(fs.existsSync(passed.dir)).toBe(false);
    expect(fs.existsSync(failed.dir)).toBe(true);
    expect(stderr).toContain(
      `[tests] kept for inspection (a test of ${path.join(root, "test/fixtures/leftovers/fails.fixture.ts")} failed)`,
    );
    expect(stderr).toContain(failed.dir);
    // Databases exist only with a PostgreSQL server (else the embedded one lives in the directory).
    if (process.env.TEST_DB_MODE === "postgres") {
      expect(await databaseExists(passed.db!)).toBe(false);
      expect(await databaseExists(failed.db!)).toBe(true);
      expect(stderr).toContain(`database ${failed.db}`);
    }
  } finally {
    fs.rmSync(failed.dir, { recursive: true, force: true });
    if (failed.db) await dropDatabase(failed.db);
  }
});
