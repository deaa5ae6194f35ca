/**
 * A SCIM job with `dryRun: true`: what the provider pushes is stored and answered as usual, each
 * write planned and recorded as an item with its diff, and nothing written to WordPress. Restarted
 * without it, the service applies everything the provider pushed meanwhile.
 */
import { startWordPress, type WordPressUnderTest, waitFor } from "../replicas/setup";
import { entraUser, patchOf, type ScimService, startScimService } from "./setup";

let wp: WordPressUnderTest;
const services: ScimService[] = [];
beforeAll(async () => {
  wp = await startWordPress();
});
afterAll(async () => {
  for (const service of services.reverse()) await service.close();
  await wp?.close();
});

describe("a dry-run SCIM job", () => {
  it("records each write as a planned item with its diff and writes nothing; once writing, applies what was stored", async () => {
    const dry = await startScimService(wp, { dryRun: true });
    services.push(dry);
    const kept = entraUser(dry.domain, 1);
    const gone = entraUser(dry.domain, 2);
    const created = await dry.scim("POST", "/Users", kept);
    expect(created.status).toBe(201);
    expect(created.body.active).toBe(true);
    const renamed = await dry.scim(
      "PATCH",
      `/Users/${created.body.id}`,
      patchOf({ op: "replace", path: "name.familyName", value: "Renamed" }),
    );
    expect(renamed.status).toBe(200);
    const { body: other } = await dry.scim("POST", "/Users", gone);
    expect((await dry.scim("DELETE", `/Users/${other.id}`)).status).toBe(204);

    expect(await wp.usersIn(dry.domain)).toEqual([]);
    const { body: listed } = await dry.admin("GET", "/v1/jobs/entra/runs?limit=50");
    expect(listed.runs.length).toBeGreaterThanOrEqual(3);
    for (const run of listed.runs) expect(run).toMatchObject({ trigger: "scim", dryRun: true, state: "completed" });
    const history = await dry.admin("GET", `/v1/users/${kept.externalId}/history`);
    expect(history.body.items.map((item: { action: string; status: string; dryRun: boolean }) => item)).toEqual([
      expect.objectContaining({ action: "create", status: "planned", dryRun: true }),
      expect.objectContaining({ action: "create", status: "planned", dryRun: true }),
    ]);
    const [latest, first] = history.body.items;
    expect(first.diff.last_name).toEqual([null, "Number1"]);
    expect(latest.diff.last_name).toEqual([null, "Renamed"]);
    expect(latest.diff.email).toEqual([null, kept.userName]);
    await dry.close();

    // The same database, the job writing now: the stored user is applied, the deleted one never was.
    const writing = await startScimService(wp, {}, {}, { db: dry.db });
    services.push(writing);
    const applied = await waitFor("the stored user in WordPress", async () => {
      const users = await wp.usersIn(dry.domain);
      return users.length > 0 ? users : null;
    });
    expect(applied).toEqual([
      expect.objectContaining({
        email: kept.userName,
        first_name: "User",
        last_name: "Renamed",
        roles: ["subscriber"],
      }),
    ]);
    const read = await writing.scim("GET", `/Users/${created.body.id}`);
    expect(read.body).toMatchObject({ active: true, name: { familyName: "Renamed" } });
    const { body: after } = await writing.admin("GET", "/v1/jobs/entra/runs?limit=1");
    expect(after.runs[0]).toMatchObject({ trigger: "scim", dryRun: false });
  });
});
