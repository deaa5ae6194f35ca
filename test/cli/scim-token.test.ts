/**
 * `entra-wp-sync scim-token <job>` (the built CLI): on its own over DATABASE_URL, and beside a
 * service running on the embedded database, where it goes through that service's admin API. The
 * token it prints must open the job's SCIM endpoint.
 */
import fs from "node:fs";
import path from "node:path";
import { secretDigest } from "../../src/core/hash";
import type { Database } from "../../src/db/pool";
import { tokenJob } from "../../src/db/scim";
import { makeTestDatabase } from "../helpers/db";
import { makeTempDir } from "../helpers/leftovers";
import { ADMIN_TOKEN, type RunningCli, startCli, waitForListening } from "../replicas/setup";

const PUBLIC_URL = "https://sync.example.org/base/";
let db: Database & { url: string | null };
let jobsFile: string;
let service: RunningCli | undefined;

beforeAll(async () => {
  db = await makeTestDatabase();
  jobsFile = path.join(makeTempDir("ews-scim-token-"), "jobs.json");
  fs.writeFileSync(jobsFile, JSON.stringify({ jobs: [{ id: "staff" }, { id: "entra", source: { kind: "scim" } }] }));
});
afterAll(async () => {
  if (service?.child.exitCode === null) service.child.kill("SIGKILL");
  await db?.close();
});

/** DATA_DIR of its own always: never the checkout's ./data (the CLI may store a generated admin token there). */
const settings = (extra: Record<string, string>) => ({
  LOG_LEVEL: "info",
  DATA_DIR: makeTempDir("ews-scim-token-data-"),
  PUBLIC_URL,
  SYNC_JOBS_FILE: jobsFile,
  WP_URL: "http://127.0.0.1:9/",
  WP_USERNAME: "sync",
  WP_APP_PASSWORD: "xxxx xxxx xxxx xxxx xxxx xxxx",
  ...extra,
});

async function cli(env: Record<string, string>, ...args: string[]) {
  const running = startCli(args, env);
  const code = await running.exited;
  return { code, stdout: running.stdout(), stderr: running.stderr() };
}

/** The three lines scim-token prints, by their names. */
function printed(stdout: string): Record<string, string> {
  return Object.fromEntries(
    stdout
      .trimEnd()
      .split("\n")
      .map((line) => line.split(/\s+/)),
  );
}

describe("entra-wp-sync scim-token", () => {
  it("prints the endpoint, a token that the job's endpoint accepts and its id, and exits 0", async () => {
    const env = settings({ DATABASE_URL: db.url!, ADMIN_TOKEN });
    const { code, stdout, stderr } = await cli(env, "scim-token", "entra");
    expect(stderr).toBe(
      "The token is shown this once. Microsoft Entra: append ?aadOptscim062020 to the Tenant URL (docs/scim.md).\n",
    );
    expect(code).toBe(0);
    const lines = printed(stdout);
    expect(Object.keys(lines)).toEqual(["tenant-url", "token", "id"]);
    expect(lines["tenant-url"]).toBe("https://sync.example.org/base/scim/v2/entra");
    expect(lines.token).toMatch(/^scim_[A-Za-z0-9_-]{43}$/);
    expect(await tokenJob(db.pool, secretDigest(lines.token!))).toBe("entra");
    // Kept as a digest only: the token itself is nowhere in the database.
    const { rows } = await db.pool.query("select * from scim_tokens where id = $1::uuid", [lines.id]);
    expect(JSON.stringify(rows)).not.toContain(lines.token);
  });

  it("refuses a job that is not a SCIM job (exit 1) and an unknown job (exit 64), with one sentence", async () => {
    const env = settings({ DATABASE_URL: db.url!, ADMIN_TOKEN });
    const graph = await cli(env, "scim-token", "staff");
    expect(graph).toEqual({
      code: 1,
      stdout: "",
      stderr: 'entra-wp-sync: job staff is not a SCIM job (its source.kind is not "scim")\n',
    });
    const unknown = await cli(env, "scim-token", "nope");
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toMatch(/^entra-wp-sync: unknown job "nope" \(declared: staff, entra\)\n/);
    const missing = await cli(env, "scim-token");
    expect(missing.code).toBe(64);
    expect(missing.stderr).toMatch(/scim-token: missing <job>/);
    const help = await cli({ DATABASE_URL: "postgres://u:p@127.0.0.1:1/none" }, "scim-token", "--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: entra-wp-sync scim-token <job>\n/);
  });

  it("goes through the service running beside it on the embedded database, whose endpoint takes the token", async () => {
    const env = settings({ PORT: "0", HOST: "127.0.0.1" });
    service = startCli(["serve"], { ...env, ADMIN_TOKEN });
    const url = await waitForListening(service, 180_000);
    // The CLI has no ADMIN_TOKEN: it finds the service in DATA_DIR's lock file.
    const { code, stdout, stderr } = await cli(env, "scim-token", "entra");
    expect(stderr).toContain("The token is shown this once.");
    expect(code).toBe(0);
    const { token } = printed(stdout);
    const probe = await fetch(`${url}/scim/v2/entra/Users?filter=${encodeURIComponent('userName eq "nobody"')}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(probe.status).toBe(200);
    expect(await probe.json()).toMatchObject({ totalResults: 0, Resources: [] });
    const wrong = await fetch(`${url}/scim/v2/entra/Users`, { headers: { authorization: "Bearer scim_wrong" } });
    expect(wrong.status).toBe(401);
    expect(service.stdout() + service.stderr()).not.toContain(token);
    service.child.kill("SIGTERM");
    expect(await service.exited).toBe(0);
  }, 300_000);
});
