<?php
/**
 * Profile photos as avatars (6.): the upload route, the files, and the avatar filter.
 */

if (!defined('ABSPATH')) {
    exit;
}

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

/**
 * The image decoded and encoded again with GD, in its own type: only its pixels are stored, never
 * what the caller put around them (a JPEG followed by PHP or script, comments, metadata). Null when
 * GD cannot decode it.
 */
function entra_wp_sync_avatar_pixels($bytes, $type) {
    $image = @imagecreatefromstring($bytes);
    if ($image === false) return null;
    ob_start();
    if ($type === IMAGETYPE_PNG) {
        imagesavealpha($image, true);
        $written = imagepng($image, null, 9);
    } else {
        $written = imagejpeg($image, null, 90);
    }
    $out = ob_get_clean();
    imagedestroy($image);
    return $written && is_string($out) && $out !== '' ? $out : null;
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
    $bytes = entra_wp_sync_avatar_pixels($bytes, $info[2]);
    if ($bytes === null) {
        return new WP_Error('entra_wp_sync_avatar_invalid', 'image could not be decoded', array('status' => 400));
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
        // The right to edit other users (edit_users), not only one's own account (edit_user, which
        // everyone holds on theirs): the photos are the directory's, which the service writes.
        'permission_callback' => function ($request) {
            return current_user_can('edit_users') && current_user_can('edit_user', intval($request['id']));
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
