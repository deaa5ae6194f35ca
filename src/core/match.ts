/** Finding the WordPress user an unmapped Entra user already has, in the job's match order. */
import { isCustomerJob } from "./customer";
import type { Job } from "./job";
import { usernameCandidate } from "./username";
import type { GraphUser, WpUser } from "./users";

/**
 * Exact lookups over the site's users; case-insensitivity is the index's job. A miss may be
 * undefined or null (src/sync/user-index.ts answers null). What is found may be the whole
 * WordPress user or just a reference to it (the index keeps only what matching needs).
 */
export interface MatchIndex<T extends { id: number } = WpUser> {
  byEmail(email: string): T | undefined | null;
  byLogin(login: string): T | undefined | null;
  /** Only with the companion plugin (entra_object_id meta); absent means "cannot match by id". */
  byEntraId?(entraId: string): T | undefined | null;
}

/** Anything with one "@" and a dot after it: enough to tell a UPN that doubles as an address. */
const LOOKS_LIKE_EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** The first WordPress user found by job.match ("entraId", "email", "username"), else null. */
export function matchUser<T extends { id: number }>(
  job: Job,
  user: GraphUser,
  desired: Record<string, string>,
  index: MatchIndex<T>,
): T | null {
  for (const key of job.match) {
    const found = matchBy(key, job, user, desired, index);
    if (found) return found;
  }
  return null;
}

function matchBy<T extends { id: number }>(
  key: Job["match"][number],
  job: Job,
  user: GraphUser,
  desired: Record<string, string>,
  index: MatchIndex<T>,
): T | null {
  switch (key) {
    case "entraId":
      return index.byEntraId?.(user.id) ?? null;
    case "email":
      for (const email of emailsOf(job, user, desired)) {
        const found = index.byEmail(email);
        if (found) return found;
      }
      return null;
    case "username":
      return index.byLogin(usernameCandidate(job, user)) ?? null;
  }
}

/**
 * The mapped e-mail, then Graph's mail, then a UPN that looks like an address; no repeats. A
 * customer's UPN is generated and their e-mail already derived (customer.ts): only that one.
 */
function emailsOf(job: Job, user: GraphUser, desired: Record<string, string>): string[] {
  if (isCustomerJob(job)) return desired.email ? [desired.email] : [];
  const upn = typeof user.userPrincipalName === "string" ? user.userPrincipalName.trim() : "";
  const candidates = [
    desired.email,
    typeof user.mail === "string" ? user.mail.trim() : undefined,
    LOOKS_LIKE_EMAIL.test(upn) ? upn : undefined,
  ];
  const seen = new Set<string>();
  return candidates.filter((email): email is string => {
    if (!email || seen.has(email.toLowerCase())) return false;
    seen.add(email.toLowerCase());
    return true;
  });
}
