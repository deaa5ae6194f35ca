/**
 * The HTTP API over the real engine and a real database (the engine's in-memory Graph and fake
 * WordPress behind it): links minted, started, continued to the end, revoked.
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
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

beforeAll(async () => {
  db = await makeTestDatabase();
  engine = makeEngine(db, { job: aJob().withUniqueId().withSafety(1, 1000).withPageSize(5).build() });
  engine.directory.withUsers(1, 12);
  await engine.service.ready();
  app = await buildEngineApp(db, engine.service);
});

afterAll(async () => {
  await app?.close();
  await db?.close();
});

const pathOf = (link: string) => {
  const url = new URL(link);
  return `${url.pathname}${url.search}`;
};

describe("the HTTP API over the real engine", () => {
  it("starts a run with the start link, drives it to the end with the continue link, and revokes the links", async () => {
    const job = engine.job.id;
    const links = (await app.inject({ method: "POST", url: `/v1/jobs/${job}/links`, headers: admin })).json();

    const started = await app.inject({ method: "GET", url: pathOf(links.start) });
    expect(started.statusCode).toBe(200);
    expect(started.json()).toMatchObject({ job, started: true, run: { state: "queued" } });
    const again = (await app.inject({ method: "POST", url: pathOf(links.start) })).json();
    expect(again).toMatchObject({ started: false, reason: "already running" });

    let last: { advanced: boolean; reason?: string; run: { state: string } | null } | undefined;
    for (let i = 0; i < 20; i++) {
      const response = await app.inject({ method: "GET", url: pathOf(links.continue) });
      expect(response.statusCode).toBe(200);
      last = response.json();
      if (!last!.advanced) break;
    }
    expect(last!.advanced).toBe(false);
    const runId = started.json().run.id;
    const run = (await app.inject({ method: "GET", url: `/v1/runs/${runId}`, headers: admin })).json();
    expect(run).toMatchObject({ state: "completed", counts: { created: 12 } });

    const json = (await app.inject({ method: "GET", url: `/v1/runs/${runId}/items?limit=5`, headers: admin })).json();
    expect(json.items).toHaveLength(5);
    expect(typeof json.nextCursor).toBe("string");
    const csv = await app.inject({
      method: "GET",
      url: `/v1/runs/${runId}/items?limit=5`,
      headers: { ...admin, accept: "text/csv" },
    });
    expect(csv.body.trimEnd().split("\r\n")).toHaveLength(1 + 12);

    const history = (await app.inject({ method: "GET", url: `/v1/jobs/${job}/runs?limit=1`, headers: admin })).json();
    expect(history).toMatchObject({ runs: [{ id: runId }], nextBefore: runId });

    const revoked = await app.inject({ method: "POST", url: `/v1/jobs/${job}/links/revoke`, headers: admin });
    expect(revoked.json()).toEqual({ job, linksValidFrom: expect.any(String) });
    const refused = await app.inject({ method: "GET", url: pathOf(links.continue) });
    expect(refused.statusCode).toBe(401);
    expect(refused.json().reason).toBe("revoked");
  });

  it("answers 409 when cancelling a run that has finished", async () => {
    const [run] = await engine.service.runs(engine.job.id, { limit: 1 });
    const response = await app.inject({ method: "POST", url: `/v1/runs/${run!.id}/cancel`, headers: admin });
    expect(response.statusCode).toBe(409);
    expect(response.headers["content-type"]).toMatch(/^application\/problem\+json/);
  });

  it("refuses a dry run while a run that writes is queued, and leaves that run as it was", async () => {
    const job = engine.job.id;
    const writing = await app.inject({ method: "POST", url: `/v1/jobs/${job}/runs`, headers: admin });
    expect(writing.statusCode).toBe(201);
    const runId = writing.json().run.id;

    const dry = await app.inject({
      method: "POST",
      url: `/v1/jobs/${job}/runs`,
      headers: admin,
      payload: { dryRun: true },
    });
    expect(dry.statusCode).toBe(409);
    expect(dry.json().detail).toBe(
      `job ${job} has a run that writes in progress (${runId}, queued): a dry run starts only when no run of the job is active, and never advances one that writes; wait for it to end or cancel it (POST /v1/runs/${runId}/cancel), then ask again`,
    );
    const after = (await app.inject({ method: "GET", url: `/v1/runs/${runId}`, headers: admin })).json();
    expect(after).toMatchObject({ state: "queued", step: 0, dryRun: false });

    // A run that writes asked for beside it is the usual "already running"; a dry run beside a dry run attaches.
    const again = await app.inject({ method: "POST", url: `/v1/jobs/${job}/runs`, headers: admin, payload: {} });
    expect(again.json()).toMatchObject({ started: false, reason: "already running", run: { id: runId } });
    await app.inject({ method: "POST", url: `/v1/runs/${runId}/cancel`, headers: admin });
    const firstDry = await app.inject({
      method: "POST",
      url: `/v1/jobs/${job}/runs`,
      headers: admin,
      payload: { dryRun: true },
    });
    expect(firstDry.statusCode).toBe(201);
    const secondDry = await app.inject({
      method: "POST",
      url: `/v1/jobs/${job}/runs`,
      headers: admin,
      payload: { dryRun: true },
    });
    expect(secondDry.json()).toMatchObject({ started: false, run: { id: firstDry.json().run.id, dryRun: true } });
    await app.inject({ method: "POST", url: `/v1/runs/${firstDry.json().run.id}/cancel`, headers: admin });
  });
});
