<?php
/**
 * Plugin Name:       entra-wp-sync companion
 * Description:       What the entra-wp-sync service needs from WordPress and cannot do through the REST API alone.
 * Version:           1.7.2
 * Requires at least: 6.1
 * Requires PHP:      7.4
 * License:           MIT
 * Network:           true
 *
 * Install: copy this folder to wp-content/plugins/ and activate it (on a multisite network: network
 * activate it, so that every site has it). Without it the service still works, with less: no
 * entra_object_id matching, no meta.* fields, and deactivated users can still log in (they only lose
 * their roles). What each part does is numbered in readme.txt; the code's comments refer to those
 * numbers. Deleting the plugin in wp-admin runs uninstall.php.
 */

if (!defined('ABSPATH')) {
    exit;
}

// The must-use file of the plugin before 1.7.0 (wp-content/mu-plugins/entra-wp-sync.php) loads first
// and declares the same names: while it is there it runs, this folder does nothing, and says so.
if (defined('ENTRA_WP_SYNC_VERSION')) {
    add_action(is_multisite() ? 'network_admin_notices' : 'admin_notices', function () {
        echo '<div class="notice notice-error"><p>entra-wp-sync companion: delete the old must-use file '
            . 'wp-content/mu-plugins/entra-wp-sync.php; until then it runs instead of this plugin.</p></div>';
    });
    return;
}

const ENTRA_WP_SYNC_VERSION = '1.7.2';
const ENTRA_WP_SYNC_ID_KEY = 'entra_object_id';
const ENTRA_WP_SYNC_DEACTIVATED_KEY = 'entra_wp_sync_deactivated';
const ENTRA_WP_SYNC_BATCH_MAX = 100;

// In this order: hooks on the same action run in the order they were added (the guard of 1. before
// the transaction of 10., for one).
require_once __DIR__ . '/includes/helpers.php';
require_once __DIR__ . '/includes/rest-meta.php';      // 1., 2.
require_once __DIR__ . '/includes/sign-in.php';        // 3.
require_once __DIR__ . '/includes/mail.php';           // 4.
require_once __DIR__ . '/includes/status.php';         // 5.
require_once __DIR__ . '/includes/avatars.php';        // 6.
require_once __DIR__ . '/includes/network.php';        // 8.
require_once __DIR__ . '/includes/batch.php';          // 9.
require_once __DIR__ . '/includes/new-user-meta.php';  // 9.
require_once __DIR__ . '/includes/transactions.php';   // 9., 10.
