import { ALWAYS_SELECTED, desiredFields, selectFor } from "../../src/core/mapping";
import { aGraphUser, aJob } from "../helpers/builders";

describe("selectFor", () => {
  it("selects the always-needed attributes first, then mapped ones, then extra attributes", () => {
    const job = aJob()
      .withFields({ email: "mail|userPrincipalName", "meta.department": "department" })
      .withAttributes("employeeId")
      .build();
    expect(selectFor(job)).toEqual([...ALWAYS_SELECTED, "department", "employeeId"]);
  });

  it("names both attributes of an alternative expression", () => {
    const job = aJob().withFields({ email: "otherMail|mail", nickname: "mailNickname" }).build();
    expect(selectFor(job)).toEqual([...ALWAYS_SELECTED, "otherMail", "mailNickname"]);
  });

  it("lists each attribute once whatever its casing or how often it is named", () => {
    const job = aJob()
      .withFields({ email: "mail", name: "DisplayName", first_name: "givenName", nickname: "givenName" })
      .withAttributes("givenName", "department", "department")
      .build();
    expect(selectFor(job)).toEqual([...ALWAYS_SELECTED, "givenName", "department"]);
  });

  it("selects the top-level property of a dotted attribute", () => {
    const job = aJob()
      .withFields({ email: "mail", "meta.badge": "onPremisesExtensionAttributes.extensionAttribute1" })
      .build();
    expect(selectFor(job)).toEqual([...ALWAYS_SELECTED, "onPremisesExtensionAttributes"]);
  });
});

describe("desiredFields", () => {
  it("maps the default fields of a complete user", () => {
    const fields = desiredFields(aJob().build(), aGraphUser().build());
    expect(fields).toEqual({ first_name: "Ann", last_name: "Lee", name: "Ann Lee", email: "Ann.Lee@contoso.com" });
  });

  it("takes the first non-empty attribute of an alternative", () => {
    const job = aJob().build();
    expect(desiredFields(job, aGraphUser().withMail(null).build()).email).toBe("ann.lee@contoso.com");
    expect(desiredFields(job, aGraphUser().withMail("   ").build()).email).toBe("ann.lee@contoso.com");
  });

  it("omits a field whose expression yields nothing instead of writing an empty string", () => {
    const user = aGraphUser().withGivenName(null).withSurname("").build();
    const fields = desiredFields(aJob().build(), user);
    expect(fields).not.toHaveProperty("first_name");
    expect(fields).not.toHaveProperty("last_name");
  });

  it("trims values and keeps the e-mail's case", () => {
    const user = aGraphUser().withMail("  Ann.Lee@Contoso.com ").withDisplayName("  Ann  Lee ").build();
    const fields = desiredFields(aJob().build(), user);
    expect(fields.email).toBe("Ann.Lee@Contoso.com");
    expect(fields.name).toBe("Ann  Lee");
  });

  it("stringifies numbers and booleans and joins arrays with a comma", () => {
    const job = aJob()
      .withFields({
        email: "mail",
        "meta.floor": "floor",
        "meta.enabled": "accountEnabled",
        description: "businessPhones",
      })
      .build();
    const user = aGraphUser().with("floor", 3).with("businessPhones", ["+1 555", "", "+1 556"]).build();
    expect(desiredFields(job, user)).toEqual({
      email: "Ann.Lee@contoso.com",
      "meta.floor": "3",
      "meta.enabled": "true",
      description: "+1 555, +1 556",
    });
  });

  it("skips an empty array to the next attribute", () => {
    const job = aJob().withFields({ email: "otherMails|mail" }).build();
    expect(desiredFields(job, aGraphUser().with("otherMails", []).build()).email).toBe("Ann.Lee@contoso.com");
  });

  it("reads nested properties and attributes spelled in another case", () => {
    const job = aJob()
      .withFields({ email: "Mail", "meta.badge": "onPremisesExtensionAttributes.extensionAttribute1" })
      .build();
    const user = aGraphUser().with("onPremisesExtensionAttributes", { extensionAttribute1: " B-17 " }).build();
    expect(desiredFields(job, user)).toEqual({ email: "Ann.Lee@contoso.com", "meta.badge": "B-17" });
  });

  it("ignores objects that are not a value", () => {
    const job = aJob().withFields({ email: "mail", nickname: "address|mailNickname" }).build();
    const user = aGraphUser().with("address", { street: "x" }).with("mailNickname", "ann").build();
    expect(desiredFields(job, user).nickname).toBe("ann");
  });
});

describe("WordPress column limits", () => {
  it("cuts a display name to WordPress's 250 characters, counting an emoji as one", () => {
    const job = aJob().build();
    const long = `${"😀".repeat(10)}${"x".repeat(300)}`;
    const fields = desiredFields(job, aGraphUser().with("displayName", long).build());
    expect(Array.from(fields.name!)).toHaveLength(250);
    expect(fields.name!.startsWith("😀".repeat(10))).toBe(true);
  });

  it("leaves a name of 250 characters or fewer as it is", () => {
    const job = aJob().build();
    const name = "y".repeat(250);
    expect(desiredFields(job, aGraphUser().with("displayName", name).build()).name).toBe(name);
  });
});
