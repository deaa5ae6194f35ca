/**
 * The companion plugin's identity guarantees on a real WordPress: deactivated users are refused on
 * every path, and notification mails are suppressed for the service's writes only. The test
 * WordPress (scripts/wordpress-local.sh) records mails instead of sending them and has a stand-in
 * for a single-sign-on plugin; see its 00-test-env.php.
 */
import pino from "pino";
import { CORE_ROLES } from "../../src/core/privileges";
import { logSink } from "../helpers/log-sink";
import {
  describeWithWordPress,
  makeTestSite,
  trackUsers,
  uniqueName,
  type WordPressTarget,
  wpFetch,
} from "../helpers/wordpress";

type Credentials = { username: string; password: string };

describeWithWordPress("identity safety in WordPress (with the companion plugin)", (wp: WordPressTarget) => {
  const site = makeTestSite(wp);
  const users = trackUsers(wp);
  afterAll(() => users.cleanup());

  /** A user with a known login password, as an administrator creates one. */
  async function aUser(role: string): Promise<{ id: number; login: string; email: string; password: string }> {
    const login = uniqueName("id");
    const password = `Pw-${uniqueName("x")}`;
    const email = `${login}@example.test`;
    const res = await wpFetch(wp, "POST", "/wp/v2/users", { username: login, email, password, roles: [role] });
    expect(res.status).toBe(201);
    users.add(res.body.id);
    return { id: res.body.id, login, email, password };
  }

  async function appPassword(id: number, as?: Credentials): Promise<string> {
    const res = await wpFetch(wp, "POST", `/wp/v2/users/${id}/application-passwords`, { name: uniqueName("app") }, as);
    expect(res.status).toBe(201);
    return res.body.password as string;
  }

  async function mailsTo(address: string): Promise<Array<{ subject: string }>> {
    const res = await wpFetch(wp, "GET", `/entra-wp-sync-test/v1/mails?to=${encodeURIComponent(address)}`);
    expect(res.status).toBe(200);
    return res.body;
  }

  describe("deactivated users", () => {
    /** The cookies WordPress sets on a response, as a Cookie header. */
    function cookiesOf(res: Response): string {
      return res.headers
        .getSetCookie()
        .map((cookie) => cookie.split(";")[0]!)
        .filter((pair) => !pair.endsWith("=deleted") && !pair.endsWith("="))
        .join("; ");
    }

    /** What an SSO plugin does once its identity provider said yes: wp_set_auth_cookie() for the user. */
    async function ssoCookies(id: number): Promise<string> {
      const res = await fetch(`${wp.url}/wp-json/entra-wp-sync-test/v1/sso-login`, {
        method: "POST",
        headers: {
          authorization: `Basic ${Buffer.from(`${wp.username}:${wp.appPassword}`).toString("base64")}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ user_id: id }),
      });
      expect(res.status).toBe(200);
      return cookiesOf(res);
    }

    /** 200: the cookie logs the user into wp-admin; a redirect to wp-login.php: it does not. */
    async function profilePage(cookie: string): Promise<number | "login"> {
      const res = await fetch(`${wp.url}/wp-admin/profile.php`, { headers: { cookie }, redirect: "manual" });
      await res.text();
      return res.status === 302 && (res.headers.get("location") ?? "").includes("wp-login.php") ? "login" : res.status;
    }

    /** The flag alone, roles kept: the plugin must refuse by the flag, not because roles are gone. */
    async function flagDeactivated(id: number): Promise<void> {
      const res = await wpFetch(wp, "POST", `/wp/v2/users/${id}`, { meta: { entra_wp_sync_deactivated: "1" } });
      expect(res.body.meta.entra_wp_sync_deactivated).toBe("1");
    }

    it("refuses an auth cookie that a single-sign-on plugin sets for a deactivated user", async () => {
      const active = await aUser("author");
      const deactivated = await aUser("author");
      await flagDeactivated(deactivated.id);
      expect(await profilePage(await ssoCookies(active.id))).toBe(200);
      expect(await profilePage(await ssoCookies(deactivated.id))).toBe("login");
    });

    it("ends a user's sessions when the service deactivates it", async () => {
      const user = await aUser("author");
      const cookie = await ssoCookies(user.id);
      expect(await profilePage(cookie)).toBe(200);
      await site.deactivateUser(user.id);
      expect(await profilePage(cookie)).toBe("login");
    });

    it("refuses a deactivated user's password over XML-RPC", async () => {
      const user = await aUser("author");
      const profile = async () => {
        const res = await fetch(`${wp.url}/xmlrpc.php`, {
          method: "POST",
          headers: { "content-type": "text/xml" },
          body:
            "<?xml version='1.0'?><methodCall><methodName>wp.getProfile</methodName><params>" +
            `<param><value><int>1</int></value></param><param><value><string>${user.login}</string></value></param>` +
            `<param><value><string>${user.password}</string></value></param></params></methodCall>`,
        });
        return res.text();
      };
      expect(await profile()).toContain(`<string>${user.login}</string>`);
      await flagDeactivated(user.id);
      expect(await profile()).toContain("<name>faultCode</name>");
    });

    it("cannot be made by a user manager out of an account that outranks it, through REST or a batch", async () => {
      const manager = await aUser("entra_test_user_manager");
      const asManager = { username: manager.login, password: await appPassword(manager.id) };
      const admin = await aUser("administrator");
      const perUser = await wpFetch(
        wp,
        "POST",
        `/wp/v2/users/${admin.id}`,
        { meta: { entra_wp_sync_deactivated: "1" } },
        asManager,
      );
      expect(perUser.status).toBe(403);
      const batch = await wpFetch(
        wp,
        "POST",
        "/entra-wp-sync/v1/users/batch",
        { operations: [{ op: "deactivate", id: admin.id }] },
        asManager,
      );
      expect(batch.body.results[0]).toMatchObject({ outcome: "failed", status: 403 });
      // Nothing of it was written: the roles the batch's deactivation takes are back with its savepoint.
      const after = await wpFetch(wp, "GET", `/wp/v2/users/${admin.id}?context=edit`);
      expect(after.body).toMatchObject({ roles: ["administrator"], meta: { entra_wp_sync_deactivated: "" } });
      // A subscriber holds nothing the manager lacks: it may deactivate that one.
      const user = await aUser("subscriber");
      const ok = await wpFetch(
        wp,
        "POST",
        `/wp/v2/users/${user.id}`,
        { meta: { entra_wp_sync_deactivated: "1" } },
        asManager,
      );
      expect(ok.status).toBe(200);
    });
  });

  describe("notification mails", () => {
    it("are not sent for the service's own changes", async () => {
      const user = await aUser("subscriber");
      await site.updateUser(user.id, { fields: { email: `${uniqueName("new")}@example.test` } });
      expect(await mailsTo(user.email)).toEqual([]);
    });

    it("are sent when an administrator changes their own e-mail through the REST API", async () => {
      const admin = await aUser("administrator");
      const asAdmin = { username: admin.login, password: await appPassword(admin.id) };
      const res = await wpFetch(wp, "POST", "/wp/v2/users/me", { email: `${uniqueName("new")}@example.test` }, asAdmin);
      expect(res.status).toBe(200);
      expect(await mailsTo(admin.email)).toEqual([
        expect.objectContaining({ subject: expect.stringContaining("Email Changed") }),
      ]);
    });

    it("are sent for the service's account used with another Application Password, even one naming the service's id", async () => {
      const user = await aUser("subscriber");
      const status = await wpFetch(wp, "GET", "/entra-wp-sync/v1/status");
      const serviceId = status.body.app_password as string;
      expect(serviceId).toMatch(/^[0-9a-f-]{36}$/);
      const me = (await wpFetch(wp, "GET", "/wp/v2/users/me")).body.id as number;
      const other = await appPassword(me);
      const res = await fetch(`${wp.url}/wp-json/wp/v2/users/${user.id}`, {
        method: "POST",
        headers: {
          authorization: `Basic ${Buffer.from(`${wp.username}:${other}`).toString("base64")}`,
          "content-type": "application/json",
          "x-entra-wp-sync-service": serviceId,
        },
        body: JSON.stringify({ email: `${uniqueName("new")}@example.test` }),
      });
      expect(res.status).toBe(200);
      expect(await mailsTo(user.email)).toHaveLength(1);
    });

    it("are sent when a user manager who is not an administrator names its own password as the service's", async () => {
      // edit_users and its own Application Password, whose id the status route tells it: not the
      // service's password, which the WordPress side pins (an administrator's), so the mails go out.
      const manager = await aUser("entra_test_user_manager");
      const asManager = { username: manager.login, password: await appPassword(manager.id) };
      const status = await wpFetch(wp, "GET", "/entra-wp-sync/v1/status", undefined, asManager);
      expect(status.status).toBe(200);
      expect(status.body.service).toBe(false);
      const headers = {
        authorization: `Basic ${Buffer.from(`${asManager.username}:${asManager.password}`).toString("base64")}`,
        "content-type": "application/json",
        "x-entra-wp-sync-service": status.body.app_password as string,
      };
      const write = (id: number, body: unknown) =>
        fetch(`${wp.url}/wp-json/wp/v2/users/${id}`, { method: "POST", headers, body: JSON.stringify(body) });
      const admin = await aUser("administrator");
      expect((await write(admin.id, { email: `${uniqueName("taken")}@example.test` })).status).toBe(200);
      expect(await mailsTo(admin.email)).toEqual([
        expect.objectContaining({ subject: expect.stringContaining("Email Changed") }),
      ]);
      // Nor for a subscriber, who holds nothing the manager lacks.
      const user = await aUser("subscriber");
      expect((await write(user.id, { email: `${uniqueName("new")}@example.test` })).status).toBe(200);
      expect(await mailsTo(user.email)).toEqual([
        expect.objectContaining({ subject: expect.stringContaining("Email Changed") }),
      ]);
    });

    it("take the service's own password, named in its requests, for the service's: pinned by its administrator", async () => {
      const id = (await wpFetch(wp, "GET", "/entra-wp-sync/v1/status")).body.app_password as string;
      const named = await fetch(`${wp.url}/wp-json/entra-wp-sync/v1/status`, {
        headers: {
          authorization: `Basic ${Buffer.from(`${wp.username}:${wp.appPassword}`).toString("base64")}`,
          "x-entra-wp-sync-service": id,
        },
      });
      expect(((await named.json()) as { service: boolean }).service).toBe(true);
    });
  });

  describe("the service's password not taken for the service's", () => {
    /** The warnings a site logs once it has looked at the plugin. */
    async function warningsOf(credentials: { username: string; appPassword: string }): Promise<string[]> {
      const logs = logSink();
      const logger = pino({ level: "debug" }, logs.destination);
      await makeTestSite({ ...wp, ...credentials }, { logger }).info();
      // The check is not awaited by detection: wait for its outcome, a warning or a debug line.
      const messages = () => logs.lines.map((line) => JSON.parse(line) as { level: number; msg: string });
      for (let i = 0; i < 200 && !messages().some((m) => m.msg.includes("Application Password")); i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      return messages()
        .filter((m) => m.level >= 40)
        .map((m) => m.msg);
    }

    it("is said at the first look at the plugin, naming the password's id and the wp-config.php line that pins it", async () => {
      const manager = await aUser("entra_test_user_manager");
      const password = await appPassword(manager.id);
      const id = (
        await wpFetch(wp, "GET", "/entra-wp-sync/v1/status", undefined, { username: manager.login, password })
      ).body.app_password as string;
      const warnings = await warningsOf({ username: manager.login, appPassword: password });
      expect(warnings).toEqual([expect.stringContaining(`ENTRA_WP_SYNC_SERVICE_APP_PASSWORD', '${id}'`)]);
      expect(warnings[0]).toContain("notification e-mails");
      expect(warnings[0]).not.toContain(password);
    });

    it("is not said for the service's own password", async () => {
      expect(await warningsOf(wp)).toEqual([]);
    });
  });

  it("reports the capabilities of each role, the core ones as the service assumes them without the plugin", async () => {
    const { roles } = await site.info();
    for (const [role, capabilities] of Object.entries(CORE_ROLES)) {
      expect([...(roles?.[role] ?? [])].sort()).toEqual([...capabilities].sort());
    }
    expect(roles?.entra_test_user_manager).toEqual(expect.arrayContaining(["edit_users"]));
  });
});
