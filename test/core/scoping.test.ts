/**
 * Scoping filters with Entra's operators, against the examples of Microsoft's page "Scoping users
 * or groups to be provisioned with scoping filters" (MicrosoftDocs/entra-docs
 * docs/identity/app-provisioning/define-conditional-rules-for-provisioning-user-accounts.md).
 */
import type { ScopingClause, ScopingOperator } from "../../src/core/job";
import { clauseProblem, passesScopingFilters, scopingOperator } from "../../src/core/scoping";
import type { GraphUser } from "../../src/core/users";

const clause = (attribute: string, operator: ScopingOperator, value: string | null = null): ScopingClause => ({
  attribute,
  operator,
  value,
});
const user = (attributes: Record<string, unknown>): GraphUser => ({ id: "u-1", ...attributes });
const passes = (filters: ScopingClause[][], attributes: Record<string, unknown>) =>
  passesScopingFilters(filters, user(attributes));

describe("scoping filters", () => {
  it("the documented example: New York, Engineering, employee id between 1,000,000 and 2,000,000, a job title", () => {
    const filter = [
      clause("state", "EQUALS", "New York"),
      clause("department", "EQUALS", "Engineering"),
      clause("employeeId", "GREATER_THAN", "1000000"),
      clause("employeeId", "LESS_THAN", "2000000"),
      clause("jobTitle", "IS_NOT_NULL"),
    ];
    const engineer = { state: "New York", department: "Engineering", employeeId: "1500000", jobTitle: "Engineer" };
    expect(passes([filter], engineer)).toBe(true);
    expect(passes([filter], { ...engineer, state: "Texas" })).toBe(false);
    expect(passes([filter], { ...engineer, employeeId: "2500000" })).toBe(false);
    expect(passes([filter], { ...engineer, jobTitle: null })).toBe(false);
  });

  it("the common filters: a UPN domain by REGEX MATCH and NOT REGEX MATCH, a worker id by regex", () => {
    const inDomain = [[clause("userPrincipalName", "REGEX_MATCH", ".*\\@domain.com")]];
    const outOfDomain = [[clause("userPrincipalName", "NOT_REGEX_MATCH", ".*\\@domain.com")]];
    expect(passes(inDomain, { userPrincipalName: "ann@domain.com" })).toBe(true);
    expect(passes(inDomain, { userPrincipalName: "ann@other.com" })).toBe(false);
    expect(passes(outOfDomain, { userPrincipalName: "ann@other.com" })).toBe(true);
    expect(passes(outOfDomain, { userPrincipalName: "ann@domain.com" })).toBe(false);
    const worker = [[clause("employeeId", "REGEX_MATCH", "(1[0-9][0-9][0-9][0-9][0-9][0-9])")]];
    expect(passes(worker, { employeeId: "1234567" })).toBe(true);
    expect(passes(worker, { employeeId: "234567" })).toBe(false);
  });

  it("EQUALS and NOT EQUALS are case-sensitive", () => {
    expect(passes([[clause("department", "EQUALS", "sales")]], { department: "sales" })).toBe(true);
    expect(passes([[clause("department", "EQUALS", "sales")]], { department: "Sales" })).toBe(false);
    expect(passes([[clause("department", "NOT_EQUALS", "sales")]], { department: "Sales" })).toBe(true);
  });

  it("INCLUDES and EXCLUDES test for a substring, case-sensitively", () => {
    expect(passes([[clause("jobTitle", "INCLUDES", "Manager")]], { jobTitle: "Retail Manager" })).toBe(true);
    expect(passes([[clause("jobTitle", "INCLUDES", "manager")]], { jobTitle: "Retail Manager" })).toBe(false);
    expect(passes([[clause("jobTitle", "EXCLUDES", "Manager")]], { jobTitle: "Engineer" })).toBe(true);
  });

  it("IS TRUE and IS FALSE read Graph's booleans", () => {
    expect(passes([[clause("accountEnabled", "IS_TRUE")]], { accountEnabled: true })).toBe(true);
    expect(passes([[clause("accountEnabled", "IS_FALSE")]], { accountEnabled: true })).toBe(false);
    expect(passes([[clause("showInAddressList", "IS_FALSE")]], { showInAddressList: false })).toBe(true);
  });

  it("a clause on an empty value is false, except IS NULL; NOT REGEX MATCH too, as documented", () => {
    for (const operator of [
      "EQUALS",
      "NOT_EQUALS",
      "INCLUDES",
      "EXCLUDES",
      "NOT_REGEX_MATCH",
      "GREATER_THAN",
    ] as const) {
      expect(passes([[clause("department", operator, "1")]], { department: null })).toBe(false);
    }
    expect(passes([[clause("department", "IS_NULL")]], { department: "" })).toBe(true);
    expect(passes([[clause("department", "IS_NOT_NULL")]], {})).toBe(false);
  });

  it("Greater_Than and Less_Than compare integers only", () => {
    const above = [[clause("employeeId", "GREATER_THAN", "100")]];
    expect(passes(above, { employeeId: "101" })).toBe(true);
    expect(passes(above, { employeeId: "99" })).toBe(false);
    expect(passes(above, { employeeId: "E-101" })).toBe(false);
    expect(passes([[clause("employeeId", "GREATER_THAN_OR_EQUALS", "100")]], { employeeId: "100" })).toBe(true);
    expect(passes([[clause("employeeId", "LESS_THAN_OR_EQUALS", "100")]], { employeeId: "100" })).toBe(true);
  });

  it("ANDs the clauses of a filter and ORs the filters", () => {
    const filters = [
      [clause("department", "EQUALS", "Sales"), clause("country", "EQUALS", "NO")],
      [clause("jobTitle", "EQUALS", "CEO")],
    ];
    expect(passes(filters, { department: "Sales", country: "NO" })).toBe(true);
    expect(passes(filters, { department: "Sales", country: "SE" })).toBe(false);
    expect(passes(filters, { department: "Finance", jobTitle: "CEO" })).toBe(true);
    expect(passes([], {})).toBe(true);
  });

  it("reads nested and aliased attributes, and multi-valued ones value by value", () => {
    const onPrem = { onPremisesExtensionAttributes: { extensionAttribute2: "staff" } };
    expect(passes([[clause("extensionAttribute2", "EQUALS", "staff")]], onPrem)).toBe(true);
    const projects = { customSecurityAttributes: { Engineering: { Project: ["Baker", "Cascade"] } } };
    const project = "customSecurityAttributes.Engineering.Project";
    expect(passes([[clause(project, "EQUALS", "Cascade")]], projects)).toBe(true);
    expect(passes([[clause(project, "NOT_EQUALS", "Cascade")]], projects)).toBe(false);
    expect(passes([[clause(project, "EXCLUDES", "Delta")]], projects)).toBe(true);
  });

  it("knows the operators as Entra's portal and API spell them", () => {
    expect(scopingOperator("NOT EQUALS")).toBe("NOT_EQUALS");
    expect(scopingOperator("Greater_Than")).toBe("GREATER_THAN");
    expect(scopingOperator("regex match")).toBe("REGEX_MATCH");
    expect(scopingOperator("LIKE")).toBeNull();
  });

  it("says what is wrong with a clause's value", () => {
    expect(clauseProblem(clause("employeeId", "GREATER_THAN", "ten"))).toMatch(/must be an integer/);
    expect(clauseProblem(clause("upn", "REGEX_MATCH", "(unclosed"))).toMatch(/not a valid regular expression/);
    expect(clauseProblem(clause("upn", "EQUALS"))).toMatch(/is required with EQUALS/);
    expect(clauseProblem(clause("upn", "IS_NULL", "x"))).toMatch(/takes no value with IS_NULL/);
    expect(clauseProblem(clause("upn", "EQUALS", ""))).toBeNull();
  });
});
