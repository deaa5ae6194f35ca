<?php
/**
 * Multisite networks (8.): site memberships, the network's users, network deletes.
 */

if (!defined('ABSPATH')) {
    exit;
}

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
//          {"applied": false, ...the user as GET /network/users/<id>} with nothing written; "guard"
//          [roles] (manage_network_users) writes only while the user, on every site it belongs to,
//          holds no elevated capability (7.) beyond what those roles grant there and is no super admin,
//          else answers 403 entra_wp_sync_protected (with "expect": {"applied": false, ...}), as the
//          batch's guard (9.) does for a single site's writes
// Capabilities are checked before anything is looked up, so no route tells a caller without them
// whether a user or site id exists.
//   DELETE entra-wp-sync/v1/network/users/<id>          wpmu_delete_user (manage_network_users + delete_user);
//          ?guard=<role>,<role> as in the memberships route

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

/**
 * The elevated capabilities (7.) the user holds on any of its sites beyond what the $guard roles
 * grant on that site (roles are defined per site), "super admin" for a super admin; [] when the
 * write may go ahead. Read inside the write's transaction (10.), so a privilege given in WordPress
 * after the service read the user refuses the write instead of losing to it.
 */
function entra_wp_sync_network_beyond_guard($user_id, array $guard) {
    if (is_super_admin((int) $user_id)) return array('super admin');
    $beyond = array();
    foreach (get_blogs_of_user((int) $user_id) as $blog_id => $_) {
        switch_to_blog((int) $blog_id);
        try {
            $beyond = array_merge($beyond, entra_wp_sync_capabilities_beyond(new WP_User((int) $user_id), $guard));
        } finally {
            restore_current_blog();
        }
    }
    return array_values(array_unique($beyond));
}

/** The guard's refusal, worded as the batch's (the service reads the code, a person the message). */
function entra_wp_sync_network_guard_refusal($user_id, array $beyond) {
    return new WP_Error('entra_wp_sync_protected',
        'user ' . (int) $user_id . ' holds capabilities the synced roles do not grant: ' . implode(', ', $beyond),
        array('status' => 403));
}

/** A request's "guard": null when absent, a list of role names, or a WP_Error (bad shape, or no manage_network_users). */
function entra_wp_sync_network_guard_param($guard) {
    if ($guard === null) return null;
    if (!entra_wp_sync_is_string_list($guard)) {
        return new WP_Error('rest_invalid_param', '"guard" must be a list of role names', array('status' => 400));
    }
    // It tells what the user holds on every site: as GET /network/users/<id>, capability first.
    if (!current_user_can('manage_network_users')) {
        return new WP_Error('entra_wp_sync_forbidden', 'Sorry, "guard" needs manage_network_users.', array('status' => 403));
    }
    return $guard;
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
            'entra_wp_sync_user_write' => true,   // one transaction (10.)
            // wp-admin/network/users.php:159-166; delete_user is do_not_allow for all but super admins.
            'permission_callback' => function ($request) {
                return current_user_can('manage_network_users') && current_user_can('delete_user', (int) $request['user']);
            },
            'args' => array('guard' => array('type' => 'array', 'items' => array('type' => 'string'))),
            'callback' => function ($request) {
                $guard = entra_wp_sync_network_guard_param($request['guard']);
                if (is_wp_error($guard)) return $guard;
                $user = entra_wp_sync_network_user($request['user']);
                if (is_wp_error($user)) return $user;
                if ($user->ID === get_current_user_id() || is_super_admin($user->ID)) {
                    return new WP_Error('entra_wp_sync_forbidden', 'Super admins (and the caller) are not deleted.', array('status' => 403));
                }
                $beyond = $guard === null ? array() : entra_wp_sync_network_beyond_guard($user->ID, $guard);
                if ($beyond) return entra_wp_sync_network_guard_refusal($user->ID, $beyond);
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
            'entra_wp_sync_user_write' => true,   // one transaction (10.)
            'permission_callback' => 'is_user_logged_in',   // the real check is per site, below
            'args' => array('role' => array('type' => 'string', 'required' => true)),
            'callback' => function ($request) {
                $r = entra_wp_sync_set_member($request['blog'], $request['user'], (string) $request['role']);
                return is_wp_error($r) ? $r : entra_wp_sync_memberships_answer($r);
            },
        ),
        array(
            'methods' => 'DELETE',
            'entra_wp_sync_user_write' => true,   // one transaction (10.)
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
        'entra_wp_sync_user_write' => true,   // one transaction (10.)
        'permission_callback' => 'is_user_logged_in',   // the real checks are per site
        'args' => array(
            'changes' => array('type' => 'array', 'required' => true),
            'deactivated' => array('type' => 'boolean'),
            'expect' => array('type' => 'object'),
            'guard' => array('type' => 'array', 'items' => array('type' => 'string')),
        ),
        'callback' => function ($request) {
            $changes = $request['changes'];
            $flag = $request['deactivated'];
            $max = ENTRA_WP_SYNC_BATCH_MAX;
            $guard = entra_wp_sync_network_guard_param($request['guard']);
            if (is_wp_error($guard)) return $guard;
            if (!is_array($changes) || (!$changes && $flag === null && $request['expect'] === null && $guard === null)
                || count($changes) > $max) {
                return new WP_Error('rest_invalid_param', '"changes" must be a list of 1 to ' . $max
                    . ' objects {"site": <blog id>, "role": "<role>"} or {"site": <blog id>, "remove": true}'
                    . ' (0 with "deactivated", "expect" or "guard")', array('status' => 400));
            }
            foreach (array_values($changes) as $i => $change) {
                $site = is_array($change) && isset($change['site']) && is_int($change['site']) ? $change['site'] : null;
                $role = $site !== null && isset($change['role']) ? $change['role'] : null;
                if ($site === null || ($role === null ? empty($change['remove']) : !is_string($role))) {
                    return new WP_Error('rest_invalid_param', "change $i needs an integer \"site\" and a \"role\" or \"remove\": true",
                        array('status' => 400, 'index' => $i));
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
            if ($guard !== null) {
                $user = entra_wp_sync_network_user($request['user']);
                if (is_wp_error($user)) return $user;
                $beyond = entra_wp_sync_network_beyond_guard($user->ID, $guard);
                // With "expect" the service wrote without reading: it reads and plans again (it finds the user protected).
                if ($beyond && $request['expect'] !== null) {
                    return array_merge(array('applied' => false), entra_wp_sync_memberships($user->ID));
                }
                if ($beyond) return entra_wp_sync_network_guard_refusal($user->ID, $beyond);
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
