/**
 * The CLI beside a running service on the embedded database (no DATABASE_URL): PGlite lives inside
 * one process, and a second process opening the same DATA_DIR corrupted it. While the service is
 * running and writing a run, every CLI command is refused with one sentence saying what to do;
 * the service goes on, and once it stopped, the CLI reads the intact database.
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
  waitFor,
} from "../replicas/setup";

const USERS = 150;
let wp: WordPressUnderTest;
let sim: GraphSimulator;
let dataDir: string;
let service: RunningCli | undefined;

beforeAll(async () => {
  wp = await startWordPress({ createDelayMs: 40 });
  ({ sim } = await startTenant(USERS));
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
    SYNC_TRIGGER_MODE: "manual",
    WP_CONCURRENCY: "1",
    ...extra,
  });
  return env;
}

async function cli(...args: string[]) {
  const running = startCli(args, embeddedEnv());
  const code = await running.exited;
  return { code, stdout: running.stdout(), stderr: running.stderr() };
}

describe("the CLI beside a service running on the embedded database", () => {
  it("refuses with one sentence while the service writes, and reads the intact database once it stopped", async () => {
    service = startCli(["serve"], embeddedEnv({ LOG_LEVEL: "info" }));
    const url = await waitFor(
      "the service to listen",
      async () => {
        if (service!.child.exitCode !== null)
          throw new Error(`the service exited: ${service!.stderr()}${service!.stdout()}`);
        const line = service!
          .stdout()
          .split("\n")
          .find((text) => text.includes("entra-wp-sync is listening"));
        return line ? (JSON.parse(line) as { url: string }).url : null;
      },
      60_000,
    );
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const started = await fetch(`${url}/v1/jobs/default/runs`, { method: "POST", headers: admin });
    expect(started.status).toBe(201);
    const runId = ((await started.json()) as { run: { id: string } }).run.id;
    const runState = async () =>
      (await (await fetch(`${url}/v1/runs/${runId}`, { headers: admin })).json()) as {
        state: string;
        counts: { created: number };
      };

    let refusedMidRun = 0;
    for (const command of [["status"], ["links", "default"], ["migrate"], ["run", "default"], ["status"], ["status"]]) {
      const before = await runState();
      const { code, stderr, stdout } = await cli(...command);
      expect({ command, code }).toEqual({ command, code: 78 });
      expect(stderr).toBe(
        `Configuration error: the embedded database in DATA_DIR ${dataDir} is open in another entra-wp-sync process (pid ${service.child.pid}, serve, since ${stderr.match(/since (\S+)\)/)?.[1]}), and two processes must not open it at once: use that service's admin API or /status instead, stop it first, or set DATABASE_URL to a PostgreSQL server that both can share\n`,
      );
      expect(stdout).toBe("");
      const after = await runState();
      if (before.state === "listing" && after.state === "listing" && after.counts.created > before.counts.created) {
        refusedMidRun++;
      }
    }
    // The service was writing users while the CLI was refused (not merely idle).
    expect(refusedMidRun).toBeGreaterThan(0);
    await waitFor("the run to complete", async () => (await runState()).state === "completed", 60_000, 200);

    service.child.kill("SIGTERM");
    expect(await service.exited).toBe(0);
    const { code, stdout, stderr } = await cli("status");
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^default\\s+manual\\s+${runId.slice(0, 8)}\\s+completed\\s`, "m"));
  }, 180_000);
});
