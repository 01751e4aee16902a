#!/usr/bin/env bash
# Runs mysql2mongo on a local sample, from a fresh Debian 12 machine:
#
#   scripts/demo.sh
#
# installs the packages it needs (scripts/install-deps.sh), builds into build/, starts a throwaway
# MariaDB and the MongoDB test endpoint (tests/support/rig.sh, in build/demo-rig), loads the Sakila
# sample database into MariaDB, then runs the tool against it, echoing each command. The servers are
# always stopped at the end, whether the demo succeeded or not. The tool's settings are in
# build/demo/demo.env; the password reaches it through the MYSQL_PASSWORD environment variable, never
# on a command line. Exits non-zero if any step fails.
#
#   BUILD_DIR=dir   build somewhere else than build/ (the rig and the .env file go there too)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build=${BUILD_DIR:-build}
case $build in /*) build_abs=$build ;; *) build_abs=$repo/$build ;; esac
rig_dir=$build_abs/demo-rig
demo_dir=$build_abs/demo
bin=$build_abs/app/mysql2mongo

step() { printf '\n==> %s\n' "$*"; }

step "Installing the packages the build and the demo need"
scripts/install-deps.sh

step "Building into $build/"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j2

step "Starting a throwaway MariaDB and the MongoDB test endpoint in $build/demo-rig"
# Stop the servers however the script ends; a signal turns into an ordinary exit so the trap runs.
stop_rig() { tests/support/rig.sh stop "$rig_dir" >/dev/null || echo "demo: could not stop the rig in $rig_dir" >&2; }
trap stop_rig EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
tests/support/rig.sh start "$rig_dir"

# rig.env holds KEY=VALUE lines; read them as data rather than sourcing them.
declare -A rig
while IFS='=' read -r key value; do
  [[ $key == RIG_* ]] && rig[$key]=$value
done <"$rig_dir/rig.env"

step "Loading the Sakila sample database into MariaDB"
sakila=tests/fixtures/sakila
for f in sakila-schema.sql sakila-data.sql; do
  [ -f "$sakila/$f" ] || { echo "demo: $f not found in $sakila (it ships with the repository)" >&2; exit 1; }
done
# client.cnf (written by rig.sh) logs in as the rig's admin account over TCP.
mysql=(mariadb --defaults-file="$rig_dir/client.cnf")
"${mysql[@]}" <"$sakila/sakila-schema.sql"
"${mysql[@]}" sakila <"$sakila/sakila-data.sql"
# Exact row counts of the base tables (information_schema's table_rows is only an estimate).
counts=$("${mysql[@]}" --batch --skip-column-names -e "
  SELECT GROUP_CONCAT(CONCAT('SELECT ', QUOTE(table_name), ' AS \`table\`, COUNT(*) AS \`rows\` FROM sakila.\`',
                             table_name, '\`') ORDER BY table_name SEPARATOR ' UNION ALL ')
  FROM information_schema.tables WHERE table_schema = 'sakila' AND table_type = 'BASE TABLE'")
"${mysql[@]}" --table -e "$counts"

mkdir -p "$demo_dir"
env_file=$demo_dir/demo.env
cat >"$env_file" <<EOF
# Written by scripts/demo.sh for the demo servers in $build/demo-rig; MYSQL_PASSWORD comes from the environment.
MYSQL_HOST=${rig[RIG_MYSQL_HOST]}
MYSQL_PORT=${rig[RIG_MYSQL_PORT]}
MYSQL_USER=${rig[RIG_MYSQL_USER]}
MYSQL_DATABASE=sakila
MONGODB_URL=${rig[RIG_MONGODB_URL]}
MONGODB_DATABASE=sakila
EOF
export MYSQL_PASSWORD=${rig[RIG_MYSQL_PASSWORD]}

# Echoes one tool invocation (as it could be typed from the repository root) and runs it; a failure
# ends the demo with the tool's exit code.
run() {
  printf '\n$ %s\n' "${build}/app/mysql2mongo --env-file ${env_file#"$repo"/} $*"
  local rc=0
  "$bin" --env-file "$env_file" "$@" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "demo: 'mysql2mongo $*' failed with exit code $rc" >&2
    exit "$rc"
  fi
}

step "Running mysql2mongo (settings in ${env_file#"$repo"/}, password in \$MYSQL_PASSWORD)"
run test-connection
run tables
run -v sync --full
step "Changing one actor in MySQL; the next (incremental) run copies just that"
"${mysql[@]}" sakila -e "UPDATE actor SET first_name = 'PENELOPE-DEMO' WHERE actor_id = 1"
run -v sync
run --json sync --tables actor
run status
run status --check

step "Demo finished; stopping the servers"
