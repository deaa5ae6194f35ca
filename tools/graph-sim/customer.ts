/**
 * Customer-tenant mode: an Entra External ID / Azure AD B2C directory. Its users are customers who
 * sign in with `identities[]` (e-mail or user name issued by the tenant, or a social provider),
 * their userPrincipalName is generated (`<guid>@<tenant>.onmicrosoft.com`) and `mail` is mostly
 * empty. Graph refuses there what it does not support, with the errors it gives (below).
 */
import { GraphFailure, type RouteContext } from "./routes";
import { generateUser, isPicked, type Population, type SimUser } from "./users";

export interface SimIdentity {
  signInType: "emailAddress" | "userName" | "federated" | "userPrincipalName";
  issuer: string;
  issuerAssignedId: string;
}

export interface CustomerTraits {
  /** Customers who signed up with a social provider (alternately google.com and facebook.com). */
  social: number;
  /** Local accounts that sign in with a user name instead of an e-mail address. */
  userNames: number;
}

export const SOCIAL_ISSUERS = ["google.com", "facebook.com"];
const MAIL_DOMAINS = ["gmail.com", "outlook.com", "example.net"];

/**
 * Customer `index`: names as in a workforce tenant, the rest as a customer tenant holds it. Local
 * e-mail accounts carry their address in the identity (every fourth also in `mail`); user-name and
 * social accounts in `otherMails`. The population's `withoutMail` customers are social accounts
 * that gave no address at all (on top of `social`).
 */
export function generateCustomer(p: Population & { customer: CustomerTraits }, index: number): SimUser {
  const base = generateUser({ ...p, guests: 0 }, index);
  const local = base.userPrincipalName.slice(0, base.userPrincipalName.indexOf("@"));
  const email = `${local}@${MAIL_DOMAINS[index % MAIL_DOMAINS.length]}`;
  const upn = `${base.id}@${p.domain}`;
  const noMail = isPicked(index, p.withoutMail, p.users, 3);
  const social = noMail || isPicked(index, p.customer.social, p.users, 5);
  const named = !social && isPicked(index, p.customer.userNames, p.users, 13);
  const primary: SimIdentity = social
    ? {
        signInType: "federated",
        issuer: SOCIAL_ISSUERS[index % SOCIAL_ISSUERS.length]!,
        issuerAssignedId: String(100_000_000_000 + index),
      }
    : { signInType: named ? "userName" : "emailAddress", issuer: p.domain, issuerAssignedId: named ? local : email };
  return {
    ...base,
    userPrincipalName: upn,
    mail: !social && !named && index % 4 === 0 ? email : null,
    otherMails: (social || named) && !noMail ? [email] : [],
    identities: [primary, { signInType: "userPrincipalName", issuer: p.domain, issuerAssignedId: upn }],
    userType: "Member",
    jobTitle: null,
    department: null,
    employeeId: null,
    businessPhones: [],
    officeLocation: null,
  };
}

/**
 * What Graph refuses in a customer tenant, as it answers (reported by users against B2C tenants):
 * - /users/delta: 400 Request_UnsupportedQuery "Change enumeration is not supported for requested
 *   tenant." (microsoft-graph-docs issue 4018);
 * - ConsistencyLevel: eventual (advanced queries, $search): 400 Request_BadRequest "This request is
 *   not supported by the service" (microsoft-graph-docs issues 9477, 9856);
 * - $count (/users/$count, or $count=true): 400 Request_BadRequest "$count is not currently
 *   supported." (microsoft-graph-docs issue 10493).
 * Advanced operators (ne, not, endsWith) without the header fail as in any tenant (routes.ts).
 */
export function refuseInCustomerTenant(route: string, ctx: RouteContext, id: string): void {
  if (route === "users.delta") {
    throw new GraphFailure(
      400,
      "Request_UnsupportedQuery",
      "Change enumeration is not supported for requested tenant.",
    );
  }
  const eventual = String(ctx.headers["consistencylevel"] ?? "").toLowerCase() === "eventual";
  if (eventual || ctx.params.has("$search")) {
    throw new GraphFailure(400, "Request_BadRequest", "This request is not supported by the service");
  }
  if (ctx.params.has("$count") || (route === "user" && id === "$count")) {
    throw new GraphFailure(400, "Request_BadRequest", "$count is not currently supported.");
  }
}
