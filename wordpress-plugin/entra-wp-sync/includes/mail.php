<?php
/**
 * No notification mails for the service's own writes (4.).
 */

if (!defined('ABSPATH')) {
    exit;
}

// 4. No notification mails for the service's writes (the directory, not the user, changed them).
// Only for the service's own, pinned Application Password (entra_wp_sync_is_service_request): a user
// manager naming its own password's id gets WordPress's usual mails. And still to an account that
// outranks the caller: WordPress's warning that its e-mail or password changed is what tells an
// administrator that someone lesser took it over. The service's account outranks its users.
foreach (array('send_email_change_email', 'send_password_change_email',
    'wp_send_new_user_notification_to_user', 'wp_send_new_user_notification_to_admin') as $entra_wp_sync_filter) {
    add_filter($entra_wp_sync_filter, function ($send, $user = null) {
        if (!entra_wp_sync_is_service_request()) return $send;
        // The e-mail and password filters pass the user's row as an array, the new-user ones a WP_User.
        $id = $user instanceof WP_User ? $user->ID : (is_array($user) && isset($user['ID']) ? $user['ID'] : 0);
        return entra_wp_sync_outranks_caller($id) ? $send : false;
    }, 100, 2);
}
