/**
 * One person's history (GET /v1/users/{entraId or email}/history and the search on /status) over
 * the real engine and a real database: items across runs, newest first, found by Entra id, by the
 * e-mail of today and by the e-mail the person had before, a page at a time.
 */
import type { FastifyInstance } from "fastify";
import type { Database } from "../../src/db/pool";
import { aJob, entraId } from "../helpers/builders";
import { makeTestDatabase } from "../helpers/db";
import { type Harness as EngineHarness, makeHarness as makeEngine } from "../helpers/engine";
import { ADMIN_TOKEN, buildEngineApp } from "./harness";

let db: Database;
let app: FastifyInstance;
let engine: EngineHarness;
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const runIds: string[] = [];

beforeAll(async () => {
  db = await makeTestDatabase();
  engine = makeEngine(db, { job: aJob().withUniqueId().withPageSize(5).build() });
  engine.directory.withUsers(1, 6);
  await engine.service.ready();
  app = await buildEngineApp(db, engine.service);
  runIds.push((await engine.sync()).id);
  // User 3 changes e-mail between the runs: the second run updates it under the new one.
  engine.directory.update(3, { mail: "renamed3@contoso.com" });
  runIds.push((await engine.sync()).id);
  runIds.push((await engine.sync({ dryRun: true })).id);
});

afterAll(async () => {
  await app?.close();
  await db?.close();
});

const history = async (user: string, query = "") =>
  app.inject({ method: "GET", url: `/v1/users/${encodeURIComponent(user)}/history${query}`, headers: admin });

describe("one person's history", () => {
  it("lists every item about the person across runs, newest first, with the run, its job and the diff", async () => {
    const response = await history(entraId(3));
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.entraIds).toEqual([entraId(3)]);
    expect(body.items.map((item: { runId: string }) => item.runId)).toEqual([...runIds].reverse());
    expect(body.items.map((item: { action: string }) => item.action)).toEqual(["unchanged", "update", "create"]);
    expect(body.items[1]).toMatchObject({
      job: engine.job.id,
      dryRun: false,
      status: "ok",
      email: "renamed3@contoso.com",
      diff: { email: ["user3@contoso.com", "renamed3@contoso.com"] },
    });
    expect(body.items[0]).toMatchObject({ dryRun: true, status: "planned" });
    expect(body.nextCursor).toBeNull();
  });

  it("finds by the e-mail of today and by the one before the change alike, case-insensitively", async () => {
    for (const email of ["renamed3@contoso.com", "USER3@contoso.com"]) {
      const body = (await history(email)).json();
      expect({ email, entraIds: body.entraIds, items: body.items.length }).toEqual({
        email,
        entraIds: [entraId(3)],
        items: 3,
      });
    }
  });

  it("pages with a cursor", async () => {
    const first = (await history(entraId(3), "?limit=2")).json();
    expect(first.items).toHaveLength(2);
    const second = (await history(entraId(3), `?limit=2&cursor=${first.nextCursor}`)).json();
    expect(second.items.map((item: { action: string }) => item.action)).toEqual(["create"]);
    expect(second.nextCursor).toBeNull();
  });

  it("answers an empty page for a person no item mentions, and 401 without the admin token", async () => {
    expect((await history("nobody@contoso.com")).json()).toEqual({
      user: "nobody@contoso.com",
      entraIds: [],
      items: [],
      nextCursor: null,
    });
    const anonymous = await app.inject({ method: "GET", url: `/v1/users/${entraId(3)}/history` });
    expect(anonymous.statusCode).toBe(401);
  });

  it("shows the person's items on /status when searched for, escaped", async () => {
    const page = await app.inject({ method: "GET", url: "/status?user=user3%40contoso.com", headers: admin });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<form class="search" method="get" action="/status"');
    expect(page.body).toContain("History of user3@contoso.com (Entra id");
    expect(page.body.match(/<tr data-item-id=/g)).toHaveLength(3);
    expect(page.body).toContain("email: user3@contoso.com → renamed3@contoso.com");
    expect(page.headers["content-security-policy"]).toContain("form-action 'self'");
    const hostile = await app.inject({ method: "GET", url: "/status?user=%3Cscript%3E%40x", headers: admin });
    expect(hostile.body).not.toContain("<script>@x");
    expect(hostile.body).toContain("No run has recorded an item about this person");
  });
});
