#!/usr/bin/env bash
# wordpress-local.sh - run a real WordPress (Debian 12 package, 6.1.x, or a newer core tree) locally,
# without Docker, for entra-wp-sync's tests and bench. Adapted from a verified recipe (Debian 12, no systemd).
#
# Idempotent: installs missing Debian packages, starts MariaDB if needed, creates the database, lays
# out a docroot, installs WordPress, creates an admin + Application Password, installs the project's
# companion plugin (the folder wordpress-plugin/entra-wp-sync/, copied to wp-content/plugins/ and
# activated; network activated on a network), starts `php -S` with 4 workers in the
# background, waits until the REST API answers, and prints (on stdout only, also kept in DIR/env.sh):
#     export WP_URL=... WP_USERNAME=... WP_APP_PASSWORD=... WP_DOCROOT=...
# (WP_DOCROOT: the WordPress files; tests that run PHP on them, or a php -S of their own, need it)
# Everything else goes to stderr, so this works:   eval "$(scripts/wordpress-local.sh)"
#
# Options:
#   --dir DIR            base directory (default $WP_DIR or /tmp/entra-wp-sync-wordpress)
#   --port PORT          HTTP port on 127.0.0.1 (default $WP_PORT or 8881)
#   --without-plugin     plain WordPress: do not install (and remove) the companion plugin; a
#                        snippet registers the user meta key "department" for REST, as another
#                        plugin or a theme may
#   --env-prefix P       print P{URL,USERNAME,APP_PASSWORD} instead of WP_... (e.g. WP_PLAIN_ for a
#                        second, plugin-less instance used by test/wordpress/plain-site.test.ts)
#   --multisite          a subdirectory multisite network: the main site plus the sites named in
#                        WP_NETWORK_SITES (default "site2,site3", served at /site2/, /site3/); the
#                        admin is a super admin; also prints P{SITE_PATHS} (e.g. "/site2/,/site3/").
#                        Use its own --dir: a single site is not turned into a network in place.
#   --wordpress-version V  another WordPress than Debian's 6.1: the core tree of version V (e.g. 6.6,
#                        which is 6.6-RC3; also 6.2-6.5) from the npm package
#                        @wp-playground/wordpress-builds@0.9.19, fetched once with `npm pack` and kept
#                        unzipped in $WP_BUILDS_CACHE (default ~/.cache/entra-wp-sync/wordpress-builds)
#   --reset              drop the database and the docroot first (fresh, empty WordPress)
#   --restart            restart the php -S server even if it is already running
# Environment (defaults): WP_DB_NAME (derived from DIR: /tmp/entra-wp-sync-wordpress ->
#   entra_wp_sync_wordpress, so every DIR has its own database) WP_DB_USER=entra_wp_sync
#   WP_DB_PASSWORD=entra_wp_sync WP_DB_HOST=localhost WP_DB_ADMIN="mysql -uroot" (client command
#   with admin rights; root over the unix socket by default) WP_ADMIN_USER=admin
#   WP_ADMIN_PASSWORD=admin-password WP_ADMIN_EMAIL=admin@example.test WP_APP_NAME=entra-wp-sync
#   WP_WORKERS=4 (PHP_CLI_SERVER_WORKERS) WP_SRC=/usr/share/wordpress (any WordPress core tree to
#   serve instead of Debian's; --wordpress-version sets it) WP_FIXED_APP_PASSWORD (optional: force this exact
#   application password, letters/digits only, >= 8 chars; otherwise one is generated once
#   and kept in DIR/app-password). WP_URL/WP_USERNAME/WP_APP_PASSWORD in the environment are ignored.
# Stop with scripts/wordpress-stop.sh (same --dir).
set -euo pipefail

PROJECT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PLUGIN_SRC="$PROJECT_DIR/wordpress-plugin/entra-wp-sync"
WP_DIR=${WP_DIR:-/tmp/entra-wp-sync-wordpress}
WP_PORT=${WP_PORT:-8881}
WITH_PLUGIN=1; RESET=0; RESTART=0; ENV_PREFIX=WP_; MULTISITE=0; WP_VERSION=
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) WP_DIR=$2; shift 2 ;;
    --dir=*) WP_DIR=${1#--dir=}; shift ;;
    --port) WP_PORT=$2; shift 2 ;;
    --port=*) WP_PORT=${1#--port=}; shift ;;
    --without-plugin) WITH_PLUGIN=0; shift ;;
    --env-prefix) ENV_PREFIX=$2; shift 2 ;;
    --env-prefix=*) ENV_PREFIX=${1#--env-prefix=}; shift ;;
    --multisite) MULTISITE=1; shift ;;
    --wordpress-version) WP_VERSION=$2; shift 2 ;;
    --wordpress-version=*) WP_VERSION=${1#--wordpress-version=}; shift ;;
    --reset) RESET=1; shift ;;
    --restart) RESTART=1; shift ;;
    -h|--help) sed -n '2,39p' "$0" >&2; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
WP_DIR=${WP_DIR%/}
[[ "$ENV_PREFIX" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { echo "bad --env-prefix: $ENV_PREFIX" >&2; exit 2; }

WP_HOST=127.0.0.1
WP_URL="http://$WP_HOST:$WP_PORT"
# One database per DIR (DIR also holds the app password and salts that belong to that database).
_default_db=$(basename "$WP_DIR" | tr -c 'A-Za-z0-9_\n' '_' | tr 'A-Z' 'a-z' | cut -c1-64)
WP_DB_NAME=${WP_DB_NAME:-$_default_db}
WP_DB_USER=${WP_DB_USER:-entra_wp_sync}
WP_DB_PASSWORD=${WP_DB_PASSWORD:-entra_wp_sync}
WP_DB_HOST=${WP_DB_HOST:-localhost}
WP_ADMIN_USER=${WP_ADMIN_USER:-admin}
WP_ADMIN_PASSWORD=${WP_ADMIN_PASSWORD:-admin-password}
WP_ADMIN_EMAIL=${WP_ADMIN_EMAIL:-admin@example.test}
WP_APP_NAME=${WP_APP_NAME:-entra-wp-sync}
WP_WORKERS=${WP_WORKERS:-4}
WP_APP_PASSWORD_FIXED=${WP_FIXED_APP_PASSWORD:-}
WP_NETWORK_SITES=${WP_NETWORK_SITES:-site2,site3}
DOCROOT="$WP_DIR/htdocs"

log() { echo "[wordpress-local] $*" >&2; }
die() { echo "[wordpress-local] ERROR: $*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then command -v sudo >/dev/null && SUDO="sudo"; fi
WP_DB_ADMIN=${WP_DB_ADMIN:-${SUDO:+$SUDO }mysql -uroot}

[[ "$WP_PORT" =~ ^[0-9]+$ ]] || die "bad port: $WP_PORT"
for v in WP_DB_NAME WP_DB_USER; do [[ "${!v}" =~ ^[A-Za-z0-9_]+$ ]] || die "$v must match [A-Za-z0-9_]+"; done
[[ "$WP_DB_PASSWORD" =~ ^[A-Za-z0-9_.,:@%+=-]+$ ]] || die "WP_DB_PASSWORD: use letters, digits and _.,:@%+=- only"
[ "$WITH_PLUGIN" = 0 ] || [ -f "$PLUGIN_SRC/entra-wp-sync.php" ] || die "companion plugin not found: $PLUGIN_SRC"
# Site slugs become URL paths and are checked the way wpmu_validate_blog_signup does (a-z, 0-9).
[[ "$WP_NETWORK_SITES" =~ ^[a-z0-9]{4,}(,[a-z0-9]{4,})*$ ]] || die "WP_NETWORK_SITES: comma-separated slugs of 4+ lowercase letters/digits"
[ -z "$WP_VERSION" ] || [[ "$WP_VERSION" =~ ^[0-9]+\.[0-9]+(\.[0-9]+)?$ ]] || die "--wordpress-version: e.g. 6.6 (got $WP_VERSION)"
[ -z "$WP_VERSION" ] || [ -z "${WP_SRC:-}" ] || die "give either WP_SRC or --wordpress-version, not both"
if [ -n "$WP_APP_PASSWORD_FIXED" ] && ! [[ "$WP_APP_PASSWORD_FIXED" =~ ^[A-Za-z0-9]{8,}$ ]]; then
  die "WP_FIXED_APP_PASSWORD must be letters/digits only, at least 8 (WordPress strips other characters)"
fi

# ---------------------------------------------------------------- 1. Debian packages
pkg_missing() { local p out=(); for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || out+=("$p"); done
  echo "${out[@]:-}"; }
apt_install() {
  [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ] || die "need root (or sudo) to install: $*"
  log "installing Debian packages: $*"
  # Keep package maintainer scripts from starting apache2/mariadb (wordpress depends on apache2|httpd).
  local own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d; own_policy=1
  fi
  local rc=0
  { { [ "$APT_UPDATED" = 1 ] || $SUDO apt-get update -qq; } && APT_UPDATED=1 && \
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } >&2 || rc=$?
  [ "$own_policy" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || die "apt-get install failed ($rc)"
}
APT_UPDATED=0
# php-gd: the companion plugin re-encodes profile photos with GD.
PKGS="php-cli php-mysql php-curl php-xml php-mbstring php-gd mariadb-client"
# Debian's WordPress is the default core tree; --wordpress-version unzips another one.
if [ -n "$WP_VERSION" ]; then PKGS="$PKGS unzip"; elif [ -z "${WP_SRC:-}" ]; then PKGS="$PKGS wordpress"; fi
# No local server socket and nothing on 127.0.0.1:3306 -> we will need mariadb-server too.
if [ ! -S /run/mysqld/mysqld.sock ] && ! (exec 3<>/dev/tcp/127.0.0.1/3306) 2>/dev/null; then
  PKGS="$PKGS mariadb-server"
fi
MISSING=$(pkg_missing $PKGS)
[ -z "$MISSING" ] || apt_install $MISSING

# ---------------------------------------------------------------- 2. MariaDB
mkdir -p "$WP_DIR"
MARKER="$WP_DIR/.mariadb-started-by-script"
db_admin() { $WP_DB_ADMIN "$@"; }
if db_admin -e 'SELECT 1' >/dev/null 2>&1; then
  log "database server reachable with: $WP_DB_ADMIN"
else
  if command -v mysqladmin >/dev/null && mysqladmin ping >/dev/null 2>&1; then
    die "a MySQL/MariaDB server is running but '$WP_DB_ADMIN' cannot log in; set WP_DB_ADMIN"
  fi
  MISSING=$(pkg_missing mariadb-server)
  [ -z "$MISSING" ] || apt_install mariadb-server
  $SUDO mkdir -p /run/mysqld /var/log/mysql && $SUDO chown mysql:mysql /run/mysqld /var/log/mysql
  if [ ! -d /var/lib/mysql/mysql ]; then
    log "initialising MariaDB data directory"
    $SUDO mariadb-install-db --user=mysql --datadir=/var/lib/mysql >&2
  fi
  log "starting MariaDB (no systemd: start-stop-daemon --background)"
  $SUDO start-stop-daemon --start --oknodo --background --pidfile /run/mysqld/mysqld.pid \
    --exec /usr/sbin/mariadbd -- --user=mysql --log-error=/var/log/mysql/error.log
  for _ in $(seq 1 60); do mysqladmin ping >/dev/null 2>&1 && break; sleep 0.5; done
  mysqladmin ping >/dev/null 2>&1 || die "MariaDB did not start; see /var/log/mysql/error.log"
  for _ in $(seq 1 20); do [ -s /run/mysqld/mysqld.pid ] && break; sleep 0.25; done
  cat /run/mysqld/mysqld.pid > "$MARKER" 2>/dev/null || echo started > "$MARKER"
  db_admin -e 'SELECT 1' >/dev/null || die "MariaDB started but '$WP_DB_ADMIN' cannot log in"
fi

if [ "$RESET" = 1 ]; then
  log "--reset: dropping database $WP_DB_NAME and $DOCROOT"
  db_admin -e "DROP DATABASE IF EXISTS \`$WP_DB_NAME\`"
  rm -rf "$DOCROOT" "$WP_DIR/app-password" "$WP_DIR/multisite.php"
fi
db_admin <<SQL
CREATE DATABASE IF NOT EXISTS \`$WP_DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$WP_DB_USER'@'localhost' IDENTIFIED BY '$WP_DB_PASSWORD';
CREATE USER IF NOT EXISTS '$WP_DB_USER'@'%' IDENTIFIED BY '$WP_DB_PASSWORD';
ALTER USER '$WP_DB_USER'@'localhost' IDENTIFIED BY '$WP_DB_PASSWORD';
ALTER USER '$WP_DB_USER'@'%' IDENTIFIED BY '$WP_DB_PASSWORD';
GRANT ALL PRIVILEGES ON \`$WP_DB_NAME\`.* TO '$WP_DB_USER'@'localhost';
GRANT ALL PRIVILEGES ON \`$WP_DB_NAME\`.* TO '$WP_DB_USER'@'%';
FLUSH PRIVILEGES;
SQL
log "database $WP_DB_NAME / user $WP_DB_USER ready"

# ---------------------------------------------------------------- 3. docroot + config
# --wordpress-version: the npm package of WordPress Playground ships plain core trees as zips
# (wp-6.2.zip ... wp-6.5.zip, wp-beta.zip = 6.6-RC3, wp-nightly.zip); the zip is chosen by the
# version inside it, not by its name.
WP_BUILDS_PACKAGE=@wp-playground/wordpress-builds@0.9.19
WP_BUILDS_CACHE=${WP_BUILDS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/entra-wp-sync/wordpress-builds}
wordpress_build() {
  # npm pack's file name: @scope/name@version -> scope-name-version.tgz
  local pkg=${WP_BUILDS_PACKAGE#@}
  local file=${pkg%@*}
  file="${file//\//-}-${pkg##*@}.tgz"
  # The unzipped trees are kept per package version, so a newer package does not reuse them.
  local want=$1 tree="$WP_BUILDS_CACHE/${file%.tgz}/wordpress-$1" tgz="$WP_BUILDS_CACHE/$file"
  local zips="$WP_BUILDS_CACHE/${file%.tgz}/zips" zip found="" version=""
  if [ ! -f "$tree/wp-includes/version.php" ]; then
    mkdir -p "$WP_BUILDS_CACHE"
    if [ ! -f "$tgz" ]; then
      command -v npm >/dev/null || die "--wordpress-version needs npm (to fetch $WP_BUILDS_PACKAGE)"
      log "fetching $WP_BUILDS_PACKAGE (about 160 MB, once) into $WP_BUILDS_CACHE"
      (cd "$WP_BUILDS_CACHE" && npm pack "$WP_BUILDS_PACKAGE" --silent >/dev/null) || die "npm pack $WP_BUILDS_PACKAGE failed"
    fi
    if [ ! -d "$zips" ]; then
      rm -rf "$zips.tmp" && mkdir -p "$zips.tmp"
      tar xzf "$tgz" -C "$zips.tmp" --strip-components=3 --wildcards 'package/src/wordpress/wp-*.zip' \
        || die "cannot read $tgz"
      mv "$zips.tmp" "$zips"
    fi
    # Numbered builds first, then beta, then nightly: the first whose version is V, V.x or V-xxx.
    for zip in $(ls "$zips"/wp-[0-9]*.zip | sort -V) "$zips/wp-beta.zip" "$zips/wp-nightly.zip"; do
      [ -f "$zip" ] || continue
      version=$(unzip -p "$zip" wp-includes/version.php | grep -o "wp_version = '[^']*'" | cut -d"'" -f2)
      case "$version" in "$want"|"$want".*|"$want"-*) found=$zip; break ;; esac
    done
    [ -n "$found" ] || die "no WordPress $want in $WP_BUILDS_PACKAGE (it has: $(for z in "$zips"/*.zip; do unzip -p "$z" wp-includes/version.php | grep -o "wp_version = '[^']*'" | cut -d"'" -f2; done | tr '\n' ' '))"
    rm -rf "$tree.tmp" && unzip -q "$found" -d "$tree.tmp" || die "cannot unzip $found"
    # Playground's config and its SQLite database file are not part of this set-up (MariaDB is).
    rm -rf "$tree.tmp/wp-config.php" "$tree.tmp/wp-content/database"
    rm -rf "$tree" && mv "$tree.tmp" "$tree"
    log "WordPress $version ($(basename "$found") of $WP_BUILDS_PACKAGE) unzipped in $tree"
  fi
  echo "$tree"
}
if [ -n "$WP_VERSION" ]; then SRC=$(wordpress_build "$WP_VERSION"); else SRC=${WP_SRC:-/usr/share/wordpress}; fi
SRC=${SRC%/}
[ -f "$SRC/wp-includes/version.php" ] || die "not a WordPress core tree (no wp-includes/version.php): $SRC"
if [ ! -f "$DOCROOT/wp-includes/version.php" ] || ! cmp -s "$SRC/wp-includes/version.php" "$DOCROOT/wp-includes/version.php"; then
  log "copying $SRC to $DOCROOT"
  # A real copy (not symlinks): PHP resolves symlinks in __FILE__, so a symlinked wp-load.php
  # would load Debian's /usr/share/wordpress/wp-config.php (host-based /etc/wordpress scheme).
  rm -rf "$DOCROOT.tmp" && cp -a "$SRC" "$DOCROOT.tmp"
  rm -f "$DOCROOT.tmp/wp-config.php" "$DOCROOT.tmp/.htaccess"
  rm -rf "$DOCROOT" && mv "$DOCROOT.tmp" "$DOCROOT"
fi
mkdir -p "$DOCROOT/wp-content/mu-plugins" "$DOCROOT/wp-content/plugins" "$DOCROOT/wp-content/uploads"
# Files the running server reads are replaced atomically (write temp file, then mv).
install_file() { cat > "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"; }

[ -f "$WP_DIR/salts.php" ] || php -r '
  echo "<?php\n";
  foreach (["AUTH_KEY","SECURE_AUTH_KEY","LOGGED_IN_KEY","NONCE_KEY","AUTH_SALT","SECURE_AUTH_SALT","LOGGED_IN_SALT","NONCE_SALT"] as $k)
    printf("define(%s, %s);\n", var_export($k, true), var_export(bin2hex(random_bytes(32)), true));' > "$WP_DIR/salts.php"

WP_URL="$WP_URL" WP_DIR="$WP_DIR" WP_DB_NAME="$WP_DB_NAME" WP_DB_USER="$WP_DB_USER" \
WP_DB_PASSWORD="$WP_DB_PASSWORD" WP_DB_HOST="$WP_DB_HOST" MULTISITE="$MULTISITE" php -r '
  $e = function ($k) { return var_export(getenv($k), true); };
  echo "<?php\n// Generated by wordpress-local.sh - rewritten on every run.\n";
  echo "define(\"DB_NAME\", {$e("WP_DB_NAME")});\n";
  echo "define(\"DB_USER\", {$e("WP_DB_USER")});\n";
  echo "define(\"DB_PASSWORD\", {$e("WP_DB_PASSWORD")});\n";
  echo "define(\"DB_HOST\", {$e("WP_DB_HOST")});\n";
  echo "define(\"DB_CHARSET\", \"utf8mb4\");\ndefine(\"DB_COLLATE\", \"\");\n";
  echo "require " . var_export(getenv("WP_DIR") . "/salts.php", true) . ";\n";
  echo "\$table_prefix = \"wp_\";\n";
  if (getenv("MULTISITE") === "1") {
    // Every site has its own home/siteurl options: WP_HOME would send all of them to the main site.
    // multisite.php (the MULTISITE constants) is written once the network tables exist.
    $ms = var_export(getenv("WP_DIR") . "/multisite.php", true);
    echo "if (is_file($ms)) require $ms;\n";
  } else {
    echo "define(\"WP_HOME\", {$e("WP_URL")});\ndefine(\"WP_SITEURL\", {$e("WP_URL")});\n";
  }
  echo "// \"local\" makes Application Passwords available over plain http.\n";
  echo "define(\"WP_ENVIRONMENT_TYPE\", \"local\");\n";
  echo "define(\"WP_DEBUG\", false);\n";
  echo "define(\"DISABLE_WP_CRON\", true);\n";
  echo "define(\"AUTOMATIC_UPDATER_DISABLED\", true);\ndefine(\"WP_AUTO_UPDATE_CORE\", false);\n";
  echo "define(\"WP_HTTP_BLOCK_EXTERNAL\", true);\n";
  echo "define(\"FS_METHOD\", \"direct\");\n";
  echo "if (!defined(\"ABSPATH\")) define(\"ABSPATH\", __DIR__ . \"/\");\n";
  echo "require_once ABSPATH . \"wp-settings.php\";\n";' | install_file "$DOCROOT/wp-config.php"

install_file "$WP_DIR/router.php" <<'PHP'
<?php
// Router for `php -S`: existing static files are served as-is, existing .php files run,
// everything else goes to WordPress' index.php (pretty permalinks, /wp-json/...).
// On a subdirectory multisite network (multisite.php next to this file) it also does what core's
// .htaccess does (wp-admin/includes/network.php): /<site>/wp-admin redirects to /<site>/wp-admin/,
// and /<site>/wp-(content|admin|includes)... and /<site>/*.php are the root's files. REQUEST_URI
// keeps the prefix, which is how WordPress knows the site.
$root = $_SERVER['DOCUMENT_ROOT'];
$path = '/' . ltrim(parse_url(urldecode($_SERVER['REQUEST_URI']), PHP_URL_PATH), '/');
$file = $path;
if (is_file(__DIR__ . '/multisite.php') && !file_exists($root . $path)) {
    if (preg_match('#^/[_0-9a-zA-Z-]+/wp-admin$#', $path)) { header('Location: ' . $path . '/', true, 301); exit; }
    if (preg_match('#^/[_0-9a-zA-Z-]+(/(wp-(content|admin|includes).*|.*\.php))$#', $path, $m)) $file = $m[1];
}
if ($file !== '/' && file_exists($root . $file)) {
    if (is_dir($root . $file)) {
        if (substr($file, -1) !== '/') { header('Location: ' . $path . '/'); exit; }
        if (!file_exists($root . $file . 'index.php')) return false;
        $file .= 'index.php';
    }
    if (substr($file, -4) === '.php') {
        $_SERVER['SCRIPT_NAME'] = $_SERVER['PHP_SELF'] = $file;
        $_SERVER['SCRIPT_FILENAME'] = $root . $file;
        chdir(dirname($root . $file));
        require $root . $file;
        return;
    }
    if ($file === $path) return false;   // php -S serves it, with its own content types
    $types = array('css' => 'text/css', 'js' => 'text/javascript', 'svg' => 'image/svg+xml', 'png' => 'image/png',
        'gif' => 'image/gif', 'jpg' => 'image/jpeg', 'woff' => 'font/woff', 'woff2' => 'font/woff2');
    header('Content-Type: ' . ($types[strtolower(pathinfo($file, PATHINFO_EXTENSION))] ?? 'application/octet-stream'));
    readfile($root . $file);
    return;
}
chdir($root);
require $root . '/index.php';
PHP

MU="$DOCROOT/wp-content/mu-plugins"
install_file "$MU/00-test-env.php" <<'PHP'
<?php
/* Test environment only (never on a real site).
 * Mail: never try to send e-mail (there is no MTA; wp_install and e-mail changes would otherwise
 * print "sh: 1: /usr/sbin/sendmail: not found"); record each one instead in DIR/mails.jsonl
 * (outside the docroot), readable by administrators at GET /entra-wp-sync-test/v1/mails?to=<address>,
 * so tests can tell which mails WordPress would have sent.
 * SSO stand-in: POST /entra-wp-sync-test/v1/sso-login {"user_id": N} (administrators only) does what a
 * single-sign-on plugin does after its identity provider said yes: wp_set_auth_cookie() for that user,
 * without a password. The cookies come back in the response's Set-Cookie headers.
 * Custom role: entra_test_user_manager (read, list_users, edit_users), a role with user management
 * that is not called administrator, as plugins add them.
 * Deadlock stand-in: POST /entra-wp-sync-test/v1/deadlock {"user_id": N, "meta_key": K} (administrators
 * only) makes the next UPDATE of that user meta row, in any request, lose a deadlock the way InnoDB
 * documents it: the statement fails with the error and its transaction is rolled back whole (under
 * autocommit: that statement alone). One shot; GET lists what is still armed. Kept in a file next to
 * mails.jsonl, not in the database whose rollback it plays.
 * Unwritable meta stand-in: the user meta key entra_test_unwritable is shown in REST, and every write
 * of it is refused as a failed database write: core's user routes then answer 500
 * rest_meta_database_error after they wrote the user's row (a write that fails midway). Only beside
 * the companion plugin (its batch tests use it): a site without it shows exactly its own meta. Its
 * refusal is registered only in a request whose body names the key: another plugin's callback on the
 * meta write hooks turns off the companion plugin's one-INSERT default meta of new users (9.).
 * Foreign meta hook stand-in: a request with the header X-Entra-Test-Meta-Hook: <hook> has a callback
 * of another plugin on that hook (it changes nothing and counts its calls); the response says how
 * many in X-Entra-Test-Meta-Hook-Calls.
 * Every REST response says in X-Entra-Test-Queries how many database queries the request ran until
 * then (WordPress's bootstrap and the route's commit included, the response's sending not). */
add_action('init', function () {
    if (!get_role('entra_test_user_manager')) {
        add_role('entra_test_user_manager', 'User manager (test)', array('read' => true, 'list_users' => true, 'edit_users' => true));
    }
    if (defined('ENTRA_WP_SYNC_VERSION')) register_meta('user', 'entra_test_unwritable', array('type' => 'string', 'single' => true,
        'show_in_rest' => array('schema' => array('type' => 'string', 'context' => array('edit'))),
        'auth_callback' => '__return_true'));
});
if (strpos((string) file_get_contents('php://input'), 'entra_test_unwritable') !== false) {
    foreach (array('add_user_metadata', 'update_user_metadata') as $entra_wp_sync_test_hook) {
        add_filter($entra_wp_sync_test_hook, function ($check, $user_id, $meta_key) {
            return $meta_key === 'entra_test_unwritable' ? false : $check;
        }, 10, 3);
    }
}
$entra_wp_sync_test_meta_hook = isset($_SERVER['HTTP_X_ENTRA_TEST_META_HOOK']) ? (string) $_SERVER['HTTP_X_ENTRA_TEST_META_HOOK'] : '';
$entra_wp_sync_test_meta_hook_calls = 0;
if (preg_match('/^[a-z_]+$/', $entra_wp_sync_test_meta_hook)) {
    add_filter($entra_wp_sync_test_meta_hook, function ($first = null) use (&$entra_wp_sync_test_meta_hook_calls) {
        $entra_wp_sync_test_meta_hook_calls++;
        return $first;
    });
}
add_filter('rest_post_dispatch', function ($response) use ($entra_wp_sync_test_meta_hook, &$entra_wp_sync_test_meta_hook_calls) {
    global $wpdb;
    if (!$response instanceof WP_HTTP_Response) return $response;
    $response->header('X-Entra-Test-Queries', (string) $wpdb->num_queries);
    if ($entra_wp_sync_test_meta_hook !== '') $response->header('X-Entra-Test-Meta-Hook-Calls', (string) $entra_wp_sync_test_meta_hook_calls);
    return $response;
}, PHP_INT_MAX);
function entra_wp_sync_test_mail_log() {
    return dirname(rtrim(ABSPATH, '/')) . '/mails.jsonl';
}
/** The armed deadlocks, changed by $change under an exclusive lock of their file; what it returns is kept. */
function entra_wp_sync_test_deadlocks($change) {
    $file = fopen(dirname(rtrim(ABSPATH, '/')) . '/deadlocks.json', 'c+');
    flock($file, LOCK_EX);
    $armed = json_decode((string) stream_get_contents($file), true);
    $armed = $change(is_array($armed) ? $armed : array());
    ftruncate($file, 0);
    rewind($file);
    fwrite($file, json_encode(array_values($armed)));
    fclose($file);
    return array_values($armed);
}
add_filter('query', function ($query) {
    global $wpdb;
    if (!preg_match('/^UPDATE `' . preg_quote($wpdb->usermeta, '/') . "` SET .* WHERE `user_id` = (\\d+) AND `meta_key` = '([^']*)'\$/s", $query, $m)) {
        return $query;
    }
    if (!is_file(dirname(rtrim(ABSPATH, '/')) . '/deadlocks.json')) return $query;
    $hit = false;
    entra_wp_sync_test_deadlocks(function ($armed) use ($m, &$hit) {
        foreach ($armed as $i => $one) {
            if ($one['user_id'] === (int) $m[1] && $one['meta_key'] === $m[2]) {
                $hit = true;
                unset($armed[$i]);
                break;
            }
        }
        return $armed;
    });
    if (!$hit) return $query;
    $wpdb->query('ROLLBACK');
    return 'SIGNAL SQLSTATE \'40001\' SET MESSAGE_TEXT = \'Deadlock found when trying to get lock; try restarting transaction (entra-wp-sync test)\'';
});
add_filter('pre_wp_mail', function ($short, $atts) {
    $line = wp_json_encode(array('to' => (array) $atts['to'], 'subject' => (string) $atts['subject'], 'at' => time()));
    file_put_contents(entra_wp_sync_test_mail_log(), $line . "\n", FILE_APPEND | LOCK_EX);
    return false;
}, 10, 2);
add_action('rest_api_init', function () {
    $admin = function () { return current_user_can('manage_options'); };
    register_rest_route('entra-wp-sync-test/v1', '/mails', array('methods' => 'GET', 'permission_callback' => $admin,
        'callback' => function ($request) {
            $to = strtolower((string) $request->get_param('to'));
            $lines = is_readable(entra_wp_sync_test_mail_log()) ? file(entra_wp_sync_test_mail_log()) : array();
            $mails = array();
            foreach ($lines as $line) {
                $mail = json_decode($line, true);
                if (is_array($mail) && in_array($to, array_map('strtolower', $mail['to']), true)) $mails[] = $mail;
            }
            return $mails;
        }));
    register_rest_route('entra-wp-sync-test/v1', '/deadlock', array(
        array('methods' => 'POST', 'permission_callback' => $admin, 'callback' => function ($request) {
            $armed = entra_wp_sync_test_deadlocks(function ($armed) use ($request) {
                $armed[] = array('user_id' => (int) $request->get_param('user_id'), 'meta_key' => (string) $request->get_param('meta_key'));
                return $armed;
            });
            return array('armed' => $armed);
        }),
        array('methods' => 'GET', 'permission_callback' => $admin, 'callback' => function () {
            return array('armed' => entra_wp_sync_test_deadlocks(function ($armed) { return $armed; }));
        }),
    ));
    register_rest_route('entra-wp-sync-test/v1', '/sso-login', array('methods' => 'POST',
        'permission_callback' => $admin,
        'callback' => function ($request) {
            $id = (int) $request->get_param('user_id');
            if (!get_userdata($id)) return new WP_Error('no_user', 'no such user', array('status' => 404));
            wp_set_auth_cookie($id, false);
            return array('user_id' => $id);
        }));
});
PHP

# The project's companion plugin (entra_object_id meta, exact filter, login block, status route):
# its folder goes to wp-content/plugins/ as a site's admin would copy it, and is activated in step
# 4c. Each file is replaced atomically (the running server may be reading it), files the folder no
# longer has are removed. Before 1.7.0 it was one must-use file: that one goes.
PLUGIN_DIR="$DOCROOT/wp-content/plugins/entra-wp-sync"
rm -f "$MU/entra-wp-sync.php"
if [ "$WITH_PLUGIN" = 1 ]; then
  (cd "$PLUGIN_SRC" && find . -type f -name '*.php' -print0 | xargs -0 -n1 php -l >/dev/null) \
    || die "companion plugin has a PHP syntax error"
  (cd "$PLUGIN_SRC" && find . -type d) | while read -r d; do mkdir -p "$PLUGIN_DIR/$d"; done
  (cd "$PLUGIN_SRC" && find . -type f) | while read -r f; do install_file "$PLUGIN_DIR/$f" < "$PLUGIN_SRC/$f"; done
  (cd "$PLUGIN_DIR" && find . -type f) | while read -r f; do [ -f "$PLUGIN_SRC/$f" ] || rm -f "$PLUGIN_DIR/$f"; done
  rm -f "$MU/10-register-user-meta.php"
else
  rm -rf "$PLUGIN_DIR"
  # What another plugin or a theme may do on a site without the companion plugin: expose a user
  # meta key over REST. The service writes the keys WordPress accepts (the users route schema).
  install_file "$MU/10-register-user-meta.php" <<'PHP'
<?php
/* Test site: "department" is writable over REST without the companion plugin; other keys are not. */
add_action('init', function () {
    register_meta('user', 'department', ['type' => 'string', 'single' => true, 'show_in_rest' => true]);
});
PHP
fi

# ---------------------------------------------------------------- 4. install WP, admin, app password
cat > "$WP_DIR/setup.php" <<'PHP'
<?php
// Generated by wordpress-local.sh: idempotent WordPress install + admin + Application Password.
$url = getenv('WP_URL');
$_SERVER['HTTP_HOST'] = parse_url($url, PHP_URL_HOST) . ':' . parse_url($url, PHP_URL_PORT);
$_SERVER['SERVER_NAME'] = parse_url($url, PHP_URL_HOST);
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
define('WP_INSTALLING', true);   // so wp-settings does not redirect to install.php
require getenv('WP_DOCROOT') . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
function say($m) { fwrite(STDERR, "[setup.php] $m\n"); }

$login = getenv('WP_ADMIN_USER'); $pass = getenv('WP_ADMIN_PASSWORD'); $mail = getenv('WP_ADMIN_EMAIL');
if (!is_blog_installed()) {
    $r = wp_install('WordPress Test', $login, $mail, false, '', $pass);
    say("installed WordPress " . get_bloginfo('version') . ", admin user_id={$r['user_id']}");
} else {
    say("WordPress already installed (" . get_bloginfo('version') . ")");
}
if (get_option('permalink_structure') !== '/%postname%/') {   // needed for /wp-json/... URLs
    update_option('permalink_structure', '/%postname%/');
    delete_option('rewrite_rules');
}
$user = get_user_by('login', $login);
if (!$user) {
    $id = wp_insert_user(array('user_login' => $login, 'user_pass' => $pass, 'user_email' => $mail, 'role' => 'administrator'));
    if (is_wp_error($id)) { say('cannot create admin: ' . $id->get_error_message()); exit(1); }
    $user = get_user_by('id', $id);
    say("created admin user $login");
}
if (!in_array('administrator', (array) $user->roles, true)) { $user->set_role('administrator'); }
if (!wp_check_password($pass, $user->user_pass, $user->ID)) { wp_set_password($pass, $user->ID); say('reset admin password'); }
if (!wp_is_application_passwords_available_for_user($user)) { say('application passwords unavailable (WP_ENVIRONMENT_TYPE?)'); exit(1); }

$file = getenv('WP_DIR') . '/app-password';
$name = getenv('WP_APP_NAME');
$want = getenv('WP_APP_PASSWORD_FIXED');
$have = $want !== '' && $want !== false ? $want : (is_readable($file) ? trim(file_get_contents($file)) : '');
$valid = false;
if ($have !== '') {
    foreach (WP_Application_Passwords::get_user_application_passwords($user->ID) as $item) {
        if (wp_check_password($have, $item['password'], $user->ID)) { $valid = true; break; }
    }
}
if (!$valid) {
    foreach (WP_Application_Passwords::get_user_application_passwords($user->ID) as $item) {
        if ($item['name'] === $name) WP_Application_Passwords::delete_application_password($user->ID, $item['uuid']);
    }
    if ($want !== '' && $want !== false) {
        // Fixed password requested: store its hash the same way core does.
        $items = WP_Application_Passwords::get_user_application_passwords($user->ID);
        $items[] = array('uuid' => wp_generate_uuid4(), 'app_id' => '', 'name' => $name,
            'password' => wp_hash_password($want), 'created' => time(), 'last_used' => null, 'last_ip' => null);
        update_user_meta($user->ID, WP_Application_Passwords::USERMETA_KEY_APPLICATION_PASSWORDS, $items);
        update_network_option(get_main_network_id(), WP_Application_Passwords::OPTION_KEY_IN_USE, true);
        $have = $want;
        say("stored the given WP_FIXED_APP_PASSWORD as application password '$name'");
    } else {
        $r = WP_Application_Passwords::create_new_application_password($user->ID, array('name' => $name));
        if (is_wp_error($r)) { say('cannot create application password: ' . $r->get_error_message()); exit(1); }
        $have = $r[0];
        say("created application password '$name'");
    }
} else {
    say("application password '$name' still valid");
}
file_put_contents($file, $have . "\n");
chmod($file, 0600);
PHP
WP_URL="$WP_URL" WP_DIR="$WP_DIR" WP_DOCROOT="$DOCROOT" WP_ADMIN_USER="$WP_ADMIN_USER" \
WP_ADMIN_PASSWORD="$WP_ADMIN_PASSWORD" WP_ADMIN_EMAIL="$WP_ADMIN_EMAIL" WP_APP_NAME="$WP_APP_NAME" \
WP_APP_PASSWORD_FIXED="$WP_APP_PASSWORD_FIXED" php "$WP_DIR/setup.php" >&2 || die "setup.php failed"
APP_PASSWORD=$(cat "$WP_DIR/app-password")

# ---------------------------------------------------------------- 4b. multisite network (--multisite)
# The steps of wp-admin/network.php without a browser: network tables, multisite.php (the constants
# wp-config.php then loads), then the sites. Two php runs: the second loads WordPress as a network.
if [ "$MULTISITE" = 1 ]; then
  cat > "$WP_DIR/network.php" <<'PHP'
<?php
// Generated by wordpress-local.sh: idempotent network install + sites (subdirectory network).
$url = getenv('WP_URL');
$domain = parse_url($url, PHP_URL_HOST) . ':' . parse_url($url, PHP_URL_PORT);
$_SERVER['HTTP_HOST'] = $domain;
$_SERVER['SERVER_NAME'] = parse_url($url, PHP_URL_HOST);
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
$_SERVER['REMOTE_ADDR'] = '127.0.0.1';   // wpmu_create_blog logs it
define('WP_INSTALLING', true);
require getenv('WP_DOCROOT') . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
function say($m) { fwrite(STDERR, "[network.php] $m\n"); }
function fail($m) { say($m); exit(1); }
$admin = get_user_by('login', getenv('WP_ADMIN_USER')) ?: fail('admin user missing');

if (!is_multisite()) {
    // wp-admin/network.php:36: without this populate_network writes to empty table names.
    foreach ($wpdb->tables('ms_global') as $table => $prefixed) $wpdb->$table = $prefixed;
    install_network();
    $r = populate_network(1, $domain, $admin->user_email, 'WordPress Test Network', '/', false);
    // siteid_exists: a previous run created the network but died before writing multisite.php.
    if (is_wp_error($r) && $r->get_error_code() !== 'siteid_exists') fail('populate_network: ' . $r->get_error_message());
    $defines = array('WP_ALLOW_MULTISITE' => true, 'MULTISITE' => true, 'SUBDOMAIN_INSTALL' => false,
        'DOMAIN_CURRENT_SITE' => $domain, 'PATH_CURRENT_SITE' => '/', 'SITE_ID_CURRENT_SITE' => 1, 'BLOG_ID_CURRENT_SITE' => 1);
    $php = "<?php\n// Generated by wordpress-local.sh --multisite (wp-admin/includes/network.php:499-504).\n";
    foreach ($defines as $k => $v) $php .= 'define(' . var_export($k, true) . ', ' . var_export($v, true) . ");\n";
    file_put_contents(getenv('WP_DIR') . '/multisite.php', $php);
    say("network installed on $domain; run again for the sites");
    exit(0);
}

if (!is_super_admin($admin->ID)) grant_super_admin($admin->ID);
// Application Passwords' "in use" flag is a network option once the network exists.
update_network_option(null, WP_Application_Passwords::OPTION_KEY_IN_USE, true);
$main = get_main_site_id();
update_blog_option($main, 'home', $url);
update_blog_option($main, 'siteurl', $url);
foreach (explode(',', getenv('WP_NETWORK_SITES')) as $slug) {
    $path = "/$slug/";
    $found = get_sites(array('path' => $path, 'number' => 1, 'fields' => 'ids'));
    if ($found) {
        $id = (int) $found[0];
    } else {
        $id = wpmu_create_blog($domain, $path, "Site $slug", $admin->ID);
        if (is_wp_error($id)) fail("wpmu_create_blog $path: " . $id->get_error_message());
        say("created site $path (blog_id $id)");
    }
    // wp_insert_site runs the domain through sanitize_user, which drops the port's colon
    // (127.0.0.1:8897 becomes 127.0.0.18897): put the real domain and URLs back.
    $wpdb->update($wpdb->blogs, array('domain' => $domain), array('blog_id' => $id));
    clean_blog_cache($id);
    switch_to_blog($id);
    update_option('home', $url . $path);
    update_option('siteurl', $url . $path);
    if (get_option('permalink_structure') !== '/%postname%/') {   // /<site>/wp-json/... URLs
        update_option('permalink_structure', '/%postname%/');
        delete_option('rewrite_rules');
    }
    restore_current_blog();
}
say('network ready: ' . implode(', ', array_map(function ($s) { return $s->path; }, get_sites(array('number' => 100)))));
PHP
  for _ in 1 2; do
    WP_URL="$WP_URL" WP_DIR="$WP_DIR" WP_DOCROOT="$DOCROOT" WP_ADMIN_USER="$WP_ADMIN_USER" \
    WP_NETWORK_SITES="$WP_NETWORK_SITES" php "$WP_DIR/network.php" >&2 || die "network.php failed"
  done
fi

# ---------------------------------------------------------------- 4c. activate the companion plugin
# As a site's admin would (Plugins, Activate; on a network, Network Activate), or deactivated for a
# plain WordPress (its folder is gone already).
cat > "$WP_DIR/plugin.php" <<'PHP'
<?php
// Generated by wordpress-local.sh: activates (or deactivates) the companion plugin.
$url = getenv('WP_URL');
$_SERVER['HTTP_HOST'] = parse_url($url, PHP_URL_HOST) . ':' . parse_url($url, PHP_URL_PORT);
$_SERVER['SERVER_NAME'] = parse_url($url, PHP_URL_HOST);
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
require getenv('WP_DOCROOT') . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';
$plugin = 'entra-wp-sync/entra-wp-sync.php';
if (getenv('WITH_PLUGIN') === '1') {
    $r = activate_plugin($plugin, '', is_multisite());
    if (is_wp_error($r)) { fwrite(STDERR, '[plugin.php] cannot activate: ' . $r->get_error_message() . "\n"); exit(1); }
} else {
    deactivate_plugins($plugin, true, is_multisite());
}
PHP
WP_URL="$WP_URL" WP_DOCROOT="$DOCROOT" WITH_PLUGIN="$WITH_PLUGIN" php "$WP_DIR/plugin.php" >&2 \
  || die "plugin.php failed"

# ---------------------------------------------------------------- 5. php -S
PIDFILE="$WP_DIR/php-server.pid"
server_alive() {
  [ -s "$PIDFILE" ] || return 1
  local pid; pid=$(cat "$PIDFILE")
  kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-S $WP_HOST:"
}
port_open() { (exec 3<>"/dev/tcp/$WP_HOST/$WP_PORT") 2>/dev/null; }
if server_alive && [ "$RESTART" = 1 ]; then
  log "--restart: stopping php -S (pid $(cat "$PIDFILE"))"
  kill -TERM -- "-$(cat "$PIDFILE")" 2>/dev/null || kill -TERM "$(cat "$PIDFILE")" 2>/dev/null || true
  for _ in $(seq 1 40); do server_alive || break; sleep 0.25; done
fi
if server_alive && tr '\0' ' ' < "/proc/$(cat "$PIDFILE")/cmdline" | grep -q -- "-S $WP_HOST:$WP_PORT "; then
  log "php -S already running (pid $(cat "$PIDFILE")) on $WP_URL"
else
  port_open && die "port $WP_PORT is already in use by another process"
  if server_alive; then
    log "php -S from $PIDFILE runs on another port; stopping it"
    kill -TERM -- "-$(cat "$PIDFILE")" 2>/dev/null || true
    for _ in $(seq 1 40); do server_alive || break; sleep 0.25; done
  fi
  log "starting php -S $WP_HOST:$WP_PORT (PHP_CLI_SERVER_WORKERS=$WP_WORKERS), log: $WP_DIR/php-server.log"
  # setsid: own session/process group (stop kills the group = master + workers). The inner shell
  # writes its pid and execs php, so the pid file holds php's pid. All stdio is redirected so
  # that $(...) / eval callers are not kept waiting on the pipe.
  rm -f "$PIDFILE"
  PHP_CLI_SERVER_WORKERS="$WP_WORKERS" setsid -f bash -c 'echo $$ > "$1"; exec php -S "$2" -t "$3" "$4"' \
    _ "$PIDFILE" "$WP_HOST:$WP_PORT" "$DOCROOT" "$WP_DIR/router.php" </dev/null >>"$WP_DIR/php-server.log" 2>&1
  for _ in $(seq 1 20); do [ -s "$PIDFILE" ] && break; sleep 0.1; done
  [ -s "$PIDFILE" ] || die "php -S did not start; see $WP_DIR/php-server.log"
fi

# ---------------------------------------------------------------- 6. wait for REST + verify auth
code=000
for _ in $(seq 1 120); do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$WP_URL/wp-json/" || true)
  [ "$code" = 200 ] && break; sleep 0.25
done
[ "$code" = 200 ] || die "REST API did not answer at $WP_URL/wp-json/ (last HTTP $code); see $WP_DIR/php-server.log"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -u "$WP_ADMIN_USER:$APP_PASSWORD" \
  "$WP_URL/wp-json/wp/v2/users/me?context=edit" || true)
[ "$code" = 200 ] || die "authenticated REST call failed (HTTP $code)"
if [ "$MULTISITE" = 1 ]; then
  for slug in ${WP_NETWORK_SITES//,/ }; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -u "$WP_ADMIN_USER:$APP_PASSWORD" \
      "$WP_URL/$slug/wp-json/wp/v2/users/me?context=edit" || true)
    [ "$code" = 200 ] || die "authenticated REST call on site /$slug/ failed (HTTP $code)"
  done
fi
log "ready: $WP_URL (REST + Application Password OK)"

cat > "$WP_DIR/env.sh" <<EOF
export ${ENV_PREFIX}URL='$WP_URL'
export ${ENV_PREFIX}USERNAME='$WP_ADMIN_USER'
export ${ENV_PREFIX}APP_PASSWORD='$APP_PASSWORD'
export ${ENV_PREFIX}DOCROOT='$DOCROOT'
EOF
if [ "$MULTISITE" = 1 ]; then
  echo "export ${ENV_PREFIX}SITE_PATHS='/${WP_NETWORK_SITES//,//,/}/'" >> "$WP_DIR/env.sh"
fi
cat "$WP_DIR/env.sh"
