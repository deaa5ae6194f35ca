<?php
/**
 * Bulk writes (9.): POST /wp-json/entra-wp-sync/v1/users/batch.
 */

if (!defined('ABSPATH')) {
    exit;
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

/**
 * Refuses a user holding more than the operation's "guard" roles grant (7.); null when it may go ahead.
 * The refusal of an operation with "expect" carries "before" as a "changed" answer does: the service
 * sent it without reading the user, and plans again from that.
 */
function entra_wp_sync_batch_guard(array $op) {
    if (!isset($op['guard']) || $op['op'] === 'create') return null;
    $user = get_userdata($op['id']);
    if (!$user) return null; // core answers rest_user_invalid_id
    $beyond = entra_wp_sync_capabilities_beyond($user, $op['guard']);   // a list of strings (entra_wp_sync_batch_invalid)
    if (!$beyond) return null;
    $refusal = entra_wp_sync_batch_error('entra_wp_sync_protected',
        'user ' . $user->ID . ' holds capabilities the synced roles do not grant: ' . implode(', ', $beyond), 403);
    if (isset($op['expect'])) $refusal['before'] = entra_wp_sync_batch_user_data($user->ID);
    return $refusal;
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
        return entra_wp_sync_batch_create_with_role($request);
    }
    $previous = isset($GLOBALS['wp_hasher']) ? $GLOBALS['wp_hasher'] : null;
    $GLOBALS['wp_hasher'] = new Entra_WP_Sync_Create_Hasher($password, $previous);
    try {
        return entra_wp_sync_batch_create_with_role($request);
    } finally {
        $GLOBALS['wp_hasher'] = $previous;
    }
}

/**
 * Core's create with the first of "roles" given to wp_insert_user. Core's route inserts the user with
 * no role (capabilities "a:0:{}", user level 0) and then calls add_role() for each: two more meta
 * writes, with the user's meta read again between them. With the first role up front the user is
 * inserted holding it, and add_role() skips it (it holds it already) and adds the others: the same
 * capabilities, in the same order, and the same level, 5 queries fewer per create; the hooks that
 * fire are set_user_role with that role instead of set_user_role with none and add_user_role. Core
 * has checked that the caller may give these roles (check_role_update) before this filter runs.
 * Single sites only: on a network core's create sets the site role again (add_user_to_blog).
 */
function entra_wp_sync_batch_create_with_role(WP_REST_Request $request) {
    $up_front = function ($user, $dispatched) use ($request) {
        $roles = $dispatched->get_param('roles');
        if ($dispatched === $request && is_array($roles) && $roles && is_string(reset($roles))) $user->role = reset($roles);
        return $user;
    };
    if (is_multisite()) return rest_do_request($request);
    add_filter('rest_pre_insert_user', $up_front, 1, 2);
    try {
        return rest_do_request($request);
    } finally {
        remove_filter('rest_pre_insert_user', $up_front, 1);
    }
}

/**
 * Runs one operation. $before_write is called once the operation is checked (its fields, the guard,
 * "expect") and right before core's route runs: what is refused before it wrote nothing.
 */
function entra_wp_sync_batch_run(array $op, callable $before_write) {
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
    $before_write();
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
 * Core's update writes its default meta keys again (wp_insert_user: update_user_meta for each) and
 * update_metadata skips a key only when the new value is identical to the stored string: "use_ssl"
 * comes as the integer 0 (or a boolean) against the stored "0", so every update of a user ran two
 * more queries (its meta id read, and the UPDATE of the same "0"), the in-process loop too. Dropped
 * here are only such keys, whose value is stored as exactly the string already there (an integer
 * or boolean, as the database receives it: false as "", true as "1"); strings are core's to compare.
 */
function entra_wp_sync_batch_unchanged_meta_dropped($meta, $user, $update) {
    if (!$update || !is_array($meta) || !($user instanceof WP_User)) return $meta;
    foreach ($meta as $key => $value) {
        if (!is_int($value) && !is_bool($value)) continue;
        $value = sanitize_meta($key, $value, 'user');
        if (!is_int($value) && !is_bool($value)) continue;
        $stored = get_user_meta($user->ID, $key);
        if (is_array($stored) && count($stored) === 1 && $stored[0] === (string) $value) unset($meta[$key]);
    }
    return $meta;
}

/**
 * The operations in one database transaction, each under its own savepoint; their results, or a
 * WP_Error (503) when the database rolled the transaction back and nothing was written.
 */
function entra_wp_sync_batch_write(array $ops) {
    global $wpdb;
    // READ COMMITTED for this transaction, as each statement of autocommit sees the data: core's meta
    // UPDATEs (WHERE user_id AND meta_key, which MariaDB runs through the meta_key index) then lock
    // only the rows they change, not every row of that key they pass, so a batch no longer waits for
    // the commit of another batch of other users (or deadlocks with it). The batch's own users are
    // kept from other batches by their named locks (entra_wp_sync_with_batch_locks). A server that
    // logs statements to its binary log refuses writes at this level: there it keeps its own.
    if ((string) $wpdb->get_var("SELECT @@log_bin = 0 OR @@session.binlog_format <> 'STATEMENT'") === '1') {
        $wpdb->query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');   // the next transaction only
    }
    $tx = entra_wp_sync_transaction_begin();
    // Every user the batch names read in two queries (row, meta) instead of two per operation (the
    // guard, the expect check and core's write look each up). Inside the transaction: the same
    // snapshot the per-operation reads would see, and every write still cleans the user's cache.
    $ids = array();
    foreach ($ops as $op) {
        if (is_array($op) && isset($op['id']) && is_int($op['id']) && $op['id'] > 0) $ids[] = $op['id'];
    }
    if ($ids) cache_users(array_unique($ids));
    // Each operation that reaches core's route runs under the savepoint entra_wp_sync_op, so that one
    // failing midway (a meta write refused after the user row was written) is rolled back alone. Set
    // again for every operation, it replaces the previous one (a savepoint of the same name is
    // deleted when a new one is set), so none is released one by one: the commit ends them all. An
    // operation refused by its own checks (fields, guard, "expect") wrote nothing and sets none. A
    // transaction the database rolled back midway (a deadlock victim) is noticed at its end, by the
    // savepoint of entra_wp_sync_transaction_begin that is gone: the operations run after it wrote
    // into a transaction that end rolls back, and the batch answers 503.
    // Last on insert_user_meta, after every other filter: an update's unchanged meta dropped, a
    // create's default meta inserted at once (new-user-meta.php).
    $unchanged_meta = 'entra_wp_sync_batch_unchanged_meta_dropped';
    $new_user_meta = 'entra_wp_sync_new_user_meta_inserted';
    add_filter('insert_user_meta', $unchanged_meta, PHP_INT_MAX, 3);
    add_filter('insert_user_meta', $new_user_meta, PHP_INT_MAX, 3);
    $results = array();
    foreach ($ops as $i => $op) {
        $tx->registered = array();
        $savepoint = false;
        $before_write = function () use ($wpdb, &$savepoint) {
            $savepoint = $wpdb->query('SAVEPOINT entra_wp_sync_op') !== false;
        };
        $result = is_array($op) ? entra_wp_sync_batch_run($op, $before_write)
            : entra_wp_sync_batch_error('rest_invalid_param', 'operation ' . $i . ' must be an object');
        $ids = array_merge($tx->registered, is_array($op) && isset($op['id']) && is_int($op['id']) ? array($op['id']) : array());
        $tx->touched = array_merge($tx->touched, $ids);
        if ($result['outcome'] === 'failed' && $savepoint) {
            $kept = $wpdb->query('ROLLBACK TO SAVEPOINT entra_wp_sync_op');
            foreach ($ids as $id) clean_user_cache($id);
            if ($kept === false) break;   // the transaction is gone: end says so
        }
        $results[] = $result;
    }
    remove_filter('insert_user_meta', $unchanged_meta, PHP_INT_MAX);
    remove_filter('insert_user_meta', $new_user_meta, PHP_INT_MAX);
    $counted = array_filter($results, function ($result) {
        return $result['outcome'] === 'created' || $result['outcome'] === 'deleted';
    });
    if (!entra_wp_sync_transaction_end($tx, true, (bool) $counted)) return entra_wp_sync_rolled_back('entra_wp_sync_batch_rolled_back', 'this batch');
    return $results;
}

/**
 * The named locks a batch holds while it runs (entra_wp_sync_with_batch_locks): one per user id it
 * writes, and one per login and e-mail it creates or sets, as the database compares them (the
 * column's collation: "José" and "jose " are one login to WordPress's checks). Any two batches that
 * could write the same user, or give two users one login or e-mail, take turns; the others run side
 * by side. Names are hashed with the database and table prefix: the locks are server-wide.
 */
function entra_wp_sync_batch_lock_names(array $ops) {
    global $wpdb;
    $keys = array();
    $values = array();   // [column, value] to be keyed by their collation weight
    foreach ($ops as $op) {
        if (!is_array($op)) continue;
        if (isset($op['id']) && is_int($op['id'])) $keys[] = 'id|' . $op['id'];
        $body = isset($op['body']) && is_array($op['body']) ? $op['body'] : array();
        if (isset($body['username']) && is_string($body['username'])) $values[] = array('user_login', $body['username']);
        if (isset($body['email']) && is_string($body['email'])) $values[] = array('user_email', $body['email']);
    }
    if ($values) {
        $collations = array();
        foreach ($wpdb->get_results("SHOW FULL COLUMNS FROM `$wpdb->users` WHERE Field IN ('user_login', 'user_email')") as $column) {
            if (preg_match('/^[A-Za-z0-9_]+$/', (string) $column->Collation)) $collations[$column->Field] = $column->Collation;
        }
        $weights = array();
        foreach ($values as $i => $value) {
            list($column, $text) = $value;
            if (!isset($collations[$column])) return array('site');   // cannot key it: take the whole site's turn
            $collation = $collations[$column];
            $charset = strtok($collation, '_');
            $weights[] = $wpdb->prepare("MD5(WEIGHT_STRING(RTRIM(CONVERT(%s USING $charset)) COLLATE $collation))", $text);
        }
        $row = $wpdb->get_row('SELECT ' . implode(', ', $weights), ARRAY_N);
        if (!is_array($row) || count($row) !== count($values)) return array('site');
        foreach ($values as $i => $value) $keys[] = $value[0] . '|' . $row[$i];
    }
    $names = array();
    foreach (array_unique($keys) as $key) $names[] = 'entra_wp_sync_' . md5(DB_NAME . '|' . $wpdb->base_prefix . '|' . $key);
    sort($names);   // every batch takes its locks in one order: two batches never wait for each other
    return $names;
}

/**
 * Whether the database server holds several named locks per connection (MariaDB 10.0.2, MySQL
 * 5.7.5): an older one releases the lock a connection holds when it takes another.
 */
function entra_wp_sync_holds_several_locks() {
    global $wpdb;
    $info = (string) $wpdb->db_server_info();
    if (preg_match('/(\d+\.\d+\.\d+)-MariaDB/i', $info, $m)) return version_compare($m[1], '10.0.2', '>=');
    return version_compare($wpdb->db_version(), '5.7.5', '>=');
}

/**
 * Runs $fn holding the named locks of the batch's users (database locks, released when PHP or its
 * connection ends). A batch sent again while an attempt its client gave up on still runs (PHP goes
 * on, see 9.) names the same users, so it waits for that attempt's commit and then finds them
 * ("existing") instead of creating them a second time: the login and e-mail checks cannot see rows
 * another transaction has not committed. Batches of other users run side by side (two PHP workers,
 * two cores). On a server that holds one named lock per connection, batches take turns per site.
 */
function entra_wp_sync_with_batch_locks(array $ops, $fn) {
    global $wpdb;
    $names = entra_wp_sync_holds_several_locks() ? entra_wp_sync_batch_lock_names($ops) : array('site');
    if ($names === array('site')) $names = array('entra_wp_sync_batch_' . md5(DB_NAME . '|' . $wpdb->base_prefix));
    $take = array();
    foreach ($names as $name) $take[] = $wpdb->prepare('GET_LOCK(%s, 30)', $name);
    $release = function () use ($wpdb, $names) {
        $wpdb->query('SELECT ' . implode(', ', array_map(function ($name) use ($wpdb) {
            return $wpdb->prepare('RELEASE_LOCK(%s)', $name);
        }, $names)));
    };
    // AND stops at the first lock not taken in 30 s; the ones taken before it are released.
    if ((string) $wpdb->get_var('SELECT ' . implode(' AND ', $take)) !== '1') {
        $release();
        return new WP_Error('entra_wp_sync_batch_busy', 'Another batch writing some of these users has been running for 30 s; send this one again.',
            array('status' => 503));
    }
    try {
        return $fn();
    } finally {
        $release();
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
            $results = entra_wp_sync_with_batch_locks($ops, function () use ($ops) {
                return entra_wp_sync_batch_write($ops);
            });
            return is_wp_error($results) ? $results : array('results' => $results);
        },
    ));
});
