#!/usr/bin/env bash
# embed_migrations! rebuilds when a migration file is added, edited or
# removed: each change is followed by the examples' embedded-set test, which
# fails if the build still holds the old set.
set -euo pipefail
cd "$(dirname "$0")/.."
added=examples/migrations/users/900_ci_added.sql
trap 'rm -f "$added"' EXIT
check() {
    echo "embed rebuild: $1"
    cargo test -q -p pgdbm-examples --test embedded >/dev/null
}
check "as committed"
echo "CREATE TABLE {{tables.ci_added}} (id int);" >"$added"
check "a file added"
echo "CREATE TABLE {{tables.ci_added}} (id bigint);" >"$added"
check "the file edited"
rm "$added"
check "the file removed"
