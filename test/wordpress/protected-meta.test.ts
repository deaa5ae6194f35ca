/**
 * Who may write the companion plugin's own user meta (the sign-in block, entra_wp_sync_deactivated,
 * and the Entra id, entra_object_id), on the real WordPress: the rule holds where the data is
 * written, so every spelling of a route (WordPress matches REST routes case-insensitively), every
 * method, the plugin's batch, core's /batch/v1 (WordPress 6.6) and PHP paths such as
 * wp_update_user's meta_input all meet it. The attacker: a user manager (edit_users, not
 * manage_options) with its own Application Password. And the guards of core's user routes answer
 * only after WordPress's own authentication and permission checks.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import {
  describeWithWordPress,
  makeUserWithPassword,
  phpOnWordPress,
  trackUsers,
  uniqueName,
  type WordPressTarget,
  wpFetch,
  wpFetchOnce,
} from "../helpers/wordpress";

type Credentials = { username: string; password: string };
type Account = Credentials & { id: number };

const DEACTIVATED = "entra_wp_sync_deactivated";
const ENTRA_ID = "entra_object_id";

/** The users, their Application Passwords and raw requests of one WordPress. */
function accounts(wp: WordPressTarget) {
  const users = trackUsers(wp);

  const account = (role: string): Promise<Account> => makeUserWithPassword(wp, users, role, "pm");

  /** A request to a path of the site as given (a /wp-json/... route or ?rest_route=...), as `as` or anonymously. */
  async function raw(method: string, path: string, body: unknown, as: Credentials | null) {
    const res = await fetch(`${wp.url.replace(/\/+$/, "")}${path}`, {
      method,
      headers: {
        "content-type": "application/json",
        ...(as ? { authorization: `Basic ${Buffer.from(`${as.username}:${as.password}`).toString("base64")}` } : {}),
      },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: { code?: string; [key: string]: unknown } = {};
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed };
  }

  /** The plugin's meta of a user as the site's administrator reads it. */
  async function metaOf(id: number): Promise<Record<string, string>> {
    const res = await wpFetch(wp, "GET", `/wp/v2/users/${id}?context=edit`);
    expect(res.status).toBe(200);
    return res.body.meta;
  }

  async function setMeta(id: number, meta: Record<string, string>): Promise<void> {
    expect((await wpFetch(wp, "POST", `/wp/v2/users/${id}`, { meta })).status).toBe(200);
  }

  return { users, account, raw, metaOf, setMeta };
}

/** Every spelling WordPress serves the user route `id` under: /wp-json/ and ?rest_route=, any case. */
const spellings = (id: number | "me") => [
  `/wp-json/wp/v2/Users/${id}`,
  `/wp-json/WP/V2/USERS/${String(id).toUpperCase()}`,
  `/?rest_route=/wp/v2/uSers/${id}`,
  `/wp-json/wp/v2/users/${id}`,
];

describeWithWordPress(
  "the companion plugin's own user meta: who may write it (WordPress 6.1)",
  (wp: WordPressTarget) => {
    const { users, account, raw, metaOf, setMeta } = accounts(wp);
    afterAll(() => users.cleanup());

    let manager: Account;
    let admin: Account;
    let peer: Account;
    beforeAll(async () => {
      [manager, admin, peer] = await Promise.all([
        account("entra_test_user_manager"),
        account("administrator"),
        account("entra_test_user_manager"),
      ]);
    });

    it("a user manager sets no administrator's sign-in block, by any spelling of the route or method", async () => {
      for (const path of spellings(admin.id)) {
        for (const method of ["POST", "PUT", "PATCH"]) {
          const res = await raw(method, path, { meta: { [DEACTIVATED]: "1" } }, manager);
          expect({ path, method, status: res.status }).toEqual({ path, method, status: 403 });
          expect(await metaOf(admin.id)).toMatchObject({ [DEACTIVATED]: "" });
        }
      }
      // Nor clears the block the service set.
      await setMeta(admin.id, { [DEACTIVATED]: "1" });
      try {
        for (const path of spellings(admin.id)) {
          const res = await raw("PUT", path, { meta: { [DEACTIVATED]: "" } }, manager);
          expect({ path, status: res.status }).toEqual({ path, status: 403 });
          expect(await metaOf(admin.id)).toMatchObject({ [DEACTIVATED]: "1" });
        }
      } finally {
        await setMeta(admin.id, { [DEACTIVATED]: "" });
      }
    });

    it("a user manager puts an Entra id on no account, its own and a peer's included, by any spelling", async () => {
      const subscriber = await account("subscriber");
      for (const [target, paths] of [
        [manager.id, [...spellings("me"), ...spellings(manager.id)]],
        [peer.id, spellings(peer.id)],
        [subscriber.id, spellings(subscriber.id)],
        [admin.id, spellings(admin.id)],
      ] as const) {
        for (const path of paths) {
          const res = await raw("PATCH", path, { meta: { [ENTRA_ID]: uniqueName("entra") } }, manager);
          expect({ path, status: res.status }).toEqual({ path, status: 403 });
          expect(await metaOf(target)).toMatchObject({ [ENTRA_ID]: "" });
        }
      }
      // A peer's sign-in block: the peer holds nothing the manager lacks, so that is the manager's to set.
      expect(
        (await raw("POST", `/wp-json/wp/v2/Users/${peer.id}`, { meta: { [DEACTIVATED]: "1" } }, manager)).status,
      ).toBe(200);
      expect(await metaOf(peer.id)).toMatchObject({ [DEACTIVATED]: "1" });
      await setMeta(peer.id, { [DEACTIVATED]: "" });
      // The administrator (the service's account) still sets both.
      const entraId = uniqueName("entra");
      await setMeta(subscriber.id, { [ENTRA_ID]: entraId, [DEACTIVATED]: "1" });
      expect(await metaOf(subscriber.id)).toMatchObject({ [ENTRA_ID]: entraId, [DEACTIVATED]: "1" });
    });

    it("the plugin's batch (any spelling) refuses the same writes, operation by operation", async () => {
      const res = await raw(
        "POST",
        "/wp-json/entra-wp-sync/v1/Users/Batch",
        {
          operations: [
            { op: "deactivate", id: admin.id },
            { op: "update", id: admin.id, body: { meta: { [DEACTIVATED]: "1" } } },
            { op: "update", id: peer.id, body: { meta: { [ENTRA_ID]: uniqueName("entra") } } },
            { op: "update", id: manager.id, body: { meta: { [ENTRA_ID]: uniqueName("entra") } } },
          ],
        },
        manager,
      );
      expect(res.status).toBe(200);
      expect(
        (res.body.results as Array<{ outcome: string; status: number }>).map((r) => [r.outcome, r.status]),
      ).toEqual([
        ["failed", 403],
        ["failed", 403],
        ["failed", 403],
        ["failed", 403],
      ]);
      expect(await metaOf(admin.id)).toMatchObject({ [DEACTIVATED]: "" });
      expect(await metaOf(peer.id)).toMatchObject({ [ENTRA_ID]: "" });
      expect(await metaOf(manager.id)).toMatchObject({ [ENTRA_ID]: "" });
    });

    it("holds where the data is written: wp_update_user's meta_input and update_user_meta in another plugin's code", () => {
      if (!wp.docroot) return; // a remote WordPress: no PHP to run on its files
      const script = `
      wp_set_current_user(${manager.id});
      wp_update_user(array('ID' => ${admin.id}, 'meta_input' => array('${DEACTIVATED}' => '1', '${ENTRA_ID}' => 'by-meta-input')));
      $direct = update_user_meta(${peer.id}, '${ENTRA_ID}', 'by-code');
      $self = add_user_meta(${manager.id}, '${ENTRA_ID}', 'by-code');
      wp_set_current_user(0);   // WordPress itself (WP-CLI, cron): no caller to check
      $system = update_user_meta(${peer.id}, '${DEACTIVATED}', '1') && delete_user_meta(${peer.id}, '${DEACTIVATED}');
      clean_user_cache(${admin.id});
      echo json_encode(array(
        'admin' => array(get_user_meta(${admin.id}, '${DEACTIVATED}', true), get_user_meta(${admin.id}, '${ENTRA_ID}', true)),
        'direct' => $direct, 'self' => $self, 'system' => $system,
      ));`;
      expect(JSON.parse(phpOnWordPress(wp, script))).toEqual({
        admin: ["", ""],
        direct: false,
        self: false,
        system: true,
      });
    });

    it("answers an anonymous caller with core's 401 before any guard of the plugin speaks", async () => {
      for (const path of spellings(admin.id)) {
        const flag = await raw("POST", path, { meta: { [DEACTIVATED]: "1" } }, null);
        expect({ path, status: flag.status, code: flag.body.code }).toEqual({
          path,
          status: 401,
          code: "rest_cannot_edit",
        });
      }
      // Not the column check's 400 either: who may not write learns nothing about what it sent.
      const long = await raw(
        "POST",
        `/wp-json/wp/v2/users/${admin.id}`,
        { url: `https://${"x".repeat(200)}.test` },
        null,
      );
      expect([long.status, long.body.code]).toEqual([401, "rest_cannot_edit"]);
      expect(await metaOf(admin.id)).toMatchObject({ [DEACTIVATED]: "" });
    });
  },
);

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

// Core's /batch/v1 takes user routes from WordPress 6.6 on. The 6.6 test WordPress runs without the
// plugin (for the plugin-less tests), so this suite serves the same files and database with the
// plugin loaded, through a php -S of its own whose router loads the plugin as WordPress loads a
// plugin (before init), then hands over to the instance's router.
describeWithWordPress(
  "the companion plugin's own user meta in core's /batch/v1 (WordPress 6.6)",
  (plain: WordPressTarget) => {
    let server: ChildProcess | undefined;
    let dir = "";
    const wp: WordPressTarget = { ...plain };
    const { users, account, raw, metaOf } = accounts(wp);

    beforeAll(async () => {
      if (!plain.docroot) throw new Error("WP_NEWER_DOCROOT is needed: this suite serves that WordPress's files");
      dir = mkdtempSync(join(tmpdir(), "entra-wp-sync-66-plugin-"));
      const plugin = resolve(__dirname, "../../wordpress-plugin/entra-wp-sync/entra-wp-sync.php");
      const router = join(dir, "router.php");
      writeFileSync(
        router,
        `<?php
$GLOBALS['wp_filter']['muplugins_loaded'][10][] = array('function' => function () { require_once ${JSON.stringify(plugin)}; }, 'accepted_args' => 0);
require ${JSON.stringify(join(dirname(plain.docroot), "router.php"))};
`,
      );
      const port = await freePort();
      server = spawn("php", ["-S", `127.0.0.1:${port}`, "-t", plain.docroot, router], { stdio: "ignore" });
      wp.url = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 100; i++) {
        const status = await fetch(`${wp.url}/wp-json/entra-wp-sync/v1/status`).then(
          (r) => r.status,
          () => 0,
        );
        if (status === 401) return; // the plugin's route answers (it needs edit_users)
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error("php -S with the plugin did not answer");
    });
    afterAll(async () => {
      await users.cleanup();
      server?.kill();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("refuses a user manager's writes of the sign-in block and the Entra id in core's batch, however spelled", async () => {
      const [manager, admin, peer] = await Promise.all([
        account("entra_test_user_manager"),
        account("administrator"),
        account("entra_test_user_manager"),
      ]);
      const requests = [
        { method: "POST", path: `/wp/v2/Users/${admin.id}`, body: { meta: { [DEACTIVATED]: "1" } } },
        { method: "PUT", path: `/WP/V2/USERS/${admin.id}`, body: { meta: { [DEACTIVATED]: "1" } } },
        { method: "PATCH", path: `/wp/v2/uSers/${peer.id}`, body: { meta: { [ENTRA_ID]: uniqueName("entra") } } },
        // (/wp/v2/users/me is not batchable: core answers 400 rest_batch_not_allowed.)
        { method: "PATCH", path: `/WP/v2/users/${manager.id}`, body: { meta: { [ENTRA_ID]: uniqueName("entra") } } },
      ];
      for (const path of ["/wp-json/batch/v1", "/?rest_route=/BATCH/v1"]) {
        const res = await raw("POST", path, { requests }, manager);
        expect(res.status).toBe(207);
        const statuses = (res.body.responses as Array<{ status: number }>).map((r) => r.status);
        expect({ path, statuses }).toEqual({ path, statuses: [403, 403, 403, 403] });
      }
      expect(await metaOf(admin.id)).toMatchObject({ [DEACTIVATED]: "" });
      expect(await metaOf(peer.id)).toMatchObject({ [ENTRA_ID]: "" });
      expect(await metaOf(manager.id)).toMatchObject({ [ENTRA_ID]: "" });
      // The administrator's own batch writes both.
      const entraId = uniqueName("entra");
      const ok = await wpFetchOnce(wp, "POST", "/batch/v1", {
        requests: [{ method: "POST", path: `/wp/v2/users/${peer.id}`, body: { meta: { [ENTRA_ID]: entraId } } }],
      });
      expect(ok.body.responses?.[0]?.status).toBe(200);
      expect(await metaOf(peer.id)).toMatchObject({ [ENTRA_ID]: entraId });
    });
  },
  {
    prefix: "WP_NEWER_",
    requiredBy: "REQUIRE_WORDPRESS_NEWER",
    howToStart:
      'eval "$(scripts/wordpress-local.sh --wordpress-version 6.6 --without-plugin --port 8884 --dir /tmp/entra-wp-sync-wordpress-6.6 --env-prefix WP_NEWER_)"',
  },
);
