import {
  MAX_LOGIN_LENGTH,
  pickUsername,
  sanitizeLogin,
  uniqueUsername,
  usernameCandidate,
  usernameCandidates,
} from "../../src/core/username";
import { aGraphUser, aJob } from "../helpers/builders";

describe("sanitizeLogin", () => {
  it.each([
    ["Zoë", "zoe"],
    ["Łukasz", "lukasz"],
    ["Søren Ørsted", "soren orsted"],
    ["Straße", "strasse"],
    ["Ægir", "aegir"],
    ["jöhn", "john"],
    ["François-Noël", "francois-noel"],
    ["Ǿrjan", "orjan"],
  ])("strips accents as WordPress does: %s -> %s", (raw, login) => {
    expect(sanitizeLogin(raw)).toBe(login);
  });

  it("keeps the characters WordPress accepts in a login, in lower case", () => {
    expect(sanitizeLogin("John.Doe_2-x@Contoso.COM")).toBe("john.doe_2-x@contoso.com");
  });

  it("drops other characters, collapses spaces and trims", () => {
    expect(sanitizeLogin("  o'brien!  (temp)   user ")).toBe("obrien temp user");
  });

  it("drops tags, %XX octets and HTML entities as sanitize_user does", () => {
    expect(sanitizeLogin("<b>ann</b>%20lee&amp;co")).toBe("annleeco");
  });

  it("turns a guest UPN into its login by dropping the # signs", () => {
    expect(sanitizeLogin("a_contoso.com#EXT#@tenant.onmicrosoft.com")).toBe("a_contoso.comext@tenant.onmicrosoft.com");
  });

  it("leaves nothing of a name without Latin letters", () => {
    expect(sanitizeLogin("山田")).toBe("");
  });

  it("cuts logins to 60 characters without a trailing space", () => {
    const login = sanitizeLogin(`${"a".repeat(59)} bcd`);
    expect(login).toBe("a".repeat(59));
    expect(sanitizeLogin("x".repeat(80))).toHaveLength(MAX_LOGIN_LENGTH);
  });

  it("is stable: a sanitised login sanitises to itself", () => {
    for (const raw of ["Zoë Smith", "a_contoso.com#EXT#@t.onmicrosoft.com", "Ｆｕｌｌ　ｗｉｄｔｈ"]) {
      const login = sanitizeLogin(raw);
      expect(sanitizeLogin(login)).toBe(login);
    }
  });
});

describe("usernameCandidate", () => {
  const user = aGraphUser().withUpn("Zoë.Smith@contoso.com").withMail("zoe@fabrikam.com").build();

  it("uses the whole UPN with rule upn", () => {
    expect(usernameCandidate(aJob().withUsernameRule("upn").build(), user)).toBe("zoe.smith@contoso.com");
  });

  it("uses the UPN before @ with rule upnPrefix", () => {
    expect(usernameCandidate(aJob().withUsernameRule("upnPrefix").build(), user)).toBe("zoe.smith");
  });

  it("uses the mail with rule email, and the UPN when there is no mail", () => {
    const job = aJob().withUsernameRule("email").build();
    expect(usernameCandidate(job, user)).toBe("zoe@fabrikam.com");
    expect(usernameCandidate(job, aGraphUser().withMail(null).withUpn("ann@contoso.com").build())).toBe(
      "ann@contoso.com",
    );
  });

  it("gives a guest a login derived from the #EXT# UPN", () => {
    const guest = aGraphUser().asGuest().build();
    expect(usernameCandidate(aJob().build(), guest)).toBe("ann.lee_fabrikam.comext@contoso.onmicrosoft.com");
    expect(usernameCandidate(aJob().withUsernameRule("upnPrefix").build(), guest)).toBe("ann.lee_fabrikam.comext");
  });

  it("falls back to user- and the object id's first 8 characters when nothing usable is left", () => {
    const yamada = aGraphUser().withId("9F8E7D6C-1111-2222-3333-444455556666").withUpn("山田@contoso.com").build();
    expect(usernameCandidate(aJob().withUsernameRule("upnPrefix").build(), yamada)).toBe("user-9f8e7d6c");
  });

  it("falls back to the object id when the user has no UPN", () => {
    const user = aGraphUser().withId("abcdef12-0000").withUpn(null).build();
    expect(usernameCandidate(aJob().build(), user)).toBe("user-abcdef12");
  });
});

describe("uniqueUsername", () => {
  const takenOf =
    (...logins: string[]) =>
    (login: string) =>
      logins.includes(login);

  it("keeps a free candidate", () => {
    expect(uniqueUsername("ann", takenOf())).toBe("ann");
  });

  it("appends -2, -3, ... until one is free", () => {
    expect(uniqueUsername("ann", takenOf("ann"))).toBe("ann-2");
    expect(uniqueUsername("ann", takenOf("ann", "ann-2", "ann-3"))).toBe("ann-4");
  });

  it("cuts the base so a suffixed login stays within 60 characters", () => {
    const long = "a".repeat(60);
    expect(uniqueUsername(long, takenOf(long))).toBe(`${"a".repeat(58)}-2`);
    const taken = (login: string) => login === long || /-[2-9]$/.test(login);
    const login = uniqueUsername(long, taken);
    expect(login).toBe(`${"a".repeat(57)}-10`);
    expect(login.length).toBeLessThanOrEqual(MAX_LOGIN_LENGTH);
  });

  it("does not leave a space before the suffix when the cut lands on one", () => {
    const candidate = `${"a".repeat(57)} bb`;
    expect(uniqueUsername(candidate, takenOf(candidate))).toBe(`${"a".repeat(57)}-2`);
  });
});

describe("username expressions with SelectUniqueValue", () => {
  // Microsoft's example, with the login in place of the UPN: John.Smith, else J.Smith, else Jo.Smith.
  const rule = `SelectUniqueValue(
    Join("@", NormalizeDiacritics(StripSpaces(Join(".", [givenName], [surname]))), "contoso.com"),
    Join("@", NormalizeDiacritics(StripSpaces(Join(".", Mid([givenName], 1, 1), [surname]))), "contoso.com"),
    Join("@", NormalizeDiacritics(StripSpaces(Join(".", Mid([givenName], 1, 2), [surname]))), "contoso.com"))`;
  const job = aJob()
    .withUsernameRule(rule as never)
    .build();
  const john = aGraphUser().withGivenName("John").withSurname("Smith").build();
  const taken =
    (...logins: string[]) =>
    (login: string) =>
      logins.includes(login);

  it("gives each rule's login in order, as WordPress keeps them", () => {
    expect(usernameCandidates(job, john)).toEqual([
      "john.smith@contoso.com",
      "j.smith@contoso.com",
      "jo.smith@contoso.com",
    ]);
    expect(usernameCandidate(job, john)).toBe("john.smith@contoso.com");
  });

  it("takes the first login WordPress does not have, like Entra's SelectUniqueValue", () => {
    const candidates = usernameCandidates(job, john);
    expect(pickUsername(candidates, taken())).toBe("john.smith@contoso.com");
    expect(pickUsername(candidates, taken("john.smith@contoso.com"))).toBe("j.smith@contoso.com");
    expect(pickUsername(candidates, taken("john.smith@contoso.com", "j.smith@contoso.com"))).toBe(
      "jo.smith@contoso.com",
    );
  });

  it("numbers the first rule when every rule is taken (Entra would hold the user back)", () => {
    const all = taken("john.smith@contoso.com", "j.smith@contoso.com", "jo.smith@contoso.com");
    expect(pickUsername(usernameCandidates(job, john), all)).toBe("john.smith@contoso.com-2");
  });

  it("reduces accented names as WordPress would, and falls back to the object id when nothing is left", () => {
    const zoe = aGraphUser().withGivenName("Zoë").withSurname("Ó Briain").build();
    expect(usernameCandidates(job, zoe)[0]).toBe("zoe.obriain@contoso.com");
    const plain = aJob()
      .withUsernameRule('Join(".", [givenName], [surname])' as never)
      .build();
    const nameless = aGraphUser().withGivenName("山田").withSurname(null).build();
    expect(usernameCandidates(plain, nameless)).toEqual([sanitizeLogin(`user-${nameless.id.slice(0, 8)}`)]);
  });
});
