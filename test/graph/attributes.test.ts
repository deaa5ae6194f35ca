/**
 * Richer identity data over the real Graph client and the HTTPS simulator: the manager through
 * $expand, employee data, on-premises extension attributes, schema extensions, custom security
 * attributes (with their own permission) and multi-valued attributes, mapped by a job's fields.
 */
import { UpstreamError } from "../../src/core/errors";
import { desiredFields, selectFor } from "../../src/core/mapping";
import { aTenant, type GraphSimulator } from "../../tools/graph-sim";
import { aJob } from "../helpers/builders";
import { budget, directoryFor, fullQuery, withSimulator } from "./helpers";

const EXTENSION = "extension_0f1e2d3c4b5a69788796a5b4c3d2e1f0_costCenter";

const job = aJob()
  .withFields({
    email: "mail|userPrincipalName",
    "meta.manager_name": "[manager.displayName]",
    "meta.manager_mail": "ToLower([manager.mail])",
    "meta.employee": 'Join(" ", [employeeId], [employeeType], [companyName])',
    "meta.cost_center": "[extensionAttribute1]",
    "meta.schema_extension": `[${EXTENSION}]`,
    "meta.projects": 'Join(";", [customSecurityAttributes.Engineering.Project])',
    "meta.other_mails": 'Join(";", [otherMails])',
  })
  .build();

describe("Graph directory: attributes beyond the profile", () => {
  let sim: GraphSimulator;
  beforeAll(async () => {
    sim = await withSimulator({ tenant: aTenant().withUsers(30).build() });
  });
  afterAll(() => sim.close());
  beforeEach(() => {
    sim.tenant.permissions.add("CustomSecAttributeAssignment.Read.All");
    sim.requestLog.length = 0;
  });

  it("asks Graph only for what the job maps: $select without the manager, which comes by $expand", async () => {
    expect(selectFor(job)).toEqual([
      "id",
      "accountEnabled",
      "userType",
      "mail",
      "userPrincipalName",
      "displayName",
      "manager",
      "employeeId",
      "employeeType",
      "companyName",
      "onPremisesExtensionAttributes",
      EXTENSION,
      "customSecurityAttributes",
      "otherMails",
    ]);
    await directoryFor(sim).fetchUsersPage(fullQuery({ pageSize: 5, select: selectFor(job) }), null, budget());
    const path = decodeURIComponent(sim.requestLog.find((r) => r.route === "users")!.path);
    expect(path).toContain(
      `$select=id,accountEnabled,userType,mail,userPrincipalName,displayName,employeeId,employeeType,companyName,onPremisesExtensionAttributes,${EXTENSION},customSecurityAttributes,otherMails&`,
    );
    expect(path).toContain("$expand=manager($select=id,displayName,mail,userPrincipalName)");
  });

  it("maps the manager, employee data, extension and custom security attributes into meta fields", async () => {
    const [manager, report] = [...sim.tenant.users()].slice(10, 12);
    sim.tenant.updateUser(report!.id, {
      extensions: { [EXTENSION]: "CC-7" },
      customSecurityAttributes: {
        Engineering: {
          "@odata.type": "#microsoft.graph.customSecurityAttributeValue",
          "Project@odata.type": "#Collection(String)",
          Project: ["Baker", "Cascade"],
        },
      },
      otherMails: ["ann@fabrikam.com", "ann@example.org"],
    });
    const page = await directoryFor(sim).fetchUsersPage(
      fullQuery({ pageSize: 20, select: selectFor(job) }),
      null,
      budget(),
    );
    const user = page.users.find((u) => u.id === report!.id)!;
    const fields = desiredFields(job, user);
    expect(fields).toMatchObject({
      "meta.manager_name": manager!.displayName,
      "meta.manager_mail": manager!.mail!.toLowerCase(),
      "meta.employee": `${report!.employeeId} ${report!.employeeType} Contoso`,
      "meta.cost_center": report!.onPremisesExtensionAttributes["extensionAttribute1"],
      "meta.schema_extension": "CC-7",
      "meta.projects": "Baker;Cascade",
      "meta.other_mails": "ann@fabrikam.com;ann@example.org",
    });
    // The manager of ten has no manager: no property, so the field is left out, never "".
    expect(desiredFields(job, page.users.find((u) => u.id === manager!.id)!)).not.toHaveProperty("meta.manager_name");
  });

  it("expands the manager of a single user too (provisioning on demand)", async () => {
    const report = [...sim.tenant.users()][3]!;
    const user = await directoryFor(sim).fetchUser(report.id, selectFor(job), budget());
    expect(desiredFields(job, user!)["meta.manager_name"]).toBe([...sim.tenant.users()][0]!.displayName);
  });

  it("fails with Graph's 403 when the app lacks CustomSecAttributeAssignment.Read.All", async () => {
    sim.tenant.permissions.delete("CustomSecAttributeAssignment.Read.All");
    const listing = directoryFor(sim).fetchUsersPage(fullQuery({ select: selectFor(job) }), null, budget());
    await expect(listing).rejects.toThrow(UpstreamError);
    await expect(listing).rejects.toMatchObject({ kind: "auth", details: { status: 403 } });
  });
});
