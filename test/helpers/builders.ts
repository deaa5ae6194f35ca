/**
 * The tests' named fixture builders, one per shape: aJob(), aGraphUser(), aWpUser(), aMapEntry(),
 * aRun(), anItem(). Each starts from one set of defaults (a job: JOB_DEFAULTS with id "staff") and
 * changes it by small named steps; a test that needs another value says so where it builds.
 */
import { randomUUID } from "node:crypto";
import { hashOf } from "../../src/core/hash";
import type {
  Job,
  MatchKey,
  MissingAction,
  NetworkTarget,
  RoleMode,
  SourceMode,
  TriggerMode,
  UsernameRule,
} from "../../src/core/job";
import type { MapEntry } from "../../src/core/plan";
import { capabilitiesOf } from "../../src/core/privileges";
import {
  type ItemAction,
  type RunCounts,
  type RunItem,
  type RunState,
  type RunSummary,
  type RunTrigger,
  zeroCounts,
} from "../../src/core/runs";
import type { GraphUser, WpUser } from "../../src/core/users";
import { JOB_DEFAULTS } from "../../src/sync/jobs";

const clone = <T>(value: T): T => structuredClone(value);

/** A Standard Webhooks secret: "whsec_" + base64 of 32 bytes. */
export const TEST_WEBHOOK_SECRET = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;

/** The Entra object id of the numbered test user n. */
export function entraId(n: number): string {
  return `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
}

let jobCounter = 0;

class JobBuilder {
  private readonly job: Job = { id: "staff", ...clone(JOB_DEFAULTS) } as Job;

  withId(id: string): this {
    this.job.id = id;
    return this;
  }
  /** An id no other job of this process has (engine tests share one database per file). */
  withUniqueId(): this {
    this.job.id = `job${process.pid}_${++jobCounter}`;
    return this;
  }
  /** Writes to the site of this name (the jobs file's `sites`; "default": WP_*). */
  onSite(site: string): this {
    this.job.site = site;
    return this;
  }

  /** Reads the Entra tenant of this name (the jobs file's `sources`; "default": AZURE_*). */
  fromTenant(tenant: string): this {
    this.job.source.tenant = tenant;
    return this;
  }

  withTrigger(mode: TriggerMode, schedule: string | null = null, timezone = "UTC"): this {
    this.job.trigger = { mode, schedule, timezone };
    return this;
  }
  /** A multisite network target: all sites, the job's default role on each. */
  withNetwork(overrides: Partial<NetworkTarget> = {}): this {
    this.job.network = {
      sites: "all",
      defaultRole: this.job.roles.default,
      siteDefaults: [],
      groups: [],
      deleteFromNetwork: false,
      ...overrides,
    };
    return this;
  }

  /** A webhook signed with TEST_WEBHOOK_SECRET unless another secret is given. */
  withWebhook(url: string | null, secret: string = TEST_WEBHOOK_SECRET): this {
    this.job.webhook = url;
    this.job.webhookSecret = url === null ? null : secret;
    return this;
  }
  withSourceMode(mode: SourceMode): this {
    this.job.source.mode = mode;
    return this;
  }
  withPageSize(n: number): this {
    this.job.source.pageSize = n;
    return this;
  }
  /** source.notifications: Graph change notifications applied as notification runs. */
  withNotifications(): this {
    this.job.source.notifications = true;
    return this;
  }
  /** Scoping groups (source.groups). */
  withGroups(...groups: string[]): this {
    this.job.source.groups = groups;
    return this;
  }
  withAttributes(...attributes: string[]): this {
    this.job.source.attributes = attributes;
    return this;
  }
  withFields(fields: Record<string, string>): this {
    this.job.fields = fields;
    return this;
  }
  withField(field: string, expression: string): this {
    this.job.fields[field] = expression;
    return this;
  }
  withMatch(...keys: MatchKey[]): this {
    this.job.match.by = keys;
    return this;
  }
  withUsernameRule(rule: UsernameRule): this {
    this.job.username = rule;
    return this;
  }
  withRoleMode(mode: RoleMode): this {
    this.job.roles.mode = mode;
    return this;
  }
  withDefaultRole(role: string): this {
    this.job.roles.default = role;
    return this;
  }
  withRoleGroup(group: string, role: string): this {
    this.job.roles.groups.push({ group, role });
    return this;
  }
  withCreates(enabled: boolean): this {
    this.job.actions.create = enabled;
    return this;
  }
  withUpdates(enabled: boolean): this {
    this.job.actions.update = enabled;
    return this;
  }
  withMissing(missing: MissingAction, reassignTo: number | null = null): this {
    this.job.actions.missing = missing;
    this.job.actions.reassignTo = reassignTo;
    return this;
  }
  /** match.emailDomains: adoption by e-mail only within these domains. */
  withEmailDomains(...domains: string[]): this {
    this.job.match.emailDomains = domains;
    return this;
  }
  adoptingGuests(): this {
    this.job.match.adoptGuests = true;
    return this;
  }
  /** match.adoptUnverifiedEmails: customers are adopted by an address from mail or otherMails too. */
  adoptingUnverifiedEmails(): this {
    this.job.match.adoptUnverifiedEmails = true;
    return this;
  }
  /** roles.allowPrivileged: the job may grant roles that manage users or the site. */
  allowingPrivilegedRoles(): this {
    this.job.roles.allowPrivileged = true;
    return this;
  }
  withProtectedRoles(...roles: string[]): this {
    this.job.protect.roles = roles;
    return this;
  }
  withProtectedUsers(...ids: number[]): this {
    this.job.protect.users = ids;
    return this;
  }
  withSafety(maxDeleteFraction: number, maxDeleteCount: number): this {
    this.job.safety = { maxDeleteFraction, maxDeleteCount };
    return this;
  }
  /** A customer-tenant job with the defaults job-schema.ts gives one (no mapped e-mail, no UPN logins). */
  forCustomerTenant(): this {
    const { email: _derived, ...fields } = this.job.fields;
    Object.assign(this.job, { fields, username: "email" });
    this.job.match.by = ["entraId", "email"];
    this.job.source.tenantKind = "external";
    return this;
  }
  build(): Job {
    return clone(this.job);
  }
}

export const aJob = (): JobBuilder => new JobBuilder();

class GraphUserBuilder {
  private user: GraphUser = {
    id: "0b5f2c1e-9d7a-4f3b-8c2e-1a2b3c4d5e6f",
    accountEnabled: true,
    userType: "Member",
    mail: "Ann.Lee@contoso.com",
    userPrincipalName: "ann.lee@contoso.com",
    displayName: "Ann Lee",
    givenName: "Ann",
    surname: "Lee",
  };

  /** The numbered user n (entraId(n), user<n>@contoso.com, department Sales), in place of Ann Lee. */
  numbered(n: number): this {
    this.user = {
      id: entraId(n),
      accountEnabled: true,
      userType: "Member",
      displayName: `User ${n}`,
      givenName: "User",
      surname: String(n),
      mail: `user${n}@contoso.com`,
      userPrincipalName: `user${n}@contoso.com`,
      department: "Sales",
    };
    return this;
  }
  withId(id: string): this {
    this.user.id = id;
    return this;
  }
  withMail(mail: string | null): this {
    this.user.mail = mail;
    return this;
  }
  withUpn(upn: string | null): this {
    this.user.userPrincipalName = upn;
    return this;
  }
  withDisplayName(name: string | null): this {
    this.user.displayName = name;
    return this;
  }
  withGivenName(name: string | null): this {
    this.user.givenName = name;
    return this;
  }
  withSurname(name: string | null): this {
    this.user.surname = name;
    return this;
  }
  /** A B2B guest: #EXT# UPN in the host tenant, mail at home. */
  asGuest(): this {
    this.user.userType = "Guest";
    this.user.userPrincipalName = "ann.lee_fabrikam.com#EXT#@contoso.onmicrosoft.com";
    this.user.mail = "ann.lee@fabrikam.com";
    return this;
  }
  /**
   * A customer of an External ID / B2C tenant: generated UPN, no mail, and the given sign-in
   * identity (`federated` with a social issuer, or a local `emailAddress` / `userName`).
   */
  asCustomer(
    signInType: "emailAddress" | "userName" | "federated",
    issuerAssignedId: string,
    issuer = "contosocustomers.onmicrosoft.com",
  ): this {
    this.user.userPrincipalName = `${this.user.id}@contosocustomers.onmicrosoft.com`;
    this.user.mail = null;
    this.user.otherMails = [];
    this.user.identities = [
      { signInType, issuer, issuerAssignedId },
      {
        signInType: "userPrincipalName",
        issuer: "contosocustomers.onmicrosoft.com",
        issuerAssignedId: this.user.userPrincipalName,
      },
    ];
    return this;
  }
  with(attribute: string, value: unknown): this {
    this.user[attribute] = value;
    return this;
  }
  /** Several attributes at once. */
  withValues(values: Partial<GraphUser>): this {
    Object.assign(this.user, values);
    return this;
  }
  build(): GraphUser {
    return clone(this.user);
  }
}

export const aGraphUser = (): GraphUserBuilder => new GraphUserBuilder();

class WpUserBuilder {
  private readonly user: WpUser = {
    id: 42,
    username: "ann.lee@contoso.com",
    email: "ann.lee@contoso.com",
    name: "Ann Lee",
    first_name: "Ann",
    last_name: "Lee",
    nickname: "ann.lee@contoso.com",
    description: "",
    url: "",
    roles: ["subscriber"],
    capabilities: capabilitiesOf(["subscriber"]),
    meta: {},
  };

  withId(id: number): this {
    this.user.id = id;
    return this;
  }
  withUsername(username: string): this {
    this.user.username = username;
    return this;
  }
  withEmail(email: string): this {
    this.user.email = email;
    return this;
  }
  withName(name: string): this {
    this.user.name = name;
    return this;
  }
  withFirstName(name: string): this {
    this.user.first_name = name;
    return this;
  }
  /** Capabilities follow, as WordPress's core roles give them. */
  withRoles(...roles: string[]): this {
    this.user.roles = roles;
    this.user.capabilities = capabilitiesOf(roles);
    return this;
  }
  withCapabilities(...capabilities: string[]): this {
    this.user.capabilities = capabilities;
    return this;
  }
  withMeta(key: string, value: string): this {
    this.user.meta[key] = value;
    return this;
  }
  build(): WpUser {
    return clone(this.user);
  }
}

export const aWpUser = (): WpUserBuilder => new WpUserBuilder();

class MapEntryBuilder {
  private readonly entry: MapEntry = {
    wpUserId: 42,
    hash: "0".repeat(64),
    state: "active",
    fields: {},
    roles: null,
    granted: [],
  };

  withWpUserId(id: number): this {
    this.entry.wpUserId = id;
    return this;
  }
  /** The hash planUser computes for these desired fields and resolved roles (so the user is unchanged). */
  writtenAs(fields: Record<string, string>, roles: string[] | undefined): this {
    this.entry.hash = hashOf(fields, roles);
    this.entry.fields = { ...fields };
    this.entry.roles = roles ?? null;
    return this;
  }
  withHash(hash: string): this {
    this.entry.hash = hash;
    return this;
  }
  deactivated(): this {
    this.entry.state = "deactivated";
    return this;
  }
  /** Roles the service gave the user (MapEntry.granted). */
  withGranted(...roles: string[]): this {
    this.entry.granted = roles;
    return this;
  }
  build(): MapEntry {
    return clone(this.entry);
  }
}

export const aMapEntry = (): MapEntryBuilder => new MapEntryBuilder();

/** A clock for runs and items: each one built is a second later than the one before. */
let clock = Date.parse("2025-03-01T00:00:00Z");
function nextTime(): string {
  clock += 1000;
  return new Date(clock).toISOString();
}

/** A run of job "staff" that has just started listing: nothing counted, nothing finished. */
class RunBuilder {
  private readonly run: RunSummary;

  constructor() {
    const at = nextTime();
    this.run = {
      id: randomUUID(),
      job: "staff",
      state: "listing",
      trigger: "link",
      dryRun: false,
      mode: "full",
      step: 0,
      counts: zeroCounts(),
      totalEstimate: null,
      createdAt: at,
      startedAt: at,
      finishedAt: null,
      progressedAt: at,
      lastError: null,
      failure: null,
      acknowledgedAt: null,
    };
  }

  forJob(job: string): this {
    this.run.job = job;
    return this;
  }
  withId(id: string): this {
    this.run.id = id;
    return this;
  }
  withState(state: RunState): this {
    this.run.state = state;
    return this;
  }
  /** Ended in this state a minute after it started. */
  finished(state: "completed" | "failed" | "cancelled" = "completed"): this {
    const at = new Date(Date.parse(this.run.startedAt ?? this.run.createdAt) + 60_000).toISOString();
    this.run.state = state;
    this.run.finishedAt = at;
    this.run.progressedAt = at;
    return this;
  }
  withTrigger(trigger: RunTrigger): this {
    this.run.trigger = trigger;
    return this;
  }
  withStep(step: number): this {
    this.run.step = step;
    return this;
  }
  /** Counters changed from zero; the others stay 0. */
  withCounts(counts: Partial<RunCounts>): this {
    Object.assign(this.run.counts, counts);
    return this;
  }
  withTotalEstimate(total: number | null): this {
    this.run.totalEstimate = total;
    return this;
  }
  withLastError(message: string | null): this {
    this.run.lastError = message;
    return this;
  }
  /** Any other fields (times, mode, dryRun). */
  with(values: Partial<RunSummary>): this {
    Object.assign(this.run, values);
    return this;
  }
  build(): RunSummary {
    return clone(this.run);
  }
}

export const aRun = (): RunBuilder => new RunBuilder();

/** A created, applied ("ok") item for WordPress user 7, someone@example.org. */
class ItemBuilder {
  private readonly item: RunItem = {
    id: randomUUID(),
    entraId: randomUUID(),
    wpUserId: 7,
    action: "create",
    status: "ok",
    diff: {},
    email: "someone@example.org",
    displayName: "Someone",
    reason: null,
    error: null,
    createdAt: nextTime(),
  };

  withAction(action: ItemAction): this {
    this.item.action = action;
    return this;
  }
  withWpUserId(id: number | null): this {
    this.item.wpUserId = id;
    return this;
  }
  withStatus(status: RunItem["status"]): this {
    this.item.status = status;
    return this;
  }
  /** A removal awaiting approval: the action, status "pending" and why. */
  pendingRemoval(action: "deactivate" | "delete", reason = "no longer in the directory"): this {
    this.item.action = action;
    this.item.status = "pending";
    this.item.reason = reason;
    return this;
  }
  withEmail(email: string | null): this {
    this.item.email = email;
    return this;
  }
  withDisplayName(name: string | null): this {
    this.item.displayName = name;
    return this;
  }
  withDiff(diff: RunItem["diff"]): this {
    this.item.diff = diff;
    return this;
  }
  withReason(reason: string | null): this {
    this.item.reason = reason;
    return this;
  }
  withError(error: string | null): this {
    this.item.error = error;
    return this;
  }
  build(): RunItem {
    return clone(this.item);
  }
}

export const anItem = (): ItemBuilder => new ItemBuilder();
