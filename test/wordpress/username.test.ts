import { sanitizeLogin } from "../../src/wordpress";

describe("sanitizeLogin", () => {
  it.each([
    ["jöhn", "john"],
    ["Jöhn Ørsted-Smith", "John Orsted-Smith"],
    ["straße", "strasse"],
    ["ann_contoso.com#EXT#@tenant.onmicrosoft.com", "ann_contoso.comEXT@tenant.onmicrosoft.com"],
    ["  two   spaces\there ", "two spaceshere"],
    ["a%41b<b>c</b>&amp;d", "abcd"],
    ["李小龍", ""],
  ])("turns %j into %j as WordPress' sanitize_user(strict) would", (raw, login) => {
    expect(sanitizeLogin(raw)).toBe(login);
  });

  it("cuts a login to WordPress' 60 characters without leaving a trailing space", () => {
    const login = sanitizeLogin(`${"a".repeat(59)} bcd@example.com`);
    expect(login).toBe("a".repeat(59));
    expect(sanitizeLogin("x".repeat(70))).toHaveLength(60);
  });
});
