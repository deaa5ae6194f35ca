/**
 * The simulated directory. Base users are generated on demand (users.ts); only mutated, added
 * and deleted users are stored, so 100,000 users cost almost nothing. Every mutation appends to
 * a change log that /users/delta reads, so tests can mutate the tenant and see only the changes.
 */
import { type CustomerTraits, generateCustomer } from "./customer";
import { generateUser, indexOfId, mix32, type Population, type SimUser, userId } from "./users";

export interface SimGroup {
  id: string;
  displayName: string;
  /** Direct members: user indices and nested group ids. */
  userIndices: number[];
  groupIds: string[];
}

export type RemovedReason = "changed" | "deleted";

interface Change {
  seq: number;
  index: number;
  /** Changed property names; null means the whole object (created or restored). */
  props: string[] | null;
  removed?: RemovedReason;
}

export interface TenantSpec extends Population {
  groups: number;
  /** Set: a customer tenant (External ID, B2C), with the rules of customer.ts. */
  customer?: CustomerTraits;
}

export class SimTenant {
  private readonly population: Population & { customer?: CustomerTraits };
  private slots: number;
  private readonly overrides = new Map<number, SimUser>();
  private readonly gone = new Map<number, RemovedReason>();
  private readonly changes: Change[] = [];
  readonly groups = new Map<string, SimGroup>();
  /** Profile photos by user id (the same bytes for every size Graph stores). */
  readonly photos = new Map<string, { bytes: Uint8Array; contentType: string }>();
  /** The app registration's application permissions (admin-consented); tests grant or revoke. */
  readonly permissions = new Set(["User.Read.All", "GroupMember.Read.All"]);
  /** Bumped by every mutation; delta tokens remember the value they were issued at. */
  seq = 0;
  /** Told of every change to a user (the simulator's change notifications listen here). */
  readonly userListeners = new Set<(id: string, changeType: "updated" | "deleted") => void>();
  /** Told of every change to a group's direct members: the member's id, and whether it left. */
  readonly groupListeners = new Set<(groupId: string, memberId: string, removed: boolean) => void>();

  constructor(spec: TenantSpec) {
    this.population = { ...spec };
    this.slots = spec.users;
    for (let k = 0; k < spec.groups; k++) this.generateGroup(k, spec.groups);
  }

  /** The customer-tenant traits when this is a customer tenant, else undefined. */
  get customer(): CustomerTraits | undefined {
    return this.population.customer;
  }

  private generate(population: Population & { customer?: CustomerTraits }, index: number): SimUser {
    const { customer } = population;
    return customer ? generateCustomer({ ...population, customer }, index) : generateUser(population, index);
  }

  get domain(): string {
    return this.population.domain;
  }

  /** Upper bound of user indices (live or deleted); scans run over 0..slotCount-1. */
  get slotCount(): number {
    return this.slots;
  }

  get userCount(): number {
    return this.slots - this.gone.size;
  }

  userAt(index: number): SimUser | undefined {
    if (index < 0 || index >= this.slots || this.gone.has(index)) return undefined;
    return this.overrides.get(index) ?? this.generate(this.population, index);
  }

  indexOf(id: string): number | undefined {
    const index = indexOfId(id);
    if (index === undefined || index >= this.slots) return undefined;
    return this.userIdAt(index) === id ? index : undefined;
  }

  /** The id a slot has or had (delta reports deleted users by id). */
  userIdAt(index: number): string {
    return this.overrides.get(index)?.id ?? userId(this.population.seed, index);
  }

  getUser(id: string): SimUser | undefined {
    const index = this.indexOf(id);
    return index === undefined ? undefined : this.userAt(index);
  }

  /** Every live user, in index order (the order /users pages in). */
  *users(): Generator<SimUser> {
    for (let i = 0; i < this.slots; i++) {
      const user = this.userAt(i);
      if (user) yield user;
    }
  }

  addUser(fields: Partial<Omit<SimUser, "id">> = {}): SimUser {
    const index = this.slots++;
    const user = { ...this.generate({ ...this.population, users: index + 1 }, index), ...fields };
    this.overrides.set(index, user);
    this.record(index, null);
    return user;
  }

  updateUser(id: string, patch: Partial<Omit<SimUser, "id">>): SimUser {
    const index = this.mustIndex(id);
    const user = { ...this.userAt(index)!, ...patch };
    this.overrides.set(index, user);
    this.record(index, Object.keys(patch));
    return user;
  }

  disableUser(id: string): SimUser {
    return this.updateUser(id, { accountEnabled: false });
  }

  /** Soft delete (restorable, delta reason "changed") unless permanent (reason "deleted"). */
  deleteUser(id: string, options: { permanent?: boolean } = {}): void {
    const index = this.mustIndex(id);
    const reason: RemovedReason = options.permanent ? "deleted" : "changed";
    this.gone.set(index, reason);
    this.record(index, null, reason);
  }

  addGroup(displayName: string, members: { users?: string[]; groups?: string[] } = {}): SimGroup {
    const id = userId(mix32(this.population.seed, 0x6709), 0x100000 + this.groups.size);
    const group: SimGroup = { id, displayName, userIndices: [], groupIds: [] };
    this.groups.set(id, group);
    for (const member of [...(members.users ?? []), ...(members.groups ?? [])]) this.addToGroup(id, member);
    return group;
  }

  /** Adds a user or a group (nesting) as a direct member. */
  addToGroup(groupId: string, memberId: string): void {
    const group = this.mustGroup(groupId);
    if (this.groups.has(memberId)) {
      if (!group.groupIds.includes(memberId)) group.groupIds.push(memberId);
    } else {
      const index = this.mustIndex(memberId);
      if (!group.userIndices.includes(index)) group.userIndices.push(index);
    }
    for (const listener of this.groupListeners) listener(groupId, memberId, false);
  }

  /** Removes a direct member (a user or a nested group). */
  removeFromGroup(groupId: string, memberId: string): void {
    const group = this.mustGroup(groupId);
    group.groupIds = group.groupIds.filter((id) => id !== memberId);
    const index = this.indexOf(memberId);
    group.userIndices = group.userIndices.filter((i) => i !== index);
    for (const listener of this.groupListeners) listener(groupId, memberId, true);
  }

  private mustGroup(groupId: string): SimGroup {
    const group = this.groups.get(groupId);
    if (!group) throw new Error(`no group ${groupId}`);
    return group;
  }

  /** Users and groups reachable from the group, each once, users of a level before its subgroups. */
  transitiveMembers(groupId: string): Array<{ kind: "user"; user: SimUser } | { kind: "group"; group: SimGroup }> {
    const out: Array<{ kind: "user"; user: SimUser } | { kind: "group"; group: SimGroup }> = [];
    const seenUsers = new Set<number>();
    const seenGroups = new Set<string>([groupId]);
    const queue = [groupId];
    while (queue.length > 0) {
      const group = this.groups.get(queue.shift()!);
      if (!group) continue;
      for (const index of group.userIndices) {
        const user = this.userAt(index);
        if (user && !seenUsers.has(index)) {
          seenUsers.add(index);
          out.push({ kind: "user", user });
        }
      }
      for (const nestedId of group.groupIds) {
        const nested = this.groups.get(nestedId);
        if (nested && !seenGroups.has(nestedId)) {
          seenGroups.add(nestedId);
          out.push({ kind: "group", group: nested });
          queue.push(nestedId);
        }
      }
    }
    return out;
  }

  isTransitiveMember(userIdValue: string, groupId: string): boolean {
    return this.transitiveMembers(groupId).some((m) => m.kind === "user" && m.user.id === userIdValue);
  }

  /** Per user, what changed after `since` up to `upTo` (inclusive), in index order. */
  changesBetween(
    since: number,
    upTo: number,
  ): Array<{ index: number; props: Set<string> | null; removed?: RemovedReason }> {
    const byIndex = new Map<number, { index: number; props: Set<string> | null; removed?: RemovedReason }>();
    for (const change of this.changes) {
      if (change.seq <= since || change.seq > upTo) continue;
      const entry = byIndex.get(change.index) ?? { index: change.index, props: new Set<string>() };
      if (change.removed) entry.removed = change.removed;
      else if (change.props === null) {
        entry.props = null;
        delete entry.removed;
      } else if (entry.props) for (const p of change.props) entry.props.add(p);
      byIndex.set(change.index, entry);
    }
    return [...byIndex.values()].sort((a, b) => a.index - b.index);
  }

  private record(index: number, props: string[] | null, removed?: RemovedReason): void {
    this.seq++;
    this.changes.push({ seq: this.seq, index, props, ...(removed ? { removed } : {}) });
    // Graph reports creations and soft deletions of directory objects as "updated".
    const changeType = removed === "deleted" ? "deleted" : "updated";
    for (const listener of this.userListeners) listener(this.userIdAt(index), changeType);
  }

  private mustIndex(id: string): number {
    const index = this.indexOf(id);
    if (index === undefined || this.gone.has(index)) throw new Error(`no user ${id}`);
    return index;
  }

  /** Group k holds every (k+2)th user; with two or more groups the first nests the second. */
  private generateGroup(k: number, total: number): void {
    const group = this.addGroup(k === 0 ? "All Staff" : `Team ${k}`);
    for (let i = k % 2; i < this.population.users; i += k + 2) group.userIndices.push(i);
    if (k === 1 && total >= 2) this.groups.values().next().value?.groupIds.push(group.id);
  }
}
