/**
 * The Microsoft Graph application permissions a job needs, from what it reads: named in the
 * table in docs/jobs.md and in the start-up check's message when Graph refuses the job's query.
 */
import type { Job } from "./job";
import { selectFor } from "./mapping";

export interface Permission {
  permission: string;
  /** What of the job needs it, for people reading the message. */
  for: string;
}

export function graphPermissions(job: Job): Permission[] {
  const select = selectFor(job).map((name) => name.toLowerCase());
  const needed: Permission[] = [
    {
      permission: "User.Read.All",
      for: "users, their manager, on-premises extension attributes and directory schema extensions",
    },
  ];
  if (job.source.groups.length > 0 || job.roles.groups.length > 0) {
    needed.push({ permission: "GroupMember.Read.All", for: "source.groups and roles.groups" });
  }
  // Not part of User.Read.All: custom security attributes have their own permission (and, for the
  // app, an Attribute Assignment Reader role assignment on the attribute sets).
  if (select.includes("customsecurityattributes")) {
    needed.push({ permission: "CustomSecAttributeAssignment.Read.All", for: "customSecurityAttributes" });
  }
  return needed;
}

export function describePermissions(permissions: Permission[]): string {
  return permissions.map((p) => `${p.permission} (${p.for})`).join(", ");
}
