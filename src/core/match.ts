/**
 * Finding the WordPress user an unmapped Entra user already has, in the job's match order, and
 * deciding whether that account may be adopted at all.
 */
import { emailOrigin, isCustomerJob } from "./customer";
import type { Job, MatchKey } from "./job";
import { capabilitiesBeyond } from "./privileges";
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

/** The first WordPress user found by job.match.by ("entraId", "email", "username") and the key that found it. */
export function matchUser<T extends { id: number }>(
  job: Job,
  user: GraphUser,
  desired: Record<string, string>,
  index: MatchIndex<T>,
): { account: T; by: MatchKey } | null {
  for (const key of job.match.by) {
    const found = matchBy(key, job, user, desired, index);
    if (found) return { account: found, by: key };
  }
  return null;
}

/** `index` without the logins of these accounts: matching by user name never picks them. */
export function withoutLogins<T extends { id: number }>(index: MatchIndex<T>, ids: ReadonlySet<number>): MatchIndex<T> {
  const byEntraId = index.byEntraId?.bind(index);
  return {
    byEmail: (email) => index.byEmail(email),
    byLogin: (login) => {
      const found = index.byLogin(login);
      return found && ids.has(found.id) ? null : found;
    },
    ...(byEntraId ? { byEntraId } : {}),
  };
}

/** Entra marks invited users with userType "Guest" and a UPN like "ann_example.com#EXT#@tenant...". */
export function isGuest(user: GraphUser): boolean {
  const upn = typeof user.userPrincipalName === "string" ? user.userPrincipalName : "";
  return user.userType === "Guest" || upn.toUpperCase().includes("#EXT#");
}

/**
 * Why an existing WordPress account found by `by` must not be taken over by this Entra user, or
 * null when it may. By Entra id (stored by the plugin when the service created it) always; by
 * e-mail or user name only when the job matches that way, within match.emailDomains, not for
 * guests unless match.adoptGuests, and only when the account holds no elevated capability that
 * the job could not grant it (an editor's or a custom role's `edit_users`). A guest invited with
 * someone's address, or a mistyped mail, must not inherit that person's account. A customer's
 * address must be the one they sign in with (customer.ts: `mail` and `otherMails` are
 * self-asserted) unless match.adoptUnverifiedEmails: anyone can sign up with Google and type the
 * site owner's address.
 */
export function adoptionRefusal(
  job: Job,
  user: GraphUser,
  account: WpUser,
  by: MatchKey,
  grantable: ReadonlySet<string>,
): string | null {
  if (by === "entraId") return null;
  const how = by === "email" ? "e-mail" : "user name";
  const what = `WordPress user ${account.id} (same ${how})`;
  const remedy = "map it by Entra id or list it in protect.users";
  if (!job.match.by.includes(by)) return `${what} exists but the job does not match by ${how} (match.by); ${remedy}`;
  if (isGuest(user) && !job.match.adoptGuests) {
    return `${what} exists and this Entra user is a guest: guests are not adopted by ${how} unless match.adoptGuests is true; ${remedy}`;
  }
  const domain = account.email.slice(account.email.lastIndexOf("@") + 1).toLowerCase();
  if (by === "email" && job.match.emailDomains.length > 0 && !job.match.emailDomains.includes(domain)) {
    return `${what} exists and ${domain} is not in match.emailDomains; ${remedy}`;
  }
  if (by === "email" && isCustomerJob(job) && !job.match.adoptUnverifiedEmails) {
    const origin = emailOrigin(user, account.email);
    if (origin !== "sign-in") {
      const from = origin === null ? "is not one of this customer's addresses" : `is only in ${origin}`;
      return `${what} exists and its address ${from}, not the customer's e-mail sign-in, so it is not verified: customers are adopted by e-mail only on the address they sign in with unless match.adoptUnverifiedEmails is true; ${remedy}`;
    }
  }
  const beyond = capabilitiesBeyond(account.capabilities, grantable);
  if (beyond.length > 0) return `${what} exists with privileges (${beyond.slice(0, 5).join(", ")}); ${remedy}`;
  return null;
}

function matchBy<T extends { id: number }>(
  key: MatchKey,
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
export function emailsOf(job: Job, user: GraphUser, desired: Record<string, string>): string[] {
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
