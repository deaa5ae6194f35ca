/**
 * WordPress logins. The REST API refuses any username that sanitize_user($login, true) would change
 * (`jöhn` -> 400 rest_user_invalid_username) and any longer than 60 characters (user_login_too_long),
 * so a candidate is reduced here to what WordPress keeps, and lower-cased: WordPress compares
 * logins case-insensitively (existing_user_login for `ALICE` vs `alice`), so case carries nothing.
 */
import { customerLogin, isCustomerJob } from "./customer";
import { evaluateExpression } from "./expression";
import { toText } from "./expression-functions";
import type { Job, UsernameRule } from "./job";
import { compiledMapping } from "./mapping";
import type { GraphUser } from "./users";

/** wp_insert_user refuses longer logins (user_login_too_long, HTTP 500). */
export const MAX_LOGIN_LENGTH = 60;

/** Letters that have no combining-mark decomposition, spelled out as WordPress' remove_accents() does. */
const SPELLED: Record<string, string> = {
  ß: "ss",
  ẞ: "SS",
  æ: "ae",
  Æ: "AE",
  œ: "oe",
  Œ: "OE",
  ø: "o",
  Ø: "O",
  ł: "l",
  Ł: "L",
  đ: "d",
  Đ: "D",
  ð: "d",
  Ð: "D",
  þ: "th",
  Þ: "TH",
  ı: "i",
  ŀ: "l",
  Ŀ: "L",
  ĸ: "k",
  ŉ: "n",
  ſ: "s",
};

/**
 * A login as WordPress' sanitize_user(strict) leaves it, lower-cased and cut to 60 characters, in
 * the same order of steps as wp-includes/formatting.php: strip tags, remove accents (NFKD minus
 * combining marks, plus the spelled-out letters above), drop %XX octets and &entities;, keep only
 * [A-Za-z0-9 _.@-], trim, collapse spaces. "" when nothing is left (山田 -> "").
 *
 * Guest accounts: `ann_contoso.com#EXT#@tenant.onmicrosoft.com` becomes
 * `ann_contoso.comext@tenant.onmicrosoft.com`. We drop the "#" exactly as WordPress would rather
 * than invent a format: the result stays recognisably the guest's UPN, and the same input always
 * gives the same login, which the username match relies on.
 */
export function sanitizeLogin(raw: string): string {
  let login = raw.replace(/<[^>]*>/g, "");
  // Decompose first so "ǿ" (ø + acute) reaches the spelled-out table as "ø".
  login = login
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .replace(/[^\p{ASCII}]/gu, (ch) => SPELLED[ch] ?? ch);
  login = login.replace(/%[a-fA-F0-9]{2}/g, "").replace(/&.+?;/g, "");
  login = login.replace(/[^A-Za-z0-9 _.@-]/g, "");
  login = login.trim().replace(/ +/g, " ").toLowerCase();
  return login.slice(0, MAX_LOGIN_LENGTH).trim();
}

/**
 * The login a new WordPress user gets, by the job's username rule; never "". Customer tenants
 * generate the UPN (<guid>@tenant.onmicrosoft.com), so there the login is the customer's own.
 */
export function usernameCandidate(job: Job, user: GraphUser): string {
  if (!isCustomerJob(job) && !RULES.includes(job.username)) return usernameCandidates(job, user)[0]!;
  const upn = text(user.userPrincipalName);
  let raw: string | null;
  switch (isCustomerJob(job) ? "customer" : (job.username as UsernameRule)) {
    case "customer":
      raw = customerLogin(user);
      break;
    case "upn":
      raw = upn;
      break;
    case "upnPrefix":
      raw = upn === null ? null : upn.slice(0, upn.includes("@") ? upn.indexOf("@") : upn.length);
      break;
    case "email":
      raw = text(user.mail) ?? upn;
      break;
  }
  const login = raw === null ? "" : sanitizeLogin(raw);
  // Nothing Latin left (山田@contoso.com with rule upnPrefix): the object id is stable and unique enough.
  return login || sanitizeLogin(`user-${user.id.slice(0, 8)}`);
}

const RULES: readonly string[] = ["upn", "upnPrefix", "email"] satisfies UsernameRule[];

/**
 * Every login the job's username gives, in order of preference: one for a rule; for an expression,
 * its value, or each rule of a top-level SelectUniqueValue (Entra's way to try "john.smith", then
 * "j.smith"), reduced to what WordPress keeps. Never empty.
 */
export function usernameCandidates(job: Job, user: GraphUser): string[] {
  if (isCustomerJob(job) || RULES.includes(job.username)) return [usernameCandidate(job, user)];
  const expr = compiledMapping(job.username);
  const rules = expr.kind === "call" && expr.name === "SelectUniqueValue" ? expr.args : [expr];
  const logins = rules.map((rule) => sanitizeLogin(toText(evaluateExpression(rule, user)) ?? "")).filter(Boolean);
  return logins.length > 0 ? [...new Set(logins)] : [sanitizeLogin(`user-${user.id.slice(0, 8)}`)];
}

/** The first candidate WordPress does not have yet, else the first one made unique (uniqueUsername). */
export function pickUsername(candidates: string[], taken: (login: string) => boolean): string {
  return candidates.find((login) => !taken(login)) ?? uniqueUsername(candidates[0]!, taken);
}

/**
 * The candidate when free, else candidate-2, candidate-3, ... with the base cut so the result stays
 * within 60 characters. `taken` must compare case-insensitively (as WordPress does). Multisite
 * logins take no "-": there the separator is "".
 */
export function uniqueUsername(candidate: string, taken: (login: string) => boolean, separator = "-"): string {
  if (!taken(candidate)) return candidate;
  for (let n = 2; n < 100_000; n++) {
    const suffix = `${separator}${n}`;
    const login = candidate.slice(0, MAX_LOGIN_LENGTH - suffix.length).trimEnd() + suffix;
    if (!taken(login)) return login;
  }
  throw new Error(`no free username found for "${candidate}" (tried up to ${separator}99999)`);
}

function text(value: unknown): string | null {
  return typeof value === "string" && value.trim() ? value.trim() : null;
}
