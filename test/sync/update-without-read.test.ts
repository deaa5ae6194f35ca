/**
 * Updates of mapped users without a read first (companion plugin batch endpoint with "expect"):
 * the engine plans against the user as the user map says it left it, and the plugin writes only
 * while WordPress still holds that. Run side by side with the per-user path (read, then write) on
 * the same plan, including users someone changed in WordPress meanwhile: the items (actions,
 * diffs, reasons) and the users WordPress ends with must be the same.
 */
import { randomUUID } from "node:crypto";
import { listItems } from "../../src/db/items";
import type { Database } from "../../src/db/pool";
import type { Site } from "../../src/sync/ports";
import { aGraphUser, aJob } from "../helpers/builders";
import { makeTestDatabase } from "../helpers/db";
import { expectCountersMatchItems, FakeDirectory, makeHarness } from "../helpers/engine";
import { describeWithWordPress, makeTestSite, trackUsers, uniqueName, wpFetch } from "../helpers/wordpress";
import { startProxy } from "../helpers/wordpress-proxy";

const USERS = 7;

describeWithWordPress("updates without a read first (companion plugin)", (wp) => {
  let db: Database;
  const tracked = trackUsers(wp);
  beforeAll(async () => {
    db = await makeTestDatabase();
  });
  afterAll(async () => {
    await tracked.cleanup();
    await db.close();
  });

  /**
   * One path: a first sync of USERS users, then changes in WordPress behind the service's back and
   * in Entra, then the second sync whose items and WordPress state are returned (prefix masked).
   */
  async function run(site: Site, prefix: string, roleMode: "replace" | "skip", beforeSecondSync = () => {}) {
    const directory = new FakeDirectory();
    const ids: string[] = Array.from({ length: USERS }, () => randomUUID());
    const person = (n: number, values: Record<string, string>) => {
      const address = `${prefix}-${n}@example.test`;
      return aGraphUser()
        .numbered(n)
        .withId(ids[n - 1]!)
        .withValues({ mail: address, userPrincipalName: address, ...values })
        .build();
    };
    for (let n = 1; n <= USERS; n++) directory.put(person(n, { department: `Dept ${n}` }));
    const job = aJob()
      .withUniqueId()
      .withPageSize(50)
      .withSafety(1, 1000)
      .withRoleMode(roleMode)
      .withField("meta.department", "department")
      .build();
    const h = makeHarness(db, { directory, job });
    const service = h.replica({ site });
    const sync = async () => h.drive((await service.startRun(job.id, { trigger: "manual" })).run.id, service);
    expect(await sync()).toMatchObject({ state: "completed", counts: { created: USERS, failed: 0 } });
    const wpId = new Map((await h.userMap()).map((row) => [row.entra_id, row.wp_user_id]));
    const id = (n: number): number => wpId.get(ids[n - 1]!)!;
    for (const wpUserId of wpId.values()) tracked.add(wpUserId);

    // Behind the service's back: a field edited, a role added by someone else, an account made
    // administrator, an account deleted, the department meta emptied. Users 1 and 6 are untouched.
    await wpFetch(wp, "POST", `/wp/v2/users/${id(2)}`, { first_name: "Edited" });
    await wpFetch(wp, "POST", `/wp/v2/users/${id(3)}`, { roles: ["subscriber", "author"] });
    await wpFetch(wp, "POST", `/wp/v2/users/${id(4)}`, { roles: ["administrator"] });
    await wpFetch(wp, "DELETE", `/wp/v2/users/${id(5)}?force=true&reassign=1`);
    await wpFetch(wp, "POST", `/wp/v2/users/${id(7)}`, { meta: { department: "" } });
    // In Entra every user changes.
    for (let n = 1; n <= USERS; n++) directory.put(person(n, { surname: `${n} changed`, department: `Moved ${n}` }));

    beforeSecondSync();
    const second = await sync();
    expect({ state: second.state, error: (second as { lastError?: unknown }).lastError ?? null }).toEqual({
      state: "completed",
      error: null,
    });
    await expectCountersMatchItems(h, second.id);
    const { items } = await listItems(db.pool, second.id, { limit: 100 });
    const mask = (value: unknown): unknown =>
      JSON.parse(
        ids.reduce(
          (text, entraId, n) => text.replaceAll(entraId, `ENTRA-${n + 1}`),
          JSON.stringify(value).replaceAll(prefix, "PREFIX"),
        ),
      );
    const byUser = items
      .map((item) => ({
        n: ids.indexOf(item.entraId) + 1,
        action: item.action,
        status: item.status,
        diff: item.diff,
        reason: item.reason,
        error: item.error,
      }))
      .sort((a, b) => a.n - b.n);
    const after = new Map((await h.userMap()).map((row) => [row.entra_id, row.wp_user_id]));
    for (const wpUserId of after.values()) tracked.add(wpUserId);
    const state: unknown[] = [];
    for (let n = 1; n <= USERS; n++) {
      const res = await wpFetch(wp, "GET", `/wp/v2/users/${after.get(ids[n - 1]!)}?context=edit`);
      const {
        id: _id,
        link: _l,
        avatar_urls: _a,
        registered_date: _d,
        _links,
        username: _u,
        slug: _s,
        ...rest
      } = res.body;
      state.push({ n, ...rest });
    }
    return { items: mask(byUser), state: mask(state), counts: second.counts, id };
  }

  /** The engine's reference path: a site without updateIfUnchanged, so it reads every changed user first. */
  function readFirst(site: Site): Site {
    const { updateIfUnchanged: _conditional, ...rest } = site;
    return rest;
  }

  /** Requests of each kind for user `wpId` seen by the proxy. */
  const requestsFor = (requests: readonly string[], wpId: number) => ({
    reads: requests.filter((r) => r.startsWith(`GET /wp-json/wp/v2/users/${wpId}?`)).length,
    writes: requests.filter(
      (r) => r.startsWith(`POST /wp-json/wp/v2/users/${wpId}?`) || r === `POST /wp-json/wp/v2/users/${wpId}`,
    ).length,
  });

  it("checks the plan with one read right before each write where WordPress cannot, and plans as after a read first", async () => {
    // One request per write (bulk off, as on a site without a batch endpoint): the read that
    // checks what the plan assumed is also the guard's, so an untouched user costs a read and a
    // write instead of the engine's read, the guard's second read and the write.
    const proxy = await startProxy(wp.url);
    try {
      const reference = await run(readFirst(makeTestSite(wp, { bulk: false })), uniqueName("reference"), "replace");
      const checked = await run(
        makeTestSite({ ...wp, url: proxy.url }, { bulk: false }),
        uniqueName("checked"),
        "replace",
        () => {
          proxy.requests.length = 0;
        },
      );
      expect(checked.items).toEqual(reference.items);
      expect(checked.state).toEqual(reference.state);
      expect(checked.counts).toEqual(reference.counts);
      // Users 1 and 6, untouched in WordPress: one read, one write each.
      for (const n of [1, 6]) expect(requestsFor(proxy.requests, checked.id(n))).toEqual({ reads: 1, writes: 1 });
      // User 2 (edited in WordPress): the read shows the edit, the plan is made again from it and
      // that write is guarded by a read of its own. User 4 (made administrator): read, then skipped.
      expect(requestsFor(proxy.requests, checked.id(2))).toEqual({ reads: 2, writes: 1 });
      expect(requestsFor(proxy.requests, checked.id(4))).toEqual({ reads: 1, writes: 0 });
    } finally {
      await proxy.close();
    }
  });

  for (const roleMode of ["replace", "skip"] as const) {
    it(`plans and writes as the per-user path does, without reading a user first (roles.mode ${roleMode})`, async () => {
      const proxy = await startProxy(wp.url);
      try {
        const perUser = await run(readFirst(makeTestSite(wp, { bulk: false })), uniqueName("read-first"), roleMode);
        proxy.requests.length = 0;
        const bulk = await run(makeTestSite({ ...wp, url: proxy.url }), uniqueName("no-read"), roleMode);
        expect(bulk.items).toEqual(perUser.items);
        expect(bulk.state).toEqual(perUser.state);
        expect(bulk.counts).toEqual(perUser.counts);

        // The plan really exercised every case (a comparison of two runs that did nothing would pass too).
        const item = (n: number) => (bulk.items as Array<{ n: number; diff: object }>).find((i) => i.n === n);
        expect(item(1)).toMatchObject({
          action: "update",
          status: "ok",
          diff: { last_name: ["1", "1 changed"], "meta.department": ["Dept 1", "Moved 1"] },
        });
        expect(item(2)).toMatchObject({ action: "update", diff: { first_name: ["Edited", "User"] } });
        if (roleMode === "replace") {
          expect(item(3)).toMatchObject({
            action: "update",
            diff: { roles: [["subscriber", "author"], ["subscriber"]] },
          });
        } else {
          expect(item(3)).toMatchObject({ action: "update" });
          expect(item(3)?.diff).not.toHaveProperty("roles");
        }
        expect(item(4)).toMatchObject({ action: "skip", reason: "protected" });
        expect(item(5)).toMatchObject({ action: "create", reason: "mapped WordPress user no longer exists" });
        expect(item(7)).toMatchObject({ diff: { "meta.department": ["", "Moved 7"] } });

        // Users nobody touched in WordPress were written at once (roles.mode "skip" compares no role
        // list, so there the user given an extra role is too); the administrator was refused by the
        // write's guard (its capabilities, checked first); the others were answered "changed" with
        // what WordPress had. Both were read and planned again.
        const outcomes = proxy.answers
          .filter((a) => a.request.startsWith("POST /wp-json/entra-wp-sync/v1/users/batch"))
          .flatMap(
            (a) =>
              (JSON.parse(a.body) as { results: Array<{ outcome: string; code?: string; before?: unknown }> }).results,
          )
          .filter((r) => "before" in r || r.code === "entra_wp_sync_protected")
          .map((r) => (r.code === "entra_wp_sync_protected" ? "protected" : r.outcome))
          .sort();
        const applied = roleMode === "replace" ? 2 : 3;
        expect(outcomes).toEqual([
          ...Array(USERS - applied - 1).fill("changed"),
          "protected",
          ...Array(applied).fill("updated"),
        ]);

        // No user was read one by one: every update went in the batch requests, unread.
        const reads = proxy.requests.filter((r) => /^GET \/wp-json\/wp\/v2\/users\/\d+/.test(r));
        expect(reads).toEqual([]);
        const userRoutes = proxy.requests.filter((r) => /^(POST|PUT|PATCH|DELETE) \/wp-json\/wp\/v2\/users/.test(r));
        expect(userRoutes).toEqual([]);
      } finally {
        await proxy.close();
      }
    });
  }
});
