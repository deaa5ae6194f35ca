<?php
/**
 * Runs when the plugin is deleted in wp-admin (Plugins, Delete), never on deactivation: removes what
 * the plugin stored. The plugin itself is not loaded here, so the names are spelled out.
 *  - its options: entra_wp_sync_meta_keys (on every site of a network) and entra_wp_sync_service
 *    (the service's pinned Application Password, a network option);
 *  - the user meta it writes: entra_object_id, entra_wp_sync_deactivated, entra_wp_sync_avatar (user
 *    meta is one table for the whole network). Users it had deactivated can sign in again, with the
 *    roles they hold (the service took them all when it deactivated them);
 *  - the stored profile photos, wp-content/uploads/entra-wp-sync-avatars/ (per site on a network).
 * Meta keys listed for mapped `meta.<key>` fields hold directory data the site may still show, and
 * are not the plugin's: they stay.
 */

if (!defined('WP_UNINSTALL_PLUGIN')) {
    exit;
}

$entra_wp_sync_uninstall_site = function () {
    delete_option('entra_wp_sync_meta_keys');
    $uploads = wp_upload_dir(null, false);
    $dir = trailingslashit($uploads['basedir']) . 'entra-wp-sync-avatars';
    if (!is_dir($dir)) {
        return;
    }
    // Only the plugin writes this folder (files named <user id>-<hash>.jpg or .png).
    foreach (glob($dir . '/*') ?: array() as $file) {
        if (is_file($file)) {
            wp_delete_file($file);
        }
    }
    @rmdir($dir);   // left in place when something else was put there
};

if (is_multisite()) {
    foreach (get_sites(array('fields' => 'ids', 'number' => 0)) as $entra_wp_sync_blog) {
        switch_to_blog($entra_wp_sync_blog);
        $entra_wp_sync_uninstall_site();
        restore_current_blog();
    }
} else {
    $entra_wp_sync_uninstall_site();
}
delete_site_option('entra_wp_sync_service');   // the service's pinned Application Password
foreach (array('entra_object_id', 'entra_wp_sync_deactivated', 'entra_wp_sync_avatar') as $entra_wp_sync_key) {
    delete_metadata('user', 0, $entra_wp_sync_key, '', true);
}
