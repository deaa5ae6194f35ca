/**
 * The safety guard of a SCIM job (real WordPress when WP_URL is set): a provider's removals arrive
 * one write at a time, so they count over an hour; past the job's limits the removal is accepted,
 * held in a run awaiting approval (the job's later writes wait behind it), shown on /status and in
 * the admin API, and applied once approved. Cancelling does not drop it: the provider still says
 * the user is gone, so the next run holds it again.
 */
import { ADMIN_TOKEN, startWordPress, type WordPressUnderTest, waitFor } from "../replicas/setup";
import { entraUser, patchOf, type ScimService, startScimService } from "./setup";

const MAX_DELETE_COUNT = 2;
let wp: WordPressUnderTest;
let s: ScimService;
beforeAll(async () => {
  wp = await startWordPress();
  s = await startScimService(wp, { safety: { maxDeleteFraction: 1, maxDeleteCount: MAX_DELETE_COUNT } });
});
afterAll(async () => {
  await s?.close();
  await wp?.close();
});

const unassign = (id: string) =>
  s.scim("PATCH", `/Users/${id}`, patchOf({ op: "Replace", path: "active", value: "False" }));

async function wpUser(n: number) {
  return (await wp.usersIn(s.domain)).find((user) => user.email === `user${n}@${s.domain}`);
}

async function latestRun() {
  return (await s.admin("GET", "/v1/jobs/entra/runs?limit=1")).body.runs[0];
}

describe("a SCIM job's safety guard", () => {
  it("holds removals past its limits within an hour for approval, shows them, and applies them once approved", async () => {
    const ids: string[] = [];
    for (let n = 1; n <= 6; n++) ids.push((await s.scim("POST", "/Users", entraUser(s.domain, n))).body.id);

    // Within the limit: applied before the answer.
    for (const n of [1, 2]) {
      expect((await unassign(ids[n - 1]!)).status).toBe(200);
      expect((await wpUser(n))?.roles).toEqual([]);
    }

    // The third removal within the hour is past maxDeleteCount 2: accepted, and held.
    expect((await unassign(ids[2]!)).status).toBe(200);
    const held = await waitFor("the run to await approval", async () => {
      const run = await latestRun();
      return run.state === "awaiting_approval" ? run : null;
    });
    expect(held).toMatchObject({ trigger: "scim", dryRun: false });
    expect(held.lastError).toMatch(/^3 removals of \d+ mapped users exceed the safety limits/);
    const { body: items } = await s.admin("GET", `/v1/runs/${held.id}/items?action=deactivate`);
    expect(items.items).toEqual([
      expect.objectContaining({ action: "deactivate", status: "pending", email: `user3@${s.domain}` }),
    ]);
    expect((await wpUser(3))?.roles).toEqual(["subscriber"]);
    // A read shows what WordPress holds: not deactivated yet.
    expect((await s.scim("GET", `/Users/${ids[2]}`)).body.active).toBe(true);
    const page = await s.app.inject({
      method: "GET",
      url: "/status",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(page.body).toContain("awaiting approval");
    expect(page.body).toContain(`user3@${s.domain}`);

    // A later write of another user is accepted and waits behind the held run.
    const renamed = await s.scim(
      "PATCH",
      `/Users/${ids[4]}`,
      patchOf({ op: "replace", path: "name.familyName", value: "Behind" }),
    );
    expect(renamed.status).toBe(200);
    expect((await wpUser(5))?.last_name).toBe("Number5");

    // Cancelled, the removal is held again: the provider still says the user is gone.
    expect((await s.admin("POST", `/v1/runs/${held.id}/cancel`)).status).toBe(200);
    const again = await waitFor("the removal to be held again", async () => {
      const run = await latestRun();
      return run.id !== held.id && run.state === "awaiting_approval" ? run : null;
    });
    expect((await wpUser(3))?.roles).toEqual(["subscriber"]);

    expect((await s.admin("POST", `/v1/runs/${again.id}/approve`)).status).toBe(200);
    await waitFor("the approved removal and the write behind it", async () => {
      const [third, fifth] = [await wpUser(3), await wpUser(5)];
      return third?.roles.length === 0 && fifth?.last_name === "Behind";
    });
    expect((await s.scim("GET", `/Users/${ids[2]}`)).body.active).toBe(false);
    expect((await s.admin("GET", `/v1/runs/${again.id}`)).body.state).toBe("completed");
  });
});
