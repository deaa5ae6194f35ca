import { aPerson, applyPlanBothWays } from "../helpers/user-plan";
import {
  describeWithWordPress,
  makeTestSite,
  trackUsers,
  uniqueName,
  type WordPressTarget,
  wpFetch,
} from "../helpers/wordpress";
import { startProxy } from "../helpers/wordpress-proxy";

const BATCH = "/entra-wp-sync/v1/users/batch";

describeWithWordPress("WordPress batch writes (companion plugin)", (wp: WordPressTarget) => {
  const users = trackUsers(wp);
  afterAll(() => users.cleanup());

  it("leaves WordPress in the same state as the per-user path for the same plan, in batch requests only", async () => {
    const proxy = await startProxy(wp.url);
    try {
      const bulk = makeTestSite({ ...wp, url: proxy.url });
      const { selfId } = await bulk.info();
      proxy.requests.length = 0;
      const { states, ids } = await applyPlanBothWays(wp, bulk, selfId);
      for (const id of ids) users.add(id);

      // Every write went through the batch endpoint, none through the core user routes (reads aside:
      // the site asks once which meta keys WordPress accepts).
      const writes = proxy.requests.filter((r) => !/^(GET|OPTIONS) /.test(r));
      expect(writes.filter((r) => !r.startsWith(`POST /wp-json${BATCH}`))).toEqual([]);
      expect(writes.length).toBeGreaterThan(0);
      expect(proxy.requests.length).toBeLessThan(states.length + 5);
      expect(states.map((s) => s.batched)).toEqual(states.map((s) => s.perUser));
      // The plan really changed things (a comparison of two no-ops would pass too).
      expect(states[1]!.batched).toMatchObject({ roles: ["editor"] });
      expect(states[2]!.batched).toMatchObject({ roles: [], meta: { entra_wp_sync_deactivated: "1" } });
      expect(states[5]!.batched).toBe("absent");
    } finally {
      await proxy.close();
    }
  });

  it("reports the one bad operation of a batch and writes the others", async () => {
    const site = makeTestSite(wp);
    const logins = [uniqueName("good"), uniqueName("bad"), uniqueName("good")];
    const settled = await Promise.allSettled(
      logins.map((login, n) => {
        const write = aPerson(login, n);
        if (n === 1) write.fields.email = "not-an-e-mail";
        return site.createUser(login, write, `${login}-entra`);
      }),
    );
    for (const s of settled) if (s.status === "fulfilled") users.add(s.value.id);
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({
      kind: "invalid",
      details: { code: "rest_invalid_param" },
    });
    for (const n of [0, 2]) {
      const found = await wpFetch(wp, "GET", `/wp/v2/users?context=edit&search=${logins[n]}`);
      expect(found.body).toHaveLength(1);
    }
    const bad = await wpFetch(wp, "GET", `/wp/v2/users?context=edit&search=${logins[1]}`);
    expect(bad.body).toEqual([]);
  });

  it("refuses an account holding more than the guard roles grant, and writes its neighbours", async () => {
    const me = await wpFetch(wp, "GET", "/wp/v2/users/me?context=edit");
    const login = uniqueName("guarded");
    const res = await wpFetch(wp, "POST", BATCH, {
      operations: [
        { op: "update", id: me.body.id, guard: ["subscriber"], body: { first_name: "Taken over" } },
        {
          op: "create",
          body: { username: login, email: `${login}@example.test`, password: `${login}-Pw-0123456789` },
        },
        { op: "explode", id: 1 },
      ],
    });
    expect(res.status).toBe(200);
    const [refused, created, unknown] = res.body.results;
    expect(refused).toMatchObject({ status: 403, outcome: "failed", code: "entra_wp_sync_protected" });
    expect(refused.message).toContain("manage_options");
    expect(created).toMatchObject({ status: 201, outcome: "created", user: { username: login } });
    users.add(created.user.id);
    expect(unknown).toMatchObject({ status: 400, outcome: "failed", code: "rest_invalid_param" });
    const after = await wpFetch(wp, "GET", "/wp/v2/users/me?context=edit");
    expect(after.body.first_name).toBe(me.body.first_name);
  });

  it("writes the user the guard checked, whatever id the body names", async () => {
    const me = await wpFetch(wp, "GET", "/wp/v2/users/me?context=edit");
    const login = uniqueName("redirect");
    const site = makeTestSite(wp);
    const target = users.add((await site.createUser(login, aPerson(login, 0), `${login}-entra`)).id);
    const res = await wpFetch(wp, "POST", BATCH, {
      operations: [
        { op: "update", id: target, guard: ["subscriber"], body: { id: me.body.id, first_name: "Taken over" } },
      ],
    });
    expect(res.body.results[0]).toMatchObject({ outcome: "updated", user: { id: target, first_name: "Taken over" } });
    const after = await wpFetch(wp, "GET", "/wp/v2/users/me?context=edit");
    expect(after.body.first_name).toBe(me.body.first_name);
  });

  it("checks each operation's expect against the user as the batch's earlier operations left it", async () => {
    // The batch reads its users once, up front: after a write (or a refused one) the next operation
    // on the same user must see the user as it is now, not that first read.
    const login = uniqueName("sequence");
    const site = makeTestSite(wp);
    const target = users.add((await site.createUser(login, aPerson(login, 0), `${login}-entra`)).id);
    const first = (await wpFetch(wp, "GET", `/wp/v2/users/${target}?context=edit`)).body.first_name;
    const update = (from: string, to: Record<string, string>) => ({
      op: "update",
      id: target,
      expect: { fields: { first_name: from }, roles_none: ["administrator"] },
      body: to,
    });
    const res = await wpFetch(wp, "POST", BATCH, {
      operations: [
        update(first, { first_name: "Second" }),
        update("Second", { first_name: "Refused", email: "not-an-e-mail" }),
        update("Second", { first_name: "Third" }),
        update("Second", { first_name: "Never" }),
      ],
    });
    expect(res.body.results.map((r: { outcome: string }) => r.outcome)).toEqual([
      "updated",
      "failed",
      "updated",
      "changed",
    ]);
    expect(res.body.results[3].before).toMatchObject({ first_name: "Third" });
    expect((await wpFetch(wp, "GET", `/wp/v2/users/${target}?context=edit`)).body.first_name).toBe("Third");
  });

  it("rolls back an operation that fails after its first write alone, keeping its neighbours' writes", async () => {
    // The test site refuses every write of entra_test_unwritable (scripts/wordpress-local.sh): core's
    // update route writes the user's row, then answers 500 rest_meta_database_error for the meta.
    const logins = [uniqueName("midway"), uniqueName("midway"), uniqueName("midway")];
    const site = makeTestSite(wp);
    const ids = await Promise.all(
      logins.map(async (login, n) => users.add((await site.createUser(login, aPerson(login, n), `${login}-entra`)).id)),
    );
    const shown = await wpFetch(wp, "GET", `/wp/v2/users/${ids[0]}?context=edit`);
    if (!("entra_test_unwritable" in (shown.body.meta ?? {})))
      throw new Error(
        "restart the test WordPress with scripts/wordpress-local.sh: it lacks the unwritable meta stand-in",
      );
    const res = await wpFetch(wp, "POST", BATCH, {
      operations: [
        { op: "update", id: ids[0], body: { first_name: "Kept" } },
        {
          op: "update",
          id: ids[1],
          body: { first_name: "Half", roles: ["editor"], meta: { entra_test_unwritable: "x" } },
        },
        { op: "update", id: ids[2], body: { first_name: "Kept too" } },
      ],
    });
    expect(res.body.results.map((r: { outcome: string; code?: string }) => [r.outcome, r.code])).toEqual([
      ["updated", undefined],
      ["failed", "rest_meta_database_error"],
      ["updated", undefined],
    ]);
    const after = await Promise.all(
      ids.map(async (id) => (await wpFetch(wp, "GET", `/wp/v2/users/${id}?context=edit`)).body),
    );
    expect(after.map((u) => [u.first_name, u.roles])).toEqual([
      ["Kept", ["subscriber"]],
      ["First 1", ["subscriber"]],
      ["Kept too", ["subscriber"]],
    ]);
  });

  it("refuses malformed operation fields by name and writes nothing for them, never reading them as 'no condition'", async () => {
    const login = uniqueName("malformed");
    const site = makeTestSite(wp);
    const target = users.add((await site.createUser(login, aPerson(login, 0), `${login}-entra`)).id);
    const update = { op: "update", id: target, body: { first_name: "Written" } };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...update, op: ["update"] }, '"op"'],
      [{ ...update, body: "first_name" }, '"body"'],
      [{ ...update, guard: "subscriber" }, '"guard"'],
      [{ ...update, guard: [["subscriber"]] }, '"guard"'],
      // A role list WordPress would compare as the string "Array" matches no role: read as "holds none".
      [{ ...update, expect: { fields: {}, roles_none: [["administrator"]] } }, '"expect"'],
      [{ ...update, expect: { fields: {}, roles: "subscriber" } }, '"expect"'],
      [{ ...update, expect: { fields: { first_name: ["x"] }, roles: ["subscriber"] } }, '"expect"'],
      [{ ...update, expect: "anything" }, '"expect"'],
    ];
    const res = await wpFetch(wp, "POST", BATCH, { operations: cases.map(([op]) => op) });
    expect(res.status).toBe(200);
    cases.forEach(([, field], i) => {
      expect(res.body.results[i]).toMatchObject({ status: 400, outcome: "failed", code: "rest_invalid_param" });
      expect(res.body.results[i].message).toContain(field);
    });
    expect((await wpFetch(wp, "GET", `/wp/v2/users/${target}?context=edit`)).body.first_name).not.toBe("Written");
  });

  it("refuses an e-mail longer than its wp_users column by name, instead of a PHP fatal or a write that did not happen", async () => {
    // Core checks no length for e-mail (wp_users.user_email holds 100 characters): wpdb then refuses
    // the row, a create dies with a PHP fatal (the whole batch answers 500, and the service sends it
    // again one user at a time) and an update answers 200 with the old address still stored.
    const login = uniqueName("longmail");
    const existing = users.add((await makeTestSite(wp).createUser(login, aPerson(login, 0), `${login}-entra`)).id);
    const long = (name: string) => `${"a".repeat(90)}@${name}.example.test`;
    const res = await wpFetch(wp, "POST", BATCH, {
      operations: [
        { op: "update", id: existing, body: { email: long(login) } },
        { op: "create", body: { username: `${login}n`, email: long(`${login}n`), password: uniqueName("pw") } },
        { op: "update", id: existing, body: { first_name: "Written" } },
      ],
    });
    expect(res.status).toBe(200);
    for (const result of res.body.results.slice(0, 2)) {
      expect(result).toMatchObject({ status: 400, outcome: "failed", code: "rest_invalid_param" });
      expect(result.message).toContain("email");
      expect(result.message).toContain("100");
    }
    expect(res.body.results[2]).toMatchObject({ outcome: "updated", user: { first_name: "Written" } });
    expect((await wpFetch(wp, "GET", `/wp/v2/users?search=${login}n&context=edit`)).body).toEqual([]);
  });

  it("tells the engine how many users' writes its batches take at once", async () => {
    // makeTestSite: WP_CONCURRENCY 4, so up to 4 batches may be in flight.
    expect(await makeTestSite(wp).writesAtOnce!()).toBe(100 * 2);
    expect(await makeTestSite(wp, { batchSize: 30, batchInFlight: 3 }).writesAtOnce!()).toBe(90);
    // More than the plugin accepts, or in flight than requests may be: the smaller one.
    expect(await makeTestSite(wp, { batchSize: 500, batchInFlight: 8 }).writesAtOnce!()).toBe(100 * 4);
    expect(await makeTestSite(wp, { bulk: false }).writesAtOnce!()).toBeNull();
  });

  it("refuses a request with no operations or too many, naming the limit", async () => {
    for (const operations of [[], Array.from({ length: 101 }, () => ({ op: "delete", id: 1, reassign: 1 })), "x"]) {
      const res = await wpFetch(wp, "POST", BATCH, { operations });
      expect(res).toMatchObject({ status: 400, body: { code: "rest_invalid_param" } });
      expect(res.body.message).toContain("1 to 100 operations");
    }
  });

  it("creates nobody twice when a batch's response is lost and the request is retried", async () => {
    const proxy = await startProxy(wp.url);
    try {
      const site = makeTestSite({ ...wp, url: proxy.url }, { maxRetries: 2 });
      await site.info(); // detection is not the request whose answer is lost
      proxy.mode = "lose-response";
      const logins = Array.from({ length: 5 }, () => uniqueName("lost-batch"));
      const created = await Promise.all(
        logins.map((login, n) => site.createUser(login, aPerson(login, n), `${login}-entra`)),
      );
      for (const user of created) users.add(user.id);
      expect(proxy.lost).toBe(1);
      for (const [n, login] of logins.entries()) {
        expect(created[n]).toMatchObject({ username: login, meta: { entra_object_id: `${login}-entra` } });
        const found = await wpFetch(wp, "GET", `/wp/v2/users?context=edit&entra_object_id=${login}-entra`);
        expect(found.body.map((u: { id: number }) => u.id)).toEqual([created[n]!.id]);
      }
    } finally {
      await proxy.close();
    }
  });

  it("answers a retried create with the first attempt's user, and a create of someone else's login with the refusal", async () => {
    const login = uniqueName("retry");
    const op = (entraId: string) => ({
      op: "create",
      body: {
        username: login,
        email: `${login}@example.test`,
        password: `${login}-Pw-0123456789`,
        meta: { entra_object_id: entraId },
      },
    });
    const first = await wpFetch(wp, "POST", BATCH, { operations: [op(`${login}-entra`)] });
    expect(first.body.results[0]).toMatchObject({ outcome: "created" });
    const id = users.add(first.body.results[0].user.id);
    const again = await wpFetch(wp, "POST", BATCH, { operations: [op(`${login}-entra`)] });
    expect(again.body.results[0]).toMatchObject({ status: 200, outcome: "existing", user: { id } });
    const other = await wpFetch(wp, "POST", BATCH, { operations: [op(`${login}-someone-else`)] });
    expect(other.body.results[0]).toMatchObject({ outcome: "failed", code: "existing_user_login" });
    const found = await wpFetch(wp, "GET", `/wp/v2/users?context=edit&search=${login}`);
    expect(found.body.map((u: { id: number }) => u.id)).toEqual([id]);
  });
});
