import { decodeProtectedHeader, SignJWT } from "jose";
import {
  LinkTokenError,
  MAX_TOKEN_LENGTH,
  makeLinks,
  parseExpiresIn,
  readLink,
  signLink,
  verifyLink,
} from "../../src/links";

const oldKey = { kid: "k2024", secret: "old-secret-old-secret-old-secret-0000" };
const newKey = { kid: "k2025", secret: "new-secret-new-secret-new-secret-1111" };
const expected = { job: "staff", act: "start", gen: 1 } as const;

async function failureOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof LinkTokenError) return `${error.reason} ${error.status}`;
    throw error;
  }
  throw new Error("expected the token to be refused");
}

describe("link tokens", () => {
  it("verifies a token it signed and returns its claims", async () => {
    const token = await signLink([newKey], { sub: "staff", act: "start", gen: 1 });
    const claims = await verifyLink([newKey], token, expected);
    expect(claims).toMatchObject({ sub: "staff", act: "start", gen: 1 });
    expect(typeof claims.jti).toBe("string");
    expect(claims.exp).toBeUndefined();
  });

  it("signs with the first key and names it in the kid header", async () => {
    const token = await signLink([newKey, oldKey], { sub: "staff", act: "start", gen: 1 });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: "HS256", kid: "k2025" });
  });

  it("still verifies a token of the old key when the old key is listed second", async () => {
    const old = await signLink([oldKey], { sub: "staff", act: "start", gen: 1 });
    await expect(verifyLink([newKey, oldKey], old, expected)).resolves.toMatchObject({ sub: "staff" });
  });

  it("refuses a missing token", async () => {
    expect(await failureOf(verifyLink([newKey], undefined, expected))).toBe("missing 401");
    expect(await failureOf(verifyLink([newKey], "", expected))).toBe("missing 401");
  });

  it("refuses garbage and oversized tokens as malformed before parsing them", async () => {
    expect(await failureOf(verifyLink([newKey], "not-a-token", expected))).toBe("malformed 401");
    expect(await failureOf(verifyLink([newKey], "a.b.c", expected))).toBe("malformed 401");
    const huge = `${"a".repeat(MAX_TOKEN_LENGTH)}.b.c`;
    expect(await failureOf(verifyLink([newKey], huge, expected))).toBe("malformed 401");
  });

  it("refuses a token signed with another secret under a known kid as a bad signature", async () => {
    const forged = await signLink([{ kid: newKey.kid, secret: "x".repeat(40) }], {
      sub: "staff",
      act: "start",
      gen: 1,
    });
    expect(await failureOf(verifyLink([newKey], forged, expected))).toBe("bad-signature 401");
  });

  it("refuses a token whose kid names no configured key", async () => {
    const token = await signLink([oldKey], { sub: "staff", act: "start", gen: 1 });
    expect(await failureOf(verifyLink([newKey], token, expected))).toBe("unknown-kid 401");
  });

  it("refuses a token with another algorithm or no kid as malformed", async () => {
    const noKid = await new SignJWT({ act: "start", gen: 1 })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("staff")
      .setIssuedAt()
      .setJti("j")
      .sign(new TextEncoder().encode(newKey.secret));
    expect(await failureOf(verifyLink([newKey], noKid, expected))).toBe("malformed 401");
    const hs512 = await new SignJWT({ act: "start", gen: 1 })
      .setProtectedHeader({ alg: "HS512", kid: newKey.kid })
      .setSubject("staff")
      .setIssuedAt()
      .setJti("j")
      .sign(new TextEncoder().encode(newKey.secret));
    expect(await failureOf(verifyLink([newKey], hs512, expected))).toBe("malformed 401");
  });

  it("refuses an expired token but accepts it before its expiry", async () => {
    const iat = 1_700_000_000;
    const token = await signLink([newKey], { sub: "staff", act: "start", gen: 1, iat, exp: iat + 3600 });
    await expect(verifyLink([newKey], token, expected, new Date((iat + 3599) * 1000))).resolves.toBeTruthy();
    expect(await failureOf(verifyLink([newKey], token, expected, new Date((iat + 3601) * 1000)))).toBe("expired 401");
  });

  it("refuses a token for another action with 403", async () => {
    const token = await signLink([newKey], { sub: "staff", act: "continue", gen: 1 });
    expect(await failureOf(verifyLink([newKey], token, expected))).toBe("wrong-action 403");
  });

  it("refuses a token for another job with 403", async () => {
    const token = await signLink([newKey], { sub: "contractors", act: "start", gen: 1 });
    expect(await failureOf(verifyLink([newKey], token, expected))).toBe("wrong-job 403");
  });

  it("refuses a token of an earlier link generation as revoked", async () => {
    const token = await signLink([newKey], { sub: "staff", act: "start", gen: 1 });
    expect(await failureOf(verifyLink([newKey], token, { ...expected, gen: 2 }))).toBe("revoked 401");
  });

  it("reads claims without knowing the job", async () => {
    const token = await signLink([newKey], { sub: "staff", act: "continue", gen: 7 });
    await expect(readLink([newKey], token)).resolves.toMatchObject({ sub: "staff", act: "continue", gen: 7 });
  });
});

describe("makeLinks", () => {
  it("builds full start and continue URLs on the public URL with the token in the query", async () => {
    const now = new Date("2025-01-01T00:00:00Z");
    const links = await makeLinks("https://sync.example.org/base/", "staff", [newKey], 3, "30d", now);
    expect(links.start).toMatch(/^https:\/\/sync\.example\.org\/base\/v1\/jobs\/staff\/start\?token=[\w.-]+$/);
    expect(links.continue).toMatch(/^https:\/\/sync\.example\.org\/base\/v1\/jobs\/staff\/continue\?token=/);
    const token = new URL(links.continue).searchParams.get("token");
    const claims = await verifyLink([newKey], token, { job: "staff", act: "continue", gen: 3 }, now);
    expect(claims.exp! - claims.iat).toBe(30 * 86_400);
  });

  it("builds links that never expire when no expiry is given", async () => {
    const links = await makeLinks("http://localhost:3000", "staff", [newKey], 1);
    const claims = await readLink([newKey], new URL(links.start).searchParams.get("token"));
    expect(claims.exp).toBeUndefined();
  });
});

describe("parseExpiresIn", () => {
  it.each([
    ["30d", 2_592_000],
    ["12h", 43_200],
    ["15m", 900],
    ["3600s", 3600],
    ["3600", 3600],
    [7200, 7200],
  ])("reads %p as %p seconds", (input, seconds) => {
    expect(parseExpiresIn(input)).toBe(seconds);
  });

  it.each(["", "soon", "1w", "-5m", "1.5h", "10s", "4000d"])("refuses %p with a 400 naming expiresIn", (input) => {
    expect(() => parseExpiresIn(input)).toThrow(/expiresIn/);
    try {
      parseExpiresIn(input);
    } catch (error) {
      expect((error as { status: number }).status).toBe(400);
    }
  });
});
