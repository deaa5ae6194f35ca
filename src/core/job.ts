/** A declared sync job, as validated from SYNC_JOBS_FILE or SYNC_* variables (see DESIGN.md "Jobs"). */

export type TriggerMode = "manual" | "link-start" | "link-start-continue" | "schedule";
export type SourceMode = "full" | "delta";
/** Where users come from: read from Microsoft Graph, or pushed by an identity provider over SCIM 2.0. */
export type SourceKind = "graph" | "scim";
/** "external": an Entra External ID or Azure AD B2C customer tenant (src/core/customer.ts). */
export type TenantKind = "workforce" | "external";
export type MatchKey = "entraId" | "email" | "username";
/** How a new WordPress login is derived: the whole UPN, the UPN before "@", or the e-mail. */
export type UsernameRule = "upn" | "upnPrefix" | "email";
export type RoleMode = "replace" | "add" | "skip";
export type MissingAction = "none" | "deactivate" | "delete";

/** The name of the site and of the source the environment defines (WP_*, AZURE_*). */
export const DEFAULT_TARGET = "default";

export interface Job {
  id: string;
  /**
   * The WordPress site the job writes to: a name from the jobs file's `sites`, or "default" (the
   * site of WP_URL). Every run, link, provisioning and SCIM write of the job goes there.
   */
  site: string;
  trigger: { mode: TriggerMode; schedule: string | null; timezone: string };
  source: {
    kind: SourceKind;
    /** The Entra tenant read: a name from the jobs file's `sources`, or "default" (AZURE_*); unused by SCIM jobs. */
    tenant: string;
    mode: SourceMode;
    filter: string | null;
    groups: string[];
    pageSize: number;
    attributes: string[];
    /** Entra-style scoping filters, applied to what Graph returns: OR-ed filters of AND-ed clauses. */
    scopingFilters: ScopingClause[][];
    tenantKind: TenantKind;
    /** Near-real-time: Microsoft Graph change notifications applied as runs of kind "notification". */
    notifications: boolean;
  };
  /**
   * How an Entra user finds a WordPress account it is not mapped to yet: `by` in order. Accounts
   * found by e-mail or user name are adopted only within emailDomains (e-mail; empty: any domain),
   * never for guests unless adoptGuests, for customers (tenantKind "external") only on the address
   * they sign in with unless adoptUnverifiedEmails, and never when they hold privileges
   * (core/privileges.ts).
   */
  match: { by: MatchKey[]; emailDomains: string[]; adoptGuests: boolean; adoptUnverifiedEmails: boolean };
  /** A rule, or an expression in Entra's syntax (SelectUniqueValue tries its rules against WordPress). */
  username: UsernameRule | string;
  /**
   * WordPress field -> Graph expression. Fields: email, first_name, last_name, name, nickname,
   * description, url, or meta.<key>. Mapping: Graph attribute names joined by "|" (first non-empty
   * wins) or an expression in Entra's attribute-mapping syntax (src/core/expression.ts).
   */
  fields: Record<string, string>;
  /** allowPrivileged: the job may grant roles that manage users or the site (core/privileges.ts). */
  roles: { mode: RoleMode; default: string; groups: Array<{ group: string; role: string }>; allowPrivileged: boolean };
  actions: { create: boolean; update: boolean; missing: MissingAction; reassignTo: number | null };
  /** administrator is protected whatever roles says, unless the job itself granted it (core/plan.ts). */
  protect: { roles: string[]; users: number[] };
  safety: { maxDeleteFraction: number; maxDeleteCount: number };
  /** Optional URL that receives a JSON event when a run completes, fails or awaits approval. */
  webhook: string | null;
  /** The job's site is a multisite network: the sites and per-site roles (null: a single site). */
  network: NetworkTarget | null;
  /** The Standard Webhooks secret ("whsec_" + base64) the events are signed with; required with webhook. */
  webhookSecret: string | null;
  /** Profile photos from Graph as WordPress avatars (needs the companion plugin); off by default. */
  photos: boolean;
  /**
   * Every run of the job plans and records its items, and writes nothing (SCIM jobs only: a Graph
   * job's runs are dry when asked for). A SCIM job leaving it catches up (db/scim.ts queueAfterDryRun).
   */
  dryRun: boolean;
}

/**
 * Which of a job's link tokens still count: tokens issued (iat, seconds) before validFrom were
 * revoked. Links minted before revocation cut-offs existed carry a generation instead, and count
 * only while it equals the job's legacyGeneration (frozen since; revoking moves validFrom only).
 */
export interface LinkCutoff {
  /** Seconds since the epoch, fractional; 0 while the job's links were never revoked. Tokens issued before it are refused. */
  validFrom: number;
  legacyGeneration: number;
}

/** Entra-style scoping filter operators (src/core/scoping.ts evaluates them). */
export const SCOPING_OPERATORS = [
  "EQUALS",
  "NOT_EQUALS",
  "IS_TRUE",
  "IS_FALSE",
  "IS_NULL",
  "IS_NOT_NULL",
  "REGEX_MATCH",
  "NOT_REGEX_MATCH",
  "GREATER_THAN",
  "GREATER_THAN_OR_EQUALS",
  "LESS_THAN",
  "LESS_THAN_OR_EQUALS",
  "INCLUDES",
  "EXCLUDES",
] as const;
export type ScopingOperator = (typeof SCOPING_OPERATORS)[number];

export interface ScopingClause {
  attribute: string;
  operator: ScopingOperator;
  /** null for the operators that take none (IS TRUE, IS NULL, ...). */
  value: string | null;
}

/** A multisite network target (rules in ./network.ts). */
/** A site of a job's network target: its path ("/hr/", the main site is "/") or its blog id. */
export type SiteSelector = string | number;

export interface NetworkTarget {
  /** "all": every site of the network, also sites created after the job was declared. */
  sites: "all" | SiteSelector[];
  /** The role on every selected site without an entry in siteDefaults; "" = member without a role. */
  defaultRole: string;
  /** Per-site default role (selector -> role; "" = member without a role). */
  siteDefaults: Array<{ site: SiteSelector; role: string }>;
  /** group -> (site, role); on a site, the first group the user is in wins, else the site's default. */
  groups: Array<{ group: string; site: SiteSelector; role: string }>;
  /** With actions.missing "delete": true deletes leavers from the network, false only removes memberships. */
  deleteFromNetwork: boolean;
}
