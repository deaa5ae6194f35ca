<?php
/**
 * Shared by every part: the meta keys, the sign-in block's flag, who the service is, and what counts
 * as an elevated capability (1., 3., 4., 7. of readme.txt).
 */

if (!defined('ABSPATH')) {
    exit;
}

/** Meta keys for mapped `meta.<key>` fields (see 1. above), validated. */
function entra_wp_sync_mapped_meta_keys() {
    global $wpdb;
    if (defined('ENTRA_WP_SYNC_META_KEYS')) {
        $list = (string) ENTRA_WP_SYNC_META_KEYS;
    } else {
        $list = (string) get_option('entra_wp_sync_meta_keys', 'department,job_title,employee_id,office');
    }
    $keys = (array) apply_filters('entra_wp_sync_meta_keys', array_map('trim', explode(',', $list)));
    // Registering one of these for REST writes would let the service (or a bad mapping) grant roles,
    // keep sessions alive or rewrite profile fields behind WordPress' back.
    $reserved = array('first_name', 'last_name', 'nickname', 'description', 'rich_editing', 'syntax_highlighting',
        'comment_shortcuts', 'admin_color', 'use_ssl', 'show_admin_bar_front', 'locale', 'session_tokens',
        'default_password_nag', 'user_level', 'capabilities', ENTRA_WP_SYNC_ID_KEY, ENTRA_WP_SYNC_DEACTIVATED_KEY);
    $out = array();
    foreach ($keys as $key) {
        if (!is_string($key) || !preg_match('/^[A-Za-z][A-Za-z0-9_]{0,63}$/', $key)) continue;
        if (in_array(strtolower($key), $reserved, true) || stripos($key, $wpdb->base_prefix) === 0) continue;
        $out[$key] = true;
    }
    return array_keys($out);
}

/** Every meta key this plugin exposes in REST. */
function entra_wp_sync_meta_keys() {
    return array_merge(array(ENTRA_WP_SYNC_ID_KEY, ENTRA_WP_SYNC_DEACTIVATED_KEY), entra_wp_sync_mapped_meta_keys());
}

function entra_wp_sync_is_deactivated($user_id) {
    return get_user_meta((int) $user_id, ENTRA_WP_SYNC_DEACTIVATED_KEY, true) === '1';
}

/**
 * A REST request made by the service (see 4.): authenticated with the service's own Application
 * Password, pinned on the WordPress side (entra_wp_sync_service_password), and naming it in the
 * X-Entra-WP-Sync-Service header. Naming one's own password proves nothing by itself: any user
 * manager can do that with theirs, and is then no more the service than before.
 */
function entra_wp_sync_is_service_request() {
    if (!defined('REST_REQUEST') || !REST_REQUEST) return false;
    $uuid = (string) rest_get_authenticated_app_password();
    $claimed = isset($_SERVER['HTTP_X_ENTRA_WP_SYNC_SERVICE']) ? (string) $_SERVER['HTTP_X_ENTRA_WP_SYNC_SERVICE'] : '';
    if ($uuid === '' || $claimed === '' || !hash_equals($uuid, $claimed)) return false;
    if (!current_user_can('edit_users')) return false;
    $pinned = entra_wp_sync_service_password($uuid);
    if ($pinned === '' || !hash_equals($pinned, $uuid)) return false;
    return (bool) apply_filters('entra_wp_sync_is_service_request', true);
}

/** Who may pin the service's password: an administrator (a super admin on a network). */
function entra_wp_sync_may_pin_service() {
    return is_multisite() ? is_super_admin() : current_user_can('manage_options') && current_user_can('edit_users');
}

/**
 * The id (uuid) of the service's Application Password, or '' while there is none:
 *  - define('ENTRA_WP_SYNC_SERVICE_APP_PASSWORD', '<uuid>') in wp-config.php, when set;
 *  - else the one pinned in the network option entra_wp_sync_service ({user, uuid}; on a single
 *    site an option): the first password that names itself as the service's ($claimed, the caller's
 *    own) in a request of an administrator, while no pinned password exists (none yet, or the
 *    pinned one was revoked). An administrator can do all the service does anyway; a user manager
 *    without manage_options cannot pin, nor take over a pin.
 */
function entra_wp_sync_service_password($claimed = '') {
    if (defined('ENTRA_WP_SYNC_SERVICE_APP_PASSWORD')) return (string) ENTRA_WP_SYNC_SERVICE_APP_PASSWORD;
    $pin = get_site_option('entra_wp_sync_service');
    $live = is_array($pin) && isset($pin['user'], $pin['uuid'])
        && WP_Application_Passwords::get_user_application_password((int) $pin['user'], (string) $pin['uuid']);
    if ($live) return (string) $pin['uuid'];
    if ($claimed === '' || !entra_wp_sync_may_pin_service()) return '';
    update_site_option('entra_wp_sync_service', array('user' => get_current_user_id(), 'uuid' => $claimed));
    return $claimed;
}

/**
 * Capabilities that manage users or the site, or act on other people's content and the site's
 * markup. Mirrors src/core/privileges.ts (MANAGEMENT_CAPABILITIES + CONTENT_CAPABILITIES and the
 * manage_*, edit_others_*, delete_others_* families that plugins use for their own).
 */
function entra_wp_sync_is_elevated_capability($cap) {
    static $listed = array('create_users', 'edit_users', 'delete_users', 'promote_users', 'remove_users', 'add_users',
        'list_users', 'manage_options', 'activate_plugins', 'install_plugins', 'edit_plugins', 'update_plugins',
        'delete_plugins', 'switch_themes', 'install_themes', 'edit_themes', 'update_themes', 'delete_themes',
        'edit_theme_options', 'update_core', 'edit_files', 'import', 'export', 'unfiltered_upload', 'manage_network',
        'manage_sites', 'manage_network_users', 'manage_network_plugins', 'manage_network_themes',
        'manage_network_options', 'upgrade_network', 'setup_network', 'create_sites', 'delete_sites',
        'unfiltered_html', 'moderate_comments', 'manage_categories', 'manage_links', 'edit_others_posts',
        'edit_others_pages', 'delete_others_posts', 'delete_others_pages', 'edit_private_posts', 'edit_private_pages',
        'delete_private_posts', 'delete_private_pages');
    return in_array($cap, $listed, true) || strpos($cap, 'manage_') === 0 || strpos($cap, 'edit_others_') === 0
        || strpos($cap, 'delete_others_') === 0;
}

/**
 * The elevated capabilities $user holds that none of $roles grants: non-empty means the account
 * must not be taken over by someone who would only be given $roles (see 6. above).
 */
function entra_wp_sync_capabilities_beyond(WP_User $user, array $roles) {
    $grantable = array();
    foreach ($roles as $role) {
        $object = get_role($role);
        if ($object) $grantable += array_filter($object->capabilities);
    }
    $beyond = array();
    foreach ($user->allcaps as $cap => $granted) {
        if ($granted && entra_wp_sync_is_elevated_capability($cap) && !isset($grantable[$cap])) $beyond[] = $cap;
    }
    return $beyond;
}

/**
 * Whether the user holds an elevated capability (7.) the current user lacks, or is a super admin the
 * current user is not: true for a user that is not there (nothing is known, so nothing is assumed).
 * Capabilities as the roles grant them, not as current_user_can() maps them: it refuses some to
 * everyone (manage_links while the link manager is off, unfiltered_upload without its constant).
 */
function entra_wp_sync_outranks_caller($user_id) {
    $user = get_userdata((int) $user_id);
    if (!$user) return true;
    if (is_multisite()) {   // on a single site is_super_admin() only means delete_users
        if (is_super_admin()) return false;   // holds every capability on every site
        if (is_super_admin($user->ID)) return true;
    }
    $caller = wp_get_current_user();
    foreach ($user->allcaps as $cap => $granted) {
        if ($granted && entra_wp_sync_is_elevated_capability($cap) && empty($caller->allcaps[$cap])) return true;
    }
    return false;
}

/** Whether $value is a JSON list of strings (role names). */
function entra_wp_sync_is_string_list($value) {
    if (!is_array($value) || array_values($value) !== $value) return false;
    foreach ($value as $item) {
        if (!is_string($item)) return false;
    }
    return true;
}

/**
 * Whether this REST request is a user write, known by the handler WordPress matched it to, never by
 * how the route is spelled: WordPress matches routes case-insensitively (/wp/v2/Users/1,
 * ?rest_route=/WP/V2/USERS/1), in core's /batch/v1 too. Core's users controller writing (create,
 * update, delete; /me included, subclasses too), and the routes of 8. that write, which say so with
 * 'entra_wp_sync_user_write' => true in their handler.
 */
function entra_wp_sync_is_user_write(WP_REST_Request $request, $handler) {
    if (in_array($request->get_method(), array('GET', 'HEAD', 'OPTIONS'), true) || !is_array($handler)) return false;
    if (!empty($handler['entra_wp_sync_user_write'])) return true;
    $callback = isset($handler['callback']) ? $handler['callback'] : null;
    return is_array($callback) && isset($callback[0], $callback[1]) && $callback[0] instanceof WP_REST_Users_Controller
        && in_array($callback[1], array('create_item', 'update_item', 'update_current_item', 'delete_item', 'delete_current_item'), true);
}
