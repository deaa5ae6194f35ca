<?php
/**
 * Sign-in blocking (3.): users flagged deactivated are refused on every path, and their sessions end.
 */

if (!defined('ABSPATH')) {
    exit;
}

// 3. Deactivated users are refused by every route.
// The password form, XML-RPC and anything else that calls wp_authenticate().
add_filter('authenticate', function ($user) {
    if ($user instanceof WP_User && entra_wp_sync_is_deactivated($user->ID)) {
        return new WP_Error('entra_wp_sync_deactivated', __('This account is deactivated.'));
    }
    return $user;
}, 100); // after core's username/e-mail/password checks (priority 20)
add_action('wp_authenticate_application_password_errors', function ($error, $user) {
    if ($user instanceof WP_User && entra_wp_sync_is_deactivated($user->ID)) {
        $error->add('entra_wp_sync_deactivated', __('This account is deactivated.'));
    }
}, 10, 2);
// Whoever a request would be taken to come from: auth and logged-in cookies (also those an SSO plugin
// sets itself), Application Passwords, and any plugin resolving users through this filter. Last, so
// that it sees what every other callback decided.
add_filter('determine_current_user', function ($user_id) {
    return $user_id && entra_wp_sync_is_deactivated($user_id) ? false : $user_id;
}, PHP_INT_MAX);
// Plugins that call wp_set_current_user() themselves (some SSO callbacks) skip that filter.
add_action('set_current_user', function () {
    $id = get_current_user_id();
    if ($id && entra_wp_sync_is_deactivated($id)) wp_set_current_user(0);
});
// A session opened for a deactivated user (an SSO plugin calling wp_set_auth_cookie()) ends at once,
// so the cookie it was given is refused everywhere, wp-admin's own cookie check included.
add_action('set_auth_cookie', function ($cookie, $expire, $expiration, $user_id, $scheme, $token) {
    if (entra_wp_sync_is_deactivated($user_id)) WP_Session_Tokens::get_instance((int) $user_id)->destroy($token);
}, 10, 6);
function entra_wp_sync_end_sessions($meta_id, $user_id, $meta_key, $value) {
    if ($meta_key === ENTRA_WP_SYNC_DEACTIVATED_KEY && $value === '1') {
        WP_Session_Tokens::get_instance((int) $user_id)->destroy_all();
    }
}
add_action('added_user_meta', 'entra_wp_sync_end_sessions', 10, 4);
add_action('updated_user_meta', 'entra_wp_sync_end_sessions', 10, 4);
