/**
 * What an uptime monitor calling a job's continue link sees, over the real engine and database:
 * red (503 problem+json) while the latest run has failed or waits too long for approval, green
 * again once a new run starts or an operator acknowledges the run.
 */
import type { FastifyInstance } from "fastify";
import type { Database } from "../../src/db/pool";
import { aJob } from "../helpers/builders";
import { makeTestDatabase } from "../helpers/db";
import { type Harness as EngineHarness, makeHarness as makeEngine } from "../helpers/engine";
import { ADMIN_TOKEN, buildEngineApp } from "./harness";

let db: Database;
let app: FastifyInstance;
let engine: EngineHarness;
let links: { start: string; continue: string };
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const USERS = 10;

beforeAll(async () => {
  db = await makeTestDatabase();
  engine = makeEngine(db, {
    job: aJob().withUniqueId().withSafety(0.2, 1000).withPageSize(5).build(),
    maxFailedSteps: 2,
  });
  engine.directory.withUsers(1, USERS);
  await engine.service.ready();
  app = await buildEngineApp(db, engine.service, { env: { APPROVAL_OVERDUE_MS: "3600000" } });
  const minted = await app.inject({ method: "POST", url: `/v1/jobs/${engine.job.id}/links`, headers: admin });
  links = minted.json();
});

afterAll(async () => {
  await app?.close();
  await db?.close();
});

const pathOf = (link: string) => {
  const url = new URL(link);
  return `${url.pathname}${url.search}`;
};
const callContinue = () => app.inject({ method: "GET", url: pathOf(links.continue) });
const callStart = () => app.inject({ method: "GET", url: pathOf(links.start) });

/** Calls the continue link until the run ends or waits for approval, or the answer is not 200. */
async function continueUntilSettled() {
  for (let i = 0; i < 50; i++) {
    const response = await callContinue();
    const state = response.json().run?.state;
    if (response.statusCode !== 200 || ["completed", "cancelled", "awaiting_approval"].includes(state)) {
      return response;
    }
  }
  throw new Error("the run did not settle in 50 continue calls");
}

describe("the continue link for an uptime monitor", () => {
  it("answers 503 with the run id, when and what failed (never the upstream text) until an operator acknowledges", async () => {
    const started = (await callStart()).json();
    engine.directory.failNext(2, "transient");

    const red = await continueUntilSettled();
    expect(red.statusCode).toBe(503);
    expect(red.headers["content-type"]).toMatch(/^application\/problem\+json/);
    const problem = red.json();
    expect(problem).toMatchObject({
      status: 503,
      reason: "run failed",
      job: engine.job.id,
      run: { id: started.run.id, state: "failed", failedAt: expect.any(String) },
      failure: "graph-unavailable",
    });
    expect(problem.detail).toContain("Microsoft Graph kept failing");
    expect(problem.todo).toContain(`POST /v1/runs/${started.run.id}/acknowledge`);
    // The engine's own message ("injected transient failure") is for the admin API only.
    expect(red.body).not.toContain("injected");
    const run = (await app.inject({ method: "GET", url: `/v1/runs/${started.run.id}`, headers: admin })).json();
    expect(run).toMatchObject({ state: "failed", failure: "graph-unavailable", acknowledgedAt: null });
    expect(run.lastError).toContain("injected transient failure");

    // Still red on the next calls: the monitor does not go green by itself.
    expect((await callContinue()).statusCode).toBe(503);

    const acknowledged = await app.inject({
      method: "POST",
      url: `/v1/runs/${started.run.id}/acknowledge`,
      headers: admin,
    });
    expect(acknowledged.statusCode).toBe(200);
    expect(acknowledged.json()).toMatchObject({ state: "failed", acknowledgedAt: expect.any(String) });
    const green = await callContinue();
    expect(green.statusCode).toBe(200);
    expect(green.json()).toMatchObject({ advanced: false, reason: "no active run", run: { id: started.run.id } });
  });

  it("turns green again when a new run starts, and stays green through a healthy run", async () => {
    const failed = (await callStart()).json();
    engine.directory.failNext(1, "auth");
    const red = await continueUntilSettled();
    expect(red.statusCode).toBe(503);
    expect(red.json()).toMatchObject({ failure: "graph-auth", run: { id: failed.run.id } });
    expect(red.json().detail).toContain("AZURE_TENANT_ID");

    const restarted = await callStart();
    expect(restarted.json()).toMatchObject({ started: true });
    const done = await continueUntilSettled();
    expect(done.statusCode).toBe(200);
    expect(done.json()).toMatchObject({ run: { id: restarted.json().run.id, state: "completed" } });
    expect((await callContinue()).json()).toMatchObject({ reason: "no active run" });
  });

  it("answers 503 for a run awaiting approval longer than APPROVAL_OVERDUE_MS, until it is acknowledged", async () => {
    for (let n = 1; n <= 5; n++) engine.directory.remove(n);
    const started = (await callStart()).json();
    const waiting = await continueUntilSettled();
    expect(waiting.statusCode).toBe(200);
    expect(waiting.json()).toMatchObject({ reason: "awaiting approval", run: { state: "awaiting_approval" } });

    // An hour later (APPROVAL_OVERDUE_MS is one hour here): moved back in the database, not waited for.
    await db.pool.query("update runs set progressed_at = now() - interval '61 minutes' where id = $1::uuid", [
      started.run.id,
    ]);
    const overdue = await callContinue();
    expect(overdue.statusCode).toBe(503);
    expect(overdue.json()).toMatchObject({
      reason: "approval overdue",
      run: { id: started.run.id, state: "awaiting_approval", awaitingSince: expect.any(String) },
    });
    expect(overdue.json().todo).toContain(`POST /v1/runs/${started.run.id}/approve`);

    await app.inject({ method: "POST", url: `/v1/runs/${started.run.id}/acknowledge`, headers: admin });
    const acknowledged = await callContinue();
    expect(acknowledged.statusCode).toBe(200);
    expect(acknowledged.json()).toMatchObject({ reason: "awaiting approval" });
  });

  it("refuses to acknowledge a run that has neither failed nor waits for approval", async () => {
    const [latest] = await engine.service.runs(engine.job.id, { limit: 1 });
    await engine.service.cancelRun(latest!.id);
    const response = await app.inject({ method: "POST", url: `/v1/runs/${latest!.id}/acknowledge`, headers: admin });
    expect(response.statusCode).toBe(409);
    expect(response.json().detail).toMatch(/is cancelled: only a failed run or one awaiting approval/);
  });
});
