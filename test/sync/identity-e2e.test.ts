/**
 * Identity safety end to end, on a real WordPress with the companion plugin: the engine never takes
 * over a privileged account, a job never grants a role that manages users or the site without
 * saying so, and a role it did grant leaves with the user. The test WordPress has a custom role
 * entra_test_user_manager (read, list_users, edit_users): see scripts/wordpress-local.sh.
 */

import { randomUUID } from "node:crypto";
import { loadConfig } from "../../src/config";
import { ConfigError } from "../../src/core/errors";
import type { Database } from "../../src/db/pool";
import { serve } from "../../src/main";
import { aGraphUser, aJob } from "../helpers/builders";
import { makeTestDatabase } from "../helpers/db";
import { FakeDirectory, makeHarness } from "../helpers/engine";
import { logSink } from "../helpers/log-sink";
import { describeWithWordPress, makeTestSite, trackUsers, uniqueName, wpFetch } from "../helpers/wordpress";

const USER_MANAGER = "entra_test_user_manager";

describeWithWordPress("identity safety of the engine against a real WordPress", (wp) => {
  let db: Database;
  const tracked = trackUsers(wp);
  beforeAll(async () => {
    db = await makeTestDatabase();
  });
  afterAll(async () => {
    await tracked.cleanup();
    await db.close();
  });

  /** An account someone made in WordPress before the service came. */
  async function anAccount(login: string, role: string): Promise<{ id: number; email: string }> {
    const email = `${login}@example.test`;
    const res = await wpFetch(wp, "POST", "/wp/v2/users", {
      username: login,
      email,
      password: `Pw-${uniqueName("x")}`,
      first_name: "Kept",
      roles: [role],
    });
    expect(res.status).toBe(201);
    return { id: tracked.add(res.body.id), email };
  }

  async function wpUser(id: number) {
    return (await wpFetch(wp, "GET", `/wp/v2/users/${id}?context=edit`)).body;
  }

  /**
   * Entra users with these e-mails and object ids of their own: other test files sync the numbered
   * ids into this WordPress too, and the plugin would match those accounts by Entra id.
   */
  function tenantWith(emails: string[]): { directory: FakeDirectory; ids: string[] } {
    const directory = new FakeDirectory();
    const ids = emails.map(() => randomUUID());
    for (const [i, email] of emails.entries()) {
      directory.put(aGraphUser().withId(ids[i]!).withValues({ mail: email, userPrincipalName: email }).build());
    }
    return { directory, ids };
  }

  it("does not touch an editor's or a user manager's account whose e-mail an Entra user has, and adopts a subscriber's", async () => {
    const prefix = uniqueName("adopt");
    const editor = await anAccount(`${prefix}-editor`, "editor");
    const manager = await anAccount(`${prefix}-manager`, USER_MANAGER);
    const subscriber = await anAccount(`${prefix}-subscriber`, "subscriber");
    const { directory, ids } = tenantWith([editor.email, manager.email, subscriber.email]);
    const h = makeHarness(db, { directory, job: aJob().withUniqueId().withPageSize(10).withSafety(1, 1000).build() });
    const service = h.replica({ site: makeTestSite(wp) });

    const start = await service.startRun(h.job.id, { trigger: "manual" });
    const run = await h.drive(start.run.id, service);
    expect(run).toMatchObject({ state: "completed", counts: { seen: 3, failed: 2, updated: 1, created: 0 } });
    const { items } = await service.items(run.id, {});
    const errorOf = (n: number) => items.find((item) => item.entraId === ids[n - 1])?.error;
    expect(errorOf(1)).toBe(
      `WordPress user ${editor.id} (same e-mail) exists with privileges (unfiltered_html, moderate_comments, ` +
        "manage_categories, manage_links, edit_others_posts); map it by Entra id or list it in protect.users",
    );
    expect(errorOf(2)).toContain(
      `WordPress user ${manager.id} (same e-mail) exists with privileges (edit_users, list_users)`,
    );

    for (const [account, role] of [
      [editor, "editor"],
      [manager, USER_MANAGER],
    ] as const) {
      const after = await wpUser(account.id);
      expect(after).toMatchObject({ roles: [role], first_name: "Kept", email: account.email });
      expect(after.meta.entra_object_id).toBe("");
    }
    expect(await wpUser(subscriber.id)).toMatchObject({ roles: ["subscriber"], first_name: "Ann" });
    expect((await h.userMap()).map((row) => row.wp_user_id)).toEqual([subscriber.id]);
  });

  it("fails a run whose job grants a role with edit_users without roles.allowPrivileged, before writing anything", async () => {
    const email = `${uniqueName("grant")}@example.test`;
    const job = aJob().withUniqueId().withDefaultRole(USER_MANAGER).build();
    const h = makeHarness(db, { directory: tenantWith([email]).directory, job });
    const service = h.replica({ site: makeTestSite(wp) });
    const start = await service.startRun(h.job.id, { trigger: "manual" });
    const run = await h.drive(start.run.id, service);
    expect(run).toMatchObject({ state: "failed", counts: { created: 0 } });
    expect(run.lastError).toBe(
      `job "${job.id}": roles.default "${USER_MANAGER}" can manage users or the site (edit_users, list_users): ` +
        "set roles.allowPrivileged: true to grant it (the service then takes it away again when the user leaves the job's scope)",
    );
    await expect(makeTestSite(wp).findUser({ email })).resolves.toBeNull();
  });

  it("refuses at start-up a job granting administrator, and reports a custom privileged role once WordPress is reached", async () => {
    const startDb = await makeTestDatabase();
    const env = { DATABASE_URL: startDb.url ?? "", PORT: "0", HOST: "127.0.0.1" };
    await expect(serve(loadConfig({ ...env, SYNC_DEFAULT_ROLE: "administrator" }))).rejects.toThrow(
      new ConfigError(
        'job "default" (SYNC_DEFAULT_ROLE): roles.default "administrator" can manage users or the site (create_users, ' +
          "edit_users, delete_users, promote_users, remove_users): set roles.allowPrivileged: true to grant it " +
          "(the service then takes it away again when the user leaves the job's scope)",
      ),
    );
    const log = logSink();
    const server = await serve(loadConfig({ ...env, SYNC_DEFAULT_ROLE: USER_MANAGER }), {
      site: makeTestSite(wp),
      directory: new FakeDirectory(),
      print: () => undefined,
      logDestination: log.destination,
    });
    try {
      await server.runtime.checkConnections();
      expect(log.text()).toContain(
        `job \\"default\\": roles.default \\"${USER_MANAGER}\\" can manage users or the site (edit_users, list_users)`,
      );
    } finally {
      await server.close();
      await startDb.close();
    }
  });

  it("takes administrator away from a leaver the job made one, although administrators are protected", async () => {
    const prefix = uniqueName("admins");
    const { directory, ids } = tenantWith([`${prefix}-1@example.test`, `${prefix}-2@example.test`]);
    const job = aJob().withUniqueId().withDefaultRole("administrator").allowingPrivilegedRoles().withSafety(1, 1000);
    const h = makeHarness(db, { directory, job: job.build() });
    const service = h.replica({ site: makeTestSite(wp) });

    const first = await h.drive((await service.startRun(h.job.id, { trigger: "manual" })).run.id, service);
    expect(first.counts).toMatchObject({ created: 2, failed: 0 });
    const leaver = (await h.userMap()).find((row) => row.entra_id === ids[0])!.wp_user_id;
    for (const row of await h.userMap()) tracked.add(row.wp_user_id);
    expect((await wpUser(leaver)).roles).toEqual(["administrator"]);

    directory.removeId(ids[0]!);
    const second = await h.drive((await service.startRun(h.job.id, { trigger: "manual" })).run.id, service);
    expect(second.counts).toMatchObject({ deactivated: 1, skipped: 0 });
    expect(await wpUser(leaver)).toMatchObject({ roles: [], meta: { entra_wp_sync_deactivated: "1" } });
  });
});
