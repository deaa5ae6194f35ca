<?php
/**
 * User meta in REST and the guard on core's user routes (1.), and the exact entra_object_id
 * filter of GET /wp/v2/users (2.).
 */

if (!defined('ABSPATH')) {
    exit;
}

// 1. Meta in REST. context=edit only: the public users endpoint (authors) must not show these.
add_action('init', function () {
    foreach (entra_wp_sync_meta_keys() as $key) {
        register_meta('user', $key, array(
            'type' => 'string',
            'single' => true,
            'default' => '',
            'show_in_rest' => array('schema' => array('type' => 'string', 'context' => array('edit'))),
            'auth_callback' => function () {
                return current_user_can('edit_users');
            },
        ));
    }
});
/**
 * What core's users routes would write wrongly, refused before they run: a value longer than its
 * wp_users column (core checks none for these: wpdb then refuses the row, so a create dies with a
 * PHP fatal and an update answers 200 with the old value still stored), and the sign-in block of an
 * account that outranks the caller (3.; checked on the roles the user holds before the request,
 * which may take them: "roles": [], as a deactivation does, and the meta is written after).
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
    if ($user_id && is_array($meta) && array_key_exists(ENTRA_WP_SYNC_DEACTIVATED_KEY, $meta) && entra_wp_sync_outranks_caller($user_id)) {
        return new WP_Error('rest_cannot_update', 'Sorry, this user holds capabilities you do not: you may not change its sign-in block.',
            array('status' => 403));
    }
    return null;
}
add_filter('rest_request_before_callbacks', function ($response, $handler, $request) {
    if (is_wp_error($response) || !in_array($request->get_method(), array('POST', 'PUT', 'PATCH'), true)
        || !preg_match('#^/wp/v2/users(?:/(\d+|me))?$#', $request->get_route(), $m)) return $response;
    $user_id = !isset($m[1]) ? 0 : ($m[1] === 'me' ? get_current_user_id() : (int) $m[1]);
    $refusal = entra_wp_sync_user_write_refusal($request, $user_id);
    return $refusal ?: $response;
}, 10, 3);

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
