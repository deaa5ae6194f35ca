/**
 * Customer accounts of Entra External ID and Azure AD B2C tenants (`source.tenantKind: "external"`).
 * They sign in with `identities[]`, not with their userPrincipalName, which Graph generates
 * (`<guid>@<tenant>.onmicrosoft.com`) and which means nothing to the customer; `mail` is often
 * empty. So the e-mail and the login come from the identities:
 * - local accounts: `signInType` "emailAddress" or "userName", `issuer` the tenant's own domain;
 * - social accounts: `signInType` "federated", `issuer` the provider ("google.com", "facebook.com"),
 *   `issuerAssignedId` the provider's opaque id (never an address).
 */
import type { Job } from "./job";
import type { GraphUser } from "./users";

/** What a customer listing selects on top of the usual: Graph returns both only when selected. */
export const CUSTOMER_SELECTED = ["identities", "otherMails"];

export function isCustomerJob(job: Pick<Job, "source">): boolean {
  return job.source.tenantKind === "external";
}

interface Identity {
  signInType: string;
  issuer: string;
  issuerAssignedId: string;
}

function identitiesOf(user: GraphUser): Identity[] {
  const raw = user.identities;
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((entry) => {
    if (entry === null || typeof entry !== "object") return [];
    const { signInType, issuer, issuerAssignedId } = entry as Record<string, unknown>;
    if (typeof signInType !== "string" || typeof issuer !== "string") return [];
    const id = typeof issuerAssignedId === "string" ? issuerAssignedId.trim() : "";
    return [{ signInType, issuer: issuer.trim(), issuerAssignedId: id }];
  });
}

function signInValue(user: GraphUser, signInType: "emailAddress" | "userName"): string | null {
  return (
    identitiesOf(user).find((identity) => identity.signInType === signInType && identity.issuerAssignedId)
      ?.issuerAssignedId ?? null
  );
}

function text(value: unknown): string | null {
  return typeof value === "string" && value.trim() ? value.trim() : null;
}

function otherMailsOf(user: GraphUser): string[] {
  return Array.isArray(user.otherMails) ? user.otherMails.flatMap((mail) => text(mail) ?? []) : [];
}

/**
 * The customer's e-mail: the address they sign in with (emailAddress identity), else `mail`, else
 * the first of `otherMails` (where sign-up flows and social sign-ins usually store it); null when
 * there is none (a social or user-name account that never gave one).
 */
export function customerEmail(user: GraphUser): string | null {
  return signInValue(user, "emailAddress") ?? text(user.mail) ?? otherMailsOf(user)[0] ?? null;
}

/**
 * Where a customer's address comes from. Only "sign-in" (the emailAddress identity) is verified:
 * the tenant proved it with a one-time code at sign-up, or an administrator set it. `mail` and
 * `otherMails` are what the customer typed into a sign-up form or what a social provider claimed,
 * so anyone can give someone else's address there. null: not one of this customer's addresses.
 */
export function emailOrigin(user: GraphUser, email: string): "sign-in" | "mail" | "otherMails" | null {
  const same = (candidate: string | null) => candidate !== null && candidate.toLowerCase() === email.toLowerCase();
  const signIns = identitiesOf(user).filter((identity) => identity.signInType === "emailAddress");
  if (signIns.some((identity) => same(identity.issuerAssignedId))) return "sign-in";
  if (same(text(user.mail))) return "mail";
  return otherMailsOf(user).some(same) ? "otherMails" : null;
}

/** The login a customer chose (userName identity), else their e-mail; never the generated UPN. */
export function customerLogin(user: GraphUser): string | null {
  return signInValue(user, "userName") ?? customerEmail(user);
}

/**
 * A new customer with neither an e-mail nor a user name: never created (WordPress needs an
 * e-mail) and never matched, except by object id, which the service writes only on users it maps.
 * Planning one needs no WordPress lookup, so a re-scan does not list the whole site for the social
 * accounts that never gave an address.
 */
export function isUnmatchableCustomer(job: Pick<Job, "source">, user: GraphUser): boolean {
  return isCustomerJob(job) && customerLogin(user) === null;
}

/**
 * The identity providers of a social account ("google.com"), i.e. every issuer of a federated
 * identity; [] for local accounts. Shown on the user's items so an operator sees why an account
 * has no password in the tenant or no e-mail.
 */
export function socialIssuers(user: GraphUser): string[] {
  const issuers = identitiesOf(user)
    .filter((identity) => identity.signInType === "federated" && identity.issuer)
    .map((identity) => identity.issuer);
  return [...new Set(issuers)];
}

/** The item note of a social account, e.g. "signs in with google.com"; null for everyone else. */
export function signInNote(job: Pick<Job, "source">, user: GraphUser): string | null {
  if (!isCustomerJob(job)) return null;
  const issuers = socialIssuers(user);
  return issuers.length > 0 ? `signs in with ${issuers.join(", ")}` : null;
}
