<?php
/**
 * A new user's default meta in one INSERT, for the creates of the batch (9.).
 */

if (!defined('ABSPATH')) {
    exit;
}

/**
 * The keys wp_insert_user gives every user it creates (the array of its insert_user_meta filter, the
 * same from WordPress 6.1 to 6.6). Only these go into the one INSERT: a key a plugin's filter adds to
 * that array (the capabilities, the plugin's own keys) is written the normal way, under its checks.
 */
const ENTRA_WP_SYNC_DEFAULT_USER_META = array('nickname', 'first_name', 'last_name', 'description', 'rich_editing',
    'syntax_highlighting', 'comment_shortcuts', 'admin_color', 'use_ssl', 'show_admin_bar_front', 'locale');

/**
 * The plugin's own callbacks on the hooks of entra_wp_sync_meta_hooks_are_own: they act on the
 * capabilities key (rest-meta.php), entra_object_id and entra_wp_sync_deactivated (rest-meta.php,
 * sign-in.php), never on a default key, so the one INSERT changes nothing they would have done.
 */
const ENTRA_WP_SYNC_OWN_META_CALLBACKS = array('entra_wp_sync_remember_rank', 'entra_wp_sync_guard_meta',
    'entra_wp_sync_end_sessions');

/**
 * Core's own callbacks there, which the INSERT runs itself: WordPress 6.6 (not 6.1) marks cached user
 * queries stale on added_user_meta (wp_cache_set_users_last_changed, which takes no arguments):
 * called once after the INSERT, as after each row.
 */
const ENTRA_WP_SYNC_CORE_META_CALLBACKS = array('wp_cache_set_users_last_changed');

/**
 * Whether the hooks that update_user_meta() runs for $keys of a user who has none of them yet have
 * no callback but the plugin's own, so that writing them without those calls skips nobody. What
 * WordPress 6.1 runs there (update_metadata, then add_metadata, wp-includes/meta.php):
 * get_object_subtype_user (names the subtype), sanitize_meta's sanitize_user_meta_<key>_for_user
 * or sanitize_user_meta_<key>, the update_user_metadata short-circuit, the read of the old value
 * (get_user_metadata, update_user_metadata_cache), the add_user_metadata short-circuit, and the
 * add_user_meta and added_user_meta actions; "all" sees each of those calls. update_user_meta and
 * updated_user_meta fire only for a key the user has already (never for a new user): listed because
 * a plugin watching them watches meta writes. The auth_user_meta_<key> filters are map_meta_cap's,
 * which REST asks before it writes a meta field and wp_insert_user never does: not on this path.
 */
function entra_wp_sync_meta_hooks_are_own(array $keys) {
    global $wp_filter;
    $hooks = array('all', 'get_object_subtype_user', 'update_user_metadata', 'get_user_metadata', 'update_user_metadata_cache',
        'add_user_metadata', 'add_user_meta', 'added_user_meta', 'update_user_meta', 'updated_user_meta');
    foreach ($keys as $key) {
        $hooks[] = 'sanitize_user_meta_' . $key . '_for_user';
        $hooks[] = 'sanitize_user_meta_' . $key;
    }
    foreach ($hooks as $hook) {
        if (!isset($wp_filter[$hook])) continue;
        // Keyed by _wp_filter_build_unique_id: a function's name, a closure's object hash.
        foreach ($wp_filter[$hook]->callbacks as $callbacks) {
            if (array_diff(array_keys($callbacks), ENTRA_WP_SYNC_OWN_META_CALLBACKS, ENTRA_WP_SYNC_CORE_META_CALLBACKS)) return false;
        }
    }
    return true;
}

/**
 * insert_user_meta for a user the batch creates (registered by entra_wp_sync_batch_write, last):
 * the default keys in one multi-row INSERT instead of update_user_meta() for each, which costs up to
 * three queries per key for a new user (the read of its meta, whose cache the previous key's write
 * cleared; the read of the key's row ids; the INSERT), and a read of its meta again for the role
 * written next: 33 of the 50 queries of a batched create on WordPress 6.1, now 1. Stored are
 * the rows add_metadata() would store, in its order: each value unslashed and serialized as it does
 * (no sanitize filter is registered, see above), bound as $wpdb->insert binds it (NULL stays NULL).
 * WordPress 6.6 writes each with add_user_meta() instead, one INSERT per key (11 of the 40 queries
 * of its create: the same rows, and the same one INSERT here).
 * Taken only when no other callback is registered on those hooks: else WordPress writes them its
 * own way, firing every hook. What the filter answers is what wp_insert_user still writes the normal
 * way: the keys not taken, or all of them when the INSERT fails (a value the column's character set
 * refuses fails the whole statement, which wrote nothing: WordPress then skips that key alone).
 */
function entra_wp_sync_new_user_meta_inserted($meta, $user, $update) {
    global $wpdb;
    if ($update || !is_array($meta) || !($user instanceof WP_User) || !$user->ID) return $meta;
    $taken = array_intersect_key($meta, array_flip(ENTRA_WP_SYNC_DEFAULT_USER_META));
    if (!$taken || !entra_wp_sync_meta_hooks_are_own(array_keys($taken))) return $meta;
    $rows = array();
    $stored = array();
    foreach ($taken as $key => $value) {
        $value = maybe_serialize(wp_unslash($value));
        $rows[] = $value === null ? $wpdb->prepare('(%d, %s, NULL)', $user->ID, $key)
            : $wpdb->prepare('(%d, %s, %s)', $user->ID, $key, $value);
        $stored[$key] = $value;
    }
    if ($wpdb->query("INSERT INTO `$wpdb->usermeta` (`user_id`, `meta_key`, `meta_value`) VALUES " . implode(', ', $rows)) === false) {
        return $meta;
    }
    entra_wp_sync_user_meta_cache_add($user->ID, $stored);
    foreach (ENTRA_WP_SYNC_CORE_META_CALLBACKS as $callback) {
        if (has_action('added_user_meta', $callback) !== false) $callback();
    }
    return array_diff_key($meta, $taken);
}

/**
 * The user's meta cache after $stored was inserted: the rows appended as update_meta_cache() would
 * read them back (the database's strings, in insert order), so that the role written next reads no
 * meta; dropped instead when it holds nothing yet or a value whose string form is not certain (a
 * float). Every other write clears it as before.
 */
function entra_wp_sync_user_meta_cache_add($user_id, array $stored) {
    $cached = wp_cache_get($user_id, 'user_meta');
    $certain = is_array($cached);
    foreach ($stored as $key => $value) {
        if (!$certain || !($value === null || is_string($value) || is_int($value) || is_bool($value))) {
            $certain = false;
            break;
        }
        $cached[$key][] = $value === null ? null : (string) $value;
    }
    if ($certain) {
        wp_cache_set($user_id, $cached, 'user_meta');
    } else {
        wp_cache_delete($user_id, 'user_meta');
    }
}
