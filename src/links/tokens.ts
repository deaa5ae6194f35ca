/**
 * Trigger-link tokens: JWS compact (HS256) with a `kid` header, signed with the FIRST configured
 * key and verified with whichever configured key the `kid` names, so keys rotate by listing the
 * new key first and keeping the old one until its links are gone (DESIGN.md "Link tokens").
 *
 * Verification is split in two so the HTTP layer can check the job before it looks anything up:
 * `readLink` proves the token is ours, for this deployment and unexpired (no I/O), `checkLinkClaims`
 * compares it with what the request is for (job, action, the job's revocation cut-off).
 * `verifyLink` does both.
 */
import { randomUUID } from "node:crypto";
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { AppError } from "../core/errors";
import type { LinkCutoff } from "../core/job";

/** One of LINK_SIGNING_KEYS: the first signs, all verify (src/config.ts reads them). */
export interface SigningKey {
  kid: string;
  secret: string;
}

export type LinkAction = "start" | "continue";
export const LINK_ACTIONS: readonly LinkAction[] = ["start", "continue"];

export interface LinkClaims {
  /** The job id. */
  sub: string;
  act: LinkAction;
  /** The deployment the token was minted by (see linkAudience); null in links minted before audiences. */
  aud: string | null;
  /** Only in links minted before audiences: the job's link generation then. */
  gen: number | null;
  /** Seconds since the epoch: fractional (microseconds, the database clock) in links minted by makeLinks. */
  iat: number;
  /** Seconds since the epoch; a token minted without one expires LINK_DEFAULT_TTL after iat. */
  exp: number;
  jti: string;
}

/**
 * The audience of this deployment's tokens: its id, generated once and kept in its database. Two
 * deployments that share signing keys and job ids still refuse each other's links.
 */
export const linkAudience = (deploymentId: string) => `entra-wp-sync:${deploymentId}`;

/** Larger tokens are refused before any parsing (ours are about 250 bytes). */
export const MAX_TOKEN_LENGTH = 4096;

export type LinkFailure =
  | "missing"
  | "malformed"
  | "bad-signature"
  | "unknown-kid"
  | "wrong-deployment"
  | "expired"
  | "revoked"
  | "wrong-job"
  | "wrong-action";

const FAILURES: Record<LinkFailure, { status: 401 | 403; message: string }> = {
  missing: {
    status: 401,
    message: "A link token is required: pass it as ?token=... or in an Authorization: Bearer header",
  },
  malformed: { status: 401, message: "The link token is malformed" },
  "bad-signature": { status: 401, message: "The link token's signature does not verify" },
  "unknown-kid": {
    status: 401,
    message: "The link token was signed with a key this service does not have (it may have been rotated out)",
  },
  "wrong-deployment": { status: 401, message: "The link token was minted by another deployment of this service" },
  expired: { status: 401, message: "The link token has expired; mint a new link with POST /v1/jobs/{job}/links" },
  revoked: {
    status: 401,
    message: "The link token was revoked (the job's links were revoked after it was minted); mint a new link",
  },
  "wrong-job": { status: 403, message: "The link token is for another job" },
  "wrong-action": { status: 403, message: "The link token is for another action" },
};

/** Why a link token was refused; 401 unless the token is genuine but for another job or action (403). */
export class LinkTokenError extends AppError {
  constructor(
    readonly reason: LinkFailure,
    message: string = FAILURES[reason].message,
  ) {
    super(message, FAILURES[reason].status, "invalid_link_token", { reason });
  }
}

const encoder = new TextEncoder();
const TOKEN_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export interface SignInput {
  sub: string;
  act: LinkAction;
  aud: string;
  /** Absolute expiry, seconds since the epoch. */
  exp: number;
  /** Defaults to now. */
  iat?: number;
  jti?: string;
}

export async function signLink(keys: readonly SigningKey[], claims: SignInput): Promise<string> {
  const key = keys[0];
  if (!key) throw new Error("signLink needs at least one signing key");
  const payload = {
    act: claims.act,
    aud: claims.aud,
    iat: claims.iat ?? Math.floor(Date.now() / 1000),
    exp: claims.exp,
  };
  return new SignJWT(payload)
    .setProtectedHeader({ alg: "HS256", kid: key.kid, typ: "JWT" })
    .setSubject(claims.sub)
    .setJti(claims.jti ?? randomUUID())
    .sign(encoder.encode(key.secret));
}

export interface ReadOptions {
  /** linkAudience(this deployment's id). */
  audience: string;
  /** LINK_DEFAULT_TTL: the lifetime of a token that carries no exp (links minted before it existed). */
  defaultTtlSeconds: number;
  now?: Date;
}

/** Proves the token is ours (signature by the key its kid names), for this deployment and unexpired. No I/O. */
export async function readLink(
  keys: readonly SigningKey[],
  token: string | null | undefined,
  options: ReadOptions,
): Promise<LinkClaims> {
  const now = options.now ?? new Date();
  if (!token) throw new LinkTokenError("missing");
  if (token.length > MAX_TOKEN_LENGTH || !TOKEN_SHAPE.test(token)) throw new LinkTokenError("malformed");
  let header: { alg?: string; kid?: string };
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new LinkTokenError("malformed");
  }
  if (header.alg !== "HS256" || typeof header.kid !== "string") throw new LinkTokenError("malformed");
  const key = keys.find((candidate) => candidate.kid === header.kid);
  if (!key) throw new LinkTokenError("unknown-kid");
  let payload: Record<string, unknown>;
  try {
    // jose compares the MAC with timingSafeEqual and checks exp only after the signature.
    ({ payload } = await jwtVerify(token, encoder.encode(key.secret), { algorithms: ["HS256"], currentDate: now }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw new LinkTokenError("expired");
    if (error instanceof joseErrors.JWSSignatureVerificationFailed) throw new LinkTokenError("bad-signature");
    throw new LinkTokenError("malformed");
  }
  const { sub, act, aud, gen, iat, exp, jti } = payload;
  // A token without an audience is one minted before audiences existed: it must carry the
  // generation that judged revocation then.
  const legacy = aud === undefined;
  if (
    typeof sub !== "string" ||
    !LINK_ACTIONS.includes(act as LinkAction) ||
    (legacy ? !Number.isInteger(gen) : typeof aud !== "string") ||
    typeof iat !== "number" ||
    (exp !== undefined && typeof exp !== "number") ||
    typeof jti !== "string"
  ) {
    throw new LinkTokenError("malformed");
  }
  if (!legacy && aud !== options.audience) throw new LinkTokenError("wrong-deployment");
  const expiry = exp ?? iat + options.defaultTtlSeconds;
  if (expiry <= Math.floor(now.getTime() / 1000)) throw new LinkTokenError("expired");
  return {
    sub,
    act: act as LinkAction,
    aud: legacy ? null : (aud as string),
    gen: legacy ? (gen as number) : null,
    iat,
    exp: expiry,
    jti,
  };
}

export interface LinkExpectation {
  job: string;
  act: LinkAction;
  cutoff: LinkCutoff;
}

/**
 * Job first (a token for job A says nothing about job B, not even its revocation), then the
 * cut-off (a revoked token is dead whatever it was for), then the action.
 */
export function checkLinkClaims(claims: LinkClaims, expected: LinkExpectation): void {
  if (claims.sub !== expected.job) throw new LinkTokenError("wrong-job");
  const { validFrom, legacyGeneration } = expected.cutoff;
  if (claims.iat < validFrom || (claims.gen !== null && claims.gen !== legacyGeneration)) {
    throw new LinkTokenError("revoked");
  }
  if (claims.act !== expected.act) {
    throw new LinkTokenError("wrong-action", `This is a "${claims.act}" link; it cannot ${expected.act} the job`);
  }
}

export async function verifyLink(
  keys: readonly SigningKey[],
  token: string | null | undefined,
  expected: LinkExpectation,
  options: ReadOptions,
): Promise<LinkClaims> {
  const claims = await readLink(keys, token, options);
  checkLinkClaims(claims, expected);
  return claims;
}
