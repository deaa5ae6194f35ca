/**
 * The companion plugin's uninstall.php, run the way WordPress runs it when the plugin is deleted
 * (uninstall_plugin()), on the real WordPress: it removes the plugin's options, its user meta and
 * the stored photos, and leaves what is not the plugin's. The test WordPress is shared with other
 * test files, so the run happens inside a database transaction that is rolled back afterwards, with
 * the uploads directory pointed at a directory of its own.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { aPng } from "../helpers/images";
import { describeWithWordPress, uniqueName, type WordPressTarget } from "../helpers/wordpress";

describeWithWordPress("the companion plugin's uninstall.php (WordPress 6.1)", (wp: WordPressTarget) => {
  it("removes the plugin's options, user meta and photo files, and nothing else", () => {
    if (!wp.docroot) return; // a remote WordPress: no PHP to run on its files
    const uploads = mkdtempSync(join(tmpdir(), "entra-wp-sync-uninstall-"));
    try {
      const login = uniqueName("uninstall");
      const script = `
        $_SERVER['HTTP_HOST'] = ${JSON.stringify(new URL(wp.url).host)}; $_SERVER['REQUEST_URI'] = '/';
        define('WP_USE_THEMES', false);
        require ${JSON.stringify(join(wp.docroot, "wp-load.php"))};
        require_once ABSPATH . 'wp-admin/includes/plugin.php';
        $dir = getenv('UPLOADS');
        add_filter('upload_dir', function ($u) use ($dir) { $u['basedir'] = $dir; $u['baseurl'] = 'http://uploads.test'; return $u; });
        $wpdb->query('START TRANSACTION');
        $id = wp_insert_user(array('user_login' => getenv('LOGIN'), 'user_pass' => wp_generate_password(),
            'user_email' => getenv('LOGIN') . '@example.test', 'meta_input' => array('entra_object_id' => 'e-1',
            'entra_wp_sync_deactivated' => '1', 'department' => 'Sales')));
        update_option('entra_wp_sync_meta_keys', 'department');
        update_site_option('entra_wp_sync_service', array('user' => 1, 'uuid' => 'x'));
        $stored = entra_wp_sync_avatar_store($id, getenv('PNG'));
        $before = array('file' => is_file($dir . '/entra-wp-sync-avatars/' . basename($stored['url'])),
            'meta' => get_user_meta($id, 'entra_wp_sync_avatar', true) !== '');
        uninstall_plugin('entra-wp-sync/entra-wp-sync.php');
        clean_user_cache($id);
        wp_cache_flush();
        $after = array(
            'meta' => array_map(function ($key) use ($id) { return get_user_meta($id, $key, true); },
                array('entra_object_id', 'entra_wp_sync_deactivated', 'entra_wp_sync_avatar', 'department')),
            'options' => array(get_option('entra_wp_sync_meta_keys', 'gone'), get_site_option('entra_wp_sync_service', 'gone')),
            'user' => (bool) get_userdata($id),
        );
        $wpdb->query('ROLLBACK');
        echo "\\n@@", json_encode(array('before' => $before, 'after' => $after));`;
      const out = execFileSync("php", ["-r", script], {
        encoding: "utf8",
        env: { ...process.env, UPLOADS: uploads, LOGIN: login, PNG: Buffer.from(aPng("uninstall")).toString("base64") },
      });
      expect(JSON.parse(out.slice(out.lastIndexOf("\n@@") + 3))).toEqual({
        before: { file: true, meta: true },
        after: { meta: ["", "", "", "Sales"], options: ["gone", "gone"], user: true },
      });
      expect(
        existsSync(join(uploads, "entra-wp-sync-avatars")) ? readdirSync(join(uploads, "entra-wp-sync-avatars")) : [],
      ).toEqual([]);
    } finally {
      rmSync(uploads, { recursive: true, force: true });
    }
  });
});
