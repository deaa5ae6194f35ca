/**
 * The built CLI (`node dist/src/cli/index.js`) configured from environment variables, against a
 * database, the Graph simulator over HTTPS and a WordPress (real with WP_URL, else the fake one).
 */
import type { Database } from "../../src/db/pool";
import { cancelRun, findRun, insertRun } from "../../src/db/runs";
import { linkAudience, verifyLink } from "../../src/links";
import type { GraphSimulator } from "../../tools/graph-sim";
import { makeTestDatabase } from "../helpers/db";
import {
  SIGNING_KEY,
  serviceEnv,
  startCli,
  startTenant,
  startWordPress,
  type WordPressUnderTest,
} from "../replicas/setup";

const USERS = 15;
let wp: WordPressUnderTest;
let db: Database & { url: string | null };
let sim: GraphSimulator;
let domain: string;
let env: Record<string, string>;

beforeAll(async () => {
  wp = await startWordPress();
  db = await makeTestDatabase();
  ({ sim, domain } = await startTenant(USERS));
  env = serviceEnv(db.url!, sim, wp, { LOG_LEVEL: "info", PUBLIC_URL: "https://sync.example.org" });
});
afterAll(async () => {
  await sim?.close();
  await db?.close();
  await wp?.close();
});

async function cli(...args: string[]) {
  const running = startCli(args, env);
  const code = await running.exited;
  return { code, stdout: running.stdout(), stderr: running.stderr() };
}

describe("the CLI", () => {
  it("run drives a run to its end, prints progress on stderr and the summary on stdout, and exits 0", async () => {
    const { code, stdout, stderr } = await cli("run", "default");
    expect(stderr).toMatch(/Started run [0-9a-f-]{36} of job default/);
    // Not a terminal: plain progress lines, no carriage returns.
    expect(stderr).toMatch(/\d+ users .*users\/s/);
    expect(stderr).not.toContain("\r");
    expect(stdout).toMatch(/^Run [0-9a-f-]{36} of job default: completed\n/);
    expect(stdout).toContain(`seen ${USERS}, created ${USERS},`);
    expect(stdout).toContain("last error: none");
    expect(stdout).toMatch(/duration \d/);
    expect(code).toBe(0);
    expect(await wp.usersIn(domain)).toHaveLength(USERS);
    // Info logs stay out of the output (the CLI logs warnings and errors only, on stderr).
    expect(stdout).not.toContain('"level"');
  });

  it("run --dry-run writes nothing", async () => {
    sim.tenant.addUser({ displayName: "Dry Person" });
    const { code, stdout } = await cli("run", "default", "--dry-run");
    expect(code).toBe(0);
    expect(stdout).toContain("completed (dry run: nothing written)");
    expect(stdout).toContain("created 1,");
    expect(await wp.usersIn(domain)).toHaveLength(USERS);
  });

  it("status prints the runs as an aligned table", async () => {
    const { code, stdout } = await cli("status");
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^JOB\s+MODE\s+RUN\s+STATE\s+TRIGGER\s+STARTED\s+DURATION\s+SEEN\s+CREATED/);
    expect(lines).toHaveLength(3); // header + the two runs above, newest first
    expect(lines[1]).toMatch(/^default\s+link-start-continue\s+[0-9a-f]{8}\s+completed \(dry\)\s+cli/);
    expect(lines[2]).toMatch(/completed\s+cli/);
    // Aligned: every column starts at the same offset on every line.
    const stateAt = lines[0]!.indexOf("STATE");
    for (const line of lines.slice(1)) expect(line.slice(stateAt)).toMatch(/^completed/);
    expect((await cli("status", "default")).stdout).toContain("default");
  });

  it("links prints a start and a continue URL whose tokens verify", async () => {
    const { code, stdout } = await cli("links", "default", "--expires-in", "30d");
    expect(code).toBe(0);
    const [start, cont] = stdout
      .trimEnd()
      .split("\n")
      .map((line) => line.split(/\s+/));
    expect(start![0]).toBe("start");
    expect(cont![0]).toBe("continue");
    const { rows } = await db.pool.query("select value from secrets where name = 'deployment_id'");
    const options = { audience: linkAudience(rows[0].value), defaultTtlSeconds: 86_400 };
    const cutoff = { validFrom: 0, legacyGeneration: 1 };
    for (const [act, url] of [start, cont] as Array<["start" | "continue", string]>) {
      expect(url.startsWith("https://sync.example.org/v1/jobs/default/")).toBe(true);
      const token = new URL(url).searchParams.get("token");
      const claims = await verifyLink([SIGNING_KEY], token, { job: "default", act, cutoff }, options);
      expect(claims.exp - claims.iat).toBe(30 * 86_400);
    }
  });

  it("user prints one person's items across runs and jobs, newest first", async () => {
    const person = sim.tenant.userAt(0)!;
    const { code, stdout, stderr } = await cli("user", String(person.mail ?? person.userPrincipalName).toUpperCase());
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toContain(`Entra id ${person.id}`);
    expect(lines[1]).toMatch(/^WHEN\s+JOB\s+RUN\s+ACTION\s+STATUS\s+E-MAIL\s+CHANGES\s+REASON$/);
    // The dry run above, then the first run's create.
    expect(lines[2]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+default\s+[0-9a-f]{8} \(dry\)\s+unchanged\s+planned\s/);
    expect(lines[3]).toMatch(/\s+default\s+[0-9a-f]{8}\s+create\s+ok\s/);
    expect((await cli("user", "nobody@nowhere.example")).stdout).toBe(
      "No items about nobody@nowhere.example: no run has seen this person.\n",
    );
  });

  it("run --dry-run refuses a run that writes when one is queued: nothing written, the run left as it was, exit 1", async () => {
    sim.tenant.addUser({ displayName: "Queued Person" });
    const queued = await insertRun(db.pool, {
      jobId: "default",
      trigger: "link",
      dryRun: false,
      mode: "full",
      phase: "users",
      cursor: null,
    });
    const usersBefore = (await wp.usersIn(domain)).length;
    const { code, stdout, stderr } = await cli("run", "default", "--dry-run");
    expect(stderr).toBe(
      `entra-wp-sync: job default has a run that writes in progress (${queued!.id}, queued): a dry run starts only when no run of the job is active, and never advances one that writes; wait for it to end or cancel it (POST /v1/runs/${queued!.id}/cancel), then ask again\n`,
    );
    expect(stdout).toBe("");
    expect(code).toBe(1);
    expect(await findRun(db.pool, queued!.id)).toMatchObject({ state: "queued", step: 0 });
    expect(await wp.usersIn(domain)).toHaveLength(usersBefore);
    await cancelRun(db.pool, queued!.id);
  });

  it.each(["serve", "migrate", "links", "run", "status", "user", "scim-token"])(
    "%s -h and --help print the command's usage and exit 0 without opening anything",
    async (command) => {
      for (const flag of ["-h", "--help"]) {
        // No settings at all: the help must not need a database (an unreachable one here).
        const running = startCli([command, flag], { DATABASE_URL: "postgres://u:p@127.0.0.1:1/none" });
        expect(await running.exited).toBe(0);
        expect(running.stdout()).toMatch(new RegExp(`^Usage: entra-wp-sync ${command}\\b`));
        expect(running.stderr()).toBe("");
      }
    },
  );

  // Last: it leaves a failed run, which the status table above does not expect.
  it("run reports a logged error as one readable line on stderr, not JSON with a stack trace", async () => {
    const running = startCli(["run", "default"], { ...env, AZURE_CLIENT_SECRET: "wrong-wrong-wrong-wrong" });
    const code = await running.exited;
    const stderr = running.stderr();
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/^error: .+/m);
    expect(stderr).not.toMatch(/^\s*\{/m);
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(stderr).not.toContain('"stack"');
    expect(stderr).not.toContain("wrong-wrong");
  });

  it("--version prints the package's version", async () => {
    const running = startCli(["--version"], {});
    expect(await running.exited).toBe(0);
    expect(running.stdout()).toBe(`${require("../../package.json").version}\n`);
  });

  it.each([
    [["run"], /run: missing <job>/],
    [["run", "default", "--force"], /run: unknown option --force \(accepted: --dry-run\)/],
    [["run", "a", "b"], /run: unexpected argument "b"/],
    [["links", "default", "--expires-in"], /links: --expires-in needs a value/],
    [["links", "default", "--expires-in", "--dry-run"], /links: --expires-in needs a value/],
    [["run", "default", "--dry-run=yes"], /run: --dry-run takes no value/],
    [["migrate", "now"], /migrate: unexpected argument "now" \(expected none\)/],
    [["links", "default", "--expires-in", "soon"], /links: --expires-in: expiresIn must be/],
    [["status", "default", "extra"], /status: unexpected argument "extra"/],
    [["frobnicate"], /unknown command "frobnicate"/],
    [["user"], /user: missing <email\|entraId>/],
    [["user", "a@b.example", "--limit", "0"], /user: --limit must be a whole number from 1 to 1000 \(got "0"\)/],
    [["run", "nope"], /unknown job "nope" \(declared: default\)/],
  ])("exits 64 with a message naming what is wrong: %j", async (args, message) => {
    const { code, stderr, stdout } = await cli(...args);
    expect(code).toBe(64);
    expect(stderr).toMatch(message);
    expect(stderr).toContain("Usage: entra-wp-sync");
    expect(stdout).toBe("");
  });
});
