import { ConfigError } from "../../src/core/errors";
import type { NetworkTarget } from "../../src/core/job";
import {
  type NetworkSite,
  networkLoginCandidate,
  networkLoginProblem,
  planMemberships,
  rolesPerSite,
  selectSites,
} from "../../src/core/network";
import { uniqueUsername } from "../../src/core/username";

const main: NetworkSite = { id: 1, path: "/", url: "https://intranet.example/", main: true };
const hr: NetworkSite = { id: 2, path: "/hr/", url: "https://intranet.example/hr/", main: false };
const sales: NetworkSite = { id: 3, path: "/sales/", url: "https://intranet.example/sales/", main: false };
const network = [main, hr, sales];

function aTarget(overrides: Partial<NetworkTarget> = {}): NetworkTarget {
  return {
    sites: "all",
    defaultRole: "subscriber",
    siteDefaults: [],
    groups: [],
    deleteFromNetwork: false,
    ...overrides,
  };
}

describe("selectSites", () => {
  it('takes every current site for "all", so sites created later count on the next run', () => {
    expect(selectSites("staff", aTarget(), network)).toEqual(network);
    const later: NetworkSite = { id: 9, path: "/new/", url: "https://intranet.example/new/", main: false };
    expect(selectSites("staff", aTarget(), [...network, later])).toContainEqual(later);
  });

  it("selects sites by path and by id", () => {
    expect(selectSites("staff", aTarget({ sites: ["/hr/", 3] }), network)).toEqual([hr, sales]);
  });

  it("refuses a selector that names no site, naming the job, the selector and the sites there are", () => {
    const run = () => selectSites("staff", aTarget({ sites: ["/hr/", "/hrr/"] }), network);
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(
      'job "staff": network names site "/hrr/", which is not a site of the network (sites: / (id 1), /hr/ (id 2), /sales/ (id 3))',
    );
    expect(() => selectSites("staff", aTarget({ groups: [{ group: "g", site: 7, role: "editor" }] }), network)).toThrow(
      "site id 7",
    );
  });
});

describe("rolesPerSite", () => {
  const target = aTarget({
    defaultRole: "subscriber",
    siteDefaults: [{ site: "/sales/", role: "" }],
    groups: [
      { group: "HR-EDITORS", site: "/hr/", role: "editor" },
      { group: "hr-authors", site: 2, role: "author" },
    ],
  });

  it("gives each site the first matching group's role, else the site's default, else the job's", () => {
    const roles = rolesPerSite(target, network, new Set(["hr-editors", "hr-authors"]));
    expect(Object.fromEntries(roles)).toEqual({ 1: "subscriber", 2: "editor", 3: "" });
  });

  it("ignores a group mapped on another site", () => {
    const roles = rolesPerSite(target, [main, sales], new Set(["hr-editors"]));
    expect(Object.fromEntries(roles)).toEqual({ 1: "subscriber", 3: "" });
  });
});

describe("network logins", () => {
  const id = "9f1c2a7b-0000-4000-8000-000000000001";

  it.each([
    ["john.doe", "must be lowercase letters a-z and digits only"],
    ["John", "must be lowercase letters a-z and digits only"],
    ["abc", "must be at least 4 characters"],
    ["12345", "must not be all digits"],
    ["admin", "is a reserved name on the network"],
    ["a".repeat(61), "must be at most 60 characters"],
  ])("refuses %j: %s", (login, problem) => {
    expect(networkLoginProblem(login)).toBe(problem);
  });

  it.each([
    ["john.doe@contoso.com", "johndoecontosocom"],
    ["john.doe", "johndoe"],
    ["li", "li9f1c2a7b"],
    ["admin", "admin9f1c2a7b"],
    ["12345", "u12345"],
    ["", "user9f1c2a7b"],
  ])("derives an accepted login from %j: %j", (candidate, login) => {
    expect(networkLoginCandidate(candidate, id)).toBe(login);
    expect(networkLoginProblem(login)).toBeNull();
  });

  it("makes a login unique with digits only, since a network login takes no hyphen", () => {
    const taken = new Set(["johndoe", "johndoe2"]);
    const login = uniqueUsername("johndoe", (l) => taken.has(l), "");
    expect(login).toBe("johndoe3");
    const long = "x".repeat(60);
    expect(uniqueUsername(long, (l) => l === long, "")).toBe(`${"x".repeat(59)}2`);
  });
});

describe("planMemberships", () => {
  const keep = { missing: "deactivate" as const, protectedRoles: ["administrator"] };
  const want = new Map([
    [1, "subscriber"],
    [2, "editor"],
    [3, ""],
  ]);

  it("adds missing memberships and changes wrong roles, on the selected sites only", () => {
    const current = new Map([
      [1, ["subscriber"]],
      [2, ["author"]],
      [9, ["editor"]],
    ]);
    expect(planMemberships(aTarget(), network, want, current, keep)).toEqual([
      { kind: "member", site: 2, role: "editor" },
      { kind: "member", site: 3, role: "" },
    ]);
  });

  it("writes nothing when every selected site already has the wanted role", () => {
    const current = new Map([
      [1, ["subscriber"]],
      [2, ["editor"]],
      [3, []],
    ]);
    expect(planMemberships(aTarget(), network, want, current, keep)).toEqual([]);
  });

  it("never touches a user with a protected role on any site", () => {
    const current = new Map([[9, ["administrator"]]]);
    expect(planMemberships(aTarget(), network, want, current, keep)).toEqual([]);
    expect(planMemberships(aTarget(), network, null, current, { ...keep, missing: "delete" })).toEqual([]);
  });

  it("takes a leaver's roles, memberships or account per the missing policy, on the selected sites", () => {
    const current = new Map([
      [1, ["subscriber"]],
      [2, []],
      [9, ["editor"]],
    ]);
    const selected = [main, hr, sales];
    expect(planMemberships(aTarget(), selected, null, current, { ...keep, missing: "none" })).toEqual([]);
    expect(planMemberships(aTarget(), selected, null, current, keep)).toEqual([
      { kind: "deactivate" },
      { kind: "member", site: 1, role: "" },
    ]);
    // Blocked from signing in even when no selected site gave it a role.
    expect(planMemberships(aTarget(), selected, null, new Map([[9, ["editor"]]]), keep)).toEqual([
      { kind: "deactivate" },
    ]);
    expect(planMemberships(aTarget(), selected, null, current, { ...keep, missing: "delete" })).toEqual([
      { kind: "remove", site: 1 },
      { kind: "remove", site: 2 },
    ]);
    const deleting = aTarget({ deleteFromNetwork: true });
    expect(planMemberships(deleting, selected, null, current, { ...keep, missing: "delete" })).toEqual([
      { kind: "delete" },
    ]);
  });

  it("lets a returning deactivated user sign in again before it gets its roles back", () => {
    const current = new Map([
      [1, []],
      [2, []],
      [3, []],
    ]);
    expect(planMemberships(aTarget(), network, want, current, { ...keep, deactivated: true })).toEqual([
      { kind: "reactivate" },
      { kind: "member", site: 1, role: "subscriber" },
      { kind: "member", site: 2, role: "editor" },
    ]);
  });
});
