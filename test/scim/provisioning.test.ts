/**
 * What Microsoft Entra's provisioning service and Okta send, replayed against the service with a
 * SCIM job, and what WordPress holds after each answer (the real WordPress when WP_URL is set).
 */
import { randomUUID } from "node:crypto";
import { startWordPress, type WordPressUnderTest } from "../replicas/setup";
import { ENTERPRISE, entraUser, patchOf, type ScimService, startScimService, USER } from "./setup";

let wp: WordPressUnderTest;
let s: ScimService;
beforeAll(async () => {
  wp = await startWordPress();
  s = await startScimService(wp, { safety: { maxDeleteFraction: 1, maxDeleteCount: 100 } });
});
afterAll(async () => {
  await s?.close();
  await wp?.close();
});

async function wpUser(email: string) {
  return (await wp.usersIn(s.domain)).find((u) => u.email.toLowerCase() === email.toLowerCase());
}

describe("a SCIM job's endpoint", () => {
  it("answers Entra's test connection with 200 and an empty ListResponse", async () => {
    const probe = await s.scim("GET", `/Users?filter=${encodeURIComponent(`userName eq "${randomUUID()}"`)}`);
    expect(probe.status).toBe(200);
    expect(probe.headers["content-type"]).toMatch(/^application\/scim\+json/);
    expect(probe.body).toEqual({
      schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
      totalResults: 0,
      startIndex: 1,
      itemsPerPage: 0,
      Resources: [],
    });
  });

  it("creates a user in WordPress before answering 201, and finds it by userName, externalId and e-mail", async () => {
    const user = entraUser(s.domain, 1);
    const created = await s.scim("POST", "/Users", user);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ userName: user.userName, externalId: user.externalId, active: true });
    expect(created.body.schemas).toEqual([USER, ENTERPRISE]);
    expect(created.body.meta.location).toBe(`https://sync.example.test/scim/v2/entra/Users/${created.body.id}`);
    const inWordPress = await wpUser(user.userName as string);
    expect(inWordPress).toMatchObject({ first_name: "User", last_name: "Number1", name: "User 1" });

    for (const filter of [
      `userName eq "${(user.userName as string).toUpperCase()}"`,
      `externalId eq "${user.externalId}"`,
      `emails[type eq "work"].value eq "${user.userName}"`,
      `emails.value eq "${user.userName}" and USERNAME eq "${user.userName}"`,
      `id eq "${created.body.id}"`,
    ]) {
      const found = await s.scim("GET", `/Users?filter=${encodeURIComponent(filter)}`);
      expect([filter, found.status, found.body.totalResults, found.body.Resources[0]?.id]).toEqual([
        filter,
        200,
        1,
        created.body.id,
      ]);
    }
    const again = await s.scim("POST", "/Users", { ...user, externalId: randomUUID() });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ status: "409", scimType: "uniqueness" });
  });

  it("applies both of Entra's PATCH dialects and Okta's PUT and no-path replace", async () => {
    const user = entraUser(s.domain, 2);
    const { body: created } = await s.scim("POST", "/Users", user);
    const legacy = await s.scim(
      "PATCH",
      `/Users/${created.id}`,
      patchOf(
        { op: "Replace", path: "name.familyName", value: "Legacy" },
        { op: "Add", path: `${ENTERPRISE}:department`, value: "Legal" },
        { op: "Replace", path: 'emails[type eq "work"].value', value: `renamed2@${s.domain}` },
      ),
    );
    expect(legacy.status).toBe(200);
    expect(legacy.body.name.familyName).toBe("Legacy");
    expect(legacy.body[ENTERPRISE].department).toBe("Legal");
    expect(await wpUser(`renamed2@${s.domain}`)).toMatchObject({ last_name: "Legacy" });

    const current = await s.scim(
      "PATCH",
      `/Users/${created.id}`,
      patchOf({ op: "replace", value: { "name.givenName": "Current", displayName: "Current Two" } }),
    );
    expect(current.status).toBe(200);
    expect(await wpUser(`renamed2@${s.domain}`)).toMatchObject({ first_name: "Current", name: "Current Two" });

    const put = await s.scim("PUT", `/Users/${created.id}`, {
      ...user,
      emails: [{ type: "work", primary: true, value: `renamed2@${s.domain}` }],
      name: { givenName: "Okta", familyName: "Put" },
    });
    expect(put.status).toBe(200);
    expect(await wpUser(`renamed2@${s.domain}`)).toMatchObject({ first_name: "Okta", last_name: "Put" });
  });

  it('deactivates on active false (Entra\'s "False" string too), shows it, and reactivates on active true', async () => {
    const user = entraUser(s.domain, 3);
    const { body: created } = await s.scim("POST", "/Users", user);
    const off = await s.scim(
      "PATCH",
      `/Users/${created.id}`,
      patchOf({ op: "Replace", path: "active", value: "False" }),
    );
    expect(off.status).toBe(200);
    expect(off.body.active).toBe(false);
    expect((await wpUser(user.userName as string))?.roles).toEqual([]);
    expect((await s.scim("GET", `/Users/${created.id}`)).body.active).toBe(false);

    const on = await s.scim("PATCH", `/Users/${created.id}`, patchOf({ op: "replace", value: { active: true } }));
    expect(on.body.active).toBe(true);
    expect((await wpUser(user.userName as string))?.roles).toEqual(["subscriber"]);
  });

  it("answers a delete 204, then 404, and deactivates the user in WordPress", async () => {
    const user = entraUser(s.domain, 4);
    const { body: created } = await s.scim("POST", "/Users", user);
    expect((await s.scim("DELETE", `/Users/${created.id}`)).status).toBe(204);
    expect((await s.scim("GET", `/Users/${created.id}`)).status).toBe(404);
    expect((await wpUser(user.userName as string))?.roles).toEqual([]);
  });

  it("refuses to provision one of its users on demand with a 409 problem: there is no directory to read", async () => {
    const user = entraUser(s.domain, 7);
    const { body: created } = await s.scim("POST", "/Users", user);
    const before = await wpUser(user.userName as string);
    for (const key of [user.externalId, created.id, randomUUID()]) {
      const answer = await s.admin("POST", `/v1/jobs/entra/users/${key}/sync`, {});
      expect(answer.status).toBe(409);
      expect(answer.body.detail).toMatch(/^job entra is a SCIM job: its identity provider pushes its users/);
    }
    expect(await wpUser(user.userName as string)).toEqual(before);
  });

  it("refuses a wrong, a revoked and another job's token, and takes a rotated one", async () => {
    expect((await s.scim("GET", "/Users", undefined, "scim_wrong")).status).toBe(401);
    const next = await s.admin("POST", "/v1/jobs/entra/scim-tokens", {});
    expect((await s.scim("GET", "/Users", undefined, next.body.token)).status).toBe(200);
    expect((await s.scim("GET", "/Users")).status).toBe(200);
    const listed = await s.admin("GET", "/v1/jobs/entra/scim-tokens");
    expect(listed.body.tokens).toHaveLength(2);
    expect(JSON.stringify(listed.body)).not.toContain(next.body.token);
    const old = listed.body.tokens.find((t: { id: string }) => t.id !== next.body.id);
    expect((await s.admin("DELETE", `/v1/jobs/entra/scim-tokens/${old.id}`)).status).toBe(200);
    const refused = await s.scim("GET", "/Users");
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "401" });
    expect((await s.scim("GET", "/Users", undefined, next.body.token)).status).toBe(200);
    s.token = next.body.token;
  });

  it("answers malformed JSON, filters and patches with SCIM errors naming the problem", async () => {
    const bad = async (method: string, url: string, body: unknown, scimType: string) => {
      const answer = await s.scim(method, url, body);
      expect([url, answer.status, answer.body.scimType]).toEqual([url, 400, scimType]);
      expect(answer.body.detail).not.toMatch(/at .*\.ts|Error:/);
    };
    await bad("POST", "/Users", "{not json", "invalidSyntax");
    await bad("GET", `/Users?filter=${encodeURIComponent('userName co "a"')}`, undefined, "invalidFilter");
    await bad(
      "GET",
      `/Users?filter=${encodeURIComponent('userName eq "a" or userName eq "b"')}`,
      undefined,
      "invalidFilter",
    );
    await bad("GET", `/Users?filter=${encodeURIComponent('userName eq "a')}`, undefined, "invalidFilter");
    const { body: created } = await s.scim("POST", "/Users", entraUser(s.domain, 5));
    await bad(
      "PATCH",
      `/Users/${created.id}`,
      patchOf({ op: "Frobnicate", path: "active", value: true }),
      "invalidSyntax",
    );
    await bad(
      "PATCH",
      `/Users/${created.id}`,
      patchOf({ op: "replace", path: "nosuch.attr", value: 1 }),
      "invalidPath",
    );
    await bad("PATCH", `/Users/${created.id}`, patchOf({ op: "remove" }), "noTarget");
    await bad(
      "PATCH",
      `/Users/${created.id}`,
      patchOf({ op: "replace", path: "active", value: "maybe" }),
      "invalidValue",
    );
    const many = Array.from({ length: 1001 }, () => ({ op: "replace", path: "displayName", value: "x" }));
    await bad("PATCH", `/Users/${created.id}`, patchOf(...many), "tooMany");
    const huge = await s.scim("POST", "/Users", { ...entraUser(s.domain, 6), nickName: "x".repeat(1_100_000) });
    expect(huge.status).toBe(413);
    expect(huge.body.status).toBe("413");
  });
});
