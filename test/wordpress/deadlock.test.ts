/**
 * A core REST user write that loses a database deadlock (companion plugin, section 10). Core's
 * update is several statements; InnoDB rolls back a deadlock victim's transaction, and under
 * autocommit that is the one statement, after which WordPress went on: an update to ["editor"]
 * kept "subscriber" too (seen under load, beside other suites' batches). The test site's deadlock
 * stand-in (scripts/wordpress-local.sh) makes one chosen statement lose, as InnoDB does.
 */
import { aPerson } from "../helpers/user-plan";
import {
  describeWithWordPress,
  makeTestSite,
  trackUsers,
  uniqueName,
  type WordPressTarget,
  wpFetch,
  wpFetchOnce,
} from "../helpers/wordpress";

describeWithWordPress("core REST user writes that lose a deadlock (companion plugin)", (wp: WordPressTarget) => {
  const users = trackUsers(wp);
  afterAll(() => users.cleanup());

  async function aSubscriber(): Promise<number> {
    const login = uniqueName("deadlock");
    const site = makeTestSite(wp, { bulk: false });
    return users.add((await site.createUser(login, aPerson(login, 0), `${login}-entra`)).id);
  }

  /** The next UPDATE of user `id`'s `metaKey` row loses a deadlock; what is still armed after `fn`. */
  async function withDeadlock(id: number, fn: () => Promise<void>, metaKey = "wp_capabilities"): Promise<unknown[]> {
    await wpFetch(wp, "POST", "/entra-wp-sync-test/v1/deadlock", { user_id: id, meta_key: metaKey });
    await fn();
    const left = await wpFetch(wp, "GET", "/entra-wp-sync-test/v1/deadlock");
    return left.body.armed.filter((a: { user_id: number }) => a.user_id === id);
  }

  it("writes nothing of it and answers 503, so the write is all or nothing", async () => {
    const id = await aSubscriber();
    let res: { status: number; body: { code?: string } } | undefined;
    const left = await withDeadlock(id, async () => {
      res = await wpFetchOnce(wp, "POST", `/wp/v2/users/${id}`, { first_name: "Half", roles: ["editor"] });
    });
    expect(left).toEqual([]); // the deadlock happened, in set_role(false)
    expect(res).toMatchObject({ status: 503, body: { code: "entra_wp_sync_rolled_back" } });
    const after = await wpFetch(wp, "GET", `/wp/v2/users/${id}?context=edit`);
    expect(after.body).toMatchObject({ first_name: "First 0", roles: ["subscriber"] });
  });

  it("ends with exactly the roles written when the per-user path sends it again", async () => {
    const id = await aSubscriber();
    const site = makeTestSite(wp, { bulk: false });
    const left = await withDeadlock(id, async () => {
      await site.updateUser(id, { fields: { first_name: "Promoted" }, roles: ["editor"] });
    });
    expect(left).toEqual([]);
    const after = await wpFetch(wp, "GET", `/wp/v2/users/${id}?context=edit`);
    expect(after.body).toMatchObject({ first_name: "Promoted", roles: ["editor"] });
  });

  it("answers 503, not core's 500, when the statement that lost was a meta write core reports", async () => {
    const id = await aSubscriber();
    let res: { status: number; body: { code?: string } } | undefined;
    const left = await withDeadlock(
      id,
      async () => {
        res = await wpFetchOnce(wp, "POST", `/wp/v2/users/${id}`, {
          first_name: "Half",
          meta: { department: "Moved" },
        });
      },
      "department",
    );
    expect(left).toEqual([]);
    expect(res).toMatchObject({ status: 503, body: { code: "entra_wp_sync_rolled_back" } });
    const after = await wpFetch(wp, "GET", `/wp/v2/users/${id}?context=edit`);
    expect(after.body).toMatchObject({ first_name: "First 0", meta: { department: "Dept 0" } });
    // The per-user path sends it again and ends with the write.
    const site = makeTestSite(wp, { bulk: false });
    await withDeadlock(
      id,
      () => site.updateUser(id, { fields: { "meta.department": "Moved" } }).then(() => {}),
      "department",
    );
    expect((await wpFetch(wp, "GET", `/wp/v2/users/${id}?context=edit`)).body.meta.department).toBe("Moved");
  });

  it("is sent again by the tests' wpFetch, which then sees it written", async () => {
    const id = await aSubscriber();
    const left = await withDeadlock(id, async () => {
      expect(await wpFetch(wp, "POST", `/wp/v2/users/${id}`, { roles: ["author"] })).toMatchObject({ status: 200 });
    });
    expect(left).toEqual([]);
    expect((await wpFetch(wp, "GET", `/wp/v2/users/${id}?context=edit`)).body.roles).toEqual(["author"]);
  });

  it("leaves a write that answers an error unwritten", async () => {
    const id = await aSubscriber();
    // wp_update_user writes the users row and the name meta before the meta of the request is checked.
    const res = await wpFetch(wp, "POST", `/wp/v2/users/${id}`, {
      first_name: "Half",
      meta: { entra_wp_sync_deactivated: ["not", "a", "string"] },
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    const after = await wpFetch(wp, "GET", `/wp/v2/users/${id}?context=edit`);
    expect(after.body.first_name).toBe("First 0");
  });
});
