import { parseExpiresIn } from "./expiry";
import type { LinkCutoffs } from "./revocations";
import { type LinkAction, type SigningKey, signLink } from "./tokens";

export interface JobLinks {
  start: string;
  continue: string;
}

/** The full trigger URL for one action, on the public address the callers use (PUBLIC_URL). */
export function linkUrl(publicUrl: string, job: string, act: LinkAction, token: string): string {
  const base = publicUrl.replace(/\/+$/, "");
  return `${base}/v1/jobs/${encodeURIComponent(job)}/${act}?token=${encodeURIComponent(token)}`;
}

/** What minting needs: the runtime and the HTTP app's dependencies both have it. */
export interface LinkMinter {
  config: { publicUrl: string; linkDefaultTtlSeconds: number };
  secrets: { signingKeys: readonly SigningKey[]; linkAudience: string };
  linkCutoffs: Pick<LinkCutoffs, "issueTime">;
}

export interface MintOptions {
  /** As parseExpiresIn takes it; default LINK_DEFAULT_TTL. */
  expiresIn?: string | number;
  /** Default PUBLIC_URL. */
  publicUrl?: string;
}

/** A start and a continue link of the job, bound to this deployment (audience). */
export async function makeLinks(deps: LinkMinter, job: string, options: MintOptions = {}): Promise<JobLinks> {
  // A fractional iat (RFC 7519 NumericDate allows it): revoke, mint, revoke within one second
  // leaves the minted link valid between the two revocations and dead after the second.
  const iat = await deps.linkCutoffs.issueTime(job);
  const lifetime =
    options.expiresIn === undefined ? deps.config.linkDefaultTtlSeconds : parseExpiresIn(options.expiresIn);
  const aud = deps.secrets.linkAudience;
  const [start, cont] = await Promise.all(
    (["start", "continue"] as const).map((act) =>
      signLink(deps.secrets.signingKeys, { sub: job, act, aud, iat, exp: iat + lifetime }),
    ),
  );
  const publicUrl = options.publicUrl ?? deps.config.publicUrl;
  return { start: linkUrl(publicUrl, job, "start", start!), continue: linkUrl(publicUrl, job, "continue", cont!) };
}
