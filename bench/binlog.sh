#!/usr/bin/env bash
# Change capture from the binlog against the alternatives (bench/README.md). Prints figures; never asserts
# on time. Rows read are counted (the server's Handler_read_* counters: every row a statement fetched
# from a table or an index), MongoDB commands counted by the discard endpoint; times are medians of BENCH_REPEAT interleaved runs.
#
#   bench/binlog.sh [ROWS [TABLES]]     default: 1000000 rows, 1000 tables
#
#   plain     a ROWS-row table without a change column; 0.1 % of its rows updated and 0.1 % deleted:
#             a binlog run against the full pass the change column mode must make
#   orders    a ROWS-row table with an indexed updated_at; 0.1 % updated: binlog against timestamp runs
#   quiet     TABLES tables of 10 rows, nothing changed: a binlog run's time, SELECTs, MongoDB commands
#   backlog   every row of `plain` updated (ROWS changed keys): rows applied per second over the runs that
#             work the backlog off, and each run's peak RSS, against a backlog of ROWS / 10
set -Eeuo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
rows=${1:-1000000}
tables=${2:-1000}
repeat=${BENCH_REPEAT:-3}
build_dir=${BENCH_BUILD_DIR:-build}
for v in "$rows" "$tables" "$repeat"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench: ROWS, TABLES and BENCH_REPEAT are positive integers" >&2; exit 64; }
done
[ "$rows" -ge 10000 ] || { echo "bench: ROWS must be at least 10000 (0.1 % of it is the change)" >&2; exit 64; }
log() { echo "bench: $*" >&2; }
command -v jq >/dev/null || { log "jq is missing (scripts/install-deps.sh)"; exit 1; }
[ -x /usr/bin/time ] || { log "GNU time is missing (scripts/install-deps.sh)"; exit 1; }

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  [ -f "$build_dir/CMakeCache.txt" ] || cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build_dir" -j2 >/dev/null
fi
out=$(mktemp -d /tmp/m2m-bench-binlog.XXXXXX)
mkdir -p "$out/bin"
cp "$build_dir/app/mysql2mongo" "$build_dir/bench/m2m_discard_endpoint" "$out/bin/"
tool=$out/bin/mysql2mongo

rig=$out/rig
if [ "${BENCH_KEEP_RIG:-0}" = 1 ]; then
  trap 'log "rig left running in $rig"' EXIT
else
  trap 'tests/support/rig.sh stop "$rig" >/dev/null 2>&1 || true' EXIT
fi
log "starting the rig in $rig"
MYSQL2MONGO_RIG_DISCARD_WRITES=1 MYSQL2MONGO_RIG_MONGO_ENDPOINT="$repo/bench/discard_endpoint.py" \
  M2M_DISCARD_ENDPOINT="$out/bin/m2m_discard_endpoint" tests/support/rig.sh start "$rig" >"$out/rig.log" 2>&1 \
  || { cat "$out/rig.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$rig/rig.env"
client() { mariadb --defaults-file="$rig/client.cnf" --skip-ssl --batch --skip-column-names "$@"; }
export MYSQL_HOST=$RIG_MYSQL_HOST MYSQL_PORT=$RIG_MYSQL_PORT MYSQL_USER=$RIG_MYSQL_USER
export MYSQL_PASSWORD=$RIG_MYSQL_PASSWORD MONGODB_URL=$RIG_MONGODB_URL MYSQL_SSL_MODE=disabled

ep_pid=$(<"$rig/pids/mongo")
# The discard endpoint's command count so far (all names).
commands() {
  local before
  before=$(wc -l <"$rig/mongo.log")
  kill -USR1 "$ep_pid"
  for _ in $(seq 100); do
    tail -n +"$((before + 1))" "$rig/mongo.log" | grep -q "commands" && break
    sleep 0.02
  done
  tail -n +"$((before + 1))" "$rig/mongo.log" | awk '/commands/ { for (i = 3; i <= NF; i++) { split($i, kv, "="); n += kv[2] } } END { print n + 0 }'
}
status_of() { client -e "SHOW GLOBAL STATUS LIKE '$1'" | awk '{ print $2 }'; }
handler_reads() { client -e "SHOW GLOBAL STATUS LIKE 'Handler_read%'" | awk '{ n += $2 } END { print n }'; }
now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "inf"; else printf "%.1f", a / b }'; }

# sync DB CHANGES [ARGS...]: one timed run; sets $secs, $rows_read, $report (its JSON), $rss_kb.
sync() {
  local db=$1 changes=$2
  shift 2
  local r0 a b
  r0=$(handler_reads)
  a=$(now)
  MYSQL_DATABASE=$db MONGODB_DATABASE=${MONGO_DB:-$db}_$changes SYNC_CHANGES=$changes \
    /usr/bin/time -f '%M' -o "$out/rss" "$tool" --json sync "$@" >"$out/report.json" 2>"$out/sync.err" \
    || { cat "$out/sync.err" >&2; exit 1; }
  b=$(now)
  secs=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b - a }')
  rows_read=$(( $(handler_reads) - r0 ))
  report=$(cat "$out/report.json")
  rss_kb=$(tail -1 "$out/rss")
}

mix_columns="v INT NOT NULL, price DECIMAL(12,2) NOT NULL, name VARCHAR(40) NOT NULL, note TEXT, flag TINYINT NOT NULL, ts DATETIME(3) NOT NULL"
mix_values="seq * 7, seq / 100, CONCAT('name ', seq), IF(seq % 3 = 0, NULL, REPEAT('n', seq % 50)), seq % 2, '2020-01-01 00:00:00' + INTERVAL seq SECOND"
log "creating bench_plain ($rows rows, no change column) and bench_orders ($rows rows, updated_at indexed)"
client -e "CREATE DATABASE bench_plain; CREATE DATABASE bench_orders; CREATE DATABASE bench_quiet;
  USE bench_plain;
  CREATE TABLE plain (id INT PRIMARY KEY, $mix_columns);
  INSERT INTO plain SELECT seq, $mix_values FROM seq_1_to_$rows;
  CREATE TABLE bench_orders.orders (id INT PRIMARY KEY, $mix_columns,
    updated_at TIMESTAMP(3) NOT NULL DEFAULT '2020-01-01 00:00:00' ON UPDATE CURRENT_TIMESTAMP(3), KEY (updated_at));
  INSERT INTO bench_orders.orders (id, v, price, name, note, flag, ts) SELECT seq, $mix_values FROM seq_1_to_$rows;"

# ---------------------------------------------------------------------------------------------------
log "plain: first syncs (full copies)"
sync bench_plain timestamp; sync bench_plain binlog
declare -a t_full t_bin r_full r_bin
for ((r = 1; r <= repeat; r++)); do
  # 0.1 % updated and 0.1 % deleted, other rows each time.
  client bench_plain -e "UPDATE plain SET v = v + 1 WHERE id % 1000 = $r; DELETE FROM plain WHERE id % 1000 = $((500 + r))"
  sync bench_plain binlog
  t_bin+=("$secs"); r_bin+=("$rows_read")
  plain_keys=$(jq '.binlog.changed_keys' <<<"$report")
  plain_written=$(jq '.tables.plain | .records_synced + .deleted' <<<"$report")
  sync bench_plain timestamp
  t_full+=("$secs"); r_full+=("$rows_read")
done
mt_bin=$(median "${t_bin[@]}"); mt_full=$(median "${t_full[@]}")
mr_bin=$(median "${r_bin[@]}"); mr_full=$(median "${r_full[@]}")

# ---------------------------------------------------------------------------------------------------
log "orders: first syncs"
sync bench_orders timestamp; sync bench_orders binlog
declare -a t_ots t_obl r_ots r_obl
for ((r = 1; r <= repeat; r++)); do
  client bench_orders -e "UPDATE orders SET v = v + 1 WHERE id % 1000 = $r"
  if ((r % 2)); then
    sync bench_orders binlog; t_obl+=("$secs"); r_obl+=("$rows_read")
    sync bench_orders timestamp; t_ots+=("$secs"); r_ots+=("$rows_read")
  else
    sync bench_orders timestamp; t_ots+=("$secs"); r_ots+=("$rows_read")
    sync bench_orders binlog; t_obl+=("$secs"); r_obl+=("$rows_read")
  fi
done
mt_ots=$(median "${t_ots[@]}"); mt_obl=$(median "${t_obl[@]}")
mr_ots=$(median "${r_ots[@]}"); mr_obl=$(median "${r_obl[@]}")

# ---------------------------------------------------------------------------------------------------
log "quiet: $tables tables of 10 rows"
{
  echo "USE bench_quiet;"
  for ((i = 1; i <= tables; i++)); do
    t=$(printf 'q%05d' "$i")
    echo "CREATE TABLE $t (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO $t SELECT seq, seq FROM seq_1_to_10;"
  done
} | client
sync bench_quiet binlog
declare -a t_quiet
for ((r = 1; r <= repeat; r++)); do
  c0=$(commands); s0=$(status_of Com_select)
  sync bench_quiet binlog
  c1=$(commands); s1=$(status_of Com_select)
  t_quiet+=("$secs")
  quiet_cmds=$((c1 - c0)); quiet_selects=$((s1 - s0 - 1)); quiet_rows=$rows_read
done
mt_quiet=$(median "${t_quiet[@]}")

# ---------------------------------------------------------------------------------------------------
# A backlog: every changed row is a key to apply. Worked off by as many runs as the limits make.
backlog() {  # backlog ROWS_CHANGED -> $bl_runs $bl_secs $bl_keys $bl_rss_max $bl_rss_list
  local n=$1
  client bench_plain -e "UPDATE plain SET flag = 1 - flag WHERE id <= $n"
  bl_runs=0; bl_secs=0; bl_keys=0; bl_rss_max=0; bl_rss_list=""
  while :; do
    sync bench_plain binlog
    bl_runs=$((bl_runs + 1))
    bl_secs=$(awk -v a="$bl_secs" -v b="$secs" 'BEGIN { printf "%.3f", a + b }')
    bl_keys=$((bl_keys + $(jq '.binlog.changed_keys' <<<"$report")))
    bl_rss_list+="${bl_rss_list:+ }$((rss_kb / 1024))"
    ((rss_kb > bl_rss_max)) && bl_rss_max=$rss_kb
    [ "$(jq '.binlog.limited' <<<"$report")" = true ] || break
    ((bl_runs < 100)) || { log "backlog: still limited after 100 runs"; break; }
  done
}
log "backlog: $((rows / 10)) changed rows"
backlog $((rows / 10))
small_runs=$bl_runs small_secs=$bl_secs small_keys=$bl_keys small_rss=$bl_rss_max small_list=$bl_rss_list
log "backlog: $rows changed rows"
backlog "$rows"

echo "binlog bench: $rows rows (MariaDB $(client -e 'SELECT VERSION()')), medians of $repeat runs"
echo "plain (no change column), 0.1% updated + 0.1% deleted ($plain_keys changed keys, $plain_written documents written or deleted):"
echo "  binlog run     ${mt_bin}s, $mr_bin rows read"
echo "  full pass      ${mt_full}s, $mr_full rows read"
echo "  ratio          $(ratio "$mt_full" "$mt_bin")x less time, $(ratio "$mr_full" "$mr_bin")x fewer rows read (target >= 100x)"
echo "orders (updated_at indexed), 0.1% updated:"
echo "  binlog run     ${mt_obl}s, $mr_obl rows read"
echo "  timestamp run  ${mt_ots}s, $mr_ots rows read"
echo "  ratio          binlog/timestamp $(awk -v a="$mt_obl" -v b="$mt_ots" 'BEGIN { printf "%.2f", a / b }') in time (target <= 1)"
echo "quiet ($tables tables, nothing changed), binlog: ${mt_quiet}s, $quiet_selects SELECTs, $quiet_rows rows read, $quiet_cmds MongoDB commands (target < 0.1 s, O(1) commands)"
echo "backlog $((rows / 10)) rows: $small_runs runs, ${small_secs}s, $(awk -v k="$small_keys" -v s="$small_secs" 'BEGIN { printf "%.0f", k / s }') keys/s, peak RSS ${small_rss} KiB (runs: $small_list MiB)"
echo "backlog $rows rows: $bl_runs runs, ${bl_secs}s, $(awk -v k="$bl_keys" -v s="$bl_secs" 'BEGIN { printf "%.0f", k / s }') keys/s, peak RSS ${bl_rss_max} KiB (runs: $bl_rss_list MiB)"
