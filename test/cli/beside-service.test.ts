/**
 * The CLI beside a service running on the embedded database (no DATABASE_URL): PGlite lives inside
 * one process, and a second process opening the same DATA_DIR corrupted it. So the CLI's status,
 * links and run go through the running service's admin API, found in DATA_DIR's lock file with a
 * local token (the CLI here has no ADMIN_TOKEN); migrate is still refused with one sentence; argument
 * errors come before any of it; and once the service stopped, the CLI opens the intact database.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { GraphSimulator } from "../../tools/graph-sim";
import {
  ADMIN_TOKEN,
  type RunningCli,
  serviceEnv,
  startCli,
  startTenant,
  startWordPress,
  type WordPressUnderTest,
  waitForListening,
} from "../replicas/setup";

const USERS = 30;
let wp: WordPressUnderTest;
let sim: GraphSimulator;
let domain: string;
let dataDir: string;
let service: RunningCli | undefined;

beforeAll(async () => {
  wp = await startWordPress();
  ({ sim, domain } = await startTenant(USERS));
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ews-beside-"));
});
afterAll(async () => {
  if (service?.child.exitCode === null) service.child.kill("SIGKILL");
  await sim?.close();
  await wp?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function embeddedEnv(extra: Record<string, string> = {}): Record<string, string> {
  const { DATABASE_URL: _none, ...env } = serviceEnv("", sim, wp, {
    DATA_DIR: dataDir,
    SYNC_TRIGGER_MODE: "link-start-continue",
    WP_CONCURRENCY: "1",
    ...extra,
  });
  return env;
}

/** The CLI as an operator runs it beside the service: same settings, but no ADMIN_TOKEN. */
async function cli(...args: string[]) {
  const { ADMIN_TOKEN: _unset, ...env } = embeddedEnv();
  const running = startCli(args, env);
  const code = await running.exited;
  return { code, stdout: running.stdout(), stderr: running.stderr() };
}

describe("the CLI beside a service running on the embedded database", () => {
  it("goes through the service for status, links and run, refuses migrate, and reads the intact database once it stopped", async () => {
    service = startCli(["serve"], embeddedEnv({ LOG_LEVEL: "info" }));
    const url = await waitForListening(service, 180_000);
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const runState = async (runId: string) =>
      (await (await fetch(`${url}/v1/runs/${runId}`, { headers: admin })).json()) as {
        state: string;
        step: number;
        trigger: string;
        counts: { created: number };
      };
    // The lock file the CLI reads: only the service's user may read its local token.
    const lock = path.join(dataDir, "entra-wp-sync.lock");
    expect(fs.statSync(lock).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(lock, "utf8"))).toMatchObject({
      pid: service.child.pid,
      url: expect.any(String),
    });

    // Argument errors first: before any lock or connection.
    for (const [args, message] of [
      [["run", "nope"], /unknown job "nope" \(declared: default\)/],
      [["links", "default", "--expires-in", "soon"], /links: --expires-in: expiresIn must be/],
      [["status", "nope"], /unknown job "nope"/],
    ] as Array<[string[], RegExp]>) {
      const refused = await cli(...args);
      expect({ args, code: refused.code }).toEqual({ args, code: 64 });
      expect(refused.stderr).toMatch(message);
    }

    // A run that writes, queued (link-start-continue: only continue calls or the CLI advance it).
    const started = await fetch(`${url}/v1/jobs/default/runs`, { method: "POST", headers: admin });
    expect(started.status).toBe(201);
    const runId = ((await started.json()) as { run: { id: string } }).run.id;

    const status = await cli("status");
    expect(status.stderr).toBe("");
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(
      new RegExp(`^default\\s+link-start-continue\\s+${runId.slice(0, 8)}\\s+\\* queued\\s`, "m"),
    );

    // A dry run never takes over the run that writes: refused, the run left queued.
    const dry = await cli("run", "default", "--dry-run");
    expect(dry.stderr).toContain(
      `entra-wp-sync: job default has a run that writes in progress (${runId}, queued): a dry run starts only when no run of the job is active`,
    );
    expect(dry.code).toBe(1);
    expect(await runState(runId)).toMatchObject({ state: "queued", step: 0, counts: { created: 0 } });
    expect(await wp.usersIn(domain)).toHaveLength(0);

    const links = await cli("links", "default", "--expires-in", "1h");
    expect(links.code).toBe(0);
    const continueUrl = links.stdout.match(/^continue\s+(\S+)$/m)![1]!;
    const token = new URL(continueUrl).searchParams.get("token");
    const continued = await fetch(`${url}/v1/jobs/default/continue`, { headers: { authorization: `Bearer ${token}` } });
    expect(continued.status).toBe(200);

    // run takes the queued run over and drives it to its end through the service.
    const run = await cli("run", "default");
    expect(run.stderr).toContain(`Through the service at http://127.0.0.1:`);
    expect(run.stderr).toContain(`Attaching to the active run ${runId} of job default`);
    expect(run.stdout).toMatch(new RegExp(`^Run ${runId} of job default: completed\n`));
    expect(run.stdout).toContain(`seen ${USERS}, created ${USERS},`);
    expect(run.code).toBe(0);
    expect(await wp.usersIn(domain)).toHaveLength(USERS);

    // migrate still may not open the database beside the service.
    const migrate = await cli("migrate");
    expect(migrate.code).toBe(78);
    expect(migrate.stderr).toBe(
      `Configuration error: the embedded database in DATA_DIR ${dataDir} is open in another entra-wp-sync process (pid ${service.child.pid}, serve, since ${migrate.stderr.match(/since (\S+)\)/)?.[1]}), and two processes must not open it at once: use that service's admin API or /status instead, stop it first, or set DATABASE_URL to a PostgreSQL server that both can share\n`,
    );

    service.child.kill("SIGTERM");
    expect(await service.exited).toBe(0);
    const after = await cli("status");
    expect(after.stderr).toBe("");
    expect(after.code).toBe(0);
    expect(after.stdout).toMatch(
      new RegExp(`^default\\s+link-start-continue\\s+${runId.slice(0, 8)}\\s+completed\\s`, "m"),
    );
  }, 600_000);
});
