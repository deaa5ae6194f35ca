/**
 * The engine's test harness: a real PostgreSQL database (one per test file), an in-memory Graph
 * directory faithful to the Directory port (paging by nextLink, delta with deltaLink and @removed,
 * expiring page and delta tokens, group members), the fake WordPress, and the service.
 */
import { UpstreamError, type UpstreamKind } from "../../src/core/errors";
import type { Job } from "../../src/core/job";
import type { RunCounts, RunSummary } from "../../src/core/runs";
import type { GraphUser } from "../../src/core/users";
import type { Database } from "../../src/db/pool";
import { type EngineService, makeSyncService, type SyncServiceDeps } from "../../src/sync/engine";
import type { Budget, Directory, UsersPage, UsersQuery } from "../../src/sync/ports";
import { FakeSite } from "../../tools/fake-wordpress";
import { aGraphUser, aJob, entraId } from "./builders";
import { countsFromItems, silentLogger } from "./db";

interface Tracked {
  user: GraphUser;
  version: number;
  deleted: boolean;
}

/**
 * In-memory Entra. Links are opaque strings carrying the listing's position and the token
 * generation; expirePageTokens/expireDeltaTokens make older ones fail as Graph does.
 */
export class FakeDirectory implements Directory {
  pageSize: number | null = null;
  /** Every users-page request: the cursor, "first" for null. */
  readonly pageFetches: string[] = [];
  groupFetches = 0;
  /** Every fetchUsersById request: the ids asked for. */
  readonly byIdFetches: string[][] = [];
  private readonly tracked = new Map<string, Tracked>();
  private readonly groups = new Map<string, string[]>();
  private version = 0;
  private pageGeneration = 0;
  private deltaGeneration = 0;
  private failures: UpstreamKind[] = [];

  withUsers(from: number, to: number, overrides: Partial<GraphUser> = {}): this {
    for (let n = from; n <= to; n++) this.put(aGraphUser().numbered(n).withValues(overrides).build());
    return this;
  }

  put(user: GraphUser): this {
    this.tracked.set(user.id, { user, version: ++this.version, deleted: false });
    return this;
  }

  /**
   * Adds a user at the front of the listing order: Graph's order is its own, so a user created
   * while a listing is under way can land on a page the listing has already passed.
   */
  putFirst(user: GraphUser): this {
    const rest = [...this.tracked.entries()];
    this.tracked.clear();
    this.tracked.set(user.id, { user, version: ++this.version, deleted: false });
    for (const [id, entry] of rest) this.tracked.set(id, entry);
    return this;
  }

  update(n: number, changes: Partial<GraphUser>): this {
    const entry = this.tracked.get(entraId(n))!;
    return this.put({ ...entry.user, ...changes });
  }

  remove(n: number): this {
    return this.removeId(entraId(n));
  }
  removeId(id: string): this {
    const entry = this.tracked.get(id)!;
    entry.deleted = true;
    entry.version = ++this.version;
    return this;
  }

  withGroup(groupId: string, members: number[]): this {
    this.groups.set(groupId, members.map(entraId));
    return this;
  }

  expirePageTokens(): void {
    this.pageGeneration++;
  }

  expireDeltaTokens(): void {
    this.deltaGeneration++;
  }

  /** The next n Graph calls fail with this kind (as the real directory reports them after retries). */
  failNext(n: number, kind: UpstreamKind): void {
    for (let i = 0; i < n; i++) this.failures.push(kind);
  }

  async fetchUsersPage(query: UsersQuery, cursor: string | null, _budget: Budget): Promise<UsersPage> {
    this.pageFetches.push(cursor ?? "first");
    await this.maybeFail();
    const size = this.pageSize ?? query.pageSize;
    let since = 0;
    let at = this.version;
    let skip = 0;
    let delta = query.mode === "delta";
    if (cursor?.startsWith("fake:delta?")) {
      const link = new URLSearchParams(cursor.slice("fake:delta?".length));
      if (Number(link.get("gen")) !== this.deltaGeneration) {
        throw new UpstreamError("The delta token has expired", "graph", "delta-expired", { status: 410 });
      }
      since = Number(link.get("since"));
      delta = true;
    } else if (cursor?.startsWith("fake:page?")) {
      const link = new URLSearchParams(cursor.slice("fake:page?".length));
      if (Number(link.get("gen")) !== this.pageGeneration) {
        throw new UpstreamError("Directory_ExpiredPageToken", "graph", "page-expired", { status: 400 });
      }
      since = Number(link.get("since"));
      at = Number(link.get("at"));
      skip = Number(link.get("skip"));
      delta = link.get("delta") === "1";
    }
    // Full: everyone not deleted. Delta: what changed after `since` (deleted ones as removed).
    const listed = [...this.tracked.values()].filter((t) =>
      delta ? t.version > since && (since > 0 || !t.deleted) : !t.deleted,
    );
    const slice = listed.slice(skip, skip + size);
    const more = skip + size < listed.length;
    const params = new URLSearchParams({
      since: String(since),
      at: String(at),
      skip: String(skip + size),
      delta: delta ? "1" : "0",
      gen: String(this.pageGeneration),
    });
    return {
      users: slice.filter((t) => !t.deleted && t.user.accountEnabled !== false).map((t) => ({ ...t.user })),
      removed: slice.filter((t) => t.deleted || t.user.accountEnabled === false).map((t) => t.user.id),
      nextLink: more ? `fake:page?${params}` : null,
      deltaLink: !more && delta ? `fake:delta?since=${at}&gen=${this.deltaGeneration}` : null,
      totalCount: null,
    };
  }

  /** The job's filter is not evaluated here: every id the fake knows and that is enabled is returned. */
  async fetchUsersById(_query: UsersQuery, ids: string[], _budget: Budget): Promise<UsersPage> {
    this.byIdFetches.push([...ids]);
    await this.maybeFail();
    const live = ids
      .map((id) => this.tracked.get(id))
      .filter((t) => t && !t.deleted && t.user.accountEnabled !== false);
    const users = live.map((t) => ({ ...t!.user }));
    const present = new Set(users.map((user) => user.id));
    return { users, removed: ids.filter((id) => !present.has(id)), nextLink: null, deltaLink: null, totalCount: null };
  }

  async fetchGroupMembersPage(
    groupId: string,
    cursor: string | null,
    _budget: Budget,
  ): Promise<{ userIds: string[]; nextLink: string | null }> {
    this.groupFetches++;
    await this.maybeFail();
    const members = this.groups.get(groupId) ?? [];
    const skip = cursor ? Number(cursor.split("=")[1]) : 0;
    const size = 3;
    return {
      userIds: members.slice(skip, skip + size),
      nextLink: skip + size < members.length ? `fake:members?skip=${skip + size}` : null,
    };
  }

  async fetchUser(id: string): Promise<GraphUser | null> {
    await this.maybeFail();
    const t = this.tracked.get(id);
    return t && !t.deleted ? { ...t.user } : null;
  }

  async userGroups(id: string, groupIds: string[]): Promise<string[]> {
    await this.maybeFail();
    return groupIds.filter((g) => this.groups.get(g)?.includes(id));
  }

  /** Profile photos by user id; photoFetches counts the requests, as Graph would see them. */
  readonly photos = new Map<string, Uint8Array>();
  photoFetches = 0;

  async fetchPhoto(id: string): Promise<Uint8Array | null> {
    await this.maybeFail();
    this.photoFetches++;
    return this.photos.get(id) ?? null;
  }

  private async maybeFail(): Promise<void> {
    await Promise.resolve();
    const kind = this.failures.shift();
    if (kind) throw new UpstreamError(`injected ${kind} failure`, "graph", kind, { status: 503 });
  }
}

export interface Harness<D extends Directory = FakeDirectory> {
  db: Database;
  job: Job;
  directory: D;
  site: FakeSite;
  service: EngineService;
  /** Another replica on the same database (its own lease owner id). */
  replica(overrides?: Partial<SyncServiceDeps>): EngineService;
  /** Advances the run until it is terminal or awaits approval; returns the last summary. */
  drive(runId: string, service?: EngineService): Promise<RunSummary>;
  /** Starts a run and drives it. */
  sync(options?: { dryRun?: boolean }): Promise<RunSummary>;
  /** The counters recomputed from run_items with one group-by. */
  countsFromItems(runId: string): Promise<RunCounts>;
  userMap(): Promise<Array<{ entra_id: string; wp_user_id: number; state: string }>>;
}

export function makeHarness<D extends Directory = FakeDirectory>(
  db: Database,
  options: { job?: Job; directory?: D; site?: FakeSite } & Omit<Partial<SyncServiceDeps>, "directory" | "site"> = {},
): Harness<D> {
  const job = options.job ?? aJob().withUniqueId().withPageSize(10).withSafety(1, 1000).build();
  const directory = options.directory ?? (new FakeDirectory() as Directory as D);
  const site = options.site ?? new FakeSite();
  const deps = (overrides: Partial<SyncServiceDeps> = {}): SyncServiceDeps => ({
    db,
    directory,
    site,
    jobs: [job],
    logger: silentLogger,
    stepBudgetMs: 10_000,
    maxFailedSteps: 3,
    ...options,
    ...overrides,
  });
  const service = makeSyncService(deps());
  const harness: Harness<D> = {
    db,
    job,
    directory,
    site,
    service,
    replica: (overrides) => makeSyncService(deps(overrides)),
    async drive(runId, via = service) {
      for (let i = 0; i < 10_000; i++) {
        const result = await via.advanceRun(runId);
        const state = result.run!.state;
        if (["completed", "failed", "cancelled", "awaiting_approval"].includes(state)) return result.run!;
      }
      throw new Error("run did not settle in 10000 steps");
    },
    async sync(syncOptions = {}) {
      const start = await service.startRun(job.id, { trigger: "manual", dryRun: syncOptions.dryRun });
      return harness.drive(start.run.id);
    },
    countsFromItems: (runId) => countsFromItems(db.pool, runId),
    async userMap() {
      const { rows } = await db.pool.query(
        "select entra_id, wp_user_id, state from user_map where job_id = $1::text order by entra_id",
        [job.id],
      );
      return rows;
    },
  };
  return harness;
}

/** Asserts the invariant that the run's counters equal its items. */
export async function expectCountersMatchItems<D extends Directory>(harness: Harness<D>, runId: string): Promise<void> {
  const run = await harness.service.run(runId);
  expect(run.counts).toEqual(await harness.countsFromItems(runId));
}
