#!/usr/bin/env bash
# wordpress-stop.sh - stop what scripts/wordpress-local.sh started. Idempotent.
#   --dir DIR        base directory (default $WP_DIR or /tmp/entra-wp-sync-wordpress)
#   --keep-mariadb   leave MariaDB running even if wordpress-local.sh started it
#   --purge          also drop the database (and the DB user once no other instance's database uses it) and delete DIR
# Stops: the php -S process group (pid in DIR/php-server.pid) and, only when wordpress-local.sh
# started it (marker DIR/.mariadb-started-by-script), MariaDB. A MariaDB that was already running
# before is never stopped.
set -euo pipefail
WP_DIR=${WP_DIR:-/tmp/entra-wp-sync-wordpress}
KEEP_DB=0; PURGE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) WP_DIR=$2; shift 2 ;;
    --dir=*) WP_DIR=${1#--dir=}; shift ;;
    --keep-mariadb) KEEP_DB=1; shift ;;
    --purge) PURGE=1; shift ;;
    -h|--help) sed -n '2,9p' "$0" >&2; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
log() { echo "[wordpress-stop] $*" >&2; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then command -v sudo >/dev/null && SUDO="sudo"; fi
WP_DB_ADMIN=${WP_DB_ADMIN:-${SUDO:+$SUDO }mysql -uroot}
WP_DIR=${WP_DIR%/}
_default_db=$(basename "$WP_DIR" | tr -c 'A-Za-z0-9_\n' '_' | tr 'A-Z' 'a-z' | cut -c1-64)
WP_DB_NAME=${WP_DB_NAME:-$_default_db}
WP_DB_USER=${WP_DB_USER:-entra_wp_sync}

# 1. php -S (master + PHP_CLI_SERVER_WORKERS children share one process group)
PIDFILE="$WP_DIR/php-server.pid"
is_our_php() { kill -0 "$1" 2>/dev/null && tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | grep -q 'php -S '; }
if [ -s "$PIDFILE" ] && is_our_php "$(cat "$PIDFILE")"; then
  pid=$(cat "$PIDFILE")
  log "stopping php -S (process group $pid)"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do is_our_php "$pid" || break; sleep 0.25; done
  if is_our_php "$pid"; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
else
  log "php -S not running"
fi
rm -f "$PIDFILE"

# 2. optional purge of database + user (needs the server up)
if [ "$PURGE" = 1 ]; then
  if $WP_DB_ADMIN -e 'SELECT 1' >/dev/null 2>&1; then
    log "dropping database $WP_DB_NAME"
    $WP_DB_ADMIN -e "DROP DATABASE IF EXISTS \`$WP_DB_NAME\`; DELETE FROM mysql.db WHERE Db = '$WP_DB_NAME' AND User = '$WP_DB_USER'; FLUSH PRIVILEGES;"
    # Every instance's database shares the user (WP_DB_USER): dropping it while another instance
    # still has a database revoked that one's access ("Error establishing a database connection").
    others=$($WP_DB_ADMIN -N -e "SELECT COUNT(*) FROM mysql.db WHERE User = '$WP_DB_USER'")
    if [ "$others" = 0 ]; then
      log "dropping user $WP_DB_USER (no other instance's database uses it)"
      $WP_DB_ADMIN -e "DROP USER IF EXISTS '$WP_DB_USER'@'localhost'; DROP USER IF EXISTS '$WP_DB_USER'@'%';"
    else
      log "keeping user $WP_DB_USER: the databases of $others other grant(s) use it"
    fi
  else
    log "database server not reachable; database not dropped"
  fi
fi

# 3. MariaDB, only if wordpress-local.sh started it
MARKER="$WP_DIR/.mariadb-started-by-script"
if [ -f "$MARKER" ] && [ "$KEEP_DB" = 0 ]; then
  pid=$(cat /run/mysqld/mysqld.pid 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(cat "$MARKER")" = "$pid" -o "$(cat "$MARKER")" = started ]; then
    log "stopping MariaDB (pid $pid, started by wordpress-local.sh)"
    $SUDO start-stop-daemon --stop --oknodo --retry 60 --pidfile /run/mysqld/mysqld.pid --exec /usr/sbin/mariadbd >&2
  else
    log "MariaDB started by wordpress-local.sh is no longer running"
  fi
  rm -f "$MARKER"
elif [ -f "$MARKER" ]; then
  log "--keep-mariadb: leaving MariaDB running"
else
  log "MariaDB was not started by wordpress-local.sh; leaving it alone"
fi

if [ "$PURGE" = 1 ]; then
  log "removing $WP_DIR"
  rm -rf "$WP_DIR"
fi
log "done"
