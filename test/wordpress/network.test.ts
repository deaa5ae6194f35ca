import { randomBytes } from "node:crypto";
import { ConfigError } from "../../src/core/errors";
import type { NetworkTarget } from "../../src/core/job";
import {
  type NetworkSite,
  networkLoginCandidate,
  networkLoginProblem,
  planMemberships,
  rolesPerSite,
  selectSites,
} from "../../src/core/network";
import { makeWordPressNetwork, type WordPressNetwork } from "../../src/wordpress";
import {
  describeWithWordPress,
  quietLogger,
  type WordPressTarget,
  wordpressFromEnv,
  wpFetch,
} from "../helpers/wordpress";

// A real subdirectory multisite network (main site, /site2/, /site3/) with the companion plugin:
//   eval "$(scripts/wordpress-local.sh --multisite --port 8883 --dir /tmp/entra-wp-sync-wordpress-network --env-prefix WP_NETWORK_)"
const HOW_TO_START =
  'eval "$(scripts/wordpress-local.sh --multisite --port 8883 --dir /tmp/entra-wp-sync-wordpress-network --env-prefix WP_NETWORK_)"';

const network = (wp: WordPressTarget): WordPressNetwork =>
  makeWordPressNetwork({ ...wp, logger: quietLogger, retryBaseMs: 20, maxRetries: 1 });
/** The same network, through one of its sites' REST API (core routes answer per site). */
const onSite = (wp: WordPressTarget, site: NetworkSite): WordPressTarget => ({
  ...wp,
  url: site.url.replace(/\/$/, ""),
});
/** A login a network accepts and no other test uses. */
const freshLogin = (prefix: string): string => `${prefix}${randomBytes(5).toString("hex")}`;

describeWithWordPress(
  "WordPress multisite network",
  (wp) => {
    const admin = network(wp);
    let sites: NetworkSite[];
    let main: NetworkSite;
    let second: NetworkSite;
    let third: NetworkSite;
    const created: number[] = [];

    beforeAll(async () => {
      sites = await admin.sites();
      [main, second, third] = sites as [NetworkSite, NetworkSite, NetworkSite];
    });
    afterAll(async () => {
      await Promise.all(created.map((id) => admin.deleteFromNetwork(id).catch(() => undefined)));
    });

    /** A user created through core REST on a site, as the engine does: member of that site only. */
    async function createOn(site: NetworkSite, login: string, roles?: string[]): Promise<number> {
      expect(networkLoginProblem(login)).toBeNull();
      const res = await wpFetch(onSite(wp, site), "POST", "/wp/v2/users", {
        username: login,
        email: `${login}@example.test`,
        password: randomBytes(16).toString("hex"),
        ...(roles ? { roles } : {}),
      });
      expect(res.status).toBe(201);
      created.push(res.body.id);
      return res.body.id;
    }

    it("lists the main site and at least two more, and accepts the super admin", () => {
      expect(sites.length).toBeGreaterThanOrEqual(3);
      expect(main.path).toBe("/");
      expect(second.url).toBe(`${wp.url}${second.path}`);
      expect(new Set(sites.map((s) => s.id)).size).toBe(sites.length);
    });

    it("refuses what a network refuses as a login, and accepts the name derived from it", async () => {
      const taken = freshLogin("jd");
      const refused = await wpFetch(wp, "POST", "/wp/v2/users", {
        username: `${taken.slice(0, 2)}.${taken.slice(2)}`,
        email: `${taken}@example.test`,
        password: randomBytes(16).toString("hex"),
      });
      expect(refused).toMatchObject({ status: 400, body: { code: "rest_invalid_param" } });
      expect(JSON.stringify(refused.body)).toContain("lowercase letters (a-z) and numbers");
      expect(networkLoginProblem(`${taken.slice(0, 2)}.${taken.slice(2)}`)).toBe(
        "must be lowercase letters a-z and digits only",
      );
      const derived = networkLoginCandidate(`${taken.slice(0, 2)}.${taken.slice(2)}@Contoso.com`, "0");
      await createOn(main, derived);
    });

    it("makes an existing user a member of other sites with a role per site, and removes it from one", async () => {
      const id = await createOn(main, freshLogin("member"), ["subscriber"]);
      // Core REST cannot: another site answers 404 for a non-member, even to a super admin.
      expect((await wpFetch(onSite(wp, second), "GET", `/wp/v2/users/${id}?context=edit`)).status).toBe(404);

      await admin.setMembership(second.id, id, "editor");
      const after = await admin.setMembership(third.id, id, "");
      expect(Object.fromEntries(after)).toEqual({ [main.id]: ["subscriber"], [second.id]: ["editor"], [third.id]: [] });
      const there = await wpFetch(onSite(wp, second), "GET", `/wp/v2/users/${id}?context=edit`);
      expect(there).toMatchObject({ status: 200, body: { roles: ["editor"] } });

      // Setting again changes the role only (no second membership, no error).
      await admin.setMembership(second.id, id, "author");
      const removed = await admin.removeMembership(second.id, id);
      expect(Object.fromEntries(removed)).toEqual({ [main.id]: ["subscriber"], [third.id]: [] });
      expect((await wpFetch(onSite(wp, second), "GET", `/wp/v2/users/${id}?context=edit`)).status).toBe(404);
    });

    it("brings a user to the job's role on each site, writes nothing the second time, and removes a leaver", async () => {
      const target: NetworkTarget = {
        sites: [second.path, third.id],
        defaultRole: "subscriber",
        siteDefaults: [{ site: third.id, role: "" }],
        groups: [{ group: "editors", site: second.path, role: "editor" }],
        deleteFromNetwork: false,
      };
      const selected = selectSites("intranet", target, await admin.sites());
      const policy = { missing: "delete" as const, protectedRoles: ["administrator"] };
      const id = await createOn(main, freshLogin("planned"), ["author"]);
      const desired = rolesPerSite(target, selected, new Set(["editors"]));

      const plan = planMemberships(target, selected, desired, await admin.memberships(id), policy);
      expect(plan).toEqual([
        { kind: "member", site: second.id, role: "editor" },
        { kind: "member", site: third.id, role: "" },
      ]);
      await admin.apply(id, plan, ["subscriber", "editor"]);
      const after = await admin.memberships(id);
      expect(Object.fromEntries(after)).toEqual({ [main.id]: ["author"], [second.id]: ["editor"], [third.id]: [] });
      expect(planMemberships(target, selected, desired, after, policy)).toEqual([]);

      await admin.apply(id, planMemberships(target, selected, null, after, policy), ["subscriber", "editor"]);
      // The main site is not selected: its membership stays.
      expect(Object.fromEntries(await admin.memberships(id))).toEqual({ [main.id]: ["author"] });
    });

    it("refuses an unknown site, an unknown user and a role the site does not have", async () => {
      const id = await createOn(main, freshLogin("refused"));
      await expect(admin.setMembership(99999, id, "editor")).rejects.toMatchObject({
        details: { status: 404, code: "entra_wp_sync_no_site" },
      });
      await expect(admin.setMembership(second.id, 99999999, "editor")).rejects.toMatchObject({
        details: { status: 404, code: "entra_wp_sync_no_user" },
      });
      await expect(admin.setMembership(second.id, id, "overlord")).rejects.toMatchObject({
        details: { status: 400, code: "entra_wp_sync_bad_role" },
      });
      // Malformed role names are refused by name, never read loosely: a nested list PHP compares as
      // "Array" matches no role, which "none_of" would read as a condition that holds.
      const memberships = (body: unknown) =>
        wpFetch(wp, "POST", `/entra-wp-sync/v1/network/users/${id}/memberships`, body);
      for (const body of [
        { changes: [{ site: second.id, role: ["editor"] }] },
        { changes: [{ site: second.id, role: "editor" }], expect: { sites: {}, none_of: [["administrator"]] } },
        { changes: [{ site: second.id, role: "editor" }], expect: { sites: { [main.id]: "" }, none_of: [] } },
        { changes: [{ site: second.id, role: "editor" }], expect: { sites: {}, none_of: [], own: { 1: ["x"] } } },
      ]) {
        const res = await memberships(body);
        expect(res).toMatchObject({ status: 400, body: { code: "rest_invalid_param" } });
        expect(res.body.message).toMatch(/"expect"|"role"/);
      }
      await expect(admin.memberships(id)).resolves.toEqual(new Map([[main.id, []]]));
    });

    it("gives a deactivated user no role on any site, only a membership without one", async () => {
      const id = await createOn(main, freshLogin("deactivated"));
      const flag = await wpFetch(wp, "POST", `/wp/v2/users/${id}`, { meta: { entra_wp_sync_deactivated: "1" } });
      expect(flag.status).toBe(200);
      await expect(admin.setMembership(second.id, id, "editor")).rejects.toMatchObject({
        details: { status: 409, code: "entra_wp_sync_deactivated" },
      });
      await expect(admin.setMembership(second.id, id, "")).resolves.toEqual(
        new Map([
          [main.id, []],
          [second.id, []],
        ]),
      );
    });

    it("writes a guarded membership or delete only while the user holds, on every site, nothing beyond the guard's roles", async () => {
      // The test WordPress's custom role entra_test_user_manager (read, list_users, edit_users) on the
      // main site, which the writes below do not touch.
      const id = await createOn(main, freshLogin("guarded"), ["entra_test_user_manager"]);
      await admin.setMembership(second.id, id, "subscriber");
      const guard = ["subscriber", "editor"];
      const before = await admin.memberships(id);
      const refusal = {
        kind: "invalid",
        details: { status: 403, code: "entra_wp_sync_protected" },
        message: expect.stringContaining(`user ${id} holds capabilities the synced roles do not grant: `),
      };
      await expect(admin.apply(id, [{ kind: "member", site: second.id, role: "editor" }], guard)).rejects.toMatchObject(
        refusal,
      );
      await expect(admin.apply(id, [{ kind: "deactivate" }], guard)).rejects.toMatchObject(refusal);
      await expect(admin.deleteFromNetwork(id, guard)).rejects.toMatchObject(refusal);
      // Without reading first ("expect" holds): the user as it is, for the service to plan again.
      const assumption = { sites: new Map([[second.id, ["subscriber"]]]), noneOf: ["administrator"], own: {} };
      const changes = [{ kind: "member" as const, site: second.id, role: "editor" }];
      await expect(admin.applyAssuming(id, changes, assumption, guard)).resolves.toMatchObject({
        capabilities: expect.arrayContaining(["edit_users"]),
      });
      expect(await admin.memberships(id)).toEqual(before);
      expect((await wpFetch(wp, "GET", `/wp/v2/users/${id}?context=edit`)).body.meta.entra_wp_sync_deactivated).toBe(
        "",
      );

      // What the guard's roles grant passes: the job's own user-managing role, or none held any more.
      await admin.apply(id, changes, [...guard, "entra_test_user_manager"]);
      await admin.setMembership(main.id, id, "");
      await expect(admin.applyAssuming(id, [], { sites: new Map(), noneOf: [], own: {} }, guard)).resolves.toBeNull();
      await admin.deleteFromNetwork(id, guard);
      await expect(admin.memberships(id)).rejects.toMatchObject({ details: { status: 404 } });
    });

    it("deletes a user from the whole network, never a super admin", async () => {
      const id = await createOn(main, freshLogin("leaver"));
      await admin.setMembership(second.id, id, "author");
      // Core REST cannot delete on a network.
      expect((await wpFetch(wp, "DELETE", `/wp/v2/users/${id}?force=true&reassign=1`)).status).toBe(501);
      await admin.deleteFromNetwork(id);
      await expect(admin.memberships(id)).rejects.toMatchObject({ details: { status: 404 } });
      const me = await wpFetch(wp, "GET", "/wp/v2/users/me");
      await expect(admin.deleteFromNetwork(me.body.id)).rejects.toMatchObject({ details: { status: 403 } });
    });

    it("tells a subscriber nothing about which users, sites or logins exist: the same 403 for unknown and existing ones", async () => {
      const login = freshLogin("subscriber");
      const subscriber = await createOn(main, login, ["subscriber"]);
      const someone = await createOn(second, freshLogin("someone"), ["author"]);
      const password = await wpFetch(wp, "POST", `/wp/v2/users/${subscriber}/application-passwords`, { name: "t" });
      expect(password.status).toBe(201);
      const auth = { username: login, password: password.body.password };
      const unknown = 99_999_999;
      const as = async (method: string, route: string, body?: unknown) => {
        const res = await wpFetch(wp, method, `/entra-wp-sync/v1${route}`, body, auth);
        return { status: res.status, code: res.body?.code };
      };
      const forbidden = { status: 403, code: "entra_wp_sync_forbidden" };
      for (const user of [someone, unknown]) {
        expect(await as("POST", `/network/sites/${second.id}/members/${user}`, { role: "author" })).toEqual(forbidden);
        expect(await as("DELETE", `/network/sites/${second.id}/members/${user}`)).toEqual(forbidden);
        expect(
          await as("POST", `/network/users/${user}/memberships`, { changes: [{ site: second.id, role: "" }] }),
        ).toEqual(forbidden);
        expect(await as("POST", `/network/users/${user}/memberships`, { changes: [], deactivated: true })).toEqual(
          forbidden,
        );
        expect(await as("GET", `/network/users/${user}`)).toEqual({ status: 403, code: "rest_forbidden" });
        expect(await as("DELETE", `/network/users/${user}`)).toEqual({ status: 403, code: "rest_forbidden" });
      }
      for (const site of [second.id, 99_999]) {
        expect(await as("POST", `/network/sites/${site}/members/${someone}`, { role: "" })).toEqual(forbidden);
      }
      // The network login check: no answer for a login that exists or one that does not.
      for (const name of [login, freshLogin("nobody")]) {
        expect(await as("GET", `/network/logins?login=${name}`)).toEqual({ status: 403, code: "rest_forbidden" });
      }
      expect(await as("GET", "/network")).toEqual({ status: 403, code: "rest_forbidden" });
      // Nothing was written: not even the subscriber's own sign-in block.
      expect(Object.fromEntries(await admin.memberships(someone))).toEqual({ [second.id]: ["author"] });
      expect((await admin.member(someone)).deactivated).toBe(false);
    });

    it("checks WordPress's capabilities on the site concerned: a site admin manages its site only", async () => {
      const login = freshLogin("siteadmin");
      const siteAdmin = await createOn(second, login, ["administrator"]);
      const member = await createOn(main, freshLogin("target"));
      const password = await wpFetch(onSite(wp, second), "POST", `/wp/v2/users/${siteAdmin}/application-passwords`, {
        name: "t",
      });
      expect(password.status).toBe(201);
      const auth = { username: login, password: password.body.password };
      const asSiteAdmin = (blog: number) =>
        wpFetch(wp, "POST", `/entra-wp-sync/v1/network/sites/${blog}/members/${member}`, { role: "author" }, auth);

      // Someone who is not a member of its site yet: only manage_network_users adds them (core's
      // user-new.php invites them by e-mail instead), so no account is pulled in by id, unasked; an
      // unknown id gets the same answer. Nothing was written.
      const forbidden = { status: 403, body: { code: "entra_wp_sync_forbidden" } };
      expect(await asSiteAdmin(second.id)).toMatchObject(forbidden);
      const unknown = await wpFetch(
        wp,
        "POST",
        `/entra-wp-sync/v1/network/sites/${second.id}/members/99999999`,
        { role: "author" },
        auth,
      );
      expect(unknown).toMatchObject(forbidden);
      expect(Object.fromEntries(await admin.memberships(member))).toEqual({ [main.id]: [] });
      // Nor does it give itself a role without promote_users on its own site.
      const demote = await wpFetch(
        wp,
        "POST",
        `/entra-wp-sync/v1/network/sites/${second.id}/members/${siteAdmin}`,
        { role: "author" },
        auth,
      );
      expect(demote).toMatchObject(forbidden);
      expect(Object.fromEntries(await admin.memberships(siteAdmin))).toEqual({ [second.id]: ["administrator"] });

      // A member of its site: promote_user there; the answer tells a site admin nothing about the user's other sites.
      await admin.setMembership(second.id, member, "subscriber");
      const added = await asSiteAdmin(second.id);
      expect({ status: added.status, body: added.body }).toEqual({ status: 200, body: { id: member } });
      expect(await asSiteAdmin(third.id)).toMatchObject(forbidden);
      const deleted = await wpFetch(wp, "DELETE", `/entra-wp-sync/v1/network/users/${member}`, undefined, auth);
      expect(deleted.status).toBe(403);

      // One request for several sites checks each site on its own: its own site, then the refusal, named by index.
      const both = await wpFetch(
        wp,
        "POST",
        `/entra-wp-sync/v1/network/users/${member}/memberships`,
        {
          changes: [
            { site: second.id, role: "editor" },
            { site: third.id, role: "editor" },
          ],
        },
        auth,
      );
      expect(both).toMatchObject({ status: 403, body: { code: "entra_wp_sync_forbidden", data: { index: 1 } } });
      expect(Object.fromEntries(await admin.memberships(member))).toEqual({
        [main.id]: [],
        [second.id]: ["editor"],
      });

      // And as the service account it is refused at start-up, with the reason.
      const notSuper = network({ url: wp.url, username: auth.username, appPassword: auth.password });
      await expect(notSuper.sites()).rejects.toThrow(ConfigError);
      await expect(notSuper.sites()).rejects.toThrow(
        `WP_USERNAME=${auth.username} must be a super admin of the network`,
      );
    });
  },
  { prefix: "WP_NETWORK_", requiredBy: "REQUIRE_MULTISITE", howToStart: HOW_TO_START },
);

describe("a network target pointed at something else", () => {
  const single = wordpressFromEnv("WP_");
  const plain = wordpressFromEnv("WP_PLAIN_");

  (single ? it : it.skip)("says so when WP_URL is a single site with the plugin", async () => {
    await expect(network(single as WordPressTarget).sites()).rejects.toThrow(/is a single WordPress site/);
  });

  (plain ? it : it.skip)("says the plugin is needed when it is missing", async () => {
    await expect(network(plain as WordPressTarget).sites()).rejects.toThrow(/companion plugin is not installed/);
  });
});
