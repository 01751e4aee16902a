#!/usr/bin/env bash
# The test rig: a throwaway MariaDB and the MongoDB wire endpoint for integration tests, the demo and
# the benchmarks. No system service is used or touched.
#
#   tests/support/rig.sh start DIR    start everything; exit 0 only when all of it answers
#   tests/support/rig.sh stop DIR     stop what start started and remove DIR; exit 0 if nothing ran
#
# start writes DIR/rig.env (KEY=VALUE lines, no quoting, values never contain whitespace; the rig's own
# values are paths, numbers and hex, so the file can be sourced; MYSQL2MONGO_TEST_* values are copied as
# they are):
#   RIG_MYSQL_HOST, RIG_MYSQL_PORT      where MySQL listens (TCP)
#   RIG_MYSQL_SOCKET                    the Unix socket of the rig's MariaDB; empty for an external server
#   RIG_MYSQL_USER, RIG_MYSQL_PASSWORD  an account with ALL PRIVILEGES ... WITH GRANT OPTION, host '%'
#   RIG_MYSQL_TLS_CA                    the CA that signed the server's certificate; empty without TLS
#   RIG_MYSQL_TLS_WRONG_CA              a CA that signed nothing (negative tests); empty without TLS
#   RIG_MONGODB_URL                     mongodb://127.0.0.1:PORT, or the external URL
#   RIG_EXTERNAL_MYSQL, RIG_EXTERNAL_MONGODB   1 when a real server replaces the rig's own
# and DIR/client.cnf, an option file for the mariadb client (`mariadb --defaults-file=DIR/client.cnf`)
# that logs in as RIG_MYSQL_USER over TCP. Logs: DIR/mysql/error.log, DIR/mongo.log.
#
# Real servers instead of the rig's own:
#   MYSQL2MONGO_TEST_MYSQL_HOST      when set, no MariaDB is started; tests use this server
#   MYSQL2MONGO_TEST_MYSQL_PORT      default 3306
#   MYSQL2MONGO_TEST_MYSQL_USER      default root; needs every privilege on the test databases
#                                    (tests create and drop databases and accounts)
#   MYSQL2MONGO_TEST_MYSQL_PASSWORD  default empty
#   MYSQL2MONGO_TEST_MYSQL_TLS_CA    optional: the CA file of the server's certificate; TLS tests are
#                                    skipped without it
#   MYSQL2MONGO_TEST_MONGODB_URL     when set, no endpoint is started; tests use this MongoDB (they
#                                    create and drop databases whose names start with "m2m_test")
# Both are checked before start reports success (the MongoDB one with a ping, when python3-pymongo is
# installed).
#
# Knobs for the rig itself:
#   MYSQL2MONGO_RIG_TIMEOUT          seconds to wait for each server to answer (default 60)
#   MYSQL2MONGO_RIG_DISCARD_WRITES   1: start the endpoint with --discard-writes (benchmarks)
#   MYSQL2MONGO_RIG_MONGO_ENDPOINT   another endpoint script with the same command line (default:
#                                    tests/support/mongo_endpoint.py next to this file)
# For a second, special-purpose MariaDB started by a test (never the shared rig):
#   MYSQL2MONGO_RIG_MYSQL_ONLY       1: no MongoDB endpoint (RIG_MONGODB_URL is empty)
#   MYSQL2MONGO_RIG_NO_TLS           1: MariaDB without TLS
#   MYSQL2MONGO_RIG_SYSTEM_TZ        the TZ of mariadbd, i.e. its SYSTEM time zone (e.g. Europe/Berlin)
#   MYSQL2MONGO_RIG_TZ_TABLES        zone names to load into the time zone tables (e.g. "America/New_York")
#   MYSQL2MONGO_RIG_FAKETIME_FILE    run mariadbd under libfaketime, its clock offset read from this file on
#                                    every call (e.g. "-63072000" for two years ago; see faketime(1))
set -Eeuo pipefail
umask 077

prog=rig
usage() {
  echo "usage: rig.sh start DIR | rig.sh stop DIR" >&2
  exit 64
}
[ $# -eq 2 ] || usage
action=$1
case $action in start | stop) ;; *) usage ;; esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3 || true)

# DIR as an absolute, normalised path: it is matched against process command lines below, and written
# to rig.env, whose values may not contain whitespace.
dir=$(realpath -m -- "$2")
case $dir in
  / | "${HOME:-/}" | /tmp | /root | /home | /usr | /var | /etc) echo "$prog: refusing to use $dir as the rig directory" >&2; exit 64 ;;
esac
if [[ $dir =~ [[:space:]] ]]; then
  echo "$prog: the rig directory may not contain whitespace: $dir" >&2
  exit 64
fi
marker=$dir/.mysql2mongo-rig

timeout_s=${MYSQL2MONGO_RIG_TIMEOUT:-60}
# mariadbd refuses to run as root without --user=root; a uid without a passwd entry has no name.
run_as=$(id -un 2>/dev/null || id -u)

# ---------------------------------------------------------------------------------------------------
# Processes. Everything this script starts runs in its own session and process group (setsid) and
# records the group's id (its own pid, written before exec) in DIR/pids/NAME. A group is only
# signalled while one of its live members mentions DIR on its command line: after a reboot or a
# long-gone crash the number may belong to something unrelated. Zombies have an empty command line,
# so they count as gone.

owned() { # pid
  local cmd
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
  [[ $cmd == *"$dir/"* ]]
}

# The live members of a process group that mention DIR (a daemon and anything it started).
group_members() { # pgid
  local stat_file line state pgrp pid
  for stat_file in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$stat_file" || continue
    # The fields after "(comm)", which may itself contain spaces: state ppid pgrp ...
    read -r state _ pgrp _ <<<"${line##*) }"
    if [ "$pgrp" != "$1" ] || [ "$state" = Z ]; then continue; fi
    pid=${stat_file#/proc/}
    pid=${pid%/stat}
    owned "$pid" && echo "$pid"
  done
  return 0
}

recorded_groups() {
  local f pgid
  for f in "$dir"/pids/*; do
    [ -f "$f" ] || continue
    pgid=$(<"$f") || continue
    [[ $pgid =~ ^[0-9]+$ ]] || continue
    [ -n "$(group_members "$pgid")" ] && echo "$pgid"
  done
  return 0
}

any_alive() { # pgid...
  local g
  for g in "$@"; do [ -n "$(group_members "$g")" ] && return 0; done
  return 1
}

# TERM, up to 20 s for a clean exit, then KILL.
kill_recorded() {
  local groups g i
  mapfile -t groups < <(recorded_groups)
  [ ${#groups[@]} -gt 0 ] || return 0
  for g in "${groups[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
  for ((i = 0; i < 200; i++)); do
    any_alive "${groups[@]}" || return 0
    sleep 0.1
  done
  echo "$prog: still running after 20 s, killing process groups: ${groups[*]}" >&2
  for g in "${groups[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
  for ((i = 0; i < 50; i++)); do
    any_alive "${groups[@]}" || return 0
    sleep 0.1
  done
  echo "$prog: could not kill process groups: ${groups[*]}" >&2
  return 1
}

# Starts a daemon in its own session (so a Ctrl-C in the terminal that runs ctest does not reach it),
# with every descriptor redirected (ctest waits for a test's stdout and stderr to close, so an inherited
# pipe would hang it), recording its pid as DIR/pids/NAME.
spawn() { # name log command...
  local name=$1 log=$2
  shift 2
  mkdir -p "$dir/pids"
  rm -f "$dir/pids/$name"
  # shellcheck disable=SC2016 # $$, $0 and $@ belong to the inner shell.
  setsid bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$dir/pids/$name" "$@" \
    </dev/null >>"$log" 2>&1 &
  local i
  for ((i = 0; i < 100; i++)); do
    [ -s "$dir/pids/$name" ] && return 0
    sleep 0.05
  done
  fail "could not start $name" "$log"
}

# Runs a command in the foreground, recorded and grouped like a daemon: if this script is killed while
# it runs (mariadb-install-db and its bootstrap server), the next start or stop can still end it.
run_recorded() { # name log command...
  local name=$1 log=$2
  shift 2
  mkdir -p "$dir/pids"
  # shellcheck disable=SC2016 # $$, $0 and $@ belong to the inner shell.
  setsid bash -c 'echo $$ >"$0" && exec "$@"' "$dir/pids/$name" "$@" </dev/null >"$log" 2>&1
}

pid_of() { # name -> the live pid, or nothing
  local pid
  [ -s "$dir/pids/$1" ] || return 1
  pid=$(<"$dir/pids/$1")
  owned "$pid" && echo "$pid"
}

# Removes DIR, its marker last: a removal that fails half-way (a file still being written) leaves a
# directory that the next start or stop recognises and retries.
wipe() {
  local i
  [ -s "$dir/sockdir" ] && rm -rf "$(<"$dir/sockdir")"
  for ((i = 0; i < 20; i++)); do
    if find "$dir" -mindepth 1 -maxdepth 1 ! -name .mysql2mongo-rig -exec rm -rf {} + 2>/dev/null; then
      rm -rf "$dir"
      return 0
    fi
    sleep 0.1
  done
  echo "$prog: cannot remove $dir:" >&2
  find "$dir" -mindepth 1 -maxdepth 1 ! -name .mysql2mongo-rig -exec rm -rf {} + >&2
}

# ---------------------------------------------------------------------------------------------------
# Failure reporting for start: one line naming the reason, then the tail of the log that explains it;
# the EXIT trap then stops whatever was already started.

failed_log=
fail() { # reason [log]
  echo "$prog: start failed: $1" >&2
  if [ -n "${2:-}" ] && [ -s "$2" ]; then
    echo "---- last lines of $2 ----" >&2
    tail -n 25 "$2" >&2
    echo "----" >&2
  fi
  failed_log=reported
  exit 1
}

on_start_exit() {
  local rc=$?
  [ "$rc" -eq 0 ] && return 0
  if [ -z "$failed_log" ]; then
    echo "$prog: start failed: command '${err_cmd:-?}' at rig.sh line ${err_line:-?} exited with status $rc" >&2
  fi
  kill_recorded || true
  rm -f "$dir/rig.env"
  [ -s "$dir/sockdir" ] && rm -rf "$(<"$dir/sockdir")"
  echo "$prog: stopped what had started; logs are kept in $dir until 'rig.sh stop $dir'" >&2
  exit "$rc"
}

# ---------------------------------------------------------------------------------------------------

free_port() {
  "$python" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

random_password() {
  # Hex only: safe in option files, URLs, rig.env and shell words alike.
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n'
}

# An option-file value in double quotes: backslash and double quote are escaped.
cnf_quote() {
  local v=${1//\\/\\\\}
  printf '"%s"' "${v//\"/\\\"}"
}

write_client_cnf() { # host port user password
  {
    echo "# Written by tests/support/rig.sh: mariadb --defaults-file=$dir/client.cnf"
    echo "[client]"
    echo "host=$1"
    echo "port=$2"
    echo "protocol=TCP"
    echo "user=$(cnf_quote "$3")"
    echo "password=$(cnf_quote "$4")"
    echo "connect-timeout=10"
  } >"$dir/client.cnf"
}

client() { # mariadb client as the admin account over TCP
  mariadb --defaults-file="$dir/client.cnf" --batch --skip-column-names "$@"
}

# ---------------------------------------------------------------------------------------------------
# MariaDB

mysql_host='' mysql_port='' mysql_socket='' mysql_user='' mysql_password='' tls_ca='' tls_wrong_ca=''

start_mariadb() {
  local data=$dir/mysql/data errlog=$dir/mysql/error.log sock attempt i pid ssl
  mkdir -p "$dir/mysql"
  command -v mariadbd >/dev/null || PATH=$PATH:/usr/sbin
  command -v mariadbd >/dev/null || fail "mariadbd not found (install mariadb-server: scripts/install-deps.sh)"

  # A Unix socket path holds at most 107 bytes; a deep build directory would exceed it.
  sock=$dir/mysql.sock
  if [ ${#sock} -gt 100 ]; then
    local sockdir
    sockdir=$(mktemp -d /tmp/m2m-rig.XXXXXX)
    echo "$sockdir" >"$dir/sockdir"
    sock=$sockdir/mysql.sock
  fi

  if [ "${MYSQL2MONGO_RIG_NO_TLS:-0}" = 1 ]; then
    ssl=()
  elif command -v openssl >/dev/null 2>&1; then
    "$here/gen-certs.sh" "$dir/tls" >/dev/null 2>"$dir/gen-certs.err" || fail "cannot create TLS certificates" "$dir/gen-certs.err"
    ssl=(--ssl-ca="$dir/tls/ca.pem" --ssl-cert="$dir/tls/server-cert.pem" --ssl-key="$dir/tls/server-key.pem")
  else
    echo "$prog: openssl not found: MariaDB runs without TLS and TLS tests are skipped" >&2
    ssl=()
  fi

  # --auth-root-authentication-method=normal: root@localhost without a password, so that this script
  # can create the admin account through the socket whoever runs it; the password is set below.
  run_recorded install-db "$dir/mysql/install-db.log" mariadb-install-db --no-defaults --datadir="$data" --user="$run_as" \
    --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
    || fail "mariadb-install-db failed" "$dir/mysql/install-db.log"

  # The port comes from the kernel (bind to port 0) and is handed to mariadbd, so something else may
  # take it in between: if mariadbd cannot bind it, try another.
  for attempt in 1 2 3 4 5; do
    mysql_port=$(free_port) || fail "cannot find a free TCP port ($python)"
    [ -f "$errlog" ] && mv "$errlog" "$errlog.attempt$((attempt - 1))"
    # --no-defaults first: /etc/mysql is ignored. log-bin-trust-function-creators: loading schemas with
    # stored functions (Sakila) while the binlog is on needs it. default-time-zone: TIMESTAMP values
    # read the same on every developer's machine. Buffer-pool dump/load are off because the datadir
    # never outlives the rig.
    local wrap=() default_zone=(--default-time-zone=+00:00)
    # With a system zone of its own, the server's zone is that one (SYSTEM), as on a host in that zone.
    if [ -n "${MYSQL2MONGO_RIG_SYSTEM_TZ:-}" ]; then
      wrap+=(env "TZ=$MYSQL2MONGO_RIG_SYSTEM_TZ")
      default_zone=()
    fi
    if [ -n "${MYSQL2MONGO_RIG_FAKETIME_FILE:-}" ]; then
      local lib
      lib=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n1)
      [ -n "$lib" ] || fail "libfaketime is not installed (scripts/install-deps.sh)"
      # The wall clock only: monotonic clocks stay real, so the server's timers and waits are not disturbed.
      wrap+=(env "LD_PRELOAD=$lib" "FAKETIME_TIMESTAMP_FILE=$MYSQL2MONGO_RIG_FAKETIME_FILE" FAKETIME_NO_CACHE=1
             FAKETIME_DONT_FAKE_MONOTONIC=1)
    fi
    spawn mariadbd "$dir/mysql/stdout.log" "${wrap[@]}" mariadbd --no-defaults \
      --user="$run_as" --datadir="$data" --socket="$sock" --pid-file="$dir/mysql/mariadbd.pid" \
      --port="$mysql_port" --bind-address=127.0.0.1 --skip-name-resolve \
      --log-error="$errlog" --log-bin=mysql-bin --binlog-format=ROW --server-id=1 \
      --log-bin-trust-function-creators=1 "${default_zone[@]}" \
      --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
      --innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=2 --max-allowed-packet=64M \
      --innodb-buffer-pool-dump-at-shutdown=0 --innodb-buffer-pool-load-at-startup=0 \
      "${ssl[@]}"
    pid=$(<"$dir/pids/mariadbd")
    for ((i = 0; i < timeout_s * 10; i++)); do
      if ! owned "$pid"; then
        if grep -qE "Bind on TCP/IP port|Address already in use" "$errlog" 2>/dev/null; then
          continue 2
        fi
        fail "mariadbd exited during startup" "$errlog"
      fi
      if [ -S "$sock" ] && mariadb-admin --no-defaults --connect-timeout=2 -S "$sock" -uroot ping >/dev/null 2>&1; then
        break 2
      fi
      sleep 0.1
    done
    fail "mariadbd did not answer within ${timeout_s} s" "$errlog"
  done
  owned "$pid" || fail "mariadbd could not bind a free TCP port in 5 attempts" "$errlog"

  mysql_host=127.0.0.1
  mysql_socket=$sock
  mysql_user=m2m_admin
  mysql_password=$(random_password)

  # One admin account for host '%': with --skip-name-resolve a TCP client from the loopback is matched
  # as '127.0.0.1', which '%' covers, and so does a socket client ('localhost'), because no anonymous
  # account exists to shadow it. root keeps only @localhost, with the same password, so that nothing
  # on this machine logs in without one.
  local other_roots
  other_roots=$(mariadb --no-defaults -S "$sock" -uroot --batch --skip-column-names \
    -e "SELECT CONCAT('DROP USER ', QUOTE(user), '@', QUOTE(host), ';') FROM mysql.user
        WHERE user = '' OR (user = 'root' AND host <> 'localhost')" 2>"$dir/mysql/setup.log") \
    || fail "cannot log in as root through $sock" "$dir/mysql/setup.log"
  mariadb --no-defaults -S "$sock" -uroot >>"$dir/mysql/setup.log" 2>&1 <<SQL || fail "cannot create the admin account" "$dir/mysql/setup.log"
$other_roots
CREATE USER '$mysql_user'@'%' IDENTIFIED BY '$mysql_password';
GRANT ALL PRIVILEGES ON *.* TO '$mysql_user'@'%' WITH GRANT OPTION;
ALTER USER 'root'@'localhost' IDENTIFIED BY '$mysql_password';
SQL
  write_client_cnf "$mysql_host" "$mysql_port" "$mysql_user" "$mysql_password"
  client -e "SELECT 1" >/dev/null 2>"$dir/mysql/setup.log" \
    || fail "the admin account cannot log in over TCP on port $mysql_port" "$dir/mysql/setup.log"

  local zone
  for zone in ${MYSQL2MONGO_RIG_TZ_TABLES:-}; do
    [ -f "/usr/share/zoneinfo/$zone" ] || fail "no time zone file /usr/share/zoneinfo/$zone (install tzdata)"
    mariadb-tzinfo-to-sql "/usr/share/zoneinfo/$zone" "$zone" 2>>"$dir/mysql/setup.log" | client mysql \
      2>>"$dir/mysql/setup.log" || fail "cannot load the time zone $zone" "$dir/mysql/setup.log"
  done

  if [ ${#ssl[@]} -gt 0 ]; then
    local have_ssl cipher
    have_ssl=$(client -e "SELECT @@have_ssl") || fail "cannot query @@have_ssl"
    case $have_ssl in
      YES)
        # The full check a client does: the chain up to ca.pem and the name 127.0.0.1 in the SAN.
        cipher=$(client --ssl --ssl-ca="$dir/tls/ca.pem" --ssl-verify-server-cert \
          -e "SHOW STATUS LIKE 'Ssl_cipher'" 2>"$dir/mysql/setup.log" | cut -f2) || true
        [ -n "$cipher" ] || fail "TLS with --ssl-verify-server-cert does not work" "$dir/mysql/setup.log"
        tls_ca=$dir/tls/ca.pem
        tls_wrong_ca=$dir/tls/wrong-ca.pem
        ;;
      NO) echo "$prog: this mariadbd has no TLS support: TLS tests are skipped" >&2 ;;
      *) fail "mariadbd did not enable TLS (have_ssl=$have_ssl)" "$errlog" ;;
    esac
  fi
}

use_external_mysql() {
  mysql_host=$MYSQL2MONGO_TEST_MYSQL_HOST
  mysql_port=${MYSQL2MONGO_TEST_MYSQL_PORT:-3306}
  mysql_user=${MYSQL2MONGO_TEST_MYSQL_USER:-root}
  mysql_password=${MYSQL2MONGO_TEST_MYSQL_PASSWORD:-}
  mysql_socket=
  local v
  for v in "$mysql_host" "$mysql_port" "$mysql_user" "$mysql_password" "${MYSQL2MONGO_TEST_MYSQL_TLS_CA:-}"; do
    [[ $v =~ [[:space:]] ]] && fail "the MYSQL2MONGO_TEST_MYSQL_* values may not contain whitespace (rig.env cannot hold it)"
  done
  [[ $mysql_port =~ ^[0-9]+$ ]] || fail "MYSQL2MONGO_TEST_MYSQL_PORT is not a port number: $mysql_port"
  command -v mariadb >/dev/null || fail "the mariadb client is not installed (scripts/install-deps.sh)"
  write_client_cnf "$mysql_host" "$mysql_port" "$mysql_user" "$mysql_password"
  client -e "SELECT 1" >/dev/null 2>"$dir/external-mysql.log" \
    || fail "cannot log in to MYSQL2MONGO_TEST_MYSQL_HOST=$mysql_host port $mysql_port as $mysql_user" "$dir/external-mysql.log"
  if [ -n "${MYSQL2MONGO_TEST_MYSQL_TLS_CA:-}" ]; then
    tls_ca=$(realpath -e -- "$MYSQL2MONGO_TEST_MYSQL_TLS_CA" 2>/dev/null) \
      || fail "MYSQL2MONGO_TEST_MYSQL_TLS_CA: no such file: $MYSQL2MONGO_TEST_MYSQL_TLS_CA"
    local cipher
    cipher=$(client --ssl --ssl-ca="$tls_ca" --ssl-verify-server-cert -e "SHOW STATUS LIKE 'Ssl_cipher'" \
      2>"$dir/external-mysql.log" | cut -f2) || true
    [ -n "$cipher" ] || fail "TLS to $mysql_host:$mysql_port does not verify against $tls_ca" "$dir/external-mysql.log"
    "$here/gen-certs.sh" "$dir/tls" >/dev/null 2>"$dir/gen-certs.err" || fail "cannot create TLS certificates" "$dir/gen-certs.err"
    tls_wrong_ca=$dir/tls/wrong-ca.pem
  fi
}

# ---------------------------------------------------------------------------------------------------
# MongoDB

mongodb_url=''

spawn_endpoint() {
  local endpoint=${MYSQL2MONGO_RIG_MONGO_ENDPOINT:-$here/mongo_endpoint.py}
  [ -f "$endpoint" ] || fail "the MongoDB endpoint $endpoint does not exist"
  [ -n "$python" ] || fail "python3 not found (/usr/bin/python3)"
  local extra=()
  [ "${MYSQL2MONGO_RIG_DISCARD_WRITES:-0}" = 1 ] && extra=(--discard-writes)
  spawn mongo "$dir/mongo.log" "$python" "$endpoint" --host 127.0.0.1 --port 0 \
    --port-file "$dir/mongo.port" "${extra[@]}"
}

wait_endpoint() {
  local i port=
  for ((i = 0; i < timeout_s * 10; i++)); do
    if [ -s "$dir/mongo.port" ]; then
      port=$(<"$dir/mongo.port")
      break
    fi
    pid_of mongo >/dev/null || fail "the MongoDB endpoint exited during startup" "$dir/mongo.log"
    sleep 0.1
  done
  [ -n "$port" ] || fail "the MongoDB endpoint wrote no port file within ${timeout_s} s" "$dir/mongo.log"
  port=${port//[[:space:]]/}
  [[ $port =~ ^[0-9]+$ ]] || fail "the MongoDB endpoint's port file holds '$port', not a port" "$dir/mongo.log"
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null \
    || fail "the MongoDB endpoint does not accept connections on port $port" "$dir/mongo.log"
  mongodb_url=mongodb://127.0.0.1:$port
}

use_external_mongodb() {
  mongodb_url=$MYSQL2MONGO_TEST_MONGODB_URL
  [[ $mongodb_url =~ [[:space:]] ]] && fail "MYSQL2MONGO_TEST_MONGODB_URL may not contain whitespace"
  [[ $mongodb_url == mongodb://* || $mongodb_url == mongodb+srv://* ]] \
    || fail "MYSQL2MONGO_TEST_MONGODB_URL is not a mongodb:// or mongodb+srv:// URL"
  if [ -n "$python" ] && "$python" -c 'import pymongo' 2>/dev/null; then
    # Exit 2: unreachable or refused (fatal); 3: something else, e.g. this pymongo being too old for the
    # server's wire version (only a warning: the C driver the tool uses may well cope).
    local rc=0
    M2M_URL=$mongodb_url "$python" - >"$dir/external-mongodb.log" 2>&1 <<'PY' || rc=$?
import os, sys
import pymongo, pymongo.errors as e
try:
    c = pymongo.MongoClient(os.environ["M2M_URL"], serverSelectionTimeoutMS=10000, connectTimeoutMS=10000)
    c.admin.command("ping")
except (e.ServerSelectionTimeoutError, e.OperationFailure, e.ConfigurationError) as x:
    print(f"{type(x).__name__}: {x}")
    sys.exit(2 if not isinstance(x, e.ConfigurationError) or "wire" not in str(x) else 3)
except Exception as x:
    print(f"{type(x).__name__}: {x}")
    sys.exit(3)
PY
    case $rc in
      0) ;;
      3) echo "$prog: warning: pymongo could not ping MYSQL2MONGO_TEST_MONGODB_URL: $(tail -n1 "$dir/external-mongodb.log")" >&2 ;;
      *) fail "cannot ping MYSQL2MONGO_TEST_MONGODB_URL" "$dir/external-mongodb.log" ;;
    esac
  fi
}

# ---------------------------------------------------------------------------------------------------

do_start() {
  if [ -e "$dir" ]; then
    if [ -e "$marker" ]; then
      # Left over from a run that crashed or was never stopped.
      kill_recorded || { echo "$prog: cannot stop the processes left in $dir" >&2; exit 1; }
      wipe || exit 1
    elif [ -d "$dir" ] && [ -z "$(ls -A "$dir")" ]; then
      :
    else
      echo "$prog: $dir exists and was not made by rig.sh; refusing to wipe it" >&2
      exit 1
    fi
  fi
  mkdir -p "$dir"
  : >"$marker"
  trap 'err_line=$LINENO; err_cmd=$BASH_COMMAND' ERR
  trap on_start_exit EXIT

  local external_mysql=0 external_mongodb=0
  [ -n "${MYSQL2MONGO_TEST_MYSQL_HOST:-}" ] && external_mysql=1
  [ -n "${MYSQL2MONGO_TEST_MONGODB_URL:-}" ] && external_mongodb=1
  local mongo=1
  [ "${MYSQL2MONGO_RIG_MYSQL_ONLY:-0}" = 1 ] && mongo=0

  # The endpoint starts first so that its Python start-up overlaps with MariaDB's.
  [ $external_mongodb = 1 ] || [ $mongo = 0 ] || spawn_endpoint
  if [ $external_mysql = 1 ]; then use_external_mysql; else start_mariadb; fi
  if [ $mongo = 0 ]; then :; elif [ $external_mongodb = 1 ]; then use_external_mongodb; else wait_endpoint; fi

  cat >"$dir/rig.env.tmp" <<EOF
RIG_MYSQL_HOST=$mysql_host
RIG_MYSQL_PORT=$mysql_port
RIG_MYSQL_SOCKET=$mysql_socket
RIG_MYSQL_USER=$mysql_user
RIG_MYSQL_PASSWORD=$mysql_password
RIG_MYSQL_TLS_CA=$tls_ca
RIG_MYSQL_TLS_WRONG_CA=$tls_wrong_ca
RIG_MONGODB_URL=$mongodb_url
RIG_EXTERNAL_MYSQL=$external_mysql
RIG_EXTERNAL_MONGODB=$external_mongodb
EOF
  mv "$dir/rig.env.tmp" "$dir/rig.env"
  echo "$prog: up in $dir: MySQL $mysql_host:$mysql_port$([ $external_mysql = 1 ] && echo ' (external)')," \
    "MongoDB $([ $external_mongodb = 1 ] && echo '(external)' || echo "$mongodb_url")$([ -n "$tls_ca" ] && echo ', TLS on')"
}

do_stop() {
  if [ ! -e "$dir" ]; then
    echo "$prog: nothing to stop in $dir"
    exit 0
  fi
  if [ ! -e "$marker" ]; then
    if [ -d "$dir" ] && [ -z "$(ls -A "$dir")" ]; then
      rmdir "$dir"
      exit 0
    fi
    echo "$prog: $dir was not made by rig.sh; leaving it alone" >&2
    exit 1
  fi
  # A server that died while the tests ran explains their failures: show why.
  if [ -s "$dir/rig.env" ] && [ -s "$dir/pids/mariadbd" ] && ! pid_of mariadbd >/dev/null; then
    echo "$prog: mariadbd was no longer running at stop; the end of its error log:" >&2
    tail -n 25 "$dir/mysql/error.log" >&2 2>/dev/null || true
  fi
  if [ -s "$dir/rig.env" ] && [ -s "$dir/pids/mongo" ] && ! pid_of mongo >/dev/null; then
    echo "$prog: the MongoDB endpoint was no longer running at stop; the end of its log:" >&2
    tail -n 25 "$dir/mongo.log" >&2 2>/dev/null || true
  fi
  kill_recorded || exit 1
  wipe || exit 1
  echo "$prog: stopped and removed $dir"
}

"do_$action"
