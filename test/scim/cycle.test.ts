/**
 * Microsoft Entra's provisioning cycles replayed against a SCIM job on a real WordPress (the fake
 * one without WP_URL): an initial cycle of 50 users and 3 groups sent 8 requests at a time (a
 * query, then a create), group members added in chunks; then an incremental cycle in both PATCH
 * dialects, group membership and names moving roles through the job's roles.groups; and writes of
 * one user racing each other.
 */
import { randomUUID } from "node:crypto";
import type { WpUser } from "../../src/core/users";
import { startWordPress, type WordPressUnderTest } from "../replicas/setup";
import { ENTERPRISE, entraUser, patchOf, type ScimService, startScimService } from "./setup";

const USERS = 50;
/** Entra sends a cycle's requests concurrently; 8 is the provider concurrency the bench uses too. */
const CONCURRENCY = 8;
const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const AUTHORS_ID = randomUUID();

let wp: WordPressUnderTest;
let s: ScimService;
beforeAll(async () => {
  wp = await startWordPress();
  s = await startScimService(wp, {
    roles: {
      default: "subscriber",
      groups: [
        { group: "WP Editors", role: "editor" },
        { group: AUTHORS_ID, role: "author" },
      ],
    },
    safety: { maxDeleteFraction: 1, maxDeleteCount: 100 },
  });
});
afterAll(async () => {
  await s?.close();
  await wp?.close();
});

/** Runs the tasks `CONCURRENCY` at a time, as a provider's cycle does. */
async function atProviderConcurrency<T>(tasks: Array<() => Promise<T>>): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]!();
      }
    }),
  );
  return results;
}

const filtered = (kind: string, filter: string, extra = "") => `/${kind}?${extra}filter=${encodeURIComponent(filter)}`;

/** Entra's export of one user: look it up by the matching attribute, create it when nothing matches. */
async function exportUser(user: Record<string, unknown>): Promise<string> {
  const found = await s.scim("GET", filtered("Users", `userName eq "${user.userName}"`));
  expect(found.status).toBe(200);
  if (found.body.totalResults === 1) return found.body.Resources[0].id;
  const created = await s.scim("POST", "/Users", user);
  expect([user.userName, created.status]).toEqual([user.userName, 201]);
  return created.body.id;
}

/** Entra's export of one group: look it up without members, create it, then add members in chunks. */
async function exportGroup(displayName: string, externalId: string, memberIds: string[]): Promise<string> {
  const found = await s.scim(
    "GET",
    filtered("Groups", `displayName eq "${displayName}"`, "excludedAttributes=members&"),
  );
  expect([found.status, found.body.totalResults]).toEqual([200, 0]);
  const created = await s.scim("POST", "/Groups", { schemas: [GROUP], displayName, externalId, members: [] });
  expect(created.status).toBe(201);
  for (let i = 0; i < memberIds.length; i += 20) {
    const chunk = memberIds.slice(i, i + 20).map((value) => ({ value }));
    const added = await s.scim(
      "PATCH",
      `/Groups/${created.body.id}`,
      patchOf({ op: "Add", path: "members", value: chunk }),
    );
    expect(added.status).toBe(200);
  }
  return created.body.id;
}

async function wordpressByLogin(): Promise<Map<string, WpUser>> {
  return new Map((await wp.usersIn(s.domain)).map((user) => [user.email, user]));
}

const login = (n: number) => `user${n}@${s.domain}`;

describe("Entra's provisioning cycles against a SCIM job", () => {
  const ids: string[] = [];
  const groups: Record<string, string> = {};

  it("provisions an initial cycle of 50 users and 3 groups, members' roles from the job's roles.groups", async () => {
    const users = Array.from({ length: USERS }, (_, i) => entraUser(s.domain, i + 1));
    ids.push(...(await atProviderConcurrency(users.map((user) => () => exportUser(user)))));
    expect(new Set(ids).size).toBe(USERS);
    groups.editors = await exportGroup("WP Editors", randomUUID(), ids.slice(0, 5));
    groups.authors = await exportGroup("WP Authors", AUTHORS_ID, ids.slice(5, 10));
    groups.staff = await exportGroup("All Staff", randomUUID(), ids);

    const inWordPress = await wordpressByLogin();
    expect(inWordPress.size).toBe(USERS);
    const roles = Array.from({ length: USERS }, (_, i) => inWordPress.get(login(i + 1))?.roles);
    expect(roles).toEqual([
      ...Array(5).fill(["editor"]),
      ...Array(5).fill(["author"]),
      ...Array(USERS - 10).fill(["subscriber"]),
    ]);
    const staff = await s.scim("GET", `/Groups/${groups.staff}`);
    expect(staff.body.members).toHaveLength(USERS);

    // The next cycle finds every user and group: no second create, nothing new in WordPress.
    const again = await atProviderConcurrency(users.map((user) => () => exportUser(user)));
    expect(again).toEqual(ids);
    expect((await wp.usersIn(s.domain)).length).toBe(USERS);
  });

  it("applies an incremental cycle in both PATCH dialects: attributes, unassignment and reassignment, a hard delete", async () => {
    const changes = ids.slice(10, 20).map((id, i) => () => {
      const legacy = i % 2 === 0;
      return s.scim(
        "PATCH",
        `/Users/${id}`,
        legacy
          ? patchOf(
              { op: "Replace", path: "name.familyName", value: `Legacy${i}` },
              { op: "Replace", path: `${ENTERPRISE}:department`, value: "Legal" },
            )
          : patchOf({ op: "replace", value: { "name.familyName": `Current${i}`, displayName: `Current ${i}` } }),
      );
    });
    for (const answer of await atProviderConcurrency(changes)) expect(answer.status).toBe(200);
    const unassigned = await s.scim(
      "PATCH",
      `/Users/${ids[20]}`,
      patchOf({ op: "Replace", path: "active", value: "False" }),
    );
    expect(unassigned.body.active).toBe(false);
    expect((await s.scim("DELETE", `/Users/${ids[21]}`)).status).toBe(204);

    let inWordPress = await wordpressByLogin();
    expect(inWordPress.get(login(11))?.last_name).toBe("Legacy0");
    expect(inWordPress.get(login(12))).toMatchObject({ last_name: "Current1", name: "Current 1" });
    expect(inWordPress.get(login(21))?.roles).toEqual([]);
    expect(inWordPress.get(login(22))?.roles).toEqual([]);

    const reassigned = await s.scim(
      "PATCH",
      `/Users/${ids[20]}`,
      patchOf({ op: "replace", path: "active", value: true }),
    );
    expect(reassigned.body.active).toBe(true);
    inWordPress = await wordpressByLogin();
    expect(inWordPress.get(login(21))?.roles).toEqual(["subscriber"]);
    expect(inWordPress.size).toBe(USERS);
  });

  it("moves a role when a member moves between groups, and when a group the job names by displayName is renamed", async () => {
    const removed = await s.scim(
      "PATCH",
      `/Groups/${groups.editors}`,
      patchOf({ op: "Remove", path: `members[value eq "${ids[4]}"]` }),
    );
    expect(removed.status).toBe(200);
    const added = await s.scim(
      "PATCH",
      `/Groups/${groups.authors}`,
      patchOf({ op: "Add", path: "members", value: [{ value: ids[4] }] }),
    );
    expect(added.status).toBe(200);
    let inWordPress = await wordpressByLogin();
    expect(inWordPress.get(login(5))?.roles).toEqual(["author"]);
    expect(inWordPress.get(login(4))?.roles).toEqual(["editor"]);

    // Renamed in Entra: the job names "WP Editors" by displayName, so its members fall back to the default.
    const renamed = await s.scim(
      "PATCH",
      `/Groups/${groups.editors}`,
      patchOf({ op: "Replace", path: "displayName", value: "Former Editors" }),
    );
    expect(renamed.status).toBe(200);
    // The authors group is named by its externalId: a rename changes nobody's role.
    await s.scim("PATCH", `/Groups/${groups.authors}`, patchOf({ op: "replace", value: { displayName: "Writers" } }));
    inWordPress = await wordpressByLogin();
    expect([1, 2, 3, 4].map((n) => inWordPress.get(login(n))?.roles)).toEqual(Array(4).fill(["subscriber"]));
    expect([5, 6].map((n) => inWordPress.get(login(n))?.roles)).toEqual([["author"], ["author"]]);

    expect((await s.scim("DELETE", `/Groups/${groups.authors}`)).status).toBe(204);
    inWordPress = await wordpressByLogin();
    expect([5, 6, 10].map((n) => inWordPress.get(login(n))?.roles)).toEqual(Array(3).fill(["subscriber"]));
  });

  it("takes racing writes of one user in turn: one account, and WordPress holds the last write", async () => {
    const racer = entraUser(s.domain, 100);
    const creates = await Promise.all(Array.from({ length: CONCURRENCY }, () => s.scim("POST", "/Users", racer)));
    expect(creates.map((answer) => answer.status).sort()).toEqual([201, ...Array(CONCURRENCY - 1).fill(409)]);
    const id = creates.find((answer) => answer.status === 201)!.body.id;

    const patches = await Promise.all(
      Array.from({ length: CONCURRENCY }, (_, i) =>
        s.scim("PATCH", `/Users/${id}`, patchOf({ op: "replace", path: "displayName", value: `Racer ${i}` })),
      ),
    );
    expect(patches.map((answer) => answer.status)).toEqual(Array(CONCURRENCY).fill(200));
    // Each write took its turn: every answer has its own version, and the last of them is what stays.
    const versions = patches.map((answer) => Number(/\d+/.exec(answer.body.meta.version)![0]));
    expect(new Set(versions).size).toBe(CONCURRENCY);
    const last = patches[versions.indexOf(Math.max(...versions))]!.body.displayName;
    expect((await s.scim("GET", `/Users/${id}`)).body.displayName).toBe(last);
    const accounts = (await wp.usersIn(s.domain)).filter((user) => user.email === racer.userName);
    expect(accounts).toEqual([expect.objectContaining({ name: last })]);
  });
});
