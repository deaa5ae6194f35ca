/** Named fixture builders for core and jobs tests: aJob(), aGraphUser(), aWpUser(), aMapEntry(). */
import { hashOf } from "../../src/core/hash";
import type { Job, MatchKey, MissingAction, RoleMode, UsernameRule } from "../../src/core/job";
import type { MapEntry } from "../../src/core/plan";
import { JOB_DEFAULTS } from "../../src/sync/jobs";
import type { GraphUser, WpUser } from "../../src/sync/ports";

const clone = <T>(value: T): T => structuredClone(value);

class JobBuilder {
  private readonly job: Job = { id: "staff", ...clone(JOB_DEFAULTS) } as Job;

  withId(id: string): this {
    this.job.id = id;
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
    this.job.match = keys;
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
  withProtectedRoles(...roles: string[]): this {
    this.job.protect.roles = roles;
    return this;
  }
  withProtectedUsers(...ids: number[]): this {
    this.job.protect.users = ids;
    return this;
  }
  build(): Job {
    return clone(this.job);
  }
}

export const aJob = (): JobBuilder => new JobBuilder();

class GraphUserBuilder {
  private readonly user: GraphUser = {
    id: "0b5f2c1e-9d7a-4f3b-8c2e-1a2b3c4d5e6f",
    accountEnabled: true,
    userType: "Member",
    mail: "Ann.Lee@contoso.com",
    userPrincipalName: "ann.lee@contoso.com",
    displayName: "Ann Lee",
    givenName: "Ann",
    surname: "Lee",
  };

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
  with(attribute: string, value: unknown): this {
    this.user[attribute] = value;
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
  withRoles(...roles: string[]): this {
    this.user.roles = roles;
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
  private readonly entry: MapEntry = { wpUserId: 42, hash: "0".repeat(64), state: "active", fields: {}, roles: null };

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
  build(): MapEntry {
    return clone(this.entry);
  }
}

export const aMapEntry = (): MapEntryBuilder => new MapEntryBuilder();
