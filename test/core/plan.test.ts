import {
  type Assumption,
  assumedCurrent,
  diffFields,
  isProtected,
  needsCurrent,
  type PlanInput,
  planUser,
} from "../../src/core/plan";
import { CORE_ROLES, capabilitiesOf, grantPolicy } from "../../src/core/privileges";
import type { WpUser } from "../../src/core/users";
import { aGraphUser, aJob, aMapEntry, aWpUser } from "../helpers/builders";

const EDITORS = "22222222-2222-2222-2222-222222222222";
const STAFF = "11111111-1111-1111-1111-111111111111";
const SELF = 1;

const ann = aGraphUser().build();
/** What the default job wants for Ann (see the builders). */
const annFields = { first_name: "Ann", last_name: "Lee", name: "Ann Lee", email: "Ann.Lee@contoso.com" };
/** Ann as WordPress has her when nothing is to be done. */
const annInWp = aWpUser().withId(42).withEmail("ann.lee@contoso.com").withRoles("subscriber").build();

/** A user found by e-mail unless said otherwise, judged against what the job's roles grant. */
function input(overrides: Partial<PlanInput> = {}): PlanInput {
  const job = overrides.job ?? aJob().build();
  return {
    job,
    user: ann,
    groupIds: new Set(),
    mapEntry: null,
    current: null,
    selfId: SELF,
    matchedBy: "email",
    grants: grantPolicy(job, CORE_ROLES),
    ...overrides,
  };
}

describe("needsCurrent", () => {
  it("needs nothing from WordPress for a mapped, active user whose hash is unchanged", () => {
    const mapEntry = aMapEntry().writtenAs(annFields, ["subscriber"]).build();
    expect(needsCurrent(input({ mapEntry }))).toBe(false);
  });

  it("needs nothing from WordPress for a user out of scope", () => {
    expect(needsCurrent(input({ job: aJob().withGroups(STAFF).build() }))).toBe(false);
  });

  it("needs WordPress's state for a new, changed or deactivated user", () => {
    expect(needsCurrent(input())).toBe(true);
    expect(
      needsCurrent(
        input({
          mapEntry: aMapEntry()
            .writtenAs({ ...annFields, name: "Old" }, ["subscriber"])
            .build(),
        }),
      ),
    ).toBe(true);
    expect(
      needsCurrent(input({ mapEntry: aMapEntry().writtenAs(annFields, ["subscriber"]).deactivated().build() })),
    ).toBe(true);
  });

  it("needs WordPress's state when the resolved role changed", () => {
    const job = aJob().withRoleGroup(EDITORS, "editor").build();
    const mapEntry = aMapEntry().writtenAs(annFields, ["subscriber"]).build();
    expect(needsCurrent(input({ job, mapEntry, groupIds: new Set([EDITORS]) }))).toBe(true);
  });
});

describe("planUser", () => {
  describe("skips", () => {
    it("a user out of scope", () => {
      const plan = planUser(input({ job: aJob().withGroups(STAFF).build(), current: annInWp }));
      expect(plan).toMatchObject({ action: "skip", reason: "out of scope", write: { fields: {} } });
    });

    it("a protected WordPress user by role, by id, and the service's own account", () => {
      const admin = aWpUser().withRoles("administrator").build();
      expect(planUser(input({ current: admin }))).toMatchObject({ action: "skip", reason: "protected", wpUserId: 42 });
      const job = aJob().withProtectedUsers(42).build();
      expect(planUser(input({ job, current: annInWp })).reason).toBe("protected");
      const self = aWpUser().withId(SELF).build();
      expect(planUser(input({ current: self })).reason).toBe("protected");
    });

    it("an update when updates are disabled, keeping the diff for the report", () => {
      const job = aJob().withUpdates(false).build();
      const plan = planUser(input({ job, current: aWpUser().withName("Old").build() }));
      expect(plan).toMatchObject({ action: "skip", reason: "updates disabled", write: { fields: {} } });
      expect(plan.diff).toEqual({ name: ["Old", "Ann Lee"] });
    });

    it("a create when creates are disabled", () => {
      expect(planUser(input({ job: aJob().withCreates(false).build() }))).toMatchObject({
        action: "skip",
        reason: "creates disabled",
      });
    });

    it("a create without an e-mail address", () => {
      const user = aGraphUser().withMail(null).withUpn(null).build();
      expect(planUser(input({ user }))).toMatchObject({ action: "skip", reason: "no e-mail" });
    });

    it("a create or an update to an e-mail longer than WordPress stores, as a refusal naming it", () => {
      // wp_users.user_email holds 100 characters: core dies on such a create and, on an update,
      // answers 200 with the old address still stored (tested on the real WordPress with the plugin).
      const user = aGraphUser()
        .withMail(`${"a".repeat(89)}@contoso.com`)
        .build();
      const refusal = "the e-mail address has 101 characters; WordPress stores at most 100";
      expect(planUser(input({ user }))).toMatchObject({ action: "skip", reason: "e-mail too long", refusal });
      expect(planUser(input({ user, current: annInWp }))).toMatchObject({ action: "skip", wpUserId: 42, refusal });
      const fits = aGraphUser()
        .withMail(`${"a".repeat(88)}@contoso.com`)
        .build();
      expect(planUser(input({ user: fits }))).toMatchObject({ action: "create", refusal: null });
    });
  });

  describe("unchanged", () => {
    it("a mapped, active user with the same hash, without looking at WordPress", () => {
      const mapEntry = aMapEntry().withWpUserId(7).writtenAs(annFields, ["subscriber"]).build();
      const plan = planUser(input({ mapEntry }));
      expect(plan).toMatchObject({ action: "unchanged", wpUserId: 7, write: { fields: {} }, diff: {} });
      expect(plan.hash).toBe(mapEntry.hash);
    });

    it("a mapped user whose hash changed but whose WordPress state already matches", () => {
      const mapEntry = aMapEntry().withHash("stale").build();
      const plan = planUser(input({ mapEntry, current: annInWp }));
      expect(plan).toMatchObject({ action: "unchanged", wpUserId: 42, write: { fields: {} } });
      expect(plan.hash).not.toBe("stale");
    });

    it("a matched WordPress user adopted with nothing to write", () => {
      expect(planUser(input({ current: annInWp }))).toMatchObject({
        action: "unchanged",
        wpUserId: 42,
        username: annInWp.username,
        desired: annFields,
        roles: ["subscriber"],
      });
    });

    it("an e-mail that differs only in case", () => {
      const current = aWpUser().withEmail("ANN.LEE@CONTOSO.COM").build();
      expect(planUser(input({ current })).action).toBe("unchanged");
    });
  });

  describe("updates", () => {
    it("only the fields that differ, with the diff as [old, new]", () => {
      const current = aWpUser().withFirstName("Anne").withName("Anne Lee").build();
      const plan = planUser(input({ current }));
      expect(plan).toMatchObject({
        action: "update",
        wpUserId: 42,
        write: { fields: { first_name: "Ann", name: "Ann Lee" } },
      });
      expect(plan.write.roles).toBeUndefined();
      expect(plan.diff).toEqual({ first_name: ["Anne", "Ann"], name: ["Anne Lee", "Ann Lee"] });
      expect(plan.desired).toEqual(annFields);
    });

    it("the roles when the resolved role differs", () => {
      const job = aJob().withRoleGroup(EDITORS, "editor").build();
      const plan = planUser(input({ job, groupIds: new Set([EDITORS]), current: annInWp }));
      expect(plan).toMatchObject({ action: "update", write: { fields: {}, roles: ["editor"] }, roles: ["editor"] });
      expect(plan.diff).toEqual({ roles: [["subscriber"], ["editor"]] });
    });

    it("adds a role in add mode and keeps the others", () => {
      const job = aJob().withRoleMode("add").withRoleGroup(EDITORS, "editor").build();
      const current = aWpUser().withRoles("author").build();
      const plan = planUser(input({ job, groupIds: new Set([EDITORS]), current }));
      expect(plan.write.roles).toEqual(["author", "editor"]);
    });

    it("never touches roles in skip mode", () => {
      const job = aJob().withRoleMode("skip").build();
      const current = aWpUser().withRoles("author").withName("Old").build();
      const plan = planUser(input({ job, current }));
      expect(plan.action).toBe("update");
      expect(plan.write).toEqual({ fields: { name: "Ann Lee" } });
      expect(plan.roles).toBeUndefined();
    });

    it("a meta field", () => {
      const job = aJob().withField("meta.department", "department").build();
      const user = aGraphUser().with("department", "Sales").build();
      const current = aWpUser().withEmail("ann.lee@contoso.com").withMeta("department", "Ops").build();
      const plan = planUser(input({ job, user, current }));
      expect(plan.write.fields).toEqual({ "meta.department": "Sales" });
    });

    it("a mapped user whose hash changed", () => {
      const mapEntry = aMapEntry()
        .writtenAs({ ...annFields, name: "Old" }, ["subscriber"])
        .build();
      const current = aWpUser().withName("Old").build();
      expect(planUser(input({ mapEntry, current })).action).toBe("update");
    });
  });

  describe("reactivates", () => {
    it("a deactivated user with the resolved roles and the fields that differ", () => {
      const job = aJob().withRoleGroup(EDITORS, "editor").build();
      const mapEntry = aMapEntry().writtenAs(annFields, ["editor"]).deactivated().build();
      const current = aWpUser().withRoles().withName("Old").build();
      const plan = planUser(input({ job, groupIds: new Set([EDITORS]), mapEntry, current }));
      expect(plan).toMatchObject({
        action: "reactivate",
        wpUserId: 42,
        write: { fields: { name: "Ann Lee" }, roles: ["editor"] },
        roles: ["editor"],
      });
      expect(plan.diff.roles).toEqual([[], ["editor"]]);
    });

    it("with the default role in skip mode", () => {
      const job = aJob().withRoleMode("skip").withDefaultRole("reader").build();
      const mapEntry = aMapEntry().deactivated().build();
      const plan = planUser(input({ job, mapEntry, current: aWpUser().withRoles().build() }));
      expect(plan.write).toEqual({ fields: {}, roles: ["reader"] });
    });

    it("even when updates are disabled", () => {
      const job = aJob().withUpdates(false).build();
      const mapEntry = aMapEntry().deactivated().build();
      expect(planUser(input({ job, mapEntry, current: aWpUser().withRoles().build() })).action).toBe("reactivate");
    });
  });

  describe("creates", () => {
    it("a new user with every desired field, the resolved roles and the username candidate", () => {
      const job = aJob().withRoleGroup(EDITORS, "editor").build();
      const plan = planUser(input({ job, groupIds: new Set([EDITORS]) }));
      expect(plan).toMatchObject({
        action: "create",
        wpUserId: null,
        username: "ann.lee@contoso.com",
        write: { fields: annFields, roles: ["editor"] },
        roles: ["editor"],
        email: "Ann.Lee@contoso.com",
        displayName: "Ann Lee",
        reason: null,
      });
      expect(plan.diff).toEqual({
        first_name: [null, "Ann"],
        last_name: [null, "Lee"],
        name: [null, "Ann Lee"],
        email: [null, "Ann.Lee@contoso.com"],
        roles: [null, ["editor"]],
      });
    });

    it("with the default role in skip mode, while hashing the roles as left alone", () => {
      const job = aJob().withRoleMode("skip").build();
      const plan = planUser(input({ job }));
      expect(plan.write.roles).toEqual(["subscriber"]);
      const again = aMapEntry().writtenAs(plan.desired, undefined).build();
      expect(plan.hash).toBe(again.hash);
    });

    it("again when the mapped WordPress user was deleted", () => {
      const mapEntry = aMapEntry().withHash("stale").build();
      expect(planUser(input({ mapEntry }))).toMatchObject({
        action: "create",
        reason: "mapped WordPress user no longer exists",
      });
    });

    it("stores a hash that makes the next run unchanged", () => {
      const plan = planUser(input());
      const mapEntry = aMapEntry().withHash(plan.hash).build();
      expect(needsCurrent(input({ mapEntry }))).toBe(false);
      expect(planUser(input({ mapEntry })).action).toBe("unchanged");
    });
  });
});

describe("isProtected", () => {
  const job = aJob().withProtectedRoles("administrator", "shop_manager").withProtectedUsers(5).build();
  const grants = grantPolicy(job, CORE_ROLES);
  /** An account holding these roles, with the capabilities WordPress's core roles give them. */
  const holder = (id: number, ...roles: string[]) => ({ id, roles, capabilities: capabilitiesOf(roles) });

  it("protects the service's own account, listed ids and holders of protected roles", () => {
    expect(isProtected(job, holder(SELF), SELF, [], grants)).toBe(true);
    expect(isProtected(job, holder(5, "subscriber"), SELF, [], grants)).toBe(true);
    expect(isProtected(job, holder(6, "subscriber", "shop_manager"), SELF, [], grants)).toBe(true);
  });

  it("leaves other users alone", () => {
    expect(isProtected(job, holder(6, "contributor"), SELF, [], grants)).toBe(false);
  });

  it("always protects administrators, whatever protect.roles says", () => {
    const editorsOnly = aJob().withProtectedRoles("editor").build();
    expect(isProtected(editorsOnly, holder(6, "administrator"), SELF, [], grantPolicy(editorsOnly, CORE_ROLES))).toBe(
      true,
    );
  });

  it("does not count a role the service granted as protection", () => {
    const admins = aJob().withProtectedRoles("shop_manager").withDefaultRole("administrator").allowingPrivilegedRoles();
    const made = admins.withProtectedUsers(5).build();
    const adminGrants = grantPolicy(made, CORE_ROLES);
    expect(isProtected(made, holder(6, "administrator"), SELF, ["administrator"], adminGrants)).toBe(false);
    expect(isProtected(made, holder(6, "administrator", "shop_manager"), SELF, ["administrator"], adminGrants)).toBe(
      true,
    );
    expect(isProtected(made, holder(5, "administrator"), SELF, ["administrator"], adminGrants)).toBe(true);
  });

  it("protects an account holding a capability that manages users or the site, whatever role carries it", () => {
    const custom = (id: number, ...caps: string[]) => ({
      id,
      roles: ["subscriber", "people_boss"],
      capabilities: caps,
    });
    for (const cap of ["edit_users", "promote_users", "manage_options", "manage_woocommerce", "edit_others_posts"]) {
      expect(isProtected(job, custom(6, "read", "people_boss", cap), SELF, [], grants)).toBe(true);
    }
    expect(isProtected(job, custom(6, "read", "people_boss", "upload_files"), SELF, [], grants)).toBe(false);
    // An editor holds others' content: beyond a job granting subscribers only, within one granting editors.
    expect(isProtected(job, holder(6, "editor"), SELF, [], grants)).toBe(true);
    const editors = aJob().withRoleGroup(EDITORS, "editor").build();
    expect(isProtected(editors, holder(6, "editor"), SELF, [], grantPolicy(editors, CORE_ROLES))).toBe(false);
  });

  it("never protects by what a role the service gave this account allows, even one the job no longer grants", () => {
    expect(isProtected(job, holder(6, "editor"), SELF, ["editor"], grants)).toBe(false);
    expect(
      isProtected(
        job,
        { ...holder(6, "editor"), capabilities: [...capabilitiesOf(["editor"]), "edit_users"] },
        SELF,
        ["editor"],
        grants,
      ),
    ).toBe(true);
  });
});

describe("planUser: adoption and granted roles", () => {
  const editor = aWpUser().withId(42).withEmail("ann.lee@contoso.com").withRoles("editor").build();

  it("refuses to adopt an editor found by e-mail, and writes nothing", () => {
    const plan = planUser(input({ current: editor }));
    expect(plan).toMatchObject({ action: "skip", wpUserId: 42, write: { fields: {} }, diff: {} });
    expect(plan.refusal).toMatch(/^WordPress user 42 \(same e-mail\) exists with privileges \(unfiltered_html/);
  });

  it("keeps updating a mapped editor: the map, not a match, says it is this user's", () => {
    const mapEntry = aMapEntry().withWpUserId(42).build();
    expect(planUser(input({ current: editor, mapEntry, matchedBy: null })).refusal).toBeNull();
  });

  it("records the roles it gives: all on create, only the new ones on update", () => {
    expect(planUser(input()).granted).toEqual(["subscriber"]);
    const author = aWpUser().withId(42).withEmail("ann.lee@contoso.com").withRoles("author").build();
    const toEditor = aJob().withRoleMode("add").withRoleGroup(EDITORS, "editor").build();
    const plan = planUser(
      input({ job: toEditor, current: author, groupIds: new Set([EDITORS]), matchedBy: "entraId" }),
    );
    expect(plan.write.roles).toEqual(["author", "editor"]);
    expect(plan.granted).toEqual(["editor"]);
  });

  it("updates an administrator the job made one (moved to another group), and records what it grants now", () => {
    const admins = aJob().withDefaultRole("administrator").allowingPrivilegedRoles().build();
    const mapEntry = aMapEntry().withWpUserId(42).withGranted("administrator").build();
    const admin = aWpUser().withId(42).withEmail("ann.lee@contoso.com").withRoles("administrator").build();
    const demoted = { ...admins, roles: { ...admins.roles, default: "subscriber" } };
    const plan = planUser(input({ job: demoted, current: admin, mapEntry, matchedBy: null }));
    expect(plan).toMatchObject({ action: "update", write: { roles: ["subscriber"] }, granted: ["subscriber"] });
  });
});

describe("diffFields", () => {
  it("lists desired fields that differ as [old, new], null when WordPress has none", () => {
    expect(diffFields({ name: "A", url: "" }, { name: "B", url: "https://x", "meta.a": "1" })).toEqual({
      name: ["A", "B"],
      url: ["", "https://x"],
      "meta.a": [null, "1"],
    });
  });

  it("compares e-mail without regard to case, other fields exactly", () => {
    expect(diffFields({ email: "A@B.C", name: "ann" }, { email: "a@b.c", name: "Ann" })).toEqual({
      name: ["ann", "Ann"],
    });
  });

  it("ignores fields the job does not want", () => {
    expect(diffFields({ nickname: "x" }, {})).toEqual({});
  });
});

describe("assumedCurrent", () => {
  const lastWritten = { ...annFields, last_name: "Old" };

  /** Ann as WordPress holds her when she holds `assumption`, with everything planUser must not read made different. */
  function holding(assumption: Assumption, id: number): WpUser {
    const user = aWpUser().withId(id).withFirstName("unread").withMeta("unmapped", "x").build();
    user.username = "someone-else";
    user.description = "not a mapped field";
    user.capabilities = ["read", "edit_posts"];
    for (const [field, value] of Object.entries(assumption.fields))
      (user as unknown as Record<string, string>)[field] = value;
    user.roles = "exactly" in assumption.roles ? assumption.roles.exactly : ["subscriber", "editor"];
    return user;
  }

  const cases: Array<[string, PlanInput]> = [
    ["replace", input({ mapEntry: aMapEntry().writtenAs(lastWritten, ["subscriber"]).build(), matchedBy: null })],
    [
      "add",
      input({
        job: aJob().withRoleMode("add").withRoleGroup(EDITORS, "editor").build(),
        groupIds: new Set([EDITORS]),
        mapEntry: aMapEntry().writtenAs(lastWritten, ["subscriber"]).build(),
        matchedBy: null,
      }),
    ],
    [
      "skip",
      input({
        job: aJob().withRoleMode("skip").build(),
        mapEntry: aMapEntry().writtenAs(lastWritten, undefined).build(),
        matchedBy: null,
      }),
    ],
    [
      "deactivated",
      input({ mapEntry: aMapEntry().writtenAs(lastWritten, ["subscriber"]).deactivated().build(), matchedBy: null }),
    ],
  ];
  it.each(cases)(
    "plans against the assumed user exactly as against any user holding the assumption (%s)",
    (_, given) => {
      const assumed = assumedCurrent(given)!;
      expect(assumed).not.toBeNull();
      const fromAssumed = planUser({ ...given, current: assumed.user });
      const fromReal = planUser({ ...given, current: holding(assumed.assumption, given.mapEntry!.wpUserId) });
      expect(fromAssumed.action).toMatch(/^(update|reactivate)$/);
      expect({ ...fromAssumed, username: null }).toEqual({ ...fromReal, username: null });
    },
  );

  it("assumes exactly the last written values of the desired fields, and the roles as stored", () => {
    const mapEntry = aMapEntry().writtenAs(lastWritten, ["editor"]).build();
    expect(assumedCurrent(input({ mapEntry }))?.assumption).toEqual({
      fields: lastWritten,
      roles: { exactly: ["editor"] },
      guard: ["subscriber"],
    });
  });

  it("assumes only that no protecting role is held when roles are not synced, and that none at all is after a deactivation", () => {
    const job = aJob().withRoleMode("skip").withProtectedRoles("editor").build();
    const mapEntry = aMapEntry().writtenAs(lastWritten, undefined).withGranted("editor").build();
    expect(assumedCurrent(input({ job, mapEntry }))?.assumption.roles).toEqual({ noneOf: ["administrator"] });
    const deactivated = aMapEntry().writtenAs(lastWritten, undefined).deactivated().build();
    expect(assumedCurrent(input({ job, mapEntry: deactivated }))?.assumption.roles).toEqual({ exactly: [] });
  });

  it("cannot say when a desired field was never written, roles were never stored, or the user is not mapped", () => {
    const { email: _email, ...withoutEmail } = lastWritten;
    expect(assumedCurrent(input({ mapEntry: aMapEntry().writtenAs(withoutEmail, ["subscriber"]).build() }))).toBeNull();
    expect(assumedCurrent(input({ mapEntry: aMapEntry().writtenAs(lastWritten, undefined).build() }))).toBeNull();
    expect(assumedCurrent(input())).toBeNull();
  });
});
