import { inScope, resolveRoles, rolesToWrite } from "../../src/core/roles";
import { aJob } from "../helpers/builders";

const STAFF = "11111111-1111-1111-1111-111111111111";
const EDITORS = "22222222-2222-2222-2222-222222222222";
const AUTHORS = "33333333-3333-3333-3333-333333333333";

describe("inScope", () => {
  it("takes every user when the job has no scoping groups", () => {
    expect(inScope(aJob().build(), new Set())).toBe(true);
  });

  it("takes a member of any scoping group", () => {
    const job = aJob().withGroups(STAFF, EDITORS).build();
    expect(inScope(job, new Set([EDITORS]))).toBe(true);
  });

  it("leaves out a user who is only in role-mapping groups", () => {
    const job = aJob().withGroups(STAFF).withRoleGroup(EDITORS, "editor").build();
    expect(inScope(job, new Set([EDITORS]))).toBe(false);
  });

  it("compares group ids without regard to case", () => {
    const job = aJob().withGroups(STAFF.toUpperCase().replace(/1/g, "A")).build();
    expect(inScope(job, new Set(["aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"]))).toBe(true);
  });
});

describe("resolveRoles", () => {
  const job = aJob()
    .withRoleGroup(EDITORS, "editor")
    .withRoleGroup(AUTHORS, "author")
    .withDefaultRole("reader")
    .build();

  it("gives the role of the first mapping entry whose group the user is in", () => {
    expect(resolveRoles(job, new Set([AUTHORS, EDITORS]))).toEqual(["editor"]);
    expect(resolveRoles(job, new Set([AUTHORS]))).toEqual(["author"]);
  });

  it("falls back to the default role", () => {
    expect(resolveRoles(job, new Set([STAFF]))).toEqual(["reader"]);
  });

  it("resolves the same way in add mode", () => {
    expect(resolveRoles({ ...job, roles: { ...job.roles, mode: "add" } }, new Set([AUTHORS]))).toEqual(["author"]);
  });

  it("resolves nothing in skip mode", () => {
    expect(resolveRoles({ ...job, roles: { ...job.roles, mode: "skip" } }, new Set([EDITORS]))).toBeUndefined();
  });
});

describe("rolesToWrite", () => {
  it("replaces the current roles with the desired ones", () => {
    expect(rolesToWrite("replace", ["editor"], ["subscriber", "author"])).toEqual(["editor"]);
  });

  it("adds desired roles after the current ones, in their order", () => {
    expect(rolesToWrite("add", ["editor"], ["author", "subscriber"])).toEqual(["author", "subscriber", "editor"]);
  });

  it("writes nothing in skip mode", () => {
    expect(rolesToWrite("skip", ["editor"], ["subscriber"])).toBeUndefined();
  });

  it("writes nothing when the result already equals the current roles as a set", () => {
    expect(rolesToWrite("replace", ["editor"], ["editor"])).toBeUndefined();
    expect(rolesToWrite("replace", ["editor", "author"], ["author", "editor"])).toBeUndefined();
    expect(rolesToWrite("add", ["editor"], ["author", "editor"])).toBeUndefined();
  });

  it("writes nothing when no roles were resolved", () => {
    expect(rolesToWrite("replace", undefined, ["subscriber"])).toBeUndefined();
  });

  it("gives a user without roles the desired ones", () => {
    expect(rolesToWrite("replace", ["subscriber"], [])).toEqual(["subscriber"]);
    expect(rolesToWrite("add", ["subscriber"], [])).toEqual(["subscriber"]);
  });
});
