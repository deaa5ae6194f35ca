<?php
/**
 * Plugin Name: entra-wp-sync companion
 * Description: What the entra-wp-sync service needs from WordPress and cannot do through the REST API alone.
 * Version:     1.6.2
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
 *                                  (never set or cleared by a caller the user outranks)
 *     - the keys a job maps with `meta.<key>` fields. WordPress ignores unregistered keys silently and
 *       the service cannot register keys over REST, so they are listed here. In priority order:
 *         define('ENTRA_WP_SYNC_META_KEYS', 'department,job_title,cost_center');  // wp-config.php
 *         update_option('entra_wp_sync_meta_keys', 'department,job_title');        // or an option
 *         default: department, job_title, employee_id, office
 *       and then the `entra_wp_sync_meta_keys` filter (array of keys) has the last word.
 *       Keys that WordPress uses itself (capabilities, session tokens, ...) are refused.
 *  2. Adds an exact-match collection parameter: GET /wp/v2/users?entra_object_id=<id>
 *     (core has no user meta filter; `search` is a substring match on other columns).
 *  3. Refuses users flagged deactivated on every path: the password form and XML-RPC (authenticate),
 *     Application Passwords, and whoever WordPress would take a request to come from
 *     (determine_current_user: auth cookies, including those a single-sign-on plugin sets itself, and
 *     plugins that set the current user directly). Their sessions end when the flag is set, and a
 *     session opened for them later (an SSO plugin calling wp_set_auth_cookie) is ended at once.
 *  4. Suppresses the "email changed", "password changed" and "new user" mails only for the service's
 *     own REST writes: the request must be authenticated with an Application Password and carry that
 *     password's id (uuid) in the X-Entra-WP-Sync-Service header. The service learns the id from 5.
 *     (WordPress tells each caller the id of the password it authenticated with); a person's
 *     requests, with another password or a cookie, get WordPress's usual mails. No configuration.
 *     Never for a user holding an elevated capability (7.) the caller lacks: any edit_users holder
 *     can name its own password's id, and an administrator must still hear that a lesser user
 *     manager changed its e-mail.
 *  5. GET /wp-json/entra-wp-sync/v1/status (edit_users only) -> {"version", "meta_keys": [...], "batch_max",
 *     "roles": {role: [capabilities]}, "app_password": "<uuid of the caller's Application Password>"}
 *     so the service can detect the plugin, the meta keys it may write, what each role allows
 *     (a job may grant roles that manage users or the site only when it says so), and its own id.
 *  6. Profile photos as avatars (jobs with `photos: true`): POST/DELETE
 *     /wp-json/entra-wp-sync/v1/users/<id>/avatar stores or removes a user's photo in
 *     wp-content/uploads/entra-wp-sync-avatars/, and the pre_get_avatar_data filter serves it wherever
 *     WordPress shows an avatar (themes, comments, the admin, REST avatar_urls).
 *  7. entra_wp_sync_capabilities_beyond(): the capability check the service applies before adopting an
 *     existing account (src/core/privileges.ts); plugin code that writes users must use it too.
 *  8. On a multisite network: routes for site memberships and network deletes (see section 8).
 *  9. Bulk writes: POST /wp-json/entra-wp-sync/v1/users/batch {"operations": [...]} runs up to 100
 *     create / update / deactivate / reactivate / delete operations in one request and one database
 *     transaction (one bootstrap and one commit instead of one per user). Each operation is dispatched
 *     to the core /wp/v2/users routes in-process, so validation, permissions, roles, meta, e-mail rules
 *     and the mails of 4. are exactly those of the per-user path; each runs under its own savepoint, so
 *     a failing one is rolled back alone and reported, and its neighbours are written. A create refused
 *     because its login or e-mail belongs to a user with the same Entra id answers "existing" with that
 *     user (a retried request after a lost response creates nobody twice). An operation may carry "guard": [roles]; a user holding elevated
 *     capabilities beyond those roles (7.) is then refused with entra_wp_sync_protected. An update or
 *     reactivate may carry "expect": what the service assumes the user holds now (field values, and
 *     its exact roles or none of some roles); it is written only while the user holds exactly that,
 *     else answered "changed" with nothing written. Either way the result carries "before", the user
 *     as it was, so the service needs no read before the write and still records what it replaced.
 *     A user the service itself creates here (its own Application Password, see 4.) gets a stored
 *     password that no input matches, without running the password hash (the largest single cost of
 *     a create): such users sign in through single sign-on, or set a password of their own with
 *     "Lost your password?". Anyone else's creates, and every update, keep WordPress's own hash;
 *     add_filter('entra_wp_sync_no_password', '__return_false') keeps it for the service's too.
 *     When the database rolls a batch's transaction back midway (the victim of a deadlock with another
 *     writer), nothing of the batch is written and the request answers 503 entra_wp_sync_batch_rolled_back:
 *     send it again. The user_count option is brought up to date once per batch, after its commit.
 * 10. Core REST user writes (POST/PUT/PATCH/DELETE /wp/v2/users[/<id>|/me]), and those of 8., run in
 *     one transaction too: a write that loses a deadlock, or answers an error, is rolled back whole, never half
 *     written; the first answers 503 entra_wp_sync_rolled_back: send it again.
 */

if (!defined('ABSPATH')) {
    exit;
}

const ENTRA_WP_SYNC_VERSION = '1.6.2';
const ENTRA_WP_SYNC_ID_KEY = 'entra_object_id';
const ENTRA_WP_SYNC_DEACTIVATED_KEY = 'entra_wp_sync_deactivated';
const ENTRA_WP_SYNC_BATCH_MAX = 100;

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
 * A REST request made by the service (see 4. above): authenticated with the Application Password
 * whose id the request names. A header alone proves nothing; an id that is not the password the
 * request was authenticated with (another password, a cookie) is not the service.
 */
function entra_wp_sync_is_service_request() {
    if (!defined('REST_REQUEST') || !REST_REQUEST) return false;
    $uuid = (string) rest_get_authenticated_app_password();
    $claimed = isset($_SERVER['HTTP_X_ENTRA_WP_SYNC_SERVICE']) ? (string) $_SERVER['HTTP_X_ENTRA_WP_SYNC_SERVICE'] : '';
    if ($uuid === '' || $claimed === '' || !hash_equals($uuid, $claimed)) return false;
    if (!current_user_can('edit_users')) return false;
    return (bool) apply_filters('entra_wp_sync_is_service_request', true);
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
$entra_wp_sync_end_sessions = function ($meta_id, $user_id, $meta_key, $value) {
    if ($meta_key === ENTRA_WP_SYNC_DEACTIVATED_KEY && $value === '1') {
        WP_Session_Tokens::get_instance((int) $user_id)->destroy_all();
    }
};
add_action('added_user_meta', $entra_wp_sync_end_sessions, 10, 4);
add_action('updated_user_meta', $entra_wp_sync_end_sessions, 10, 4);

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

// 4. No notification mails for the service's writes (the directory, not the user, changed them).
// Any edit_users holder can name its own password's id, so the mail still goes to an account that
// outranks the caller: WordPress's warning that its e-mail or password changed is what tells an
// administrator that a lesser user manager took it over. The service's account outranks its users.
foreach (array('send_email_change_email', 'send_password_change_email',
    'wp_send_new_user_notification_to_user', 'wp_send_new_user_notification_to_admin') as $entra_wp_sync_filter) {
    add_filter($entra_wp_sync_filter, function ($send, $user = null) {
        if (!entra_wp_sync_is_service_request()) return $send;
        // The e-mail and password filters pass the user's row as an array, the new-user ones a WP_User.
        $id = $user instanceof WP_User ? $user->ID : (is_array($user) && isset($user['ID']) ? $user['ID'] : 0);
        return entra_wp_sync_outranks_caller($id) ? $send : false;
    }, 100, 2);
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
                'batch_max' => ENTRA_WP_SYNC_BATCH_MAX,
                'batch_expect' => true,
            );
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

// ------------------------------------------------------------------------------------------------
// 8. Multisite networks. Core REST cannot add an existing network user to another site (400
// "already registered"), remove a user from a site, or delete from the network (DELETE answers
// 501). These routes wrap WordPress's own functions behind the capability checks WordPress's own
// screens make (wp-admin/user-new.php, users.php, network/users.php), evaluated on the site
// concerned. Registered only on a network.
//   GET    entra-wp-sync/v1/network                     {version, super_admin, sites:[{id, path, url, main}]}
//   GET    entra-wp-sync/v1/network/users/<id>          {id, super_admin, deactivated, capabilities: [elevated
//          ones held on any site], sites:{<blog id>: [roles]}}
//   GET    entra-wp-sync/v1/network/users?entra_id=<id>&email=<a>,<b>&login=<l>  {users: [as below, with
//          username, email, entra_id]}: the network's accounts with that Entra id, e-mail or login
//          (manage_network_users), which core REST finds only among one site's members
//   GET    entra-wp-sync/v1/network/logins?login=<l>    {login, taken}: logins are network-wide, and
//          core's GET /wp/v2/users only finds members of the site it is called on
//   POST   entra-wp-sync/v1/network/sites/<blog>/members/<id>  {"role": "editor"|""}
//          add_user_to_blog (promote_user on that site, and manage_network_users to add a user who is not a
//          member yet, as wp-admin/user-new.php); "" keeps the membership with no role;
//          a deactivated user (3.) gets no role (409)
//   DELETE entra-wp-sync/v1/network/sites/<blog>/members/<id>  remove_user_from_blog (remove_user)
//   POST   entra-wp-sync/v1/network/users/<id>/memberships  {"changes": [{"site", "role"} | {"site", "remove": true}],
//          "deactivated": true|false}  the two above for one user on several sites in one request (up to
//          batch_max changes), after setting or clearing the sign-in block of 3. (manage_network_users +
//          edit_user; never a super admin); "expect" {sites: {<blog id>: [roles]}, none_of: [roles], own:
//          {<blog id>: role}} (manage_network_users) writes only while the user holds that, else answers
//          {"applied": false, ...the user as GET /network/users/<id>} with nothing written
// Capabilities are checked before anything is looked up, so no route tells a caller without them
// whether a user or site id exists.
//   DELETE entra-wp-sync/v1/network/users/<id>          wpmu_delete_user (manage_network_users + delete_user)

/** The site's id when it exists and takes users (not deleted, archived or spam), else a WP_Error. */
function entra_wp_sync_network_site($blog_id) {
    $site = get_site((int) $blog_id);
    if (!$site || $site->deleted || $site->archived || $site->spam) {
        return new WP_Error('entra_wp_sync_no_site', 'No such site on this network (or deleted, archived, spam).', array('status' => 404));
    }
    return (int) $site->blog_id;
}

function entra_wp_sync_network_user($user_id) {
    $user = get_userdata((int) $user_id);
    return $user ?: new WP_Error('entra_wp_sync_no_user', 'No such user on this network.', array('status' => 404));
}

/**
 * Runs $fn on site $blog_id after checking $cap (for user $user_id) there; errors carry their status.
 * The capability is checked before the site and the user are looked up: a caller who may not act
 * there gets the same 403 for a user or site that exists and one that does not, so these routes
 * cannot be used to probe which ids exist.
 */
function entra_wp_sync_on_site($blog_id, $user_id, $cap, $fn) {
    $forbidden = new WP_Error('entra_wp_sync_forbidden', "Sorry, you need $cap on this site.", array('status' => 403));
    $blog = entra_wp_sync_network_site($blog_id);
    // Who manages the network's users may learn which sites exist (GET /network lists them).
    if (is_wp_error($blog)) return current_user_can('manage_network_users') ? $blog : $forbidden;
    switch_to_blog($blog);
    try {
        if (!current_user_can($cap, (int) $user_id)) return $forbidden;
        $user = entra_wp_sync_network_user($user_id);
        // Nor, below manage_network_users, which user ids exist on the network.
        if (is_wp_error($user)) return current_user_can('manage_network_users') ? $user : $forbidden;
        return $fn($blog, $user);
    } finally {
        restore_current_blog();
    }
}

/**
 * Sets or clears the sign-in block of 3. (user meta: one value for the whole network, so the user is
 * refused on every site) behind what WordPress asks to edit a user on a network: manage_network_users
 * and edit_user (only a super admin edits a super admin). Never on a super admin or the caller. The
 * user id, or a WP_Error; the capability is checked first, as in entra_wp_sync_on_site.
 */
function entra_wp_sync_set_deactivated($user_id, $deactivated) {
    if (!current_user_can('manage_network_users') || !current_user_can('edit_user', (int) $user_id)) {
        return new WP_Error('entra_wp_sync_forbidden', 'Sorry, you need manage_network_users and edit_user for this user.', array('status' => 403));
    }
    $user = entra_wp_sync_network_user($user_id);
    if (is_wp_error($user)) return $user;
    if ($deactivated && ($user->ID === get_current_user_id() || is_super_admin($user->ID))) {
        return new WP_Error('entra_wp_sync_forbidden', 'Super admins (and the caller) are not deactivated.', array('status' => 403));
    }
    update_user_meta($user->ID, ENTRA_WP_SYNC_DEACTIVATED_KEY, $deactivated ? '1' : '');   // ends its sessions (3.)
    return $user->ID;
}

function entra_wp_sync_memberships($user_id) {
    $sites = array();
    $elevated = array();
    foreach (get_blogs_of_user((int) $user_id) as $blog_id => $_) {
        $user = new WP_User((int) $user_id, '', (int) $blog_id);
        $sites[(string) $blog_id] = array_values($user->roles);
        foreach ($user->allcaps as $cap => $granted) {
            if ($granted && entra_wp_sync_is_elevated_capability($cap)) $elevated[$cap] = true;
        }
    }
    // A super admin holds every capability on every site whatever its roles: the service never touches one.
    // "capabilities": what the account may do beyond its own content on any site (7.), for the
    // service's adoption check; "deactivated": the sign-in block of 3.
    return array('id' => (int) $user_id, 'super_admin' => is_super_admin((int) $user_id),
        'deactivated' => entra_wp_sync_is_deactivated($user_id), 'capabilities' => array_keys($elevated),
        'sites' => (object) $sites);
}

/**
 * What the per-site routes answer after a write: the whole picture (every site, capabilities, the
 * sign-in block) only to who may read it at GET /network/users/<id>; a site admin learns nothing
 * about the user's other sites.
 */
function entra_wp_sync_memberships_answer($user_id) {
    return current_user_can('manage_network_users') ? entra_wp_sync_memberships($user_id) : array('id' => (int) $user_id);
}

add_action('rest_api_init', function () {
    if (!is_multisite()) return;
    $ns = 'entra-wp-sync/v1';
    $network_admin = function () {
        return current_user_can('manage_network_users');
    };
    register_rest_route($ns, '/network', array(
        'methods' => 'GET',
        'permission_callback' => $network_admin,
        'callback' => function () {
            $sites = array();
            foreach (get_sites(array('number' => 0, 'deleted' => 0, 'archived' => 0, 'spam' => 0)) as $site) {
                $sites[] = array('id' => (int) $site->blog_id, 'path' => $site->path, 'url' => get_home_url((int) $site->blog_id, '/'),
                    'main' => (int) $site->blog_id === get_main_site_id());
            }
            return array('version' => ENTRA_WP_SYNC_VERSION, 'super_admin' => is_super_admin(), 'sites' => $sites);
        },
    ));
    register_rest_route($ns, '/network/logins', array(
        'methods' => 'GET',
        'permission_callback' => $network_admin,
        'args' => array('login' => array('type' => 'string', 'required' => true)),
        'callback' => function ($request) {
            $login = (string) $request['login'];
            return array('login' => $login, 'taken' => (bool) username_exists($login));
        },
    ));
    // The accounts of the whole network with this Entra id, e-mail or login: core's GET /wp/v2/users
    // lists only the members of the site it is called on, and a user who belongs to no site (or only
    // to others) must still be found before the service creates a second account for the same person.
    register_rest_route($ns, '/network/users', array(
        'methods' => 'GET',
        'permission_callback' => $network_admin,
        'args' => array(
            'entra_id' => array('type' => 'string'),
            'email' => array('type' => 'array', 'items' => array('type' => 'string'), 'maxItems' => 10),
            'login' => array('type' => 'array', 'items' => array('type' => 'string'), 'maxItems' => 10),
        ),
        'callback' => function ($request) {
            $found = array();
            $entra_id = (string) $request['entra_id'];
            if ($entra_id !== '') {
                $ids = get_users(array('blog_id' => 0, 'fields' => 'ID', 'number' => 10,
                    'meta_key' => ENTRA_WP_SYNC_ID_KEY, 'meta_value' => $entra_id));
                foreach ($ids as $id) $found[(int) $id] = true;
            }
            foreach (array('email' => 'email', 'login' => 'login') as $param => $field) {
                foreach ((array) $request[$param] as $value) {
                    $user = get_user_by($field, (string) $value);
                    if ($user) $found[$user->ID] = true;
                }
            }
            $users = array();
            foreach (array_keys($found) as $id) {
                $user = get_userdata($id);
                $users[] = array_merge(entra_wp_sync_memberships($id), array('username' => $user->user_login,
                    'email' => $user->user_email, 'entra_id' => (string) get_user_meta($id, ENTRA_WP_SYNC_ID_KEY, true)));
            }
            return array('users' => $users);
        },
    ));
    register_rest_route($ns, '/network/users/(?P<user>\d+)', array(
        array(
            'methods' => 'GET',
            'permission_callback' => $network_admin,
            'callback' => function ($request) {
                $user = entra_wp_sync_network_user($request['user']);
                return is_wp_error($user) ? $user : entra_wp_sync_memberships($user->ID);
            },
        ),
        array(
            'methods' => 'DELETE',
            // wp-admin/network/users.php:159-166; delete_user is do_not_allow for all but super admins.
            'permission_callback' => function ($request) {
                return current_user_can('manage_network_users') && current_user_can('delete_user', (int) $request['user']);
            },
            'callback' => function ($request) {
                $user = entra_wp_sync_network_user($request['user']);
                if (is_wp_error($user)) return $user;
                if ($user->ID === get_current_user_id() || is_super_admin($user->ID)) {
                    return new WP_Error('entra_wp_sync_forbidden', 'Super admins (and the caller) are not deleted.', array('status' => 403));
                }
                require_once ABSPATH . 'wp-admin/includes/user.php';
                require_once ABSPATH . 'wp-admin/includes/ms.php';
                if (!wpmu_delete_user($user->ID)) {
                    return new WP_Error('entra_wp_sync_not_deleted', 'WordPress did not delete the user.', array('status' => 500));
                }
                return array('deleted' => true, 'id' => $user->ID);
            },
        ),
    ));
    register_rest_route($ns, '/network/sites/(?P<blog>\d+)/members/(?P<user>\d+)', array(
        array(
            'methods' => 'POST',   // idempotent: sets the membership and role
            'permission_callback' => 'is_user_logged_in',   // the real check is per site, below
            'args' => array('role' => array('type' => 'string', 'required' => true)),
            'callback' => function ($request) {
                $r = entra_wp_sync_set_member($request['blog'], $request['user'], (string) $request['role']);
                return is_wp_error($r) ? $r : entra_wp_sync_memberships_answer($r);
            },
        ),
        array(
            'methods' => 'DELETE',
            'permission_callback' => 'is_user_logged_in',
            'callback' => function ($request) {
                $r = entra_wp_sync_remove_member($request['blog'], $request['user']);
                return is_wp_error($r) ? $r : entra_wp_sync_memberships_answer($r);
            },
        ),
    ));
    // All of one user's changes in one request, each as the two routes above do it (same checks,
    // on its own site), in order; the first refusal stops the rest and names its index. Each change
    // is WordPress's own function and stands on its own: a retry redoes what is not in place yet.
    // "deactivated": true|false sets or clears the sign-in block (3.) first, so a leaver is refused
    // everywhere before its roles go, and a returning user may be given roles again.
    register_rest_route($ns, '/network/users/(?P<user>\d+)/memberships', array(
        'methods' => 'POST',
        'permission_callback' => 'is_user_logged_in',   // the real checks are per site
        'args' => array(
            'changes' => array('type' => 'array', 'required' => true),
            'deactivated' => array('type' => 'boolean'),
            'expect' => array('type' => 'object'),
        ),
        'callback' => function ($request) {
            $changes = $request['changes'];
            $flag = $request['deactivated'];
            $max = ENTRA_WP_SYNC_BATCH_MAX;
            if (!is_array($changes) || (!$changes && $flag === null && $request['expect'] === null) || count($changes) > $max) {
                return new WP_Error('rest_invalid_param', '"changes" must be a list of 1 to ' . $max
                    . ' objects {"site": <blog id>, "role": "<role>"} or {"site": <blog id>, "remove": true}'
                    . ' (0 with "deactivated" or "expect")', array('status' => 400));
            }
            foreach (array_values($changes) as $i => $change) {
                $site = is_array($change) && isset($change['site']) && is_int($change['site']) ? $change['site'] : null;
                $role = $site !== null && isset($change['role']) ? $change['role'] : null;
                if ($site === null || ($role === null ? empty($change['remove']) : !is_string($role))) {
                    return new WP_Error('rest_invalid_param', "change $i needs an integer \"site\" and a \"role\" or \"remove\": true", array('status' => 400, 'index' => $i));
                }
            }
            if ($request['expect'] !== null) {
                // Reads the user's whole network picture: as GET /network/users/<id>, capability first.
                if (!current_user_can('manage_network_users')) {
                    return new WP_Error('entra_wp_sync_forbidden', 'Sorry, "expect" needs manage_network_users.', array('status' => 403));
                }
                if (!entra_wp_sync_network_expect_valid($request['expect'])) {
                    return new WP_Error('rest_invalid_param', '"expect" must be {"sites": {<blog id>: [<role names>]},'
                        . ' "none_of": [<role names>], "own": {<blog id>: "<role>"}}', array('status' => 400));
                }
                $user = entra_wp_sync_network_user($request['user']);
                if (is_wp_error($user)) return $user;
                if (!entra_wp_sync_network_holds($user->ID, $request['expect'])) {
                    return array_merge(array('applied' => false), entra_wp_sync_memberships($user->ID));
                }
            }
            if ($flag !== null) {
                $r = entra_wp_sync_set_deactivated($request['user'], (bool) $flag);
                if (is_wp_error($r)) return $r;
            }
            foreach (array_values($changes) as $i => $change) {
                $r = empty($change['remove'])
                    ? entra_wp_sync_set_member($change['site'], $request['user'], (string) $change['role'])
                    : entra_wp_sync_remove_member($change['site'], $request['user']);
                if (is_wp_error($r)) {
                    $r->add_data(array_merge((array) $r->get_error_data(), array('index' => $i)));
                    return $r;
                }
            }
            return array_merge(array('applied' => true), entra_wp_sync_memberships_answer((int) $request['user']));
        },
    ));
});

/** Whether a memberships "expect" has the shape entra_wp_sync_network_holds reads (role names as strings). */
function entra_wp_sync_network_expect_valid($expect) {
    if (!is_array($expect)) return false;
    $sites = isset($expect['sites']) ? $expect['sites'] : array();
    $own = isset($expect['own']) ? $expect['own'] : array();
    if (!is_array($sites) || !is_array($own) || count(array_filter($own, 'is_string')) !== count($own)) return false;
    if (isset($expect['none_of']) && !entra_wp_sync_is_string_list($expect['none_of'])) return false;
    foreach ($sites as $roles) {
        if (!entra_wp_sync_is_string_list($roles)) return false;
    }
    return true;
}

/**
 * Whether the user still holds what the service planned its changes against, so it need not read
 * the user first (as "expect" in 9.): exactly the roles of "sites" on each of those sites (a member
 * there, [] = without a role), none of "none_of" on any site except the role "own" names for that
 * site (the one the service itself gave there), not a super admin and not deactivated (3.). Any
 * difference means "read and plan again".
 */
function entra_wp_sync_network_holds($user_id, $expect) {
    if (!is_array($expect) || is_super_admin($user_id) || entra_wp_sync_is_deactivated($user_id)) return false;
    $sites = isset($expect['sites']) && is_array($expect['sites']) ? $expect['sites'] : array();
    $none_of = isset($expect['none_of']) && is_array($expect['none_of']) ? array_map('strval', $expect['none_of']) : array();
    $own = isset($expect['own']) && is_array($expect['own']) ? $expect['own'] : array();
    $blogs = get_blogs_of_user($user_id);
    foreach ($sites as $blog => $roles) {
        if (!isset($blogs[(int) $blog]) || !is_array($roles)) return false;
        $have = array_values((new WP_User($user_id, '', (int) $blog))->roles);
        $want = array_map('strval', $roles);
        sort($have);
        sort($want);
        if ($have !== $want) return false;
    }
    foreach ($blogs as $blog => $_) {
        $mine = isset($own[(string) $blog]) ? array((string) $own[(string) $blog]) : array();
        if (array_intersect((new WP_User($user_id, '', (int) $blog))->roles, array_diff($none_of, $mine))) return false;
    }
    return true;
}

/** add_user_to_blog behind promote_user on that site; "" keeps a membership without a role. The user id, or a WP_Error. */
function entra_wp_sync_set_member($blog_id, $user_id, $role) {
    return entra_wp_sync_on_site($blog_id, $user_id, 'promote_user', function ($blog, $user) use ($role) {
        // wp-admin/user-new.php adds someone who is not a member yet only with manage_network_users;
        // a site admin can only invite them by e-mail, and they join once they confirm. Without
        // this, a site admin could pull any network account into its site by id, unasked.
        if (!is_user_member_of_blog($user->ID, $blog) && !current_user_can('manage_network_users')) {
            return new WP_Error('entra_wp_sync_forbidden',
                'Sorry, adding a user who is not a member of this site needs manage_network_users.', array('status' => 403));
        }
        // wp-admin/users.php: a role the caller gives itself must keep promote_users.
        if ($user->ID === get_current_user_id() && !current_user_can('manage_network_users')
            && ($role === '' || !get_role($role) || !get_role($role)->has_cap('promote_users'))) {
            return new WP_Error('entra_wp_sync_forbidden', 'Sorry, your own new role must keep promote_users.', array('status' => 403));
        }
        // A deactivated user gets no role anywhere (see 3. above); "" (a member without a role) is fine.
        if ($role !== '' && entra_wp_sync_is_deactivated($user->ID)) {
            return new WP_Error('entra_wp_sync_deactivated', 'This account is deactivated: no role is given to it.', array('status' => 409));
        }
        if ($role !== '' && !wp_roles()->is_role($role)) {
            return new WP_Error('entra_wp_sync_bad_role', "No role \"$role\" on this site.", array('status' => 400));
        }
        require_once ABSPATH . 'wp-admin/includes/user.php';
        // As core's users controller does (editable_roles filter): the caller may give only these.
        if ($role !== '' && !array_key_exists($role, get_editable_roles())) {
            return new WP_Error('entra_wp_sync_forbidden', "Sorry, you may not give users the role \"$role\".", array('status' => 403));
        }
        $r = add_user_to_blog($blog, $user->ID, $role);   // also sets the role of a member
        if (is_wp_error($r)) {
            $r->add_data(array('status' => 409));
            return $r;
        }
        return $user->ID;
    });
}

/** remove_user_from_blog behind remove_user on that site. The user id, or a WP_Error. */
function entra_wp_sync_remove_member($blog_id, $user_id) {
    return entra_wp_sync_on_site($blog_id, $user_id, 'remove_user', function ($blog, $user) {
        $r = remove_user_from_blog($user->ID, $blog);
        if (is_wp_error($r)) {
            $r->add_data(array('status' => 409));
            return $r;
        }
        return $user->ID;
    });
}

// 9. Bulk writes.
/** The fields a result carries: what the service reads back (src/wordpress/users.ts USER_FIELDS). */
const ENTRA_WP_SYNC_USER_FIELDS = array('id', 'username', 'email', 'name', 'first_name', 'last_name', 'nickname',
    'description', 'url', 'roles', 'capabilities', 'meta');

function entra_wp_sync_batch_error($code, $message, $status = 400) {
    return array('status' => $status, 'outcome' => 'failed', 'code' => $code, 'message' => $message);
}

/**
 * The query of the core requests an operation makes: the edit view, limited to the fields a result
 * carries, as the per-user path asks for them (_fields); core then renders only those, not the
 * avatars and links it would otherwise build for every user.
 */
function entra_wp_sync_batch_query() {
    return array('context' => 'edit', '_fields' => implode(',', ENTRA_WP_SYNC_USER_FIELDS));
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
 * What is wrong with the fields an operation adds to core's (whose body core validates), or null.
 * Refused rather than read loosely: a role list PHP would compare as the string "Array" matches no
 * role, so a malformed "expect" or "guard" would read as a condition that holds.
 */
function entra_wp_sync_batch_invalid(array $op) {
    if (!isset($op['op']) || !in_array($op['op'], array('create', 'update', 'deactivate', 'reactivate', 'delete'), true)) {
        return '"op" must be create, update, deactivate, reactivate or delete';
    }
    if (isset($op['body']) && !is_array($op['body'])) return '"body" must be an object';
    if (isset($op['guard']) && !entra_wp_sync_is_string_list($op['guard'])) return '"guard" must be a list of role names';
    if (!isset($op['expect'])) return null;
    $expect = $op['expect'];
    $fields = is_array($expect) && isset($expect['fields']) ? $expect['fields'] : array();
    $valid = is_array($expect) && is_array($fields) && (isset($expect['roles']) xor isset($expect['roles_none']))
        && entra_wp_sync_is_string_list(isset($expect['roles']) ? $expect['roles'] : $expect['roles_none']);
    foreach ($valid ? $fields : array() as $key => $value) {
        $valid = $key === 'meta' ? is_array($value) && count(array_filter($value, 'is_string')) === count($value) : is_string($value);
        if (!$valid) break;
    }
    return $valid ? null : '"expect" must be {"fields": {<field>: "<value>", "meta": {<key>: "<value>"}}, "roles" or "roles_none": [<role names>]}';
}

/** An operation as the core REST request it stands for, or a WP_Error naming what is wrong with it. */
function entra_wp_sync_batch_request(array $op) {
    $invalid = entra_wp_sync_batch_invalid($op);
    if ($invalid !== null) return new WP_Error('rest_invalid_param', $invalid);
    $kind = $op['op'];
    $body = isset($op['body']) ? $op['body'] : array();
    // Core reads JSON parameters before URL ones: an "id" in the body would redirect the write to
    // another user than the one the guard checked.
    unset($body['id']);
    $id = isset($op['id']) ? $op['id'] : null;
    if ($kind !== 'create' && (!is_int($id) || $id < 1)) {
        return new WP_Error('rest_invalid_param', 'operation ' . $kind . ' needs a positive integer "id"');
    }
    switch ($kind) {
        case 'create':
            $request = new WP_REST_Request('POST', '/wp/v2/users');
            break;
        case 'update':
            $request = new WP_REST_Request('POST', '/wp/v2/users/' . $id);
            break;
        case 'deactivate':
            // As the per-user path: no roles, and the flag that blocks every login (3.).
            $body = array('roles' => array(), 'meta' => array(ENTRA_WP_SYNC_DEACTIVATED_KEY => '1'));
            $request = new WP_REST_Request('POST', '/wp/v2/users/' . $id);
            break;
        case 'reactivate':
            $body['meta'] = array_merge(isset($body['meta']) && is_array($body['meta']) ? $body['meta'] : array(),
                array(ENTRA_WP_SYNC_DEACTIVATED_KEY => ''));
            $request = new WP_REST_Request('POST', '/wp/v2/users/' . $id);
            break;
        case 'delete':
            $reassign = isset($op['reassign']) ? $op['reassign'] : null;
            if (!is_int($reassign) || $reassign < 1) {
                return new WP_Error('rest_invalid_param', 'operation delete needs a positive integer "reassign"');
            }
            $request = new WP_REST_Request('DELETE', '/wp/v2/users/' . $id);
            // The answer is only "deleted": no need for core to render the user it removed.
            $request->set_query_params(array('force' => true, 'reassign' => $reassign, '_fields' => 'id'));
            return $request;
        default: // refused by entra_wp_sync_batch_invalid
            return new WP_Error('rest_invalid_param', '"op" must be create, update, deactivate, reactivate or delete');
    }
    $request->set_header('content-type', 'application/json');
    $request->set_query_params(entra_wp_sync_batch_query());
    $request->set_body(wp_json_encode($body));
    return $request;
}

/** Refuses a user holding more than the operation's "guard" roles grant (7.); null when it may go ahead. */
function entra_wp_sync_batch_guard(array $op) {
    if (!isset($op['guard']) || $op['op'] === 'create') return null;
    $user = get_userdata($op['id']);
    if (!$user) return null; // core answers rest_user_invalid_id
    $beyond = entra_wp_sync_capabilities_beyond($user, $op['guard']);   // a list of strings (entra_wp_sync_batch_invalid)
    if (!$beyond) return null;
    return entra_wp_sync_batch_error('entra_wp_sync_protected',
        'user ' . $user->ID . ' holds capabilities the synced roles do not grant: ' . implode(', ', $beyond), 403);
}

/**
 * A create refused because its login or e-mail is taken by a user carrying the same Entra id: that
 * user, which the first attempt of a retried request created. Looked up only after the refusal, by
 * the indexed login and e-mail columns (a meta_value search would scan all user meta on every create).
 */
function entra_wp_sync_batch_existing(array $op, $code) {
    if ($code !== 'existing_user_login' && $code !== 'existing_user_email') return null;
    $body = $op['body'];
    $entra_id = isset($body['meta'][ENTRA_WP_SYNC_ID_KEY]) ? (string) $body['meta'][ENTRA_WP_SYNC_ID_KEY] : '';
    if ($entra_id === '') return null;
    $field = $code === 'existing_user_login' ? 'username' : 'email';
    $user = isset($body[$field]) ? get_user_by($field === 'username' ? 'login' : 'email', (string) $body[$field]) : false;
    return $user && get_user_meta($user->ID, ENTRA_WP_SYNC_ID_KEY, true) === $entra_id ? $user->ID : null;
}

/** The user as GET /wp/v2/users/<id>?context=edit shows it to the caller; null when there is none. */
function entra_wp_sync_batch_user_data($user_id) {
    $request = new WP_REST_Request('GET', '/wp/v2/users/' . $user_id);
    $request->set_query_params(entra_wp_sync_batch_query());
    $response = rest_do_request($request);
    if ($response->is_error()) return null;
    return array_intersect_key((array) $response->get_data(), array_flip(ENTRA_WP_SYNC_USER_FIELDS));
}

/**
 * Whether the user ($before, as the REST read shows it) holds what the operation's "expect" says the
 * service planned against (src/core/plan.ts assumedCurrent): each field exactly (meta: the keys
 * given), and the roles exactly as listed (order included) or none of "roles_none". Compared
 * strictly: any difference, even one the service would not mind, means "plan again from $before".
 */
function entra_wp_sync_batch_holds($before, $expect) {
    if (!is_array($before) || !is_array($expect)) return false;
    $fields = isset($expect['fields']) && is_array($expect['fields']) ? $expect['fields'] : array();
    foreach ($fields as $key => $value) {
        if ($key === 'meta') {
            if (!is_array($value)) return false;
            $meta = isset($before['meta']) && is_array($before['meta']) ? $before['meta'] : array();
            foreach ($value as $meta_key => $meta_value) {
                if (!array_key_exists($meta_key, $meta) || !is_string($meta_value) || $meta[$meta_key] !== $meta_value) return false;
            }
        } elseif (!array_key_exists($key, $before) || !is_string($value) || $before[$key] !== $value) {
            return false;
        }
    }
    $roles = isset($before['roles']) && is_array($before['roles']) ? array_values($before['roles']) : array();
    if (isset($expect['roles'])) return is_array($expect['roles']) && array_values($expect['roles']) === $roles;
    if (isset($expect['roles_none'])) return is_array($expect['roles_none']) && !array_intersect($roles, $expect['roles_none']);
    return false; // the roles are always part of what the service planned against
}

/**
 * The stored password of a user the service creates through the batch endpoint: a value no input
 * hashes to, made without running the password hash (a bcrypt or phpass round per user is the
 * largest single cost of a create). wp_check_password() refuses every input for it, the empty
 * string included: WordPress 6.1 compares only hashes longer than an MD5 (32 characters) through
 * phpass, whose crypt_private() answers "*0" for a setting that is not "$P$"/"$H$" and then crypt(),
 * which also answers "*0" (PHP's failure value) for a salt starting with "*"; WordPress 6.8 and later
 * send a hash that starts with neither "$wp" nor "$P$" to password_verify(), false for it too, or
 * to a plugin's $wp_hasher, which is phpass. The random tail keeps it unique per user, as the
 * password fragment WordPress mixes into its auth cookies expects. Users sign in through single
 * sign-on, or set a password of their own with "Lost your password?", which stores a real hash.
 */
function entra_wp_sync_no_password() {
    return '*entra-wp-sync:no-password:' . bin2hex(random_bytes(12));
}

/**
 * Stands in for the global $wp_hasher (both wp_hash_password() and wp_check_password() use it when
 * set, in 6.1 and in 6.8+) while one create runs: the password of that create gets
 * entra_wp_sync_no_password(), any other hash or check is WordPress's own, exactly as without it.
 */
final class Entra_WP_Sync_Create_Hasher {
    private $password;
    private $previous;

    public function __construct($password, $previous) {
        $this->password = $password;
        $this->previous = $previous;
    }

    public function HashPassword($password) {
        // wp_hash_password() trims before it hashes.
        if (is_string($password) && hash_equals(trim($this->password), $password)) return entra_wp_sync_no_password();
        return $this->as_wordpress(function () use ($password) {
            return wp_hash_password($password);
        });
    }

    public function CheckPassword($password, $hash) {
        return $this->as_wordpress(function () use ($password, $hash) {
            return wp_check_password($password, $hash);
        });
    }

    private function as_wordpress($fn) {
        $GLOBALS['wp_hasher'] = $this->previous;
        try {
            return $fn();
        } finally {
            $GLOBALS['wp_hasher'] = $this;
        }
    }
}

/**
 * Runs core's create with no usable password when the service itself creates the user (its own
 * Application Password, see 4.): never for anyone else's request, never for an update.
 * Sites can keep WordPress's own hash with add_filter('entra_wp_sync_no_password', '__return_false').
 */
function entra_wp_sync_batch_create(WP_REST_Request $request, array $op) {
    $password = isset($op['body']['password']) ? $op['body']['password'] : null;
    if (!is_string($password) || $password === '' || !entra_wp_sync_is_service_request()
        || !apply_filters('entra_wp_sync_no_password', true)) {
        return rest_do_request($request);
    }
    $previous = isset($GLOBALS['wp_hasher']) ? $GLOBALS['wp_hasher'] : null;
    $GLOBALS['wp_hasher'] = new Entra_WP_Sync_Create_Hasher($password, $previous);
    try {
        return rest_do_request($request);
    } finally {
        $GLOBALS['wp_hasher'] = $previous;
    }
}

/** Runs one operation; the caller holds the savepoint. */
function entra_wp_sync_batch_run(array $op) {
    $request = entra_wp_sync_batch_request($op);
    if (is_wp_error($request)) return entra_wp_sync_batch_error($request->get_error_code(), $request->get_error_message());
    $refused = entra_wp_sync_batch_guard($op);
    if ($refused) return $refused;
    $before = null;
    if (isset($op['expect'])) {
        if ($op['op'] !== 'update' && $op['op'] !== 'reactivate') {
            return entra_wp_sync_batch_error('rest_invalid_param', '"expect" is for update and reactivate operations');
        }
        $before = entra_wp_sync_batch_user_data($op['id']);
        if (!entra_wp_sync_batch_holds($before, $op['expect'])) {
            return array('status' => 409, 'outcome' => 'changed', 'code' => 'entra_wp_sync_changed',
                'message' => 'user ' . $op['id'] . ' no longer holds what the operation expects', 'before' => $before);
        }
    }
    $response = $op['op'] === 'create' ? entra_wp_sync_batch_create($request, $op) : rest_do_request($request);
    $data = rest_get_server()->response_to_data($response, false);
    if ($response->is_error()) {
        $existing = entra_wp_sync_batch_existing($op, isset($data['code']) ? $data['code'] : '');
        if ($existing) return array('status' => 200, 'outcome' => 'existing', 'user' => entra_wp_sync_batch_user_data($existing));
        return entra_wp_sync_batch_error(isset($data['code']) ? $data['code'] : 'unknown',
            isset($data['message']) ? $data['message'] : 'failed', $response->get_status());
    }
    if ($op['op'] === 'delete') return array('status' => $response->get_status(), 'outcome' => 'deleted');
    $outcome = $op['op'] === 'create' ? 'created' : 'updated';
    $result = array('status' => $response->get_status(), 'outcome' => $outcome,
        'user' => array_intersect_key((array) $data, array_flip(ENTRA_WP_SYNC_USER_FIELDS)));
    if ($before !== null) $result['before'] = $before;
    return $result;
}

/**
 * Opens a database transaction for user writes (a batch, or one core REST user write, see 10.).
 * One commit for the whole request; a request that dies before it (PHP fatal, killed worker, lost
 * connection) is rolled back by the database, so a retry starts clean. The database also ends the
 * transaction itself, rolled back whole, when it picks it as the victim of a deadlock (another writer
 * locking user meta rows in another order: core's meta UPDATEs lock every row of their meta_key);
 * without autocommit, what runs after that is still not committed, and the savepoint that is gone
 * tells (entra_wp_sync_transaction_end). Core counts all users again after every create and delete
 * (a COUNT over wp_users and a write of the user_count option, or on a network its sitemeta row, whose
 * row lock other writers would wait on until the commit): that waits until after the commit, once,
 * and leaves the same count.
 */
function entra_wp_sync_transaction_begin() {
    global $wpdb;
    $tx = new stdClass();
    $tx->registered = array();   // users created inside: no cached rows of theirs may outlive a rollback
    $tx->touched = array();
    $tx->track = function ($user_id) use ($tx) {
        $tx->registered[] = $user_id;
        $tx->touched[] = $user_id;
    };
    add_action('user_register', $tx->track);
    $tx->recount = array();   // [hook, function, priority] taken off until the end
    foreach (array(array('user_register', 'wp_maybe_update_user_counts'), array('deleted_user', 'wp_maybe_update_user_counts'),
        array('wpmu_new_user', 'wp_maybe_update_network_user_counts')) as $count) {
        $priority = has_action($count[0], $count[1]);
        if ($priority === false) continue;
        remove_action($count[0], $count[1], $priority);
        $tx->recount[] = array($count[0], $count[1], $priority);
    }
    $GLOBALS['entra_wp_sync_transaction'] = $tx;
    $wpdb->query('SET autocommit = 0');
    $wpdb->query('START TRANSACTION');
    $wpdb->query('SAVEPOINT entra_wp_sync_transaction');
    return $tx;
}

/**
 * Commits ($commit true) or rolls back the transaction of entra_wp_sync_transaction_begin. False when
 * the database had rolled it back already (a deadlock victim; what ran after that, and any error it
 * answered, came from a half-gone write) or the commit failed: nothing of it was written, and the
 * client should send it again. $counted: it created or deleted users (the user count is brought up
 * to date).
 */
function entra_wp_sync_transaction_end($tx, $commit, $counted) {
    global $wpdb;
    $alive = $wpdb->query('RELEASE SAVEPOINT entra_wp_sync_transaction') !== false;
    $done = $wpdb->query($alive && $commit ? 'COMMIT' : 'ROLLBACK');
    $wpdb->query('SET autocommit = 1');
    unset($GLOBALS['entra_wp_sync_transaction']);
    remove_action('user_register', $tx->track);
    foreach ($tx->recount as $count) add_action($count[0], $count[1], $count[2], 0);
    $kept = $alive && $done !== false;
    if (!$kept || !$commit) {
        foreach (array_unique($tx->touched) as $id) clean_user_cache($id);
    } elseif ($counted) {
        foreach (array_unique(array_column($tx->recount, 1)) as $recount) $recount();
    }
    return $kept;
}

/** The 503 of a transaction the database rolled back: nothing was written, the client sends it again. */
function entra_wp_sync_rolled_back($code, $what) {
    return new WP_Error($code,
        'The database rolled ' . $what . ' back (a deadlock with another writer, or a failed commit): nothing of it was written. Send it again.',
        array('status' => 503));
}

/**
 * The operations in one database transaction, each under its own savepoint; their results, or a
 * WP_Error (503) when the database rolled the transaction back and nothing was written.
 */
function entra_wp_sync_batch_write(array $ops) {
    global $wpdb;
    $tx = entra_wp_sync_transaction_begin();
    // Every user the batch names read in two queries (row, meta) instead of two per operation (the
    // guard, the expect check and core's write look each up). Inside the transaction: the same
    // snapshot the per-operation reads would see, and every write still cleans the user's cache.
    $ids = array();
    foreach ($ops as $op) {
        if (is_array($op) && isset($op['id']) && is_int($op['id']) && $op['id'] > 0) $ids[] = $op['id'];
    }
    if ($ids) cache_users(array_unique($ids));
    $results = array();
    foreach ($ops as $i => $op) {
        $tx->registered = array();
        $wpdb->query('SAVEPOINT entra_wp_sync_op');
        $result = is_array($op) ? entra_wp_sync_batch_run($op)
            : entra_wp_sync_batch_error('rest_invalid_param', 'operation ' . $i . ' must be an object');
        $ids = array_merge($tx->registered, is_array($op) && isset($op['id']) && is_int($op['id']) ? array($op['id']) : array());
        $tx->touched = array_merge($tx->touched, $ids);
        if ($result['outcome'] === 'failed') {
            $kept = $wpdb->query('ROLLBACK TO SAVEPOINT entra_wp_sync_op');
            foreach ($ids as $id) clean_user_cache($id);
        } else {
            $kept = $wpdb->query('RELEASE SAVEPOINT entra_wp_sync_op');
        }
        if ($kept === false) break;   // the transaction is gone: end says so
        $results[] = $result;
    }
    $counted = array_filter($results, function ($result) {
        return $result['outcome'] === 'created' || $result['outcome'] === 'deleted';
    });
    if (!entra_wp_sync_transaction_end($tx, true, (bool) $counted)) return entra_wp_sync_rolled_back('entra_wp_sync_batch_rolled_back', 'this batch');
    return $results;
}

/**
 * Runs $fn holding the site's batch lock (a database named lock, released when PHP or its connection
 * ends): one batch at a time per site. A batch sent again while an attempt its client gave up on still
 * runs (PHP goes on, see 9.) waits for that attempt's commit and then finds its users ("existing")
 * instead of creating them a second time: the login and e-mail checks cannot see rows another
 * transaction has not committed. Batches then also never deadlock each other.
 */
function entra_wp_sync_with_batch_lock($fn) {
    global $wpdb;
    $lock = 'entra_wp_sync_batch_' . md5(DB_NAME . '|' . $wpdb->base_prefix);
    if ((string) $wpdb->get_var($wpdb->prepare('SELECT GET_LOCK(%s, %d)', $lock, 30)) !== '1') {
        return new WP_Error('entra_wp_sync_batch_busy', 'Another batch has been writing for 30 s; send this one again.',
            array('status' => 503));
    }
    try {
        return $fn();
    } finally {
        $wpdb->query($wpdb->prepare('SELECT RELEASE_LOCK(%s)', $lock));
    }
}

add_action('rest_api_init', function () {
    register_rest_route('entra-wp-sync/v1', '/users/batch', array(
        'methods' => 'POST',
        // Each operation is checked again by the core route it is dispatched to (create_users, edit_user, ...).
        'permission_callback' => function () {
            return current_user_can('edit_users');
        },
        'callback' => function ($request) {
            $ops = $request->get_param('operations');
            if (!is_array($ops) || !$ops || count($ops) > ENTRA_WP_SYNC_BATCH_MAX || array_keys($ops) !== range(0, count($ops) - 1)) {
                return new WP_Error('rest_invalid_param',
                    '"operations" must be a list of 1 to ' . ENTRA_WP_SYNC_BATCH_MAX . ' operations', array('status' => 400));
            }
            $results = entra_wp_sync_with_batch_lock(function () use ($ops) {
                return entra_wp_sync_batch_write($ops);
            });
            return is_wp_error($results) ? $results : array('results' => $results);
        },
    ));
});

// 10. Core REST user writes in one transaction. POST/PUT/PATCH/DELETE /wp/v2/users[/<id>|/me] is several
// statements (the users row, each meta row, the roles: set_role(false), then add_role per role). Left
// to autocommit, a statement that loses a deadlock (core's meta UPDATEs lock every row of their
// meta_key, so they meet the batches of 9. and other writers) is rolled back alone and WordPress goes
// on: an update to ["editor"] then keeps the old role too (or a meta write answers 500
// rest_meta_database_error after the rest was written). In one transaction the database rolls back
// the whole write instead, and the request answers 503 entra_wp_sync_rolled_back (send it again);
// a core write that answers an error is rolled back whole as well. The network routes of 8. that
// write (memberships, member roles, network deletes) run in one transaction too, and keep their
// answers: a memberships request refused at change i keeps the changes before i. Requests that a batch of 9. dispatches
// in-process run inside the batch's transaction.
function entra_wp_sync_is_user_write(WP_REST_Request $request) {
    return $request->get_method() !== 'GET' && $request->get_method() !== 'HEAD' && $request->get_method() !== 'OPTIONS'
        && preg_match('#^(/wp/v2/users(/(\d+|me))?|/entra-wp-sync/v1/network/(users/\d+(/memberships)?|sites/\d+/members/\d+))$#',
            $request->get_route()) === 1;
}
add_filter('rest_request_before_callbacks', function ($response, $handler, $request) {
    if ($response !== null || !entra_wp_sync_is_user_write($request) || isset($GLOBALS['entra_wp_sync_transaction'])) {
        return $response;
    }
    $GLOBALS['entra_wp_sync_request_transaction'] = array($request, entra_wp_sync_transaction_begin());
    return $response;
}, 10, 3);
add_filter('rest_request_after_callbacks', function ($response, $handler, $request) {
    $open = isset($GLOBALS['entra_wp_sync_request_transaction']) ? $GLOBALS['entra_wp_sync_request_transaction'] : null;
    if (!$open || $open[0] !== $request) return $response;
    unset($GLOBALS['entra_wp_sync_request_transaction']);
    $tx = $open[1];
    if (preg_match('#/(users|members)/(\d+)#', $request->get_route(), $m)) $tx->touched[] = (int) $m[2];
    $failed = is_wp_error($response) || ($response instanceof WP_HTTP_Response && $response->get_status() >= 400);
    // The memberships route of 8. keeps the changes before the one it names as refused (its contract).
    $keep = !$failed || strpos($request->get_route(), '/entra-wp-sync/') === 0;
    $counted = $keep && ($request->get_method() === 'DELETE' || $tx->registered);
    if (!entra_wp_sync_transaction_end($tx, $keep, $counted)) {
        // Also when core answered an error: a meta write that lost the deadlock answers 500
        // rest_meta_database_error, for a write that would have gone through.
        return entra_wp_sync_rolled_back('entra_wp_sync_rolled_back', 'this user write');
    }
    return $response;
}, 10, 3);
