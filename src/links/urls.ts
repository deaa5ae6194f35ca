import type { SigningKey } from "../config";
import { parseExpiresIn } from "./expiry";
import { type LinkAction, signLink } from "./tokens";

export interface JobLinks {
  start: string;
  continue: string;
}

/** The full trigger URL for one action, on the public address the callers use (PUBLIC_URL). */
export function linkUrl(publicUrl: string, job: string, act: LinkAction, token: string): string {
  const base = publicUrl.replace(/\/+$/, "");
  return `${base}/v1/jobs/${encodeURIComponent(job)}/${act}?token=${encodeURIComponent(token)}`;
}

/** A start and a continue link for the job's current link generation (expiresIn as parseExpiresIn takes it). */
export async function makeLinks(
  publicUrl: string,
  job: string,
  keys: readonly SigningKey[],
  gen: number,
  expiresIn?: string | number,
  now: Date = new Date(),
): Promise<JobLinks> {
  const iat = Math.floor(now.getTime() / 1000);
  const exp = expiresIn === undefined ? undefined : iat + parseExpiresIn(expiresIn);
  const [start, cont] = await Promise.all(
    (["start", "continue"] as const).map((act) => signLink(keys, { sub: job, act, gen, iat, exp })),
  );
  return { start: linkUrl(publicUrl, job, "start", start!), continue: linkUrl(publicUrl, job, "continue", cont!) };
}
