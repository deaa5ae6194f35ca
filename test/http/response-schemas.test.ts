/**
 * The response schemas are also the serializers: whatever an engine or a job object carries
 * beyond them never reaches a client, whether the answer is a body or a problem.
 */
import { ConflictError } from "../../src/core/errors";
import type { RunSummary } from "../../src/core/runs";
import { aJob, anItem, aRun } from "../helpers/builders";
import { type Harness, makeHarness } from "./harness";

let h: Harness;
// A field the Job schema does not list (webhookSecret is listed now, and shown as "[REDACTED]").
const secretJob = { ...aJob().withId("staff").build(), signingKey: "whsec_do-not-show" };

beforeAll(async () => {
  h = await makeHarness({ jobs: [secretJob] });
});
afterAll(async () => {
  await h.app.close();
});

/** A run as an engine might one day return it, with internals beside the summary. */
function runWithInternals(): RunSummary {
  const run = aRun().forJob("staff").withState("listing").build();
  return Object.assign(run, { cursor: "https://graph.microsoft.com/v1.0/users?$skiptoken=secret", lockedBy: "host-1" });
}

describe("response schemas", () => {
  it("answer only the listed fields of a run, on the admin API and on the links", async () => {
    const run = h.sync.addRun(runWithInternals(), [
      Object.assign(anItem().build(), { wpPassword: "never", rawGraphUser: { mail: "x@example.org" } }),
    ]);
    const admin = await h.app.inject({ method: "GET", url: `/v1/runs/${run.id}`, headers: h.admin });
    expect(admin.statusCode).toBe(200);
    expect(Object.keys(admin.json()).sort()).toEqual(Object.keys(aRun().build()).sort());
    expect(admin.body).not.toMatch(/skiptoken|host-1/);

    const items = await h.app.inject({ method: "GET", url: `/v1/runs/${run.id}/items`, headers: h.admin });
    expect(items.statusCode).toBe(200);
    expect(Object.keys(items.json().items[0]).sort()).toEqual(Object.keys(anItem().build()).sort());
    expect(items.body).not.toMatch(/never|rawGraphUser/);

    const token = await h.token("staff", "continue");
    const link = await h.app.inject({ method: "GET", url: `/v1/jobs/staff/continue?token=${token}` });
    expect(link.statusCode).toBe(200);
    expect(link.json().run.id).toBe(run.id);
    expect(link.body).not.toMatch(/skiptoken|host-1/);
  });

  it("answer every field of a job the schema lists, and nothing else", async () => {
    for (const url of ["/v1/jobs", "/v1/jobs/staff"]) {
      const response = await h.app.inject({ method: "GET", url, headers: h.admin });
      expect([url, response.statusCode]).toEqual([url, 200]);
      expect([url, response.body]).not.toEqual([url, expect.stringContaining("whsec_")]);
    }
    // A job field missing from the Job schema (src/http/models.ts) would be dropped here.
    const { jobs } = (await h.app.inject({ method: "GET", url: "/v1/jobs", headers: h.admin })).json();
    expect(jobs).toEqual([aJob().withId("staff").build()]);
  });

  it("answer problems with the Problem fields only", async () => {
    const run = h.sync.addRun(aRun().forJob("staff").withState("completed").build());
    h.sync.cancelRun = async () => {
      throw new ConflictError("run is completed: it cannot be cancelled", { state: "completed", query: "select 1" });
    };
    const response = await h.app.inject({ method: "POST", url: `/v1/runs/${run.id}/cancel`, headers: h.admin });
    expect(response.statusCode).toBe(409);
    expect(response.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(response.json()).toEqual({
      type: "about:blank",
      title: "Conflict",
      status: 409,
      detail: "run is completed: it cannot be cancelled",
      instance: `/v1/runs/${run.id}/cancel`,
      state: "completed",
    });
  });
});
