#!/usr/bin/env bash
# php-lint.sh - lints the companion plugin (wordpress-plugin/): `php -l` on every PHP file, then
# PHP_CodeSniffer with the project's rules (phpcs.xml.dist: PSR-12 and the exclusions it explains).
# Both must find nothing. Needs php-cli and phpcs (Debian: php-codesniffer; .ci/run installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v php >/dev/null || { echo "php-lint: php is not installed (Debian: php-cli)" >&2; exit 1; }
command -v phpcs >/dev/null || { echo "php-lint: phpcs is not installed (Debian: apt-get install php-codesniffer)" >&2; exit 1; }
status=0
while IFS= read -r -d '' file; do
  php -l "$file" >/dev/null || status=1
done < <(find wordpress-plugin -name '*.php' -print0)
phpcs -q || status=1
exit "$status"
