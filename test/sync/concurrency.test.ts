import type { Database } from "../../src/db/pool";
import { FakeSite } from "../../tools/fake-wordpress";
import { aJob } from "../helpers/builders";
import { makeTestDatabase } from "../helpers/db";
import { expectCountersMatchItems, FakeDirectory, makeHarness } from "../helpers/engine";

let db: Database;
beforeAll(async () => {
  db = await makeTestDatabase();
});
afterAll(async () => {
  await db.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("one step at a time", () => {
  it("lets exactly one of 50 concurrent callers advance a run, tells the rest 'busy', and never processes a page twice", async () => {
    const directory = new FakeDirectory().withUsers(1, 40);
    const h = makeHarness(db, { directory, job: aJob().withUniqueId().withSafety(1, 1000).withPageSize(10).build() });
    const start = await h.service.startRun(h.job.id, { trigger: "link" });
    const replicas = [h.service, h.replica(), h.replica()];

    // The step that wins holds its page fetch until the 49 others have answered: otherwise, on a
    // loaded machine, it can finish before the last callers reach the lease, and they rightly take
    // the next step in the same round.
    let openGate = () => {};
    const fetchPage = directory.fetchUsersPage.bind(directory);
    let gate = Promise.resolve();
    directory.fetchUsersPage = async (...args) => {
      await gate;
      return fetchPage(...args);
    };

    let rounds = 0;
    for (;;) {
      rounds++;
      gate = new Promise((resolve) => (openGate = resolve));
      // Should two callers ever win, both wait here and 49 answers never come: the timer turns
      // that into the assertion below failing rather than a test timeout.
      const fallback = setTimeout(() => openGate(), 5000);
      let answered = 0;
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          replicas[i % replicas.length]!.advanceRun(start.run.id).then((result) => {
            if (++answered === 49) openGate();
            return result;
          }),
        ),
      );
      clearTimeout(fallback);
      const advanced = results.filter((r) => r.advanced);
      expect(advanced.length).toBeLessThanOrEqual(1);
      for (const r of results) if (!r.advanced) expect(["busy", "completed"]).toContain(r.reason);
      const run = await h.service.run(start.run.id);
      if (run.state === "completed") break;
      expect(rounds).toBeLessThan(20);
    }

    // 4 pages: each fetched exactly once.
    expect(directory.pageFetches).toHaveLength(4);
    expect(new Set(directory.pageFetches).size).toBe(4);
    expect(h.site.creates).toBe(40);
    const run = await h.service.run(start.run.id);
    expect(run.counts).toMatchObject({ seen: 40, created: 40 });
    await expectCountersMatchItems(h, start.run.id);
  });

  it("redoes a step that died after creating users without duplicating them or losing any", async () => {
    const directory = new FakeDirectory().withUsers(1, 10);
    const h = makeHarness(db, {
      directory,
      job: aJob().withUniqueId().withSafety(1, 1000).withPageSize(10).build(),
    });
    const start = await h.service.startRun(h.job.id, { trigger: "link" });

    h.site.dieAfterCreates(4);
    // The dying step never returns: its process is gone, holding the lease until it expires.
    void h.service.advanceRun(start.run.id);
    while (h.site.creates < 4) await sleep(5);
    expect(await h.replica().advanceRun(start.run.id)).toMatchObject({ advanced: false, reason: "busy" });

    // The lease runs out. Set in the database rather than waited for: with a short lease, a loaded
    // machine let it run out before the "busy" check above, whose replica then took the run over
    // and hung on the dead site itself.
    await db.pool.query("update runs set locked_until = now() - interval '1 second' where id = $1::uuid", [
      start.run.id,
    ]);
    h.site.revive();
    const survivor = h.replica({ owner: "survivor" });
    const done = await h.drive(start.run.id, survivor);

    expect(done).toMatchObject({ state: "completed", counts: { seen: 10, created: 6, unchanged: 4, failed: 0 } });
    const logins = h.site.all().map((u) => u.username);
    expect(logins).toHaveLength(11);
    expect(new Set(logins).size).toBe(11);
    expect(await h.userMap()).toHaveLength(10);
    await expectCountersMatchItems(h, start.run.id);
  });

  it("rolls back a step whose lease was lost to a cancel and says so", async () => {
    const directory = new FakeDirectory().withUsers(1, 5);
    const h = makeHarness(db, { directory });
    const start = await h.service.startRun(h.job.id, { trigger: "link" });
    const site = h.site;
    const original = site.createUser.bind(site);
    let cancelled = false;
    site.createUser = async (...args) => {
      if (!cancelled) {
        cancelled = true;
        await h.service.cancelRun(start.run.id);
      }
      return original(...args);
    };
    const result = await h.service.advanceRun(start.run.id);
    expect(result).toMatchObject({ advanced: false, reason: "lease lost", run: { state: "cancelled" } });
    expect(await h.service.items(start.run.id, {})).toEqual({ items: [], nextCursor: null });
    await expectCountersMatchItems(h, start.run.id);
  });
});

describe("users of a page at once", () => {
  /** A site that batches `batched` writes together; counts how many creates wait on it at once. */
  class BatchingSite extends FakeSite {
    waiting = 0;
    mostAtOnce = 0;
    private release: (() => void) | null = null;
    private gate: Promise<void> = new Promise((resolve) => {
      this.release = resolve;
    });

    constructor(private readonly batched: number | null) {
      super();
    }

    async writesAtOnce(): Promise<number | null> {
      return this.batched;
    }

    override async createUser(...args: Parameters<FakeSite["createUser"]>) {
      this.waiting++;
      this.mostAtOnce = Math.max(this.mostAtOnce, this.waiting);
      // Holds every create until as many wait as a batch takes (or, when fewer ever come, briefly).
      if (this.waiting >= (this.batched ?? 16)) this.release?.();
      const fallback = setTimeout(() => this.release?.(), 300);
      await this.gate;
      clearTimeout(fallback);
      this.waiting--;
      return super.createUser(...args);
    }
  }

  it.each([
    ["as many as the site's batches take", 40, 40],
    ["the engine's own number when the site sends each write alone", null, 16],
  ])("works on %s", async (_what, batched, expected) => {
    const site = new BatchingSite(batched);
    const h = makeHarness(db, {
      directory: new FakeDirectory().withUsers(1, 60),
      site,
      job: aJob().withUniqueId().withSafety(1, 1000).withPageSize(100).build(),
      applyConcurrency: 16,
    });
    const run = await h.sync();
    expect(run.counts).toMatchObject({ created: 60 });
    expect(site.mostAtOnce).toBe(expected);
  });
});
