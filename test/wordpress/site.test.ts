import { UpstreamError } from "../../src/core/errors";
import { sanitizeLogin } from "../../src/core/username";
import type { WpWrite } from "../../src/core/users";
import {
  describeWithWordPress,
  formLogin,
  makeTestSite,
  trackUsers,
  uniqueName,
  type WordPressTarget,
  wpFetch,
} from "../helpers/wordpress";

/** Fields as the engine would send them for a person named `login`. */
function aPerson(login: string, extra: Partial<WpWrite> = {}): WpWrite {
  return {
    fields: {
      email: `${login}@example.test`,
      first_name: "Ada",
      last_name: "Lovelace",
      name: "Ada Lovelace",
      "meta.department": "Engines",
    },
    roles: ["subscriber"],
    ...extra,
  };
}

async function expectUpstream(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UpstreamError);
  return error as UpstreamError;
}

describeWithWordPress("WordPress site (with the companion plugin)", (wp: WordPressTarget) => {
  const site = makeTestSite(wp);
  const users = trackUsers(wp);
  afterAll(() => users.cleanup());

  it("reports its own account and detects the companion plugin", async () => {
    const me = await wpFetch(wp, "GET", "/wp/v2/users/me");
    await expect(site.info()).resolves.toMatchObject({ selfId: me.body.id, companionPlugin: true });
  });

  it("creates a user with fields, roles, mapped meta and the Entra id", async () => {
    const login = uniqueName("create");
    const entraId = uniqueName("entra");
    const created = await site.createUser(login, aPerson(login, { roles: ["editor"] }), entraId);
    users.add(created.id);
    expect(created).toMatchObject({
      username: login,
      email: `${login}@example.test`,
      first_name: "Ada",
      last_name: "Lovelace",
      name: "Ada Lovelace",
      roles: ["editor"],
    });
    expect(created.meta).toMatchObject({
      entra_object_id: entraId,
      department: "Engines",
      entra_wp_sync_deactivated: "",
    });
    await expect(site.getUser(created.id)).resolves.toEqual(created);
    await expect(site.findByEntraId(entraId)).resolves.toMatchObject({ id: created.id });
    await expect(site.findByEntraId(uniqueName("nobody"))).resolves.toBeNull();
  });

  it("updates only the fields it is given and leaves the others as they are", async () => {
    const login = uniqueName("update");
    const { id } = await site.createUser(login, aPerson(login), uniqueName("entra"));
    users.add(id);
    // Someone edits the last name in WordPress; an update of the first name must not overwrite it.
    await wpFetch(wp, "POST", `/wp/v2/users/${id}`, { last_name: "Byron" });
    const updated = await site.updateUser(id, { fields: { first_name: "Augusta" } });
    expect(updated).toMatchObject({ first_name: "Augusta", last_name: "Byron", roles: ["subscriber"] });
    expect(updated.meta.department).toBe("Engines");
  });

  it("finds users by e-mail and by login exactly, whatever the case, and not by a substring", async () => {
    const login = uniqueName("Find.Me");
    const upnLogin = `${login}@contoso.example`;
    const { id } = await site.createUser(upnLogin, aPerson(login), uniqueName("entra"));
    users.add(id);
    await expect(site.findUser({ email: `${login}@EXAMPLE.test`.toUpperCase() })).resolves.toMatchObject({ id });
    await expect(site.findUser({ username: upnLogin.toUpperCase() })).resolves.toMatchObject({ id });
    await expect(site.findUser({ email: `x${login}@example.test` })).resolves.toBeNull();
    await expect(site.findUser({ username: login })).resolves.toBeNull(); // a prefix of the login
  });

  it("refuses a login taken in another case as 'exists' with the WordPress code, and the user can be adopted", async () => {
    const login = uniqueName("taken");
    const entraId = uniqueName("entra");
    const first = await site.createUser(login, aPerson(login), entraId);
    users.add(first.id);

    const sameLogin = await expectUpstream(
      site.createUser(login.toUpperCase(), aPerson(uniqueName("other")), uniqueName("entra")),
    );
    expect(sameLogin).toMatchObject({ kind: "exists", source: "wordpress", details: { code: "existing_user_login" } });

    const sameEmail = await expectUpstream(site.createUser(uniqueName("other"), aPerson(login), uniqueName("entra")));
    expect(sameEmail).toMatchObject({ kind: "exists", details: { code: "existing_user_email", status: 500 } });

    // Adopt by lookup, as the engine does after "exists".
    const adopted = await site.findUser({ username: login.toUpperCase() });
    expect(adopted?.id).toBe(first.id);
    expect((await site.findByEntraId(entraId))?.id).toBe(first.id);
  });

  it("sets roles on create and replaces them on update", async () => {
    const login = uniqueName("roles");
    const created = await site.createUser(login, aPerson(login, { roles: ["editor", "author"] }), uniqueName("entra"));
    users.add(created.id);
    expect([...created.roles].sort()).toEqual(["author", "editor"]);
    const replaced = await site.updateUser(created.id, { fields: {}, roles: ["contributor"] });
    expect(replaced.roles).toEqual(["contributor"]);
    const untouched = await site.updateUser(created.id, { fields: { nickname: "ada" } });
    expect(untouched.roles).toEqual(["contributor"]);
  });

  it("reports an unknown role as 'invalid'", async () => {
    const login = uniqueName("badrole");
    const error = await expectUpstream(
      site.createUser(login, aPerson(login, { roles: ["no-such-role"] }), uniqueName("entra")),
    );
    expect(error).toMatchObject({ kind: "invalid", details: { code: "rest_user_invalid_role", status: 400 } });
    await expect(site.findUser({ username: login })).resolves.toBeNull();
  });

  it("deactivates a user so that it cannot log in, and reactivates it with roles", async () => {
    const login = uniqueName("deact");
    const { id } = await site.createUser(login, aPerson(login, { roles: ["author"] }), uniqueName("entra"));
    users.add(id);
    const loginPassword = `Pw-${uniqueName("x")}`;
    await wpFetch(wp, "POST", `/wp/v2/users/${id}`, { password: loginPassword });
    const appPassword = (await wpFetch(wp, "POST", `/wp/v2/users/${id}/application-passwords`, { name: "test" })).body
      .password as string;
    const asUser = { username: login, password: appPassword };
    expect((await wpFetch(wp, "GET", "/wp/v2/users/me", undefined, asUser)).status).toBe(200);
    expect(await formLogin(wp, login, loginPassword)).toBe(true);

    await site.deactivateUser(id);
    const off = await site.getUser(id);
    expect(off).toMatchObject({ roles: [], meta: { entra_wp_sync_deactivated: "1" } });
    expect((await wpFetch(wp, "GET", "/wp/v2/users/me", undefined, asUser)).status).toBe(401);
    expect(await formLogin(wp, login, loginPassword)).toBe(false);

    const on = await site.reactivateUser(id, { fields: {}, roles: ["author"] });
    expect(on).toMatchObject({ roles: ["author"], meta: { entra_wp_sync_deactivated: "" } });
    expect((await wpFetch(wp, "GET", "/wp/v2/users/me", undefined, asUser)).status).toBe(200);
    expect(await formLogin(wp, login, loginPassword)).toBe(true);
  });

  it("deletes a user and gives its posts to the reassignment target", async () => {
    const login = uniqueName("delete");
    const { id } = await site.createUser(login, aPerson(login, { roles: ["author"] }), uniqueName("entra"));
    users.add(id);
    const { selfId } = await site.info();
    const post = await wpFetch(wp, "POST", "/wp/v2/posts", { title: login, status: "publish", author: id });
    expect(post.body.author).toBe(id);
    try {
      await site.deleteUser(id, selfId);
      await expect(site.getUser(id)).resolves.toBeNull();
      expect((await wpFetch(wp, "GET", `/wp/v2/posts/${post.body.id}?context=edit`)).body.author).toBe(selfId);
      const again = await expectUpstream(site.deleteUser(id, selfId));
      expect(again).toMatchObject({ kind: "not-found", details: { code: "rest_user_invalid_id" } });
    } finally {
      await wpFetch(wp, "DELETE", `/wp/v2/posts/${post.body.id}?force=true`);
    }
  });

  it("reports a wrong application password as 'auth', naming WP_URL and WP_USERNAME but not the password", async () => {
    const wrong = "abcd EFGH ijkl MNOP qrst UVWX";
    const bad = makeTestSite({ ...wp, appPassword: wrong });
    const error = await expectUpstream(bad.info());
    expect(error.kind).toBe("auth");
    expect(error.message).toContain(`WP_URL=${wp.url}`);
    expect(error.message).toContain(`WP_USERNAME=${wp.username}`);
    expect(error.message).not.toContain(wrong);
    expect(error.message).not.toContain(wrong.replaceAll(" ", ""));
    const writeError = await expectUpstream(bad.createUser(uniqueName("nope"), aPerson("nope"), "x"));
    expect(writeError.kind).toBe("auth");
  });

  it.each([
    ["a non-ASCII name", "Jöhn Ørsted-Smith ßtraße"],
    ["a guest UPN", `ann_${uniqueName("guest")}.example#EXT#@tenant.onmicrosoft.com`],
    ["a 70-character UPN", `${"a".repeat(40)}.${uniqueName("long")}@averyveryverylongdomainname.example`],
  ])("sanitises %s into a login WordPress accepts", async (_what, raw) => {
    // Unique per run: the long UPN carries its suffix before the cut, the others get one appended.
    const login = sanitizeLogin(raw.length > 60 ? raw : `${raw} ${uniqueName("n")}`);
    expect(login.length).toBeLessThanOrEqual(60);
    expect(login).toMatch(/^[A-Za-z0-9 _.\-@]+$/);
    const created = await site.createUser(login, aPerson(uniqueName("mail")), uniqueName("entra"));
    users.add(created.id);
    expect(created.username).toBe(login);
    await expect(site.findUser({ username: login.toLowerCase() })).resolves.toMatchObject({ id: created.id });
  });
});
