#!/usr/bin/env bash
# Benchmark of mysql2mongo against a raw read of the same table (bench/README.md). Prints figures; never
# asserts on time (the exit status is non-zero only when something could not be measured at all).
#
#   bench/run.sh [ROWS...]          default: 100000 1000000
#
# For each ROWS: a table of ROWS rows and 8 mixed columns is generated server-side in the rig's MariaDB
# (sequence engine + INSERT ... SELECT), then timed:
#   raw     mariadb --quick -N -e 'SELECT * FROM bench_rows' >/dev/null   (TCP, same server, same table)
#   full    mysql2mongo sync --full
#   verify  mysql2mongo verify   after the full syncs: every row against its document
#   incr    mysql2mongo sync     after UPDATE ... WHERE id % 1000 = 0 (0.1 % of the rows)
#   none    mysql2mongo sync     with nothing changed
# raw and full are repeated BENCH_REPEAT times, interleaved, and the median is reported (verify too);
# peak RSS is the largest over the runs. The MongoDB side is an endpoint that keeps the documents in
# memory (to serve them back to verify and to the key read-back of delete reconciliation) and does
# nothing else with them, so the tool's own cost is what is measured.
#
# Knobs (environment):
#   BENCH_ENDPOINT   cpp (default): bench/discard_endpoint.cpp (built here), which answers bulk writes
#                    itself and forwards every other command to tests/support/mongo_endpoint.py;
#                    python: tests/support/mongo_endpoint.py --discard-writes alone
#   BENCH_REPEAT     runs of raw, full and verify per size (default 3)
#   BENCH_KEEP       1 (default, cpp endpoint only): keep the documents in memory and serve them back,
#                    and time verify; 0: discard them (no verify)
#   BENCH_CALLGRIND  1: also count the instructions the tool runs per row in a full sync and a verify of
#                    the first size, under valgrind --tool=callgrind (Debian package valgrind; slow)
#   BENCH_TLS        1: both the raw read and the tool use TLS to MariaDB (default 0: both plaintext)
#   BENCH_NO_BUILD   1: do not run cmake --build first
#   BENCH_BUILD_DIR  the build directory (default build)
#   BENCH_OUT        where logs and the results file go (default BUILD_DIR/bench/results/DATE)
#   BENCH_KEEP_RIG   1: leave the rig running at the end (its directory is printed)
set -Eeuo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000)
for n in "${sizes[@]}"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench: ROWS must be positive integers, got '$n'" >&2; exit 64; }
done

endpoint=${BENCH_ENDPOINT:-cpp}
repeat=${BENCH_REPEAT:-3}
keep=${BENCH_KEEP:-1}
[ "$endpoint" = cpp ] || keep=0
callgrind=${BENCH_CALLGRIND:-0}
tls=${BENCH_TLS:-0}
build_dir=${BENCH_BUILD_DIR:-build}
case $endpoint in cpp | python) ;; *) echo "bench: BENCH_ENDPOINT is cpp or python" >&2; exit 64 ;; esac
[[ $repeat =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_REPEAT must be a positive integer" >&2; exit 64; }

out=${BENCH_OUT:-$build_dir/bench/results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tool=$repo/$build_dir/app/mysql2mongo
ep_bin=$repo/$build_dir/bench/m2m_discard_endpoint

log() { echo "bench: $*" >&2; }

# ---------------------------------------------------------------------------------------------------
# Build

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  log "building ($build_dir)"
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$out/build.log" 2>&1 || { tail -n 30 "$out/build.log" >&2; exit 1; }
  fi
  cmake --build "$build_dir" -j2 >>"$out/build.log" 2>&1 || { tail -n 30 "$out/build.log" >&2; exit 1; }
fi
[ -x "$tool" ] || { log "$tool is not built"; exit 1; }
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
[ "$build_type" = RelWithDebInfo ] || [ "$build_type" = Release ] || log "warning: $build_dir is a '${build_type:-?}' build, not RelWithDebInfo"
if [ "$endpoint" = cpp ] && [ ! -x "$ep_bin" ]; then
  log "$ep_bin is not built (cmake --build $build_dir --target m2m_discard_endpoint)"
  exit 1
fi

# Run copies, so that a rebuild of the shared build directory while this runs (others work in it too)
# cannot swap the binary between two measurements.
mkdir -p "$out/bin"
cp "$tool" "$out/bin/mysql2mongo"
tool_built=$(date -u -r "$tool" +%Y-%m-%dT%H:%M:%SZ)
tool=$out/bin/mysql2mongo
if [ "$endpoint" = cpp ]; then
  cp "$ep_bin" "$out/bin/m2m_discard_endpoint"
  ep_bin=$out/bin/m2m_discard_endpoint
fi

have_gnu_time=0
if [ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1; then have_gnu_time=1; fi
[ $have_gnu_time = 1 ] || log "GNU time (/usr/bin/time, Debian package 'time') is missing: peak RSS comes from polling /proc/PID/status VmHWM"

# ---------------------------------------------------------------------------------------------------
# Rig

rig=$(mktemp -d /tmp/m2m-bench.XXXXXX)
stop_rig() {
  local rc=$?
  if [ "${BENCH_KEEP_RIG:-0}" = 1 ]; then
    log "rig left running in $rig (tests/support/rig.sh stop $rig)"
  else
    tests/support/rig.sh stop "$rig" >/dev/null 2>&1 || log "warning: rig.sh stop $rig failed"
  fi
  return $rc
}
trap stop_rig EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "starting the rig in $rig (endpoint: $endpoint)"
rig_env=(MYSQL2MONGO_RIG_DISCARD_WRITES=1)
[ "$endpoint" = cpp ] && rig_env+=(MYSQL2MONGO_RIG_MONGO_ENDPOINT="$repo/bench/discard_endpoint.py" M2M_DISCARD_ENDPOINT="$ep_bin")
[ "$keep" = 1 ] && rig_env+=(M2M_DISCARD_KEEP_DOCUMENTS=1)
env "${rig_env[@]}" tests/support/rig.sh start "$rig" >"$out/rig.log" 2>&1 || { cat "$out/rig.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$rig/rig.env"
if [ "$RIG_EXTERNAL_MONGODB" = 1 ]; then
  log "warning: MYSQL2MONGO_TEST_MONGODB_URL is set: writes go to a real MongoDB, not a discard endpoint"
fi

ssl_client=(--skip-ssl)
tool_ssl=(MYSQL_SSL_MODE=disabled)
if [ "$tls" = 1 ]; then
  [ -n "$RIG_MYSQL_TLS_CA" ] || { log "BENCH_TLS=1 but the rig's MariaDB has no TLS"; exit 1; }
  ssl_client=(--ssl --ssl-ca="$RIG_MYSQL_TLS_CA")
  tool_ssl=(MYSQL_SSL_MODE=required MYSQL_SSL_CA="$RIG_MYSQL_TLS_CA")
fi

sql() { mariadb --defaults-file="$rig/client.cnf" "${ssl_client[@]}" --batch --skip-column-names "$@"; }

# Process ids whose CPU time counts as the endpoint's (the C++ endpoint and its Python backend share a
# process group) and the database server's.
ep_pgid=$(<"$rig/pids/mongo")
db_pid=$(<"$rig/pids/mariadbd")

cpu_ticks_of_group() { # -> utime+stime of the endpoint's live processes, in clock ticks
  local f line total=0
  local -a v
  for f in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$f" || continue
    # the fields after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    read -r -a v <<<"${line##*) }"
    [ "${v[2]}" = "$ep_pgid" ] && total=$((total + v[11] + v[12]))
  done
  echo "$total"
}
cpu_ticks_of_pid() { # pid
  local line
  local -a v
  read -r line 2>/dev/null <"/proc/$1/stat" || { echo 0; return; }
  read -r -a v <<<"${line##*) }"
  echo $((v[11] + v[12]))
}
hz=$(getconf CLK_TCK)

# Waits until MariaDB is idle (InnoDB purge and flushing after a bulk load would otherwise be timed).
settle_db() {
  local i a b
  for ((i = 0; i < 60; i++)); do
    a=$(cpu_ticks_of_pid "$db_pid")
    sleep 1
    b=$(cpu_ticks_of_pid "$db_pid")
    [ $((b - a)) -le $((hz / 20)) ] && return 0
  done
  log "warning: MariaDB still busy after 60 s of waiting; figures may be noisy"
}

# The C++ endpoint's counters (SIGUSR1 makes it print them to its log): "forwarded backend_wait_s".
ep_stats() {
  [ "$endpoint" = cpp ] || { echo "0 0"; return; }
  local before i line
  before=$(grep -c 'stats discarded' "$rig/mongo.log" || true)
  kill -USR1 "$ep_pgid" 2>/dev/null || { echo "0 0"; return; }
  for ((i = 0; i < 50; i++)); do
    [ "$(grep -c 'stats discarded' "$rig/mongo.log" || true)" -gt "$before" ] && break
    sleep 0.05
  done
  line=$(grep 'stats discarded' "$rig/mongo.log" | tail -n 1)
  echo "$(sed -n 's/.* forwarded=\([0-9]*\).*/\1/p' <<<"$line") $(sed -n 's/.* backend_wait_s=\([0-9.]*\).*/\1/p' <<<"$line")"
}

now() { date +%s.%N; }
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
fdiv() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -n 1; }

# run_timed NAME command... : runs it with stdout to $out/NAME.out, stderr to $out/NAME.err; sets
# T_WALL (seconds), T_RSS_KB (peak RSS), T_CPU (the command's user + system seconds; ? without GNU
# time), T_EP_CPU (endpoint CPU seconds), T_RC.
run_timed() {
  local name=$1
  shift
  local t0 t1 e0 e1
  e0=$(cpu_ticks_of_group)
  T_RC=0
  if [ $have_gnu_time = 1 ]; then
    t0=$(now)
    /usr/bin/time -v -o "$out/$name.time" "$@" >"$out/$name.out" 2>"$out/$name.err" || T_RC=$?
    t1=$(now)
    T_RSS_KB=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$out/$name.time")
    T_CPU=$(awk -F': ' '/User time \(seconds\)|System time \(seconds\)/ { t += $2 } END { printf "%.3f", t }' "$out/$name.time")
  else
    local pid hwm=0 v
    t0=$(now)
    "$@" >"$out/$name.out" 2>"$out/$name.err" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
      v=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null || true)
      [ -n "$v" ] && [ "$v" -gt "$hwm" ] && hwm=$v
      sleep 0.02
    done
    wait "$pid" || T_RC=$?
    t1=$(now)
    T_RSS_KB=$hwm
    T_CPU='?'
  fi
  e1=$(cpu_ticks_of_group)
  T_WALL=$(fsub "$t1" "$t0")
  T_EP_CPU=$(awk -v a="$e0" -v b="$e1" -v hz="$hz" 'BEGIN { printf "%.3f", (b - a) / hz }')
}

# ---------------------------------------------------------------------------------------------------
# Data

make_table() { # db rows
  sql <<SQL
DROP DATABASE IF EXISTS \`$1\`;
CREATE DATABASE \`$1\`;
USE \`$1\`;
CREATE TABLE bench_rows (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  qty INT NOT NULL,
  name VARCHAR(64) NOT NULL,
  price DECIMAL(12,2) NOT NULL,
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  score DOUBLE,
  flag TINYINT NOT NULL,
  note TEXT,
  KEY idx_updated_at (updated_at)
) ENGINE=InnoDB;
SET SESSION sql_log_bin = 0;
INSERT INTO bench_rows (id, qty, name, price, updated_at, score, flag, note)
SELECT seq, (seq * 7919) % 1000000, CONCAT('name-', seq, '-', LEFT(MD5(seq), 16)),
       ((seq * 31) % 10000000) / 100, TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND,
       RAND(seq) * 1000, seq % 128, LEFT(REPEAT(SHA1(seq), 3), 100)
FROM seq_1_to_$2;
ANALYZE TABLE bench_rows;
SQL
}

# jq over the tool's --json output: value or "?"
jget() {
  python3 - "$1" "$2" <<'PY' 2>/dev/null || echo "?"
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].strip(".").split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("?" if v is None else v)
PY
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
results=$out/results.txt
: >"$results"
declare -A R_FWD R_WAIT R_RUNS R_BEST R_RAW R_FULL R_RSS R_EP R_INCR R_NONE R_INCR_TYPE R_NONE_TYPE R_INCR_N R_NONE_N
declare -A R_VER R_VER_RSS R_VER_CPU R_FULL_CPU R_VER_RUNS R_IR_FULL R_IR_VER

tool_env=(MYSQL_HOST="$RIG_MYSQL_HOST" MYSQL_PORT="$RIG_MYSQL_PORT" MYSQL_USER="$RIG_MYSQL_USER"
  MYSQL_PASSWORD="$RIG_MYSQL_PASSWORD" MONGODB_URL="$RIG_MONGODB_URL" "${tool_ssl[@]}")

for n in "${sizes[@]}"; do
  db=m2m_bench_$n
  log "$n rows: generating $db.bench_rows"
  t0=$(now)
  make_table "$db" "$n" >"$out/gen-$n.log" 2>&1 || { cat "$out/gen-$n.log" >&2; exit 1; }
  log "$n rows: generated in $(fsub "$(now)" "$t0") s; waiting for MariaDB to go idle"
  count=$(sql -D "$db" -e "SELECT COUNT(*) FROM bench_rows")
  [ "$count" = "$n" ] || { log "expected $n rows, found $count"; exit 1; }
  # Warm the buffer pool for both contenders alike.
  sql --quick -D "$db" -e "SELECT * FROM bench_rows" >/dev/null
  settle_db

  run_env=(env "${tool_env[@]}" MYSQL_DATABASE="$db")
  raws=() fulls=() rss=() eps=() full_cpus=()
  read -r fwd0 wait0 < <(ep_stats)
  for ((r = 1; r <= repeat; r++)); do
    run_timed "raw-$n-$r" mariadb --defaults-file="$rig/client.cnf" "${ssl_client[@]}" --quick -N -D "$db" \
      -e 'SELECT * FROM bench_rows'
    [ "$T_RC" = 0 ] || { log "raw read failed:"; cat "$out/raw-$n-$r.err" >&2; exit 1; }
    raws+=("$T_WALL")
    log "$n rows: raw read #$r ${T_WALL} s"

    run_timed "full-$n-$r" "${run_env[@]}" "$tool" --json sync --full
    if [ "$T_RC" != 0 ]; then
      log "full sync #$r exited $T_RC:"
      tail -n 20 "$out/full-$n-$r.err" >&2
      exit 1
    fi
    synced=$(jget "$out/full-$n-$r.out" .total_records_synced)
    [ "$synced" = "$n" ] || log "warning: full sync #$r reported $synced records synced, expected $n"
    fulls+=("$T_WALL") rss+=("$T_RSS_KB") eps+=("$T_EP_CPU") full_cpus+=("$T_CPU")
    log "$n rows: full sync #$r ${T_WALL} s, peak RSS $((T_RSS_KB / 1024)) MiB, endpoint CPU ${T_EP_CPU} s"
  done
  read -r fwd1 wait1 < <(ep_stats)
  R_FWD[$n]=$(awk -v a="$fwd0" -v b="$fwd1" -v r="$repeat" 'BEGIN { printf "%.0f", (b - a) / r }')
  R_WAIT[$n]=$(awk -v a="$wait0" -v b="$wait1" -v r="$repeat" 'BEGIN { printf "%.3f", (b - a) / r }')
  R_RAW[$n]=$(median "${raws[@]}")
  R_FULL[$n]=$(median "${fulls[@]}")
  R_RSS[$n]=$(maxof "${rss[@]}")
  R_RUNS[$n]="raw ${raws[*]} / full ${fulls[*]}"
  R_BEST[$n]=$(fdiv "$(printf '%s\n' "${fulls[@]}" | sort -g | head -n1)" "$(printf '%s\n' "${raws[@]}" | sort -g | head -n1)")
  R_EP[$n]=$(median "${eps[@]}")
  R_FULL_CPU[$n]=$([ "${full_cpus[0]}" = '?' ] && echo '?' || median "${full_cpus[@]}")

  # Verify: every row against its document, once the full syncs have left the collection complete.
  if [ "$keep" = 1 ]; then
    vers=() ver_rss=() ver_cpus=()
    for ((r = 1; r <= repeat; r++)); do
      run_timed "verify-$n-$r" "${run_env[@]}" "$tool" --json verify
      if [ "$T_RC" != 0 ]; then
        log "verify #$r exited $T_RC:"
        tail -n 20 "$out/verify-$n-$r.err" >&2
        head -c 2000 "$out/verify-$n-$r.out" >&2
        exit 1
      fi
      equal=$(jget "$out/verify-$n-$r.out" .tables.bench_rows.equal)
      [ "$equal" = "$n" ] || log "warning: verify #$r found $equal rows equal, expected $n"
      vers+=("$T_WALL") ver_rss+=("$T_RSS_KB") ver_cpus+=("$T_CPU")
      log "$n rows: verify #$r ${T_WALL} s, peak RSS $((T_RSS_KB / 1024)) MiB, tool CPU ${T_CPU} s"
    done
    R_VER[$n]=$(median "${vers[@]}")
    R_VER_RSS[$n]=$(maxof "${ver_rss[@]}")
    R_VER_CPU[$n]=$([ "${ver_cpus[0]}" = '?' ] && echo '?' || median "${ver_cpus[@]}")
    R_VER_RUNS[$n]="${vers[*]}"
  fi

  # Instructions per row (counted, so steady from run to run), for the first size only.
  if [ "$callgrind" = 1 ] && [ "$n" = "${sizes[0]}" ]; then
    if command -v valgrind >/dev/null 2>&1; then
      for what in full verify; do
        args=(--json sync --full)
        [ $what = verify ] && args=(--json verify)
        "${run_env[@]}" valgrind --tool=callgrind --callgrind-out-file="$out/callgrind-$what-$n.out" "$tool" "${args[@]}" \
          >"$out/callgrind-$what-$n.json" 2>"$out/callgrind-$what-$n.err" || log "warning: callgrind $what exited $?"
        ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/callgrind-$what-$n.err" | tail -n 1)
        if [ $what = full ]; then R_IR_FULL[$n]=$ir; else R_IR_VER[$n]=$ir; fi
        log "$n rows: callgrind $what: ${ir:-?} instructions"
      done
    else
      log "BENCH_CALLGRIND=1 but valgrind is not installed (Debian package valgrind)"
    fi
  fi

  # Incremental. One untimed run first, so the timed ones see the steady state of a cron job (a run
  # right after a full sync) whatever mark the full sync left.
  run_timed "incr-settle-$n" "${run_env[@]}" "$tool" --json sync
  log "$n rows: settling incremental run ${T_WALL} s (sync_type $(jget "$out/incr-settle-$n.out" ".tables.bench_rows.sync_type"), rc $T_RC)"
  sleep 1.1  # the changed rows' updated_at is then clearly after anything the previous run saw
  changed=$(sql -D "$db" -e "UPDATE bench_rows SET qty = qty + 1 WHERE id % 1000 = 0; SELECT ROW_COUNT();")
  settle_db
  run_timed "incr-$n" "${run_env[@]}" "$tool" --json sync
  [ "$T_RC" = 0 ] || { log "incremental sync exited $T_RC:"; tail -n 20 "$out/incr-$n.err" >&2; }
  R_INCR[$n]=$T_WALL
  R_INCR_TYPE[$n]=$(jget "$out/incr-$n.out" ".tables.bench_rows.sync_type")
  R_INCR_N[$n]=$(jget "$out/incr-$n.out" ".tables.bench_rows.records_synced")
  log "$n rows: incremental after $changed changed rows ${T_WALL} s (sync_type ${R_INCR_TYPE[$n]}, ${R_INCR_N[$n]} records)"

  run_timed "none-$n" "${run_env[@]}" "$tool" --json sync
  [ "$T_RC" = 0 ] || { log "no-change sync exited $T_RC:"; tail -n 20 "$out/none-$n.err" >&2; }
  R_NONE[$n]=$T_WALL
  R_NONE_TYPE[$n]=$(jget "$out/none-$n.out" ".tables.bench_rows.sync_type")
  R_NONE_N[$n]=$(jget "$out/none-$n.out" ".tables.bench_rows.records_synced")
  log "$n rows: incremental with nothing changed ${T_WALL} s (sync_type ${R_NONE_TYPE[$n]}, ${R_NONE_N[$n]} records)"

  sql -e "DROP DATABASE \`$db\`" >/dev/null
done

# ---------------------------------------------------------------------------------------------------
# Report

{
  echo "mysql2mongo benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$repo" diff --quiet 2>/dev/null || echo '+changes')"
  echo "load average at start: $load_start, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "tool: $build_dir/app/mysql2mongo built $tool_built ($build_type); MariaDB $(sql -e 'SELECT VERSION()') over TCP, TLS $([ "$tls" = 1 ] && echo on || echo off) for both"
  case $endpoint in
    cpp) if [ "$keep" = 1 ]; then
           echo "MongoDB side: bench/discard_endpoint.cpp --keep-documents (synced collections kept in memory and read back; other commands forwarded to tests/support/mongo_endpoint.py)"
         else
           echo "MongoDB side: bench/discard_endpoint.cpp (writes to synced collections discarded; other commands forwarded to tests/support/mongo_endpoint.py)"
         fi ;;
    python) echo "MongoDB side: tests/support/mongo_endpoint.py --discard-writes" ;;
  esac
  echo "table: 8 columns (BIGINT PK, INT, VARCHAR(64), DECIMAL(12,2), DATETIME(3) ON UPDATE, DOUBLE, TINYINT, TEXT ~100 B); median of $repeat runs"
  echo
  printf '%-9s %10s %11s %6s %10s %10s %8s %8s %11s %6s %11s %6s\n' rows raw_read_s full_sync_s ratio rows_per_s raw_rows/s rss_MiB ep_cpu_s 'incr_0.1%_s' '%full' incr_none_s '%full'
  for n in "${sizes[@]}"; do
    printf '%-9s %10s %11s %6s %10.0f %10.0f %8.1f %8s %11s %6s %11s %6s\n' "$n" "${R_RAW[$n]}" "${R_FULL[$n]}" \
      "$(fdiv "${R_FULL[$n]}" "${R_RAW[$n]}")" "$(awk -v n="$n" -v t="${R_FULL[$n]}" 'BEGIN { print n / t }')" \
      "$(awk -v n="$n" -v t="${R_RAW[$n]}" 'BEGIN { print n / t }')" "$(awk -v k="${R_RSS[$n]}" 'BEGIN { print k / 1024 }')" \
      "${R_EP[$n]}" "${R_INCR[$n]}" "$(awk -v a="${R_INCR[$n]}" -v b="${R_FULL[$n]}" 'BEGIN { printf "%.1f", 100 * a / b }')" \
      "${R_NONE[$n]}" "$(awk -v a="${R_NONE[$n]}" -v b="${R_FULL[$n]}" 'BEGIN { printf "%.1f", 100 * a / b }')"
  done
  echo
  echo "every run (s), and best full / best raw:"
  for n in "${sizes[@]}"; do echo "  $n rows: ${R_RUNS[$n]}; best ratio ${R_BEST[$n]}"; done
  echo
  if [ "$keep" = 1 ]; then
    echo "verify (every row against its document; the endpoint serves back what the full syncs wrote):"
    printf '%-9s %11s %9s %12s %10s %8s %17s %15s\n' rows full_sync_s verify_s verify/full rows_per_s rss_MiB 'tool_cpu_us/row' 'full_cpu_us/row'
    for n in "${sizes[@]}"; do
      printf '%-9s %11s %9s %12s %10.0f %8.1f %17s %15s\n' "$n" "${R_FULL[$n]}" "${R_VER[$n]}" "$(fdiv "${R_VER[$n]}" "${R_FULL[$n]}")" \
        "$(awk -v n="$n" -v t="${R_VER[$n]}" 'BEGIN { print n / t }')" "$(awk -v k="${R_VER_RSS[$n]}" 'BEGIN { print k / 1024 }')" \
        "$(awk -v c="${R_VER_CPU[$n]}" -v n="$n" 'BEGIN { if (c == "?") print "?"; else printf "%.2f", c * 1e6 / n }')" \
        "$(awk -v c="${R_FULL_CPU[$n]}" -v n="$n" 'BEGIN { if (c == "?") print "?"; else printf "%.2f", c * 1e6 / n }')"
    done
    for n in "${sizes[@]}"; do echo "  $n rows: verify runs ${R_VER_RUNS[$n]} s"; done
    for n in "${!R_IR_VER[@]}"; do
      echo "  $n rows, callgrind: full sync $(awk -v i="${R_IR_FULL[$n]:-0}" -v n="$n" 'BEGIN { printf "%.0f", i / n }') instructions per row," \
        "verify $(awk -v i="${R_IR_VER[$n]:-0}" -v n="$n" 'BEGIN { printf "%.0f", i / n }') instructions per row (the tool's whole run, start-up included)"
    done
    echo
  fi
  echo "incremental runs as the tool reported them (tables.bench_rows):"
  for n in "${sizes[@]}"; do
    echo "  $n rows: 0.1% changed -> sync_type ${R_INCR_TYPE[$n]}, ${R_INCR_N[$n]} records; nothing changed -> sync_type ${R_NONE_TYPE[$n]}, ${R_NONE_N[$n]} records"
  done
  echo
  echo "targets (reported, not asserted):"
  for n in "${sizes[@]}"; do
    ratio=$(fdiv "${R_FULL[$n]}" "${R_RAW[$n]}")
    rss_mib=$(awk -v k="${R_RSS[$n]}" 'BEGIN { printf "%.1f", k / 1024 }')
    incr_pct=$(awk -v a="${R_INCR[$n]}" -v b="${R_FULL[$n]}" 'BEGIN { printf "%.1f", 100 * a / b }')
    verdict() { awk "BEGIN { exit !($1) }" && echo met || echo MISSED; }
    echo "  $n rows: full <= 2.5x raw: $ratio ($(verdict "$ratio <= 2.5")); peak RSS <= 64 MiB: $rss_mib ($(verdict "$rss_mib <= 64"));" \
      "incr 0.1% <= 2% of full: $incr_pct% ($(verdict "$incr_pct <= 2")); no-change < 0.5 s: ${R_NONE[$n]} ($(verdict "${R_NONE[$n]} < 0.5"))"
    if [ "$keep" = 1 ]; then
      vratio=$(fdiv "${R_VER[$n]}" "${R_FULL[$n]}")
      echo "  $n rows: verify <= 2.5x full sync: $vratio ($(verdict "$vratio <= 2.5")); verify peak RSS <= 64 MiB:" \
        "$(awk -v k="${R_VER_RSS[$n]}" 'BEGIN { printf "%.1f", k / 1024 }') ($(verdict "${R_VER_RSS[$n]} <= 65536"))"
    fi
  done
  if [ ${#sizes[@]} -ge 2 ]; then
    first=${sizes[0]} last=${sizes[-1]}
    echo "  peak RSS flat: ${first} rows $(awk -v k="${R_RSS[$first]}" 'BEGIN { printf "%.1f", k / 1024 }') MiB," \
      "${last} rows $(awk -v k="${R_RSS[$last]}" 'BEGIN { printf "%.1f", k / 1024 }') MiB" \
      "($(awk -v a="${R_RSS[$first]}" -v b="${R_RSS[$last]}" 'BEGIN { printf "%+.1f%%", 100 * (b - a) / a }'))"
  fi
  echo
  if [ "$endpoint" = cpp ]; then
    echo "commands the C++ endpoint forwarded to the Python backend per full sync (metadata, checkpoints, indexes,"
    echo "the key read-back), and the time the tool waited for those replies:"
    for n in "${sizes[@]}"; do echo "  $n rows: ${R_FWD[$n]} commands, ${R_WAIT[$n]} s"; done
    echo
  fi
  echo "ep_cpu_s: CPU time the MongoDB endpoint (all its processes) used during a full sync; the tool waits"
  echo "for each batch's reply, so this bounds how much of full_sync_s is the endpoint's."
  if [ "$keep" = 1 ]; then
    echo "not measured: the endpoint keeps documents in an in-memory map and answers reads from it; a real MongoDB"
    echo "also writes them to disk, maintains indexes and journals (its cost is the server's, not the tool's)."
  else
    echo "not measured: the discard endpoint stores no documents, so the key read-back of delete reconciliation"
    echo "finds an empty collection (a real MongoDB returns every key) and no upsert costs the server anything."
  fi
  echo "logs: $out"
} | tee "$results"
