import { adoptionRefusal } from "../../src/core/match";
import { CORE_ROLES, capabilitiesBeyond, grantPolicy } from "../../src/core/privileges";
import { aGraphUser, aJob, aWpUser } from "../helpers/builders";

const EDITORS = "22222222-2222-2222-2222-222222222222";
const subscriberJob = aJob().build();
const grants = (job = subscriberJob) => grantPolicy(job, CORE_ROLES).grantable;
const ann = aGraphUser().build();
const annsAccount = aWpUser().withEmail("ann.lee@contoso.com").withRoles("subscriber").build();

describe("grantPolicy", () => {
  it("lets a job grant core roles without management capabilities", () => {
    const job = aJob().withRoleGroup(EDITORS, "editor").build();
    const policy = grantPolicy(job, null);
    expect(policy.problem).toBeNull();
    expect(policy.grantable.has("edit_others_posts")).toBe(true);
    expect(policy.grantable.has("edit_users")).toBe(false);
  });

  it("judges a custom role by the capabilities the site reports, not by its name", () => {
    const job = aJob().withRoleGroup(EDITORS, "hr_clerk").build();
    const problem = grantPolicy(job, { ...CORE_ROLES, hr_clerk: ["read", "edit_users"] }).problem;
    expect(problem).toMatchObject({ path: "roles.groups[0].role", reason: "privileged" });
    expect(problem?.message).toContain('"hr_clerk" can manage users or the site (edit_users)');
    expect(grantPolicy(job, { ...CORE_ROLES, hr_clerk: ["read"] }).problem).toBeNull();
  });

  it("counts plugins' manage_* capabilities as management", () => {
    const job = aJob().withDefaultRole("shop_manager").build();
    expect(grantPolicy(job, { ...CORE_ROLES, shop_manager: ["read", "manage_woocommerce"] }).problem?.reason).toBe(
      "privileged",
    );
  });

  it("treats a role it cannot judge (no plugin, not a core role) as privileged", () => {
    const job = aJob().withDefaultRole("shop_manager").build();
    expect(grantPolicy(job, null).problem).toMatchObject({ path: "roles.default", reason: "unknown" });
    expect(
      grantPolicy(aJob().withDefaultRole("shop_manager").allowingPrivilegedRoles().build(), null).problem,
    ).toBeNull();
  });
});

describe("adoptionRefusal", () => {
  it("adopts an account that holds nothing the job could not grant", () => {
    expect(adoptionRefusal(subscriberJob, ann, annsAccount, "email", grants())).toBeNull();
  });

  it("refuses an editor's account found by e-mail or user name, naming the capabilities", () => {
    const editor = aWpUser().withId(7).withRoles("editor").build();
    for (const by of ["email", "username"] as const) {
      const refusal = adoptionRefusal(subscriberJob, ann, editor, by, grants());
      expect(refusal).toMatch(
        /^WordPress user 7 \(same (e-mail|user name)\) exists with privileges \(unfiltered_html, /,
      );
      expect(refusal).toContain("map it by Entra id or list it in protect.users");
    }
  });

  it("refuses a subscriber holding edit_users of its own (a custom grant, not a role)", () => {
    const account = aWpUser().withRoles("subscriber").withCapabilities("read", "subscriber", "edit_users").build();
    expect(adoptionRefusal(subscriberJob, ann, account, "email", grants())).toContain("with privileges (edit_users)");
  });

  it("adopts an editor when the job itself may grant editor", () => {
    const job = aJob().withRoleGroup(EDITORS, "editor").build();
    const editor = aWpUser().withRoles("editor").build();
    expect(adoptionRefusal(job, ann, editor, "email", grants(job))).toBeNull();
  });

  it("always adopts by Entra id: the plugin stored it on an account the service created", () => {
    const admin = aWpUser().withRoles("administrator").build();
    expect(adoptionRefusal(subscriberJob, ann, admin, "entraId", grants())).toBeNull();
  });

  it("adopts by e-mail only within match.emailDomains", () => {
    const job = aJob().withEmailDomains("fabrikam.com").build();
    expect(adoptionRefusal(job, ann, annsAccount, "email", grants(job))).toContain(
      "contoso.com is not in match.emailDomains",
    );
    expect(adoptionRefusal(job, ann, annsAccount, "username", grants(job))).toBeNull();
    const contoso = aJob().withEmailDomains("contoso.com").build();
    expect(adoptionRefusal(contoso, ann, annsAccount, "email", grants(contoso))).toBeNull();
  });

  it("never adopts for a guest unless match.adoptGuests", () => {
    const byType = aGraphUser().with("userType", "Guest").build();
    const byUpn = aGraphUser().with("userPrincipalName", "ann_contoso.com#EXT#@t.onmicrosoft.com").build();
    for (const guest of [byType, byUpn]) {
      expect(adoptionRefusal(subscriberJob, guest, annsAccount, "email", grants())).toContain("is a guest");
    }
    const job = aJob().adoptingGuests().build();
    expect(adoptionRefusal(job, byType, annsAccount, "email", grants(job))).toBeNull();
  });

  it("refuses a key the job does not match by (a create that found the e-mail taken)", () => {
    const job = aJob().withMatch("entraId").build();
    expect(adoptionRefusal(job, ann, annsAccount, "email", grants(job))).toContain("does not match by e-mail");
  });
});

describe("capabilitiesBeyond", () => {
  it("ignores ordinary capabilities and role names, and lists user management first", () => {
    expect(capabilitiesBeyond(["read", "edit_posts", "author", "upload_files"], grants())).toEqual([]);
    expect(capabilitiesBeyond(["unfiltered_html", "edit_others_products", "promote_users"], grants())).toEqual([
      "promote_users",
      "unfiltered_html",
      "edit_others_products",
    ]);
  });
});
