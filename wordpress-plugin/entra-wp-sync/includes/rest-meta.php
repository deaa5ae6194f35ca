<?php
/**
 * User meta in REST and the guard on core's user routes (1.), and the exact entra_object_id
 * filter of GET /wp/v2/users (2.).
 */

if (!defined('ABSPATH')) {
    exit;
}

// 1. Meta in REST. context=edit only: the public users endpoint (authors) must not show these.
// The keys of the plugin itself (entra_object_id, entra_wp_sync_deactivated) answer to
// entra_wp_sync_protected_meta_refusal, here and wherever else they are written (below).
add_action('init', function () {
    foreach (entra_wp_sync_meta_keys() as $key) {
        register_meta('user', $key, array(
            'type' => 'string',
            'single' => true,
            'default' => '',
            'show_in_rest' => array('schema' => array('type' => 'string', 'context' => array('edit'))),
            'auth_callback' => function ($allowed, $meta_key, $user_id) {
                return current_user_can('edit_users') && entra_wp_sync_protected_meta_refusal($user_id, $meta_key) === null;
            },
        ));
    }
});

/**
 * Why the signed-in caller may not write $meta_key of user $user_id, or null when it may (or the key
 * is not one of the plugin's own). Checked where the data is written, so that no spelling of a
 * route, no batch and no other path (wp_insert_user's meta_input, another plugin's code) gets round
 * it:
 *  - entra_wp_sync_deactivated (3.): edit_users, and edit_user on that user, which it must not
 *    outrank (entra_wp_sync_outranks_caller, on the capabilities it held before this request
 *    changed its roles: a deactivation takes them all, "roles": [], before the meta is written);
 *  - entra_object_id: the same, and only by the service (entra_wp_sync_is_service_request) or an
 *    administrator (manage_options; a super admin on a network, where user meta is the whole
 *    network's). The service adopts an account by the Entra id stored here without its capability
 *    check (the id says the service made or matched it), so a user manager must not be able to put
 *    an id on an account, its own included, and be given that Entra user's roles.
 * Nobody signed in (WordPress itself, WP-CLI, cron, uninstall.php): no check, as for core's own meta.
 */
function entra_wp_sync_protected_meta_refusal($user_id, $meta_key) {
    if ($meta_key !== ENTRA_WP_SYNC_DEACTIVATED_KEY && $meta_key !== ENTRA_WP_SYNC_ID_KEY) return null;   // first: see below
    if (!get_current_user_id()) return null;
    $user_id = (int) $user_id;
    if (!current_user_can('edit_users') || !current_user_can('edit_user', $user_id)) {
        return 'Sorry, you may not edit this user.';
    }
    if (entra_wp_sync_outranked_by($user_id)) {
        return 'Sorry, this user holds capabilities you do not: you may not change its ' . $meta_key . '.';
    }
    if ($meta_key === ENTRA_WP_SYNC_ID_KEY && !entra_wp_sync_is_service_request()
        && !(is_multisite() ? is_super_admin() : current_user_can('manage_options'))) {
        return 'Sorry, only the entra-wp-sync service or an administrator may set a user\'s Entra id.';
    }
    return null;
}

/**
 * entra_wp_sync_outranks_caller for $user_id as the user was before this request changed its roles
 * (kept when its capabilities meta is first written), else as it is now.
 */
function entra_wp_sync_outranked_by($user_id) {
    $before = isset($GLOBALS['entra_wp_sync_outranks_before']) ? $GLOBALS['entra_wp_sync_outranks_before'] : array();
    return isset($before[$user_id]) ? $before[$user_id] : entra_wp_sync_outranks_caller($user_id);
}

// The capabilities meta (<prefix>capabilities, per site on a network) holds the roles: before its
// first write for a user in this request, remember whether the user outranked the caller.
function entra_wp_sync_remember_rank($check, $user_id, $meta_key) {
    global $wpdb;
    // The key first: get_current_user_id() authenticates the request when nobody has yet, and
    // authentication writes user meta itself (an Application Password's last use).
    if ($check === null && strpos($meta_key, $wpdb->base_prefix) === 0 && substr($meta_key, -strlen('capabilities')) === 'capabilities'
        && !isset($GLOBALS['entra_wp_sync_outranks_before'][(int) $user_id]) && get_current_user_id()) {
        $GLOBALS['entra_wp_sync_outranks_before'][(int) $user_id] = entra_wp_sync_outranks_caller($user_id);
    }
    return $check;
}
add_filter('add_user_metadata', 'entra_wp_sync_remember_rank', 10, 3);
add_filter('update_user_metadata', 'entra_wp_sync_remember_rank', 10, 3);
add_filter('delete_user_metadata', 'entra_wp_sync_remember_rank', 10, 3);

// Every write of the plugin's own keys, by any path: refused (false, as a failed write) when the
// caller may not make it. Last, so that it sees what other callbacks decided.
function entra_wp_sync_guard_meta($check, $user_id, $meta_key) {
    return $check === null && entra_wp_sync_protected_meta_refusal($user_id, $meta_key) !== null ? false : $check;
}
add_filter('add_user_metadata', 'entra_wp_sync_guard_meta', PHP_INT_MAX, 3);
add_filter('update_user_metadata', 'entra_wp_sync_guard_meta', PHP_INT_MAX, 3);
add_filter('delete_user_metadata', 'entra_wp_sync_guard_meta', PHP_INT_MAX, 3);

/**
 * What core's users routes would write wrongly, refused before they run: a value longer than its
 * wp_users column (core checks none for these: wpdb then refuses the row, so a create dies with a
 * PHP fatal and an update answers 200 with the old value still stored), and a write of the plugin's
 * own meta the caller may not make (so that nothing of the request is written; the meta write
 * itself would be refused anyway, see above).
 */
function entra_wp_sync_user_write_refusal(WP_REST_Request $request, $user_id) {
    global $wpdb;
    foreach (array('email' => 'user_email', 'url' => 'user_url', 'name' => 'display_name') as $param => $column) {
        $value = $request->get_param($param);
        $max = is_string($value) ? $wpdb->get_col_length($wpdb->users, $column) : null;
        if (is_array($max) && isset($max['length']) && mb_strlen($value) > $max['length']) {
            return new WP_Error('rest_invalid_param', "\"$param\" has " . mb_strlen($value) . ' characters; WordPress stores at most '
                . $max['length'] . '.', array('status' => 400, 'params' => array($param => 'too long')));
        }
    }
    $meta = $request->get_param('meta');
    foreach (is_array($meta) && $user_id ? array(ENTRA_WP_SYNC_DEACTIVATED_KEY, ENTRA_WP_SYNC_ID_KEY) : array() as $key) {
        $refusal = array_key_exists($key, $meta) ? entra_wp_sync_protected_meta_refusal($user_id, $key) : null;
        if ($refusal !== null) return new WP_Error('rest_cannot_update', $refusal, array('status' => 403));
    }
    return null;
}
// After authentication and the route's own permission check (rest_dispatch_request runs just before
// the callback): an anonymous caller gets core's 401, and learns nothing of who outranks whom.
add_filter('rest_dispatch_request', function ($result, $request, $route, $handler) {
    $callback = isset($handler['callback']) ? $handler['callback'] : null;
    if ($result !== null || !entra_wp_sync_is_user_write($request, $handler) || $request->get_method() === 'DELETE'
        || !is_array($callback) || !$callback[0] instanceof WP_REST_Users_Controller) return $result;
    $user_id = $callback[1] === 'update_current_item' ? get_current_user_id() : (int) $request['id'];
    $refusal = entra_wp_sync_user_write_refusal($request, $user_id);
    return $refusal ?: $result;
}, 10, 4);

// 2. GET /wp/v2/users?entra_object_id=<id> (exact match).
add_filter('rest_user_collection_params', function ($params) {
    $params[ENTRA_WP_SYNC_ID_KEY] = array(
        'description' => 'Limit result set to the user with this Entra object id (exact match).',
        'type' => 'string',
    );
    return $params;
});
add_filter('rest_user_query', function ($args, $request) {
    $id = $request->get_param(ENTRA_WP_SYNC_ID_KEY);
    if (!is_string($id) || $id === '') return $args;
    if (!current_user_can('list_users')) {
        $args['include'] = array(0); // no probing ids through the public authors listing
        return $args;
    }
    $args['meta_query'][] = array('key' => ENTRA_WP_SYNC_ID_KEY, 'value' => $id, 'compare' => '=');
    return $args;
}, 10, 2);
