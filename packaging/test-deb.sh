#!/usr/bin/env bash
# Installs dist/oauthkit_*.deb with dpkg -i on this machine and runs the
# installed commands against real databases (a fresh PostgreSQL database,
# a fresh MariaDB database, a SQLite file), then removes the package.
# Needs root; CI (.ci/run) runs it after packaging/build-deb.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
deb=$(ls dist/oauthkit_*.deb)
dpkg -i "$deb" >/dev/null
trap 'dpkg -r oauthkit >/dev/null' EXIT

fail() { echo "test-deb: $*" >&2; exit 1; }
[ "$(command -v cleartokens)" = /usr/bin/cleartokens ] || fail "cleartokens is not /usr/bin/cleartokens"
version=$(cleartokens --version) && echo "$version" | grep -q '^cleartokens ' || fail "cleartokens --version"
help=$(oauthkit --help) && echo "$help" | grep -q createapplication || fail "oauthkit --help"
man -w cleartokens | grep -q /usr/share/man/man1/cleartokens.1.gz || fail "no man page for cleartokens"
[ -f /usr/share/bash-completion/completions/cleartokens ] || fail "no bash completion"
bash -n /usr/share/bash-completion/completions/oauthkit || fail "the bash completion does not parse"
getent passwd oauthkit >/dev/null || fail "no oauthkit user for the service"
[ -d /etc/oauthkit ] || fail "no /etc/oauthkit for the service's settings"

work=$(mktemp -d)
db="oauthkit_deb_$$"
cleanup() {
  rm -rf "$work"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  mariadb -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  dpkg -r oauthkit >/dev/null
}
trap cleanup EXIT
psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $db"
mariadb -h 127.0.0.1 -u root -e "CREATE DATABASE $db"

for url in "postgres://postgres@127.0.0.1:5432/$db?sslmode=disable" "mysql://root@127.0.0.1:3306/$db" "sqlite:$work/db.sqlite3"; do
  export DATABASE_URL=$url
  cleartokens --create-schema -v 0 || fail "cleartokens on $url"
  out=$(createapplication confidential client-credentials --client-id deb-check --hasher-iterations 1000)
  echo "$out" | grep -q 'New application deb-check created successfully' || fail "createapplication on $url: $out"
  report=$(cleartokens) || fail "cleartokens on $url"
  echo "$report" | grep -q 'Expired access tokens deleted' || fail "cleartokens' report on $url: $report"
  clearcimdapplications -v 0 || fail "clearcimdapplications on $url"
  oauthkit cleartokens --dry-run -v 0 || fail "oauthkit cleartokens on $url"
  echo "test-deb: the installed commands ran on ${url%%:*}"
done
