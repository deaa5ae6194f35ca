/**
 * Users the service creates through the companion plugin's batch endpoint get a stored password no
 * input matches (made without running the password hash), on the real WordPress: refused by the
 * login form and XML-RPC for every password, until "Lost your password?" gives them one of their own.
 * Anyone else's creates, and updates, keep WordPress's own hash.
 */
import {
  describeWithWordPress,
  formLogin,
  makeTestSite,
  phpOnWordPress,
  trackUsers,
  uniqueName,
  type WordPressTarget,
  wpFetch,
} from "../helpers/wordpress";

const BATCH = "/entra-wp-sync/v1/users/batch";

/** XML-RPC wp.getProfile with a login and password: true when WordPress answers the profile. */
async function xmlrpcLogin(wp: WordPressTarget, login: string, password: string): Promise<boolean> {
  const text = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;");
  const res = await fetch(`${wp.url}/xmlrpc.php`, {
    method: "POST",
    headers: { "content-type": "text/xml" },
    body:
      "<?xml version='1.0'?><methodCall><methodName>wp.getProfile</methodName><params>" +
      `<param><value><int>1</int></value></param><param><value><string>${text(login)}</string></value></param>` +
      `<param><value><string>${text(password)}</string></value></param></params></methodCall>`,
  });
  const body = await res.text();
  return !body.includes("<name>faultCode</name>") && body.includes(`<string>${text(login)}</string>`);
}

/** PHP on the WordPress's own files: `code` runs after wp-load.php with $login set; prints its result. */
function php(wp: WordPressTarget, login: string, code: string): string {
  return phpOnWordPress(wp, `$user = get_user_by('login', getenv('LOGIN')); echo ${code};`, { LOGIN: login });
}

/** "Lost your password?" as a person goes through it: the link of the mail, then the reset form. */
async function resetPassword(wp: WordPressTarget, login: string, password: string): Promise<void> {
  // What retrieve_password() puts into the mail's link (the test WordPress sends no mail).
  const key = php(wp, login, "get_password_reset_key($user)");
  const link = await fetch(
    `${wp.url}/wp-login.php?action=rp&key=${encodeURIComponent(key)}&login=${encodeURIComponent(login)}`,
    { redirect: "manual" },
  );
  await link.text();
  expect(link.status).toBe(302);
  const cookie = link.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  const form = await fetch(`${wp.url}/wp-login.php?action=resetpass`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie },
    body: new URLSearchParams({
      pass1: password,
      pass2: password,
      rp_key: key,
      "wp-submit": "Save Password",
    }).toString(),
  });
  const page = await form.text();
  expect(page).toContain("Your password has been reset");
}

describeWithWordPress("passwords of the users the service creates (companion plugin)", (wp) => {
  const users = trackUsers(wp);
  let serviceId: string;
  beforeAll(async () => {
    if (!wp.docroot) throw new Error("WP_DOCROOT is not set: run scripts/wordpress-local.sh again (it prints it)");
    serviceId = (await wpFetch(wp, "GET", "/entra-wp-sync/v1/status")).body.app_password as string;
    expect(serviceId).toMatch(/^[0-9a-f-]{36}$/);
  });
  afterAll(() => users.cleanup());

  /** A batch as the service sends it (its Application Password and id), or as anyone else with `asService` false. */
  async function batch(operations: unknown[], asService = true) {
    const res = await fetch(`${wp.url}/wp-json${BATCH}`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${wp.username}:${wp.appPassword}`).toString("base64")}`,
        "content-type": "application/json",
        ...(asService ? { "x-entra-wp-sync-service": serviceId } : {}),
      },
      body: JSON.stringify({ operations }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { results: Array<{ outcome: string; user: { id: number } }> }).results;
  }

  function aCreate(login: string, password: string) {
    return { op: "create", body: { username: login, email: `${login}@example.test`, password, roles: ["author"] } };
  }

  it("accepts no password at all, the one it was created with and its stored value included, until a reset", async () => {
    const login = uniqueName("nopw");
    const sent = `Sent-${uniqueName("pw")}`;
    const [created] = await batch([aCreate(login, sent)]);
    expect(created).toMatchObject({ outcome: "created" });
    users.add(created!.user.id);
    const stored = php(wp, login, "$user->user_pass");
    expect(stored).toMatch(/^\*entra-wp-sync:no-password:[0-9a-f]{24}$/);
    for (const attempt of [sent, "", " ", stored, "*0", "*1", "password"]) {
      expect([attempt, await formLogin(wp, login, attempt)]).toEqual([attempt, false]);
      expect([attempt, await xmlrpcLogin(wp, login, attempt)]).toEqual([attempt, false]);
    }
    // The same value is never stored twice (auth cookies mix a fragment of it in).
    const other = uniqueName("nopw");
    users.add((await batch([aCreate(other, sent)]))[0]!.user.id);
    expect(php(wp, other, "$user->user_pass")).not.toBe(stored);

    const own = `Own-${uniqueName("pw")}`;
    await resetPassword(wp, login, own);
    expect(await formLogin(wp, login, own)).toBe(true);
    expect(await xmlrpcLogin(wp, login, own)).toBe(true);
    expect(await formLogin(wp, login, sent)).toBe(false);
  });

  it("is what the service's own creates store", async () => {
    const login = uniqueName("nopw-site");
    const { id } = await makeTestSite(wp).createUser(
      login,
      { fields: { email: `${login}@example.test` }, roles: ["subscriber"] },
      uniqueName("entra"),
    );
    users.add(id);
    expect(php(wp, login, "$user->user_pass")).toMatch(/^\*entra-wp-sync:no-password:/);
  });

  it("leaves WordPress's own hash to anyone else's creates and to every update", async () => {
    const login = uniqueName("pw-other");
    const password = `Pw-${uniqueName("x")}`;
    const [created] = await batch([aCreate(login, password)], false);
    users.add(created!.user.id);
    expect(await formLogin(wp, login, password)).toBe(true);

    const updated = uniqueName("pw-upd");
    const [made] = await batch([aCreate(updated, `Sent-${uniqueName("pw")}`)]);
    users.add(made!.user.id);
    const later = `Later-${uniqueName("pw")}`;
    const [update] = await batch([{ op: "update", id: made!.user.id, body: { password: later } }]);
    expect(update).toMatchObject({ outcome: "updated" });
    expect(await formLogin(wp, updated, later)).toBe(true);
    expect(php(wp, updated, "$user->user_pass")).not.toMatch(/^\*/);
  });
});
