/** A declared sync job, as validated from SYNC_JOBS_FILE or SYNC_* variables (see DESIGN.md "Jobs"). */

export type TriggerMode = "manual" | "link-start" | "link-start-continue" | "schedule";
export type SourceMode = "full" | "delta";
/** "external": an Entra External ID or Azure AD B2C customer tenant (src/core/customer.ts). */
export type TenantKind = "workforce" | "external";
export type MatchKey = "entraId" | "email" | "username";
/** How a new WordPress login is derived: the whole UPN, the UPN before "@", or the e-mail. */
export type UsernameRule = "upn" | "upnPrefix" | "email";
export type RoleMode = "replace" | "add" | "skip";
export type MissingAction = "none" | "deactivate" | "delete";

export interface Job {
  id: string;
  trigger: { mode: TriggerMode; schedule: string | null; timezone: string };
  source: {
    mode: SourceMode;
    filter: string | null;
    groups: string[];
    pageSize: number;
    attributes: string[];
    tenantKind: TenantKind;
    /** Near-real-time: Microsoft Graph change notifications applied as runs of kind "notification". */
    notifications: boolean;
  };
  match: MatchKey[];
  username: UsernameRule;
  /**
   * WordPress field -> Graph expression. Fields: email, first_name, last_name, name, nickname,
   * description, url, or meta.<key>. Expression: Graph attribute names joined by "|" (first non-empty wins).
   */
  fields: Record<string, string>;
  roles: { mode: RoleMode; default: string; groups: Array<{ group: string; role: string }> };
  actions: { create: boolean; update: boolean; missing: MissingAction; reassignTo: number | null };
  protect: { roles: string[]; users: number[] };
  safety: { maxDeleteFraction: number; maxDeleteCount: number };
  /** Optional URL that receives a JSON event when a run completes, fails or awaits approval. */
  webhook: string | null;
}

/**
 * Which of a job's link tokens still count: tokens issued (iat, seconds) before validFrom were
 * revoked. Links minted before revocation cut-offs existed carry a generation instead, and count
 * only while it equals the job's legacyGeneration (frozen since; revoking moves validFrom only).
 */
export interface LinkCutoff {
  /** Seconds since the epoch; 0 while the job's links were never revoked. */
  validFrom: number;
  legacyGeneration: number;
}
