/**
 * The built service as a child process (`node dist/src/cli/index.js serve`), killed with SIGKILL at
 * seeded random moments while continue calls drive a run, restarted, killed again, then driven to
 * the end: WordPress holds every in-scope user exactly once and the database is consistent.
 */
import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { type GraphSimulator, makeTenant, type SimUser, startGraphSimulator } from "../../tools/graph-sim";
import { itWithPostgres, makeTestDatabase } from "../helpers/db";
import {
  callLink,
  deleteWordPressUsersOf,
  expectConsistentDatabase,
  expectWordPressHolds,
  linkToken,
  minterOn,
  seededRandom,
  serviceEnv,
  sleep,
  testSeed,
  uniqueDomain,
  waitFor,
} from "../helpers/reliability";
import { describeWithWordPress } from "../helpers/wordpress";

const ROOT = path.resolve(__dirname, "../..");
const USERS = 96;
const PAGE_SIZE = 4;
const KILLS = 6;
const DRIVERS = 3;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describeWithWordPress("the service killed with SIGKILL mid-run", (wp) => {
  const domain = uniqueDomain("sigkill");
  const seed = testSeed("SIGKILL");
  const random = seededRandom(seed);
  let db: Awaited<ReturnType<typeof makeTestDatabase>>;
  let sim: GraphSimulator;
  let child: ChildProcess | null = null;
  let output = "";

  beforeAll(async () => {
    db = await makeTestDatabase();
    sim = await startGraphSimulator({ tenant: makeTenant({ users: USERS, seed, domain }) });
  });
  afterAll(async () => {
    if (child) await kill(child);
    await sim?.close();
    await deleteWordPressUsersOf(wp, domain).catch(() => undefined);
    await db?.close();
  });

  async function startChild(env: Record<string, string>, url: string): Promise<ChildProcess> {
    const proc = spawn(process.execPath, [path.join(ROOT, "dist/src/cli/index.js"), "serve"], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        NODE_EXTRA_CA_CERTS: path.join(ROOT, ".tmp/certs/ca.pem"),
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
    };
    proc.stdout!.on("data", keep);
    proc.stderr!.on("data", keep);
    await waitFor(
      "the child service to answer /healthz",
      async () => {
        if (proc.exitCode !== null) throw new Error(`the service exited with ${proc.exitCode}: ${output.slice(-2000)}`);
        return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok;
      },
      20_000,
    );
    return proc;
  }

  async function kill(proc: ChildProcess): Promise<void> {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill("SIGKILL");
    await exited;
  }

  itWithPostgres(
    `keeps WordPress exactly right through ${KILLS} SIGKILLs at random moments and restarts`,
    async () => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const env = serviceEnv({
        databaseUrl: db.url!,
        sim,
        wp,
        pageSize: PAGE_SIZE,
        stepBudgetMs: 2000,
        port,
        // Honoured if the config grows a lease setting; until then the test fast-forwards the lease.
        extra: { LEASE_MS: "3000" },
      });
      child = await startChild(env, url);
      const minter = await minterOn(db.pool);
      const cont = await linkToken(minter, "continue");
      const started = await callLink(url, "start", await linkToken(minter, "start"));
      expect(started).toMatchObject({ status: 200, body: { started: true } });
      const runId: string = started.body.run.id;

      const log: string[] = [];
      let midStep = 0;
      const begun = Date.now();
      for (let k = 0; k < KILLS; k++) {
        let alive = true;
        const statuses: number[] = [];
        // Drivers call continue back to back until the process dies under them.
        const drivers = Array.from({ length: DRIVERS }, async () => {
          while (alive) {
            try {
              const res = await callLink(url, "continue", cont, 10_000);
              statuses.push(res.status);
            } catch {
              // the process died mid-request: the caller sees a network error, as a monitor would
            }
          }
        });
        const delay = Math.round(300 + random() * 1700);
        await sleep(delay);
        await kill(child);
        alive = false;
        await Promise.all(drivers);
        expect(statuses.filter((s) => s !== 200)).toEqual([]);
        const { rows } = await db.pool.query("select state, step, locked_by from runs where id = $1::uuid", [runId]);
        const held = rows[0].locked_by !== null;
        if (held) midStep++;
        log.push(
          `kill ${k + 1} after ${delay} ms: step ${rows[0].step}, ${rows[0].state}${held ? ", lease held" : ""}`,
        );
        if (rows[0].state === "completed") break;
        // The dead owner's lease would expire after max(3 x STEP_BUDGET_MS, 60 s); fast-forward that wait.
        await db.pool.query("update runs set locked_until = now() - interval '1 second' where locked_by is not null");
        child = await startChild(env, url);
      }
      if (child.exitCode !== null || child.signalCode !== null) child = await startChild(env, url);

      // Driven to the end by one caller at a time, as a monitor would.
      let last: Awaited<ReturnType<typeof callLink>> | null = null;
      for (let i = 0; i < 200; i++) {
        last = await callLink(url, "continue", cont);
        expect(last.status).toBe(200);
        if (["completed", "failed", "cancelled"].includes(last.body.run?.state)) break;
      }
      process.stdout.write(
        `[reliability] SIGKILL: ${log.length} kills (${midStep} with the lease held) in ${Date.now() - begun} ms, ` +
          `final counts ${JSON.stringify(last?.body.run?.counts)}\n  ${log.join("\n  ")}\n`,
      );
      expect(last!.body.run).toMatchObject({ state: "completed" });
      const counts = last!.body.run.counts;
      expect(counts).toMatchObject({ seen: USERS, failed: 0 });
      // Users created by a step that died before committing are adopted (unchanged/updated), never duplicated.
      expect(counts.created + counts.updated + counts.unchanged).toBe(USERS);

      const users: SimUser[] = [...sim.tenant.users()];
      const map = await expectConsistentDatabase(db.pool, runId, {
        state: "completed",
        entraIds: users.map((u) => u.id),
      });
      await expectWordPressHolds(wp, domain, users, map);
      await kill(child);
    },
    240_000,
  );
});
