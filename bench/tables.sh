#!/usr/bin/env bash
# Round trips and wall time over many small tables (bench/README.md): counts, not times, are the stable
# figures on a shared machine. Prints figures; never asserts on time.
#
#   bench/tables.sh [TABLES [ROWS]]      default: 1000 tables of 100 rows
#
# Against the rig's MariaDB and the C++ discard endpoint (which counts the commands it receives by name):
#   full       mysql2mongo sync --full of every table: MongoDB commands per table besides the data batches
#   none       mysql2mongo sync with nothing changed: SELECTs per table (Com_select) and MongoDB commands in all
#   baseline   bench/baseline_sync.py, the plain script a peer would write, with nothing changed
# The no-change run and the baseline are timed BENCH_REPEAT times (default 5), interleaved; medians.
set -Eeuo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
tables=${1:-1000}
rows=${2:-100}
repeat=${BENCH_REPEAT:-5}
build_dir=${BENCH_BUILD_DIR:-build}
for v in "$tables" "$rows" "$repeat"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench: TABLES, ROWS and BENCH_REPEAT are positive integers" >&2; exit 64; }
done
log() { echo "bench: $*" >&2; }

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  [ -f "$build_dir/CMakeCache.txt" ] || cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build_dir" -j2 >/dev/null
fi
out=$(mktemp -d /tmp/m2m-bench-tables.XXXXXX)
mkdir -p "$out/bin"
cp "$build_dir/app/mysql2mongo" "$build_dir/bench/m2m_discard_endpoint" "$out/bin/"
tool=$out/bin/mysql2mongo
/usr/bin/python3 -c 'import pymysql, pymongo' 2>/dev/null || { log "python3-pymysql is missing (scripts/install-deps.sh)"; exit 1; }

rig=$out/rig
if [ "${BENCH_KEEP_RIG:-0}" = 1 ]; then
  trap 'log "rig left running in $rig"' EXIT
else
  trap 'tests/support/rig.sh stop "$rig" >/dev/null 2>&1 || true' EXIT
fi
MYSQL2MONGO_RIG_DISCARD_WRITES=1 MYSQL2MONGO_RIG_MONGO_ENDPOINT="$repo/bench/discard_endpoint.py" \
  M2M_DISCARD_ENDPOINT="$out/bin/m2m_discard_endpoint" tests/support/rig.sh start "$rig" >"$out/rig.log" 2>&1 \
  || { cat "$out/rig.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$rig/rig.env"
client() { mariadb --defaults-file="$rig/client.cnf" --batch --skip-column-names "$@"; }
db=bench_tables
export MYSQL_HOST=$RIG_MYSQL_HOST MYSQL_PORT=$RIG_MYSQL_PORT MYSQL_USER=$RIG_MYSQL_USER MYSQL_DATABASE=$db
export MYSQL_PASSWORD=$RIG_MYSQL_PASSWORD MONGODB_URL=$RIG_MONGODB_URL MONGODB_DATABASE=$db MYSQL_SSL_MODE=disabled
# The change column, as the baseline script reads it (bench/binlog.sh measures the binlog).
export SYNC_CHANGES=timestamp

log "creating $tables tables of $rows rows"
{
  echo "CREATE DATABASE $db; USE $db;"
  for ((i = 1; i <= tables; i++)); do
    t=$(printf 't%05d' "$i")
    echo "CREATE TABLE $t (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(20) NOT NULL,"
    echo "  updated_at TIMESTAMP(3) NOT NULL DEFAULT '2020-01-01 00:00:00' ON UPDATE CURRENT_TIMESTAMP(3), KEY (updated_at));"
    echo "INSERT INTO $t (id, v, s) SELECT seq, seq * 7, CONCAT('row', seq) FROM seq_1_to_$rows;"
  done
} | client

ep_pid=$(<"$rig/pids/mongo")
# The discard endpoint's counters, as "name=count" lines (cumulative).
counters() {
  : >"$rig/mongo.log.mark"
  local before
  before=$(wc -l <"$rig/mongo.log")
  kill -USR1 "$ep_pid"
  for _ in $(seq 50); do
    [ "$(wc -l <"$rig/mongo.log")" -gt "$before" ] && grep -q "commands" <(tail -n +"$((before + 1))" "$rig/mongo.log") && break
    sleep 0.02
  done
  tail -n +"$((before + 1))" "$rig/mongo.log" | awk '
    /stats/ { for (i = 3; i <= NF; i++) print $i }
    /commands/ { for (i = 3; i <= NF; i++) print "cmd." $i }'
}
get() { awk -F= -v k="$2" '$1 == k { print $2 }' <<<"$1"; }
sum_commands() { awk -F= '/^cmd\./ { n += $2 } END { print n + 0 }' <<<"$1"; }
com_select() { client -e "SHOW GLOBAL STATUS LIKE 'Com_select'" | awk '{ print $2 }'; }

log "full sync"
c0=$(counters); s0=$(com_select)
"$tool" sync --full >/dev/null 2>"$out/full.err" || { cat "$out/full.err" >&2; exit 1; }
c1=$(counters); s1=$(com_select)
full_batches=$(( $(get "$c1" discarded_batches) - $(get "$c0" discarded_batches) ))
full_cmds=$(( $(sum_commands "$c1") - $(sum_commands "$c0") ))
full_selects=$(( s1 - s0 - 1 ))

# The baseline's own first pass (its marks), then the timed no-change runs, interleaved.
/usr/bin/python3 bench/baseline_sync.py
"$tool" sync >/dev/null 2>&1
declare -a t_tool t_base
now() { date +%s.%N; }
for ((r = 1; r <= repeat; r++)); do
  c0=$(counters); s0=$(com_select)
  a=$(now); "$tool" sync >/dev/null 2>"$out/none.err" || { cat "$out/none.err" >&2; exit 1; }; b=$(now)
  c1=$(counters); s1=$(com_select)
  t_tool+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b - a }')")
  none_cmds=$(( $(sum_commands "$c1") - $(sum_commands "$c0") ))
  none_batches=$(( $(get "$c1" discarded_batches) - $(get "$c0" discarded_batches) ))
  none_selects=$(( s1 - s0 - 1 ))
  none_detail=$(join -t= -a2 -e0 -o 2.1,1.2,2.2 <(grep '^cmd\.' <<<"$c0" | sort) <(grep '^cmd\.' <<<"$c1" | sort) |
    awk -F= '$3 - $2 > 0 { printf "%s%s=%d", sep, substr($1, 5), $3 - $2; sep = " " }')
  a=$(now); /usr/bin/python3 bench/baseline_sync.py; b=$(now)
  t_base+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b - a }')")
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mt=$(median "${t_tool[@]}"); mb=$(median "${t_base[@]}")

echo "tables: $tables tables of $rows rows (MariaDB $(client -e 'SELECT VERSION()'))"
echo "full sync:      $full_cmds MongoDB commands besides $full_batches data batches = $(awk -v c="$full_cmds" -v n="$tables" 'BEGIN { printf "%.2f", c / n }') per table; $full_selects SELECTs"
echo "no change:      $none_cmds MongoDB commands in all ($none_detail), $none_batches data batches; $none_selects SELECTs = $(awk -v c="$none_selects" -v n="$tables" 'BEGIN { printf "%.3f", c / n }') per table"
echo "no change time: mysql2mongo ${mt}s, baseline script ${mb}s = $(awk -v a="$mt" -v b="$mb" 'BEGIN { printf "%.2f", a / b }')x (medians of $repeat: tool ${t_tool[*]}; baseline ${t_base[*]})"
echo "targets (reported, not asserted): no change <= 1 SELECT per table and <= 10 MongoDB commands; full <= 3 commands per table besides data batches; time <= 0.5x the baseline"
