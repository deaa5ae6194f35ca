import { decodeProtectedHeader, SignJWT } from "jose";
import {
  type LinkAction,
  LinkTokenError,
  linkAudience,
  MAX_TOKEN_LENGTH,
  makeLinks,
  parseExpiresIn,
  readLink,
  type SignInput,
  signLink,
  verifyLink,
} from "../../src/links";

const oldKey = { kid: "k2024", secret: "old-secret-old-secret-old-secret-0000" };
const newKey = { kid: "k2025", secret: "new-secret-new-secret-new-secret-1111" };
const AUDIENCE = linkAudience("deployment-a");
const NEVER_REVOKED = { validFrom: 0, legacyGeneration: 1 };
const expected = { job: "staff", act: "start", cutoff: NEVER_REVOKED } as const;
const DAY = 86_400;
const options = { audience: AUDIENCE, defaultTtlSeconds: 365 * DAY };

/** A token as a deployment with AUDIENCE mints them (an hour's lifetime unless told otherwise). */
function sign(keys: (typeof newKey)[], sub: string, act: LinkAction, claims: Partial<SignInput> = {}) {
  const iat = claims.iat ?? Math.floor(Date.now() / 1000);
  return signLink(keys, { sub, act, aud: AUDIENCE, iat, exp: iat + 3600, ...claims });
}

/** A token as versions before audiences minted them: a generation, no audience, maybe no expiry. */
function legacyToken(gen: number, iat: number, exp?: number) {
  return new SignJWT({ act: "continue", gen, iat, ...(exp === undefined ? {} : { exp }) })
    .setProtectedHeader({ alg: "HS256", kid: newKey.kid, typ: "JWT" })
    .setSubject("staff")
    .setJti("legacy")
    .sign(new TextEncoder().encode(newKey.secret));
}

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
    const token = await sign([newKey], "staff", "start");
    const claims = await verifyLink([newKey], token, expected, options);
    expect(claims).toMatchObject({ sub: "staff", act: "start", aud: AUDIENCE, gen: null });
    expect(typeof claims.jti).toBe("string");
    expect(claims.exp - claims.iat).toBe(3600);
  });

  it("signs with the first key and names it in the kid header", async () => {
    const token = await sign([newKey, oldKey], "staff", "start");
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: "HS256", kid: "k2025" });
  });

  it("still verifies a token of the old key when the old key is listed second", async () => {
    const old = await sign([oldKey], "staff", "start");
    await expect(verifyLink([newKey, oldKey], old, expected, options)).resolves.toMatchObject({ sub: "staff" });
  });

  it("refuses a missing token", async () => {
    expect(await failureOf(verifyLink([newKey], undefined, expected, options))).toBe("missing 401");
    expect(await failureOf(verifyLink([newKey], "", expected, options))).toBe("missing 401");
  });

  it("refuses garbage and oversized tokens as malformed before parsing them", async () => {
    expect(await failureOf(verifyLink([newKey], "not-a-token", expected, options))).toBe("malformed 401");
    expect(await failureOf(verifyLink([newKey], "a.b.c", expected, options))).toBe("malformed 401");
    const huge = `${"a".repeat(MAX_TOKEN_LENGTH)}.b.c`;
    expect(await failureOf(verifyLink([newKey], huge, expected, options))).toBe("malformed 401");
  });

  it("refuses a token signed with another secret under a known kid as a bad signature", async () => {
    const forged = await sign([{ kid: newKey.kid, secret: "x".repeat(40) }], "staff", "start");
    expect(await failureOf(verifyLink([newKey], forged, expected, options))).toBe("bad-signature 401");
  });

  it("refuses a token whose kid names no configured key", async () => {
    const token = await sign([oldKey], "staff", "start");
    expect(await failureOf(verifyLink([newKey], token, expected, options))).toBe("unknown-kid 401");
  });

  it("refuses a token with another algorithm or no kid as malformed", async () => {
    const noKid = await new SignJWT({ act: "start", gen: 1 })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("staff")
      .setIssuedAt()
      .setJti("j")
      .sign(new TextEncoder().encode(newKey.secret));
    expect(await failureOf(verifyLink([newKey], noKid, expected, options))).toBe("malformed 401");
    const hs512 = await new SignJWT({ act: "start", gen: 1 })
      .setProtectedHeader({ alg: "HS512", kid: newKey.kid })
      .setSubject("staff")
      .setIssuedAt()
      .setJti("j")
      .sign(new TextEncoder().encode(newKey.secret));
    expect(await failureOf(verifyLink([newKey], hs512, expected, options))).toBe("malformed 401");
  });

  it("refuses an expired token but accepts it before its expiry", async () => {
    const iat = 1_700_000_000;
    const token = await sign([newKey], "staff", "start", { iat, exp: iat + 3600 });
    const at = (seconds: number) => ({ ...options, now: new Date(seconds * 1000) });
    await expect(verifyLink([newKey], token, expected, at(iat + 3599))).resolves.toBeTruthy();
    expect(await failureOf(verifyLink([newKey], token, expected, at(iat + 3601)))).toBe("expired 401");
  });

  it("refuses a token for another action with 403", async () => {
    const token = await sign([newKey], "staff", "continue");
    expect(await failureOf(verifyLink([newKey], token, expected, options))).toBe("wrong-action 403");
  });

  it("refuses a token for another job with 403", async () => {
    const token = await sign([newKey], "contractors", "start");
    expect(await failureOf(verifyLink([newKey], token, expected, options))).toBe("wrong-job 403");
  });

  it("refuses a token issued before the job's revocation cut-off, and accepts one issued at it", async () => {
    const iat = 1_700_000_000;
    const revoked = { ...expected, cutoff: { validFrom: iat + 1, legacyGeneration: 1 } };
    const before = await sign([newKey], "staff", "start", { iat });
    const after = await sign([newKey], "staff", "start", { iat: iat + 1 });
    const now = { ...options, now: new Date((iat + 10) * 1000) };
    expect(await failureOf(verifyLink([newKey], before, revoked, now))).toBe("revoked 401");
    await expect(verifyLink([newKey], after, revoked, now)).resolves.toMatchObject({ iat: iat + 1 });
  });

  it("refuses a token minted by another deployment with the same keys and job", async () => {
    const other = await signLink([newKey], { sub: "staff", act: "start", aud: linkAudience("deployment-b"), exp: 2e9 });
    expect(await failureOf(verifyLink([newKey], other, expected, options))).toBe("wrong-deployment 401");
  });

  it("reads claims without knowing the job", async () => {
    const token = await sign([newKey], "staff", "continue");
    await expect(readLink([newKey], token, options)).resolves.toMatchObject({
      sub: "staff",
      act: "continue",
      aud: AUDIENCE,
    });
  });
});

describe("links minted before audiences and revocation cut-offs", () => {
  const iat = 1_700_000_000;
  const now = { ...options, now: new Date((iat + 30 * DAY) * 1000) };
  const continueOf = (cutoff: typeof NEVER_REVOKED) => ({ job: "staff", act: "continue" as const, cutoff });

  it("accepts one of the job's current generation, without expiry, for LINK_DEFAULT_TTL after it was minted", async () => {
    const token = await legacyToken(1, iat);
    await expect(verifyLink([newKey], token, continueOf(NEVER_REVOKED), now)).resolves.toMatchObject({
      gen: 1,
      aud: null,
      exp: iat + 365 * DAY,
    });
    const later = { ...options, now: new Date((iat + 366 * DAY) * 1000) };
    expect(await failureOf(verifyLink([newKey], token, continueOf(NEVER_REVOKED), later))).toBe("expired 401");
  });

  it("refuses one of an earlier generation, and every one once the job's links are revoked", async () => {
    const token = await legacyToken(2, iat);
    expect(await failureOf(verifyLink([newKey], token, continueOf({ validFrom: 0, legacyGeneration: 3 }), now))).toBe(
      "revoked 401",
    );
    const revoked = { validFrom: iat + DAY, legacyGeneration: 2 };
    expect(await failureOf(verifyLink([newKey], token, continueOf(revoked), now))).toBe("revoked 401");
  });

  it("refuses one that carries neither an audience nor a generation as malformed", async () => {
    const token = await new SignJWT({ act: "continue", iat })
      .setProtectedHeader({ alg: "HS256", kid: newKey.kid })
      .setSubject("staff")
      .setJti("j")
      .sign(new TextEncoder().encode(newKey.secret));
    expect(await failureOf(verifyLink([newKey], token, continueOf(NEVER_REVOKED), now))).toBe("malformed 401");
  });
});

describe("makeLinks", () => {
  /** A minter whose cut-offs' clock (the database's, in the service) reads `issuedAt`. */
  const minter = (issuedAt = Date.now() / 1000) => ({
    config: { publicUrl: "https://sync.example.org/base/", linkDefaultTtlSeconds: 365 * DAY },
    secrets: { signingKeys: [newKey], linkAudience: AUDIENCE },
    linkCutoffs: { issueTime: async () => issuedAt },
  });

  it("builds full start and continue URLs on the public URL with the token in the query", async () => {
    const now = new Date("2025-01-01T00:00:00Z");
    const links = await makeLinks(minter(now.getTime() / 1000), "staff", { expiresIn: "30d" });
    expect(links.start).toMatch(/^https:\/\/sync\.example\.org\/base\/v1\/jobs\/staff\/start\?token=[\w.-]+$/);
    expect(links.continue).toMatch(/^https:\/\/sync\.example\.org\/base\/v1\/jobs\/staff\/continue\?token=/);
    const token = new URL(links.continue).searchParams.get("token");
    const claims = await verifyLink([newKey], token, { ...expected, act: "continue" }, { ...options, now });
    expect(claims.exp - claims.iat).toBe(30 * DAY);
    expect(claims.aud).toBe(AUDIENCE);
  });

  it("gives links minted without an expiry the default lifetime (LINK_DEFAULT_TTL)", async () => {
    const links = await makeLinks(minter(), "staff");
    const claims = await readLink([newKey], new URL(links.start).searchParams.get("token"), options);
    expect(claims.exp - claims.iat).toBe(365 * DAY);
  });

  it("stamps the issue time to the microsecond, so a cut-off later in the same second refuses the link", async () => {
    const issuedAt = 1_735_689_600.400_123;
    const links = await makeLinks(minter(issuedAt), "staff");
    const token = new URL(links.start).searchParams.get("token");
    const now = new Date(1_735_689_601_000);
    const at = (validFrom: number) => ({ ...expected, cutoff: { validFrom, legacyGeneration: 1 } });
    await expect(verifyLink([newKey], token, at(issuedAt), { ...options, now })).resolves.toMatchObject({
      iat: issuedAt,
    });
    expect(await failureOf(verifyLink([newKey], token, at(issuedAt + 0.000_001), { ...options, now }))).toBe(
      "revoked 401",
    );
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
