<?php
/**
 * Plugin Name: entra-wp-sync companion
 * Description: What the entra-wp-sync service needs from WordPress and cannot do through the REST API alone.
 * Version:     1.0.0
 * License:     MIT
 *
 * Install as a must-use plugin: copy this one file to wp-content/mu-plugins/ (scripts/wordpress-local.sh
 * does this). Without it the service still works, with less: no entra_object_id matching, no meta.*
 * fields, and deactivated users can still log in (they only lose their roles).
 *
 * What it does:
 *  1. Registers user meta for the REST API (`meta` field, edit context only, writable by edit_users):
 *     - entra_object_id            the Entra object id of a synced user
 *     - entra_wp_sync_deactivated  "1" while the user is deactivated by the service, "" otherwise
 *     - the keys a job maps with `meta.<key>` fields. WordPress ignores unregistered keys silently and
 *       the service cannot register keys over REST, so they are listed here. In priority order:
 *         define('ENTRA_WP_SYNC_META_KEYS', 'department,job_title,cost_center');  // wp-config.php
 *         update_option('entra_wp_sync_meta_keys', 'department,job_title');        // or an option
 *         default: department, job_title, employee_id, office
 *       and then the `entra_wp_sync_meta_keys` filter (array of keys) has the last word.
 *       Keys that WordPress uses itself (capabilities, session tokens, ...) are refused.
 *  2. Adds an exact-match collection parameter: GET /wp/v2/users?entra_object_id=<id>
 *     (core has no user meta filter; `search` is a substring match on other columns).
 *  3. Blocks every login (password form, XML-RPC, Application Passwords) of users flagged deactivated,
 *     and ends their sessions when the flag is set.
 *  4. Suppresses the "email changed", "password changed" and "new user" mails for REST requests made
 *     by the service's account: a request authenticated with an Application Password by a user who can
 *     edit_users (restricted to one login when ENTRA_WP_SYNC_SERVICE_USER is defined).
 *  5. GET /wp-json/entra-wp-sync/v1/status -> {"version": "...", "meta_keys": [...]} (edit_users only)
 *     so the service can detect the plugin and the meta keys it may write.
 *  6. Profile photos as avatars (jobs with `photos: true`): POST/DELETE
 *     /wp-json/entra-wp-sync/v1/users/<id>/avatar stores or removes a user's photo in
 *     wp-content/uploads/entra-wp-sync-avatars/, and the pre_get_avatar_data filter serves it wherever
 *     WordPress shows an avatar (themes, comments, the admin, REST avatar_urls).
 */

if (!defined('ABSPATH')) {
    exit;
}

const ENTRA_WP_SYNC_VERSION = '1.0.0';
const ENTRA_WP_SYNC_ID_KEY = 'entra_object_id';
const ENTRA_WP_SYNC_DEACTIVATED_KEY = 'entra_wp_sync_deactivated';

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

/** A REST request made by the service's account (see 4. above). */
function entra_wp_sync_is_service_request() {
    if (!defined('REST_REQUEST') || !REST_REQUEST || !rest_get_authenticated_app_password()) return false;
    if (!current_user_can('edit_users')) return false;
    if (defined('ENTRA_WP_SYNC_SERVICE_USER') && wp_get_current_user()->user_login !== ENTRA_WP_SYNC_SERVICE_USER) {
        return false;
    }
    return (bool) apply_filters('entra_wp_sync_is_service_request', true);
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

// 3. Deactivated users cannot log in by any route.
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
$entra_wp_sync_end_sessions = function ($meta_id, $user_id, $meta_key, $value) {
    if ($meta_key === ENTRA_WP_SYNC_DEACTIVATED_KEY && $value === '1') {
        WP_Session_Tokens::get_instance((int) $user_id)->destroy_all();
    }
};
add_action('added_user_meta', $entra_wp_sync_end_sessions, 10, 4);
add_action('updated_user_meta', $entra_wp_sync_end_sessions, 10, 4);

// 4. No notification mails for the service's writes (the directory, not the user, changed them).
foreach (array('send_email_change_email', 'send_password_change_email',
    'wp_send_new_user_notification_to_user', 'wp_send_new_user_notification_to_admin') as $entra_wp_sync_filter) {
    add_filter($entra_wp_sync_filter, function ($send) {
        return entra_wp_sync_is_service_request() ? false : $send;
    }, 100);
}

// 5. Detection.
add_action('rest_api_init', function () {
    register_rest_route('entra-wp-sync/v1', '/status', array(
        'methods' => 'GET',
        'permission_callback' => function () {
            return current_user_can('edit_users');
        },
        'callback' => function () {
            return array('version' => ENTRA_WP_SYNC_VERSION, 'meta_keys' => entra_wp_sync_mapped_meta_keys());
        },
    ));
});

// 6. Profile photos as avatars. Kept apart from the rest: its own route, meta key and filter.
const ENTRA_WP_SYNC_AVATAR_KEY = 'entra_wp_sync_avatar';
const ENTRA_WP_SYNC_AVATAR_MAX_BYTES = 524288; // Graph's 240x240 photos are a few tens of KB
const ENTRA_WP_SYNC_AVATAR_MAX_SIDE = 1024;

function entra_wp_sync_avatar_dir() {
    $uploads = wp_upload_dir(null, false);
    return array(
        'dir' => trailingslashit($uploads['basedir']) . 'entra-wp-sync-avatars',
        'url' => trailingslashit($uploads['baseurl']) . 'entra-wp-sync-avatars',
    );
}

/** Removes the user's stored photo file and meta; the file name comes from our own meta, never the request. */
function entra_wp_sync_avatar_remove($user_id) {
    $current = get_user_meta($user_id, ENTRA_WP_SYNC_AVATAR_KEY, true);
    if (is_array($current) && !empty($current['file'])) {
        $path = entra_wp_sync_avatar_dir()['dir'] . '/' . basename($current['file']);
        if (is_file($path)) {
            wp_delete_file($path);
        }
    }
    delete_user_meta($user_id, ENTRA_WP_SYNC_AVATAR_KEY);
}

/** Validates and stores a base64 JPEG or PNG as the user's avatar; a WP_Error names what is wrong. */
function entra_wp_sync_avatar_store($user_id, $base64) {
    $bytes = is_string($base64) ? base64_decode($base64, true) : false;
    if ($bytes === false || $bytes === '') {
        return new WP_Error('entra_wp_sync_avatar_invalid', 'image must be base64-encoded image data', array('status' => 400));
    }
    if (strlen($bytes) > ENTRA_WP_SYNC_AVATAR_MAX_BYTES) {
        return new WP_Error('entra_wp_sync_avatar_too_large', 'image is larger than ' . ENTRA_WP_SYNC_AVATAR_MAX_BYTES . ' bytes', array('status' => 400));
    }
    // The type comes from the bytes, never from a name or header the caller chose.
    $info = @getimagesizefromstring($bytes);
    $types = array(IMAGETYPE_JPEG => 'jpg', IMAGETYPE_PNG => 'png');
    if (!is_array($info) || !isset($types[$info[2]])) {
        return new WP_Error('entra_wp_sync_avatar_type', 'image must be a JPEG or PNG', array('status' => 400));
    }
    if ($info[0] < 1 || $info[1] < 1 || $info[0] > ENTRA_WP_SYNC_AVATAR_MAX_SIDE || $info[1] > ENTRA_WP_SYNC_AVATAR_MAX_SIDE) {
        return new WP_Error('entra_wp_sync_avatar_size', 'image must be at most ' . ENTRA_WP_SYNC_AVATAR_MAX_SIDE . ' pixels a side', array('status' => 400));
    }
    $where = entra_wp_sync_avatar_dir();
    if (!wp_mkdir_p($where['dir'])) {
        return new WP_Error('entra_wp_sync_avatar_storage', 'the uploads directory is not writable', array('status' => 500));
    }
    $hash = hash('sha256', $bytes);
    // The hash in the name changes the URL with the photo, so browsers and caches never show an old one.
    $file = intval($user_id) . '-' . substr($hash, 0, 16) . '.' . $types[$info[2]];
    if (file_put_contents($where['dir'] . '/' . $file, $bytes) === false) {
        return new WP_Error('entra_wp_sync_avatar_storage', 'the photo could not be written', array('status' => 500));
    }
    $previous = get_user_meta($user_id, ENTRA_WP_SYNC_AVATAR_KEY, true);
    if (is_array($previous) && !empty($previous['file']) && basename($previous['file']) !== $file) {
        wp_delete_file($where['dir'] . '/' . basename($previous['file']));
    }
    update_user_meta($user_id, ENTRA_WP_SYNC_AVATAR_KEY, array('file' => $file, 'hash' => $hash));
    return array('hash' => $hash, 'url' => $where['url'] . '/' . $file);
}

add_action('rest_api_init', function () {
    register_rest_route('entra-wp-sync/v1', '/users/(?P<id>\\d+)/avatar', array(
        'methods' => array('POST', 'DELETE'),
        'permission_callback' => function ($request) {
            return current_user_can('edit_user', intval($request['id']));
        },
        'callback' => function ($request) {
            $user_id = intval($request['id']);
            if (!get_userdata($user_id)) {
                return new WP_Error('rest_user_invalid_id', 'Invalid user ID.', array('status' => 404));
            }
            if ($request->get_method() === 'DELETE') {
                entra_wp_sync_avatar_remove($user_id);
                return array('deleted' => true);
            }
            return entra_wp_sync_avatar_store($user_id, $request->get_param('image'));
        },
    ));
});

/** The user id behind whatever get_avatar() was given (id, e-mail, WP_User, WP_Post, WP_Comment). */
function entra_wp_sync_avatar_user_id($id_or_email) {
    if (is_numeric($id_or_email)) return intval($id_or_email);
    if ($id_or_email instanceof WP_User) return $id_or_email->ID;
    if ($id_or_email instanceof WP_Post) return intval($id_or_email->post_author);
    if ($id_or_email instanceof WP_Comment) return intval($id_or_email->user_id);
    if (is_string($id_or_email) && is_email($id_or_email)) {
        $user = get_user_by('email', $id_or_email);
        return $user ? $user->ID : 0;
    }
    return 0;
}

// A deleted user's photo file goes with them (the meta goes with the user row).
add_action('delete_user', 'entra_wp_sync_avatar_remove');

add_filter('pre_get_avatar_data', function ($args, $id_or_email) {
    $user_id = entra_wp_sync_avatar_user_id($id_or_email);
    if ($user_id < 1) return $args;
    $avatar = get_user_meta($user_id, ENTRA_WP_SYNC_AVATAR_KEY, true);
    if (!is_array($avatar) || empty($avatar['file'])) return $args;
    $args['url'] = entra_wp_sync_avatar_dir()['url'] . '/' . rawurlencode(basename($avatar['file']));
    $args['found_avatar'] = true;
    return $args;
}, 10, 2);
