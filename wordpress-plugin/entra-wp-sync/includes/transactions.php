<?php
/**
 * Database transactions for user writes: the batch's (9.) and each core REST user write's (10.).
 */

if (!defined('ABSPATH')) {
    exit;
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

// 10. Core REST user writes in one transaction. POST/PUT/PATCH/DELETE /wp/v2/users[/<id>|/me] (however
// spelled, also inside core's /batch/v1: entra_wp_sync_is_user_write) is several
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
// Opened once WordPress has authenticated the caller and the route's permission check said yes
// (rest_dispatch_request runs just before the callback): a request refused there costs no transaction.
add_filter('rest_dispatch_request', function ($result, $request, $route, $handler) {
    if ($result !== null || !entra_wp_sync_is_user_write($request, $handler) || isset($GLOBALS['entra_wp_sync_transaction'])) {
        return $result;
    }
    $GLOBALS['entra_wp_sync_request_transaction'] = array($request, entra_wp_sync_transaction_begin());
    return $result;
}, 20, 4);   // after the guard of 1. (10)
add_filter('rest_request_after_callbacks', function ($response, $handler, $request) {
    $open = isset($GLOBALS['entra_wp_sync_request_transaction']) ? $GLOBALS['entra_wp_sync_request_transaction'] : null;
    if (!$open || $open[0] !== $request) return $response;
    unset($GLOBALS['entra_wp_sync_request_transaction']);
    $tx = $open[1];
    $params = $request->get_url_params();
    foreach (array('id', 'user') as $param) {
        if (isset($params[$param]) && (int) $params[$param] > 0) $tx->touched[] = (int) $params[$param];
    }
    $failed = is_wp_error($response) || ($response instanceof WP_HTTP_Response && $response->get_status() >= 400);
    // The memberships route of 8. keeps the changes before the one it names as refused (its contract).
    $keep = !$failed || !empty($handler['entra_wp_sync_user_write']);
    $counted = $keep && ($request->get_method() === 'DELETE' || $tx->registered);
    if (!entra_wp_sync_transaction_end($tx, $keep, $counted)) {
        // Also when core answered an error: a meta write that lost the deadlock answers 500
        // rest_meta_database_error, for a write that would have gone through.
        return entra_wp_sync_rolled_back('entra_wp_sync_rolled_back', 'this user write');
    }
    return $response;
}, 10, 3);
