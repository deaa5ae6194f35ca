/**
 * Entra's attribute-mapping expressions, against the examples of Microsoft's reference ("Reference
 * for writing expressions for attribute mappings in Microsoft Entra ID",
 * MicrosoftDocs/entra-docs docs/identity/app-provisioning/functions-for-customizing-application-data.md):
 * the same expression and inputs give the documented output.
 */
import { checkExpression, ExpressionError, evaluateExpression, parseMapping } from "../../src/core/expression";
import type { GraphUser } from "../../src/core/users";

/** Parses, type-checks and evaluates an expression for a user with these attributes. */
function run(expression: string, attributes: Record<string, unknown> = {}): unknown {
  const expr = parseMapping(expression);
  checkExpression(expr);
  return evaluateExpression(expr, { id: "00aa00aa-bb11-cc22-dd33-44ee44ee44ee", ...attributes } as GraphUser);
}

/** The ExpressionError an expression is refused with. */
function mistake(expression: string): { position: number; reason: string } {
  try {
    checkExpression(parseMapping(expression));
  } catch (error) {
    if (error instanceof ExpressionError) return { position: error.position, reason: error.reason };
    throw error;
  }
  throw new Error(`${expression} was accepted`);
}

describe("Microsoft's documented examples", () => {
  it("Append: a constant suffix to the user name", () => {
    expect(run('Append([userPrincipalName], ".test")', { userPrincipalName: "John.Doe@contoso.com" })).toBe(
      "John.Doe@contoso.com.test",
    );
  });

  it("Coalesce: mail when present, else userPrincipalName", () => {
    expect(run("Coalesce([mail],[userPrincipalName])", { mail: null, userPrincipalName: "John.Doe@contoso.com" })).toBe(
      "John.Doe@contoso.com",
    );
  });

  it("FormatDateTime: a date in another format", () => {
    const expression = 'FormatDateTime([extensionAttribute1], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")';
    const user = { onPremisesExtensionAttributes: { extensionAttribute1: "20150123105347.1Z" } };
    expect(run(expression, user)).toBe("2015-01-23");
  });

  it("IIF: country when it is USA, else department", () => {
    const expression = 'IIF([country]="USA",[country],[department])';
    expect(run(expression, { country: "USA", department: "Sales" })).toBe("USA");
    expect(run(expression, { country: "France", department: "Sales" })).toBe("Sales");
  });

  it("IIF: AND and OR as nested IIFs", () => {
    const and = 'IIF([country]="USA",IIF([state]="CA","True","False"),"False")';
    const or = 'IIF([country]="USA","True",IIF([state]="CA","True","False"))';
    expect(run(and, { country: "USA", state: "CA" })).toBe("True");
    expect(run(and, { country: "USA", state: "WA" })).toBe("False");
    expect(run(or, { country: "France", state: "CA" })).toBe("True");
    expect(run(or, { country: "France", state: "WA" })).toBe("False");
  });

  it("IsNullOrEmpty and IsPresent: absent or empty, and the inverse", () => {
    expect(run("IsNullOrEmpty([displayName])", {})).toBe(true);
    expect(run("IsNullOrEmpty([displayName])", { displayName: "" })).toBe(true);
    expect(run("IsPresent([displayName])", { displayName: "Ann" })).toBe(true);
    expect(run("IsPresent([displayName])", { displayName: null })).toBe(false);
  });

  it("Switch: the recommended way to give an empty value a default", () => {
    expect(run('Switch([country],[country],"","Other")', {})).toBe("Other");
    expect(run('Switch([country],[country],"","Other")', { country: "Norway" })).toBe("Norway");
  });

  it("Switch: a time zone from the state code, with a default", () => {
    const expression =
      'Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney","QLD", "Australia/Brisbane", "SA", "Australia/Adelaide")';
    expect(run(expression, { state: "QLD" })).toBe("Australia/Brisbane");
    expect(run(expression, { state: "WA" })).toBe("Australia/Sydney");
  });

  it("Switch: compares case-sensitively, so ToLower first for a case-insensitive match", () => {
    expect(run('Switch(ToLower([statusFlag]), "0", "true", "1", "false", "0")', { statusFlag: "TRUE" })).toBe("1");
    expect(run('Switch([statusFlag], "0", "true", "1", "false", "0")', { statusFlag: "TRUE" })).toBe("0");
  });

  it("Switch: IsPresent as the source, keys compared as True/False", () => {
    const expression =
      "Switch(IsPresent([directManager]),[directManager], IsPresent([skiplevelManager]),[skiplevelManager], IsPresent([director]),[director])";
    expect(run(expression, { directManager: "dm", skiplevelManager: "sm", director: "d" })).toBe("sm");
  });

  it("Left: characters from the left", () => {
    expect(run('Left("John Doe", 3)')).toBe("Joh");
    expect(run('Left("John Doe", 0)')).toBe("");
    expect(run('Left("John Doe", -1)')).toBe("John Doe");
    expect(run("Left([missing], 3)")).toBe("");
    expect(run('Left("Jo", 3)')).toBe("Jo");
  });

  it("Mid and Append: an alias from the first letters of the names", () => {
    expect(run("Append(Mid([givenName], 1, 3), Mid([surname], 1, 5))", { givenName: "John", surname: "Doe" })).toBe(
      "JohDoe",
    );
  });

  it("NormalizeDiacritics: Zoë -> Zoe, and the spelled-out letters of Microsoft's table", () => {
    expect(run("NormalizeDiacritics([givenName])", { givenName: "Zoë" })).toBe("Zoe");
    expect(run('NormalizeDiacritics("Ærøskøbing Straße Łódź ǟ Ȫ")')).toBe("AEroeskoebing Strasse Lodz a O");
  });

  it("Replace: a whole value with another (oldValue + replacementValue)", () => {
    const expression = 'Replace([BusinessTitle],"Product Developer", , , "Software Engineer", , )';
    expect(run(expression, { BusinessTitle: "Product Developer" })).toBe("Software Engineer");
  });

  it("Replace: the source inserted into a template (oldValue + template)", () => {
    const expression = 'Replace([UserID],"<username>", , , , , "<username>@contoso.com")';
    expect(run(expression, { UserID: "jsmith" })).toBe("jsmith@contoso.com");
  });

  it("Replace: a regex with named groups used in the replacement", () => {
    const expression =
      // biome-ignore lint/suspicious/noTemplateCurlyInString: ${phoneNumber} is .NET's substitution syntax
      'Replace([telephoneNumber], , "\\\\+(?<isdCode>\\\\d* )(?<phoneNumber>\\\\d{10})", , "${phoneNumber}", , )';
    expect(run(expression, { businessPhones: ["+91 9998887777"] })).toBe("9998887777");
  });

  it("Replace: a regex that removes parentheses, dashes and spaces", () => {
    // Microsoft's page shows 19998887777, but "+" is not in the class [()\s-]: .NET keeps it too.
    expect(run('Replace([mobile], , "[()\\\\s-]+", , "", , )', { mobilePhone: "+1 (999) 888-7777" })).toBe(
      "+19998887777",
    );
  });

  it("Replace: only a named group of the match replaced (regexGroupName)", () => {
    const street = 'Replace([AddressLineData], ,"(?<streetNumber>^\\\\d*)","streetNumber", "888", , )';
    expect(run(street, { AddressLineData: "545 Tremont Street" })).toBe("888 Tremont Street");
    const upn = 'Replace([userPrincipalName], , "(?<Suffix>@(.)*)", "Suffix", "", , )';
    expect(run(upn, { userPrincipalName: "jsmith@contoso.com" })).toBe("jsmith");
  });

  it("Replace: a group taken from another attribute when the source is empty (replacementAttributeName)", () => {
    const expression =
      'Replace([telephoneNumber], , "\\\\+(?<isdCode>\\\\d* )(?<phoneNumber>\\\\d{10})", "phoneNumber" , , [mobile], )';
    expect(run(expression, { businessPhones: [], mobilePhone: "+91 8887779999" })).toBe("8887779999");
    expect(run(expression, { businessPhones: ["+1 555"], mobilePhone: "+91 8887779999" })).toBe("+1 555");
  });

  it("Replace: characters matching a regex removed", () => {
    expect(run('Replace([mailNickname], , "[a-zA-Z_]*", , "", , )', { mailNickname: "john_doe72" })).toBe("72");
  });

  it("Replace: a known domain stripped from the e-mail", () => {
    expect(run('Replace([mail], "@contoso.com", , ,"", ,)', { mail: "john.doe@contoso.com" })).toBe("john.doe");
  });

  it("Join: the separator between non-empty values, an empty one skipped", () => {
    expect(run('Join(", ", "", [surname], [givenName])', { givenName: "John", surname: "Doe" })).toBe("Doe, John");
  });

  it("Join: every value of a multi-valued attribute", () => {
    expect(run('Join(";", [otherMails])', { otherMails: ["a@x.com", "b@x.com"] })).toBe("a@x.com;b@x.com");
  });

  it("Split: a comma-delimited list into values", () => {
    const user = { onPremisesExtensionAttributes: { extensionAttribute5: "PermissionSetOne, PermissionSetTwo" } };
    expect(run('Split([extensionAttribute5], ",")', user)).toEqual(["PermissionSetOne", "PermissionSetTwo"]);
  });

  it("ToLower with Join, NormalizeDiacritics and StripSpaces: a generated UPN", () => {
    const expression =
      'ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".",  [PreferredFirstName], [PreferredLastName]))), "contoso.com"))';
    expect(run(expression, { PreferredFirstName: "John", PreferredLastName: "Smith" })).toBe("john.smith@contoso.com");
  });

  it("ToUpper: invariant by default, a culture when given", () => {
    expect(run("ToUpper([givenName])", { givenName: "istanbul" })).toBe("ISTANBUL");
    expect(run('ToUpper([givenName], "tr-TR")', { givenName: "istanbul" })).toBe("İSTANBUL");
  });

  it("StripSpaces and Trim", () => {
    expect(run('StripSpaces("Mary Ann  Lee")')).toBe("MaryAnnLee");
    expect(run('Trim("  Mary Ann  ")')).toBe("Mary Ann");
  });

  it("Not: True <-> False", () => {
    expect(run('Not("True")')).toBe(false);
    expect(run('Not("False")')).toBe(true);
    expect(run("Not(IsPresent([mail]))", { mail: "a@b.c" })).toBe(false);
  });

  it("Word: the nth word between any of the delimiters", () => {
    expect(run('Word("The quick brown fox",3," ")')).toBe("brown");
    expect(run('Word("This,string!has&many separators",3,",!&#")')).toBe("has");
    expect(run('Word("The quick",3," ")')).toBe("");
    expect(run('Word("The quick",0," ")')).toBe("");
  });

  it("SelectUniqueValue: the rules of the UPN example, the first when nothing is taken", () => {
    const expression = `SelectUniqueValue(
        Join("@", NormalizeDiacritics(StripSpaces(Join(".",  [PreferredFirstName], [PreferredLastName]))), "contoso.com"),
        Join("@", NormalizeDiacritics(StripSpaces(Join(".",  Mid([PreferredFirstName], 1, 1), [PreferredLastName]))), "contoso.com"),
        Join("@", NormalizeDiacritics(StripSpaces(Join(".",  Mid([PreferredFirstName], 1, 2), [PreferredLastName]))), "contoso.com")
    )`;
    expect(run(expression, { PreferredFirstName: "John", PreferredLastName: "Smith" })).toBe("John.Smith@contoso.com");
  });

  it("a string constant with escaped quotes and backslashes", () => {
    expect(run('Append("Company name: \\"Contoso\\"", "\\\\")')).toBe('Company name: "Contoso"\\');
  });

  it("Item and Count on a multi-valued attribute (1-based)", () => {
    expect(run("Item([proxyAddresses], 1)", { proxyAddresses: ["SMTP:a@x.com", "smtp:b@x.com"] })).toBe("SMTP:a@x.com");
    expect(run("Count([proxyAddresses])", { proxyAddresses: ["SMTP:a@x.com", "smtp:b@x.com"] })).toBe(2);
  });
});

describe("attributes", () => {
  it("reads Entra's provisioning names as Graph spells them", () => {
    const user = {
      id: "00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
      onPremisesExtensionAttributes: { extensionAttribute3: "B-7" },
    };
    expect(run('Join("|", [objectId], [extensionAttribute3])', user)).toBe("00aa00aa-bb11-cc22-dd33-44ee44ee44ee|B-7");
  });

  it("reads the manager expanded by Graph, and [manager] alone as its id", () => {
    const manager = { id: "m-1", displayName: "Mia Boss", mail: "mia@contoso.com" };
    expect(run('Join(" / ", [manager.displayName], [manager.mail])', { manager })).toBe("Mia Boss / mia@contoso.com");
    expect(run("[manager]", { manager })).toBe("m-1");
  });

  it("reads custom security attributes, multi-valued ones as lists", () => {
    const customSecurityAttributes = {
      Engineering: {
        "@odata.type": "#microsoft.graph.customSecurityAttributeValue",
        Project: ["Baker", "Cascade"],
        Level: 3,
      },
    };
    expect(run('Join(",", [customSecurityAttributes.Engineering.Project])', { customSecurityAttributes })).toBe(
      "Baker,Cascade",
    );
    expect(run("[customSecurityAttributes.Engineering.Level]", { customSecurityAttributes })).toBe("3");
  });

  it("reads directory schema extensions by their full name", () => {
    expect(
      run("ToUpper([extension_0f1e2d3c4b5a69788796a5b4c3d2e1f0_costCenter])", {
        extension_0f1e2d3c4b5a69788796a5b4c3d2e1f0_costCenter: "cc-12",
      }),
    ).toBe("CC-12");
  });

  it("keeps the short form: the first non-empty of a|b", () => {
    expect(run("mail|userPrincipalName", { mail: "  ", userPrincipalName: "u@x.com" })).toBe("u@x.com");
  });
});

describe("start-up checks name the position of a mistake", () => {
  it.each([
    ["Lft([givenName], 1)", 1, /unknown function Lft/],
    ['switch([companyName], "External", "Company A", "A")', 1, /case-sensitive: Switch/],
    ["Left([givenName])", 1, /Left takes 2 arguments, got 1/],
    ['Join(".", [givenName]', 22, /expected "," or "\)"/],
    ['Append([givenName, "x")', 8, /is not an attribute name|never closed/],
    ['Append([givenName], "x)', 21, /never closed/],
    ['Left([givenName], "x", 2)', 1, /Left takes 2 arguments, got 3/],
    ['ToLower(Split([mail], "@"))', 9, /must be a single value, not a list/],
    ['Replace([mail], "a", "b", , "c", , )', 22, /either oldValue .* or regexPattern/],
    ['Replace([mail], , "(unclosed", , "x", , )', 19, /not a valid regular expression/],
    ['Replace([mail], , "(?<a>x)", "b", "x", , )', 30, /regexGroupName must name a group/],
    ['Switch([state], "x", "NSW", "a", "b")', 1, /even number of arguments/],
    ['Replace([mail], , , , "c", , )', 1, /either oldValue .* or regexPattern/],
    ['Join("-", SelectUniqueValue([a], [b]))', 11, /must be the whole expression/],
    ['FormatDateTime([hireDate], , "yyyy-MM-dd", "d")', 44, /standard format/],
    ['ToLower([givenName], "not a culture!")', 22, /culture name/],
    ['DateDiff("d", Now(), CDate([hireDate]))', 1, /unknown function DateDiff/],
    ["Left(, 3)", 6, /argument 1 of Left is required/],
    ['Append([a], "b") x', 18, /unexpected "x"/],
  ])("%s -> position %d", (expression, position, reason) => {
    const found = mistake(expression as string);
    expect(found.position).toBe(position);
    expect(found.reason).toMatch(reason as RegExp);
  });

  it("refuses expressions nested deeper than 32 functions", () => {
    expect(mistake(`${"Trim(".repeat(40)}[a]${")".repeat(40)}`).reason).toMatch(/nested more than 32 deep/);
  });
});
