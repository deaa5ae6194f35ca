/** SCIM filters and PATCH operations as Entra and Okta send them (pure: src/core/scim). */
import { ScimError } from "../../src/core/scim/errors";
import { applyPatch, readPatch } from "../../src/core/scim/patch";
import { matchesFilter, parseFilter } from "../../src/core/scim/paths";
import { canonical, ENTERPRISE_SCHEMA, filterDefs, type ScimObject } from "../../src/core/scim/schema";
import { graphUserOf } from "../../src/core/scim/user";

const alice = (): ScimObject =>
  canonical(
    {
      UserName: "Alice@Contoso.com",
      externalId: "0f0e",
      active: "True",
      name: { givenName: "Alice", familyName: "Ng" },
      emails: [
        { value: "alice@home.example", type: "home" },
        { value: "alice@contoso.com", type: "work", primary: true },
      ],
      [ENTERPRISE_SCHEMA]: { department: "Sales", manager: "m-1" },
      unknownAttribute: "dropped",
    },
    "User",
  );

function scimErrorOf(fn: () => unknown): { status: number; scimType: string | null; message: string } {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ScimError);
    const e = error as ScimError;
    return { status: e.status, scimType: e.scimType, message: e.message };
  }
  throw new Error("expected a ScimError");
}

describe("a SCIM user read from a provider", () => {
  it("has canonical names and types: unknown attributes dropped, booleans from strings, a manager from its id", () => {
    const user = alice();
    expect(user.userName).toBe("Alice@Contoso.com");
    expect(user.active).toBe(true);
    expect(user.unknownAttribute).toBeUndefined();
    expect(user[ENTERPRISE_SCHEMA]).toEqual({ department: "Sales", manager: { value: "m-1" } });
  });

  it("is read by the engine at the job's translated paths", () => {
    const graph = graphUserOf("key-1", alice());
    expect(graph).toMatchObject({ id: "key-1", accountEnabled: true, userPrincipalName: "Alice@Contoso.com" });
    expect(graph.mail).toBe("alice@contoso.com");
    expect(graph.emails).toMatchObject({ value: "alice@contoso.com", home: { value: "alice@home.example" } });
    expect(graph.enterprise).toEqual({ department: "Sales", manager: { value: "m-1" } });
  });
});

describe("SCIM filters", () => {
  const defs = filterDefs("User");
  const matches = (filter: string) => matchesFilter(alice(), parseFilter(filter, defs));

  it("compare with eq, joined by and, attribute names and string values case-insensitively", () => {
    expect(matches('userName eq "alice@contoso.com"')).toBe(true);
    expect(matches('USERNAME eq "ALICE@contoso.com" and externalId eq "0f0e"')).toBe(true);
    expect(matches('emails[type eq "work"].value eq "alice@contoso.com"')).toBe(true);
    expect(matches('emails[type eq "work"].value eq "alice@home.example"')).toBe(false);
    expect(matches('emails.value eq "alice@home.example"')).toBe(true);
    expect(matches(`(userName eq "x") and ${ENTERPRISE_SCHEMA}:department eq "sales"`)).toBe(false);
    expect(matches(`${ENTERPRISE_SCHEMA}:department eq "sales"`)).toBe(true);
    expect(matches("active eq true")).toBe(true);
  });

  it("refuse what is not supported, naming it", () => {
    expect(scimErrorOf(() => parseFilter('userName sw "a"', defs))).toMatchObject({
      status: 400,
      scimType: "invalidFilter",
      message: expect.stringContaining('the operator "sw" is not supported'),
    });
    expect(scimErrorOf(() => parseFilter('userName eq "a" or userName eq "b"', defs)).message).toContain(
      '"or" is not supported',
    );
    expect(scimErrorOf(() => parseFilter("nickname pr", defs)).scimType).toBe("invalidFilter");
    expect(scimErrorOf(() => parseFilter('password eq "x"', defs)).message).toContain(
      '"password" is not a supported attribute path',
    );
    expect(scimErrorOf(() => parseFilter("", defs)).message).toContain("empty");
    expect(scimErrorOf(() => parseFilter('userName eq "a\\x"', defs)).message).toContain("bad escape");
  });
});

describe("SCIM PATCH", () => {
  const patch = (resource: ScimObject, ...operations: unknown[]) =>
    applyPatch(resource, readPatch({ Operations: operations }, "User", 10), "User");

  it("applies Entra's legacy dialect: capitalised ops, filtered paths, extension paths, string booleans", () => {
    const next = patch(
      alice(),
      { op: "Replace", path: 'emails[type eq "work"].value', value: "alice.ng@contoso.com" },
      { op: "Add", path: 'phoneNumbers[type eq "mobile"].value', value: "+1 555" },
      { op: "Replace", path: `${ENTERPRISE_SCHEMA}:manager`, value: "m-2" },
      { op: "Remove", path: `${ENTERPRISE_SCHEMA}:department` },
      { op: "Replace", path: "active", value: "False" },
    );
    expect(next.emails).toEqual([
      { value: "alice@home.example", type: "home" },
      { value: "alice.ng@contoso.com", type: "work", primary: true },
    ]);
    expect(next.phoneNumbers).toEqual([{ type: "mobile", value: "+1 555" }]);
    expect(next[ENTERPRISE_SCHEMA]).toEqual({ manager: { value: "m-2" } });
    expect(next.active).toBe(false);
  });

  it("applies a replace without path whose keys are paths (Entra) or attributes (Okta)", () => {
    const next = patch(alice(), {
      op: "replace",
      value: { "name.givenName": "Al", active: false, displayName: "Al Ng" },
    });
    expect(next.name).toEqual({ givenName: "Al", familyName: "Ng" });
    expect(next).toMatchObject({ active: false, displayName: "Al Ng" });
    const ext = patch(alice(), { op: "add", value: { [ENTERPRISE_SCHEMA]: { department: "Legal" } } });
    expect(ext[ENTERPRISE_SCHEMA]).toEqual({ department: "Legal", manager: { value: "m-1" } });
  });

  it("adds and removes group members by value and by filtered path", () => {
    const group = canonical({ displayName: "Editors", members: [{ value: "u1" }] }, "Group");
    const ops = (...operations: unknown[]) => readPatch({ Operations: operations }, "Group", 10);
    let next = applyPatch(
      group,
      ops({ op: "Add", path: "members", value: [{ value: "u2" }, { value: "u1" }] }),
      "Group",
    );
    expect(next.members).toEqual([{ value: "u1" }, { value: "u2" }]);
    next = applyPatch(next, ops({ op: "Remove", path: 'members[value eq "u1"]' }), "Group");
    expect(next.members).toEqual([{ value: "u2" }]);
    next = applyPatch(next, ops({ op: "remove", path: "members", value: [{ value: "u2" }] }), "Group");
    expect(next.members).toEqual([]);
  });

  it("refuses malformed operations with their scimType", () => {
    const read = (body: unknown, max = 10) => scimErrorOf(() => readPatch(body, "User", max));
    expect(read({})).toMatchObject({ scimType: "invalidSyntax" });
    expect(read({ Operations: [{ op: "move", path: "active" }] })).toMatchObject({ scimType: "invalidSyntax" });
    expect(read({ Operations: [{ op: "remove" }] })).toMatchObject({ scimType: "noTarget" });
    expect(read({ Operations: [{ op: "add", path: "emails[type eq", value: "x" }] })).toMatchObject({
      scimType: "invalidPath",
    });
    expect(read({ Operations: [{ op: "add", value: "x" }] })).toMatchObject({ scimType: "invalidValue" });
    expect(
      read(
        {
          Operations: [
            { op: "add", path: "a", value: 1 },
            { op: "add", path: "b", value: 1 },
          ],
        },
        1,
      ),
    ).toMatchObject({
      scimType: "tooMany",
    });
    expect(scimErrorOf(() => patch(alice(), { op: "replace", path: "active", value: "yes" }))).toMatchObject({
      scimType: "invalidValue",
    });
  });
});
