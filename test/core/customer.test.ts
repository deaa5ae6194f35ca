import { customerEmail, customerLogin, socialIssuers } from "../../src/core/customer";
import type { Job } from "../../src/core/job";
import { desiredFields, selectFor } from "../../src/core/mapping";
import { adoptionRefusal, type MatchIndex, matchUser } from "../../src/core/match";
import { needsCurrent, planUser } from "../../src/core/plan";
import { usernameCandidate } from "../../src/core/username";
import type { GraphUser, WpUser } from "../../src/core/users";
import { aGraphUser, aJob, aWpUser } from "../helpers/builders";

const job = aJob().forCustomerTenant().build();
const customer = () => aGraphUser().withId("0f8fad5b-d9cb-469f-a165-70867728950e");
/** The plan for a user WordPress does not have yet (nothing matched: no adoption to judge). */
function planNew(user: GraphUser, forJob: Job = job) {
  const none = {
    mapEntry: null,
    current: null,
    matchedBy: null,
    grants: { grantable: new Set<string>(), catalogue: {} },
  };
  return planUser({ job: forJob, user, groupIds: new Set(), selfId: 1, ...none });
}

function indexOf(users: WpUser[]): MatchIndex {
  const find = (pick: (u: WpUser) => string | undefined) => (key: string) =>
    users.find((u) => pick(u)?.toLowerCase() === key.toLowerCase());
  return {
    byEmail: find((u) => u.email),
    byLogin: find((u) => u.username),
    byEntraId: find((u) => u.meta.entra_object_id),
  };
}

describe("customer accounts (External ID, B2C)", () => {
  it("take the e-mail from the emailAddress identity first, then mail, then otherMails", () => {
    const local = customer().asCustomer("emailAddress", "Ann.Lee@gmail.com").build();
    expect(customerEmail({ ...local, mail: "other@contoso.com", otherMails: ["third@x.test"] })).toBe(
      "Ann.Lee@gmail.com",
    );
    const social = customer().asCustomer("federated", "1067234512", "google.com").build();
    expect(customerEmail({ ...social, mail: " ann@outlook.com ", otherMails: ["third@x.test"] })).toBe(
      "ann@outlook.com",
    );
    expect(customerEmail({ ...social, otherMails: ["", "third@x.test", "fourth@x.test"] })).toBe("third@x.test");
    expect(customerEmail(social)).toBeNull();
  });

  it("never take an e-mail or a login from the generated userPrincipalName or a social provider's id", () => {
    const social = customer().asCustomer("federated", "1067234512", "google.com").build();
    expect(desiredFields(job, social).email).toBeUndefined();
    expect(usernameCandidate(job, social)).toBe("user-0f8fad5b");
    const plan = planNew(social);
    expect(plan).toMatchObject({ action: "skip", reason: "no e-mail (signs in with google.com)" });
  });

  it("need no WordPress lookup for a new customer with neither an e-mail nor a user name", () => {
    const draft = (user: ReturnType<typeof customer>) => ({
      job,
      user: user.build(),
      groupIds: new Set<string>(),
      mapEntry: null,
      selfId: 1,
    });
    expect(needsCurrent(draft(customer().asCustomer("federated", "1067234512", "google.com")))).toBe(false);
    expect(needsCurrent(draft(customer().asCustomer("userName", "ann_lee")))).toBe(true);
    expect(
      needsCurrent(draft(customer().asCustomer("federated", "1", "google.com").with("otherMails", ["a@x.test"]))),
    ).toBe(true);
    expect(needsCurrent({ ...draft(customer().asCustomer("federated", "1", "google.com")), job: aJob().build() })).toBe(
      true,
    );
  });

  it("log in with the userName identity when there is one, else with the e-mail", () => {
    const named = customer().asCustomer("userName", "Ann_Lee-77").build();
    expect(usernameCandidate(job, { ...named, otherMails: ["ann@x.test"] })).toBe("ann_lee-77");
    expect(customerLogin({ ...named, otherMails: ["ann@x.test"] })).toBe("Ann_Lee-77");
    const local = customer().asCustomer("emailAddress", "Ann.Lee@gmail.com").build();
    expect(usernameCandidate(job, local)).toBe("ann.lee@gmail.com");
    expect(desiredFields(job, local)).toMatchObject({ email: "Ann.Lee@gmail.com", name: "Ann Lee" });
  });

  it("match by object id, then by the derived e-mail, never by the generated UPN", () => {
    const local = customer().asCustomer("emailAddress", "ann.lee@gmail.com").build();
    const byUpn = aWpUser().withId(7).withEmail(String(local.userPrincipalName)).withUsername("z").build();
    const byMail = aWpUser().withId(8).withEmail("Ann.Lee@GMAIL.com").withUsername("y").build();
    const byId = aWpUser()
      .withId(9)
      .withEmail("x@x.test")
      .withUsername("x")
      .withMeta("entra_object_id", local.id)
      .build();
    const desired = desiredFields(job, local);
    expect(matchUser(job, local, desired, indexOf([byUpn, byMail, byId]))?.account.id).toBe(9);
    expect(matchUser(job, local, desired, indexOf([byUpn, byMail]))?.account.id).toBe(8);
    expect(matchUser(job, local, desired, indexOf([byUpn]))).toBeNull();
  });

  it("adopt an existing account by e-mail only on the address they sign in with, unless the job opts in", () => {
    const grantable = new Set<string>();
    const account = aWpUser().withId(8).withEmail("Owner@Example.com").withRoles("subscriber").build();
    const social = customer().asCustomer("federated", "1067234512", "google.com");
    const inOtherMails = social.with("otherMails", ["owner@example.com"]).build();
    const inMail = { ...social.build(), mail: "owner@example.com", otherMails: [] };
    const signIn = customer().asCustomer("emailAddress", "owner@example.COM").build();
    // A second local sign-in is verified too; the first is the one the e-mail is taken from.
    const second = {
      ...signIn,
      identities: [
        { signInType: "emailAddress", issuer: "contosocustomers.onmicrosoft.com", issuerAssignedId: "a@x.test" },
        ...(signIn.identities as unknown[]),
      ],
    };
    expect(adoptionRefusal(job, inOtherMails, account, "email", grantable)).toBe(
      "WordPress user 8 (same e-mail) exists and its address is only in otherMails, not the customer's e-mail sign-in, so it is not verified: customers are adopted by e-mail only on the address they sign in with unless match.adoptUnverifiedEmails is true; map it by Entra id or list it in protect.users",
    );
    expect(adoptionRefusal(job, inMail, account, "email", grantable)).toContain("its address is only in mail,");
    expect(adoptionRefusal(job, signIn, account, "email", grantable)).toBeNull();
    expect(adoptionRefusal(job, second, account, "email", grantable)).toBeNull();
    // A create that found the address taken by someone else's account (apply.ts falls back to it).
    expect(
      adoptionRefusal(job, customer().asCustomer("emailAddress", "a@x.test").build(), account, "email", grantable),
    ).toContain("its address is not one of this customer's addresses");
    // Matching by object id proves nothing by e-mail and needs nothing.
    expect(adoptionRefusal(job, inOtherMails, account, "entraId", grantable)).toBeNull();

    const optedIn = aJob().forCustomerTenant().adoptingUnverifiedEmails().build();
    for (const user of [inOtherMails, inMail])
      expect(adoptionRefusal(optedIn, user, account, "email", grantable)).toBeNull();
    // Opting in waives proof of the address, not the privilege rule.
    const editor = aWpUser().withId(9).withEmail("owner@example.com").withRoles("editor").build();
    expect(adoptionRefusal(optedIn, inOtherMails, editor, "email", grantable)).toContain("exists with privileges");
    // Workforce tenants: mail is an administrator's, and the rule does not apply.
    expect(adoptionRefusal(aJob().build(), inOtherMails, account, "email", grantable)).toBeNull();
  });

  it("show a social account's provider on its item, and select identities and otherMails", () => {
    const social = customer()
      .asCustomer("federated", "1067234512", "facebook.com")
      .with("otherMails", ["a@x.test"])
      .build();
    const plan = planNew(social);
    expect(plan).toMatchObject({ action: "create", reason: "signs in with facebook.com", email: "a@x.test" });
    expect(socialIssuers(social)).toEqual(["facebook.com"]);
    expect(selectFor(job)).toEqual(expect.arrayContaining(["identities", "otherMails"]));
    expect(selectFor(aJob().build())).not.toContain("identities");
  });

  it("leave workforce jobs as they were: the UPN still names and matches", () => {
    const workforce = aJob().build();
    const user = customer().asCustomer("emailAddress", "ann.lee@gmail.com").build();
    expect(usernameCandidate(workforce, user)).toBe(String(user.userPrincipalName).slice(0, 60));
    expect(planNew(user, workforce).reason).toBeNull();
  });
});
