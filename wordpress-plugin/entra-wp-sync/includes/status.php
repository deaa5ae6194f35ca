<?php
/**
 * Detection: GET /wp-json/entra-wp-sync/v1/status (5.).
 */

if (!defined('ABSPATH')) {
    exit;
}

// 5. Detection.
add_action('rest_api_init', function () {
    register_rest_route('entra-wp-sync/v1', '/status', array(
        'methods' => 'GET',
        'permission_callback' => function () {
            return current_user_can('edit_users');
        },
        'callback' => function () {
            $roles = array();
            foreach (wp_roles()->roles as $name => $role) {
                $roles[$name] = array_keys(array_filter((array) $role['capabilities']));
            }
            return array(
                'version' => ENTRA_WP_SYNC_VERSION,
                'meta_keys' => entra_wp_sync_mapped_meta_keys(),
                'roles' => (object) $roles,
                // The caller's own password id: nothing it could not read at /wp/v2/users/me/application-passwords.
                'app_password' => rest_get_authenticated_app_password(),
                // Whether this request is the service's (4.): its pinned password, named in the header.
                'service' => entra_wp_sync_is_service_request(),
                'batch_max' => ENTRA_WP_SYNC_BATCH_MAX,
                'batch_expect' => true,
            );
        },
    ));
});
