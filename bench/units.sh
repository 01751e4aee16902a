#!/usr/bin/env bash
# Work units (bench/README.md): how a full sync scales with --jobs, against the discard endpoint directly
# and through bench/delay_proxy.cpp adding 1 ms to every MongoDB round trip (a server one network hop
# away). Prints figures; never asserts on time.
#
#   bench/units.sh [ROWS [TABLES]]      default: 1000000 rows of `orders`, 1000 small tables of 100 rows
#
# Measured, each BENCH_REPEAT times (default 3), interleaved, medians:
#   raw      mariadb --quick -N -e 'SELECT * FROM orders' >/dev/null     (one stream: the physical floor)
#   orders   mysql2mongo sync --full --jobs J, J = 1 2 4, direct and through the 1 ms proxy; the table is
#            split into key ranges of BENCH_SPLIT_ROWS (default 250000: four ranges of a million rows)
#   tables   mysql2mongo sync --full --jobs J, J = 1 4, over TABLES small tables, direct and via the proxy
# Knobs: BENCH_REPEAT, BENCH_SPLIT_ROWS, BENCH_DELAY_US (default 1000), BENCH_NO_BUILD=1, BENCH_BUILD_DIR.
set -Eeuo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
rows=${1:-1000000}
tables=${2:-1000}
repeat=${BENCH_REPEAT:-3}
split_rows=${BENCH_SPLIT_ROWS:-250000}
delay_us=${BENCH_DELAY_US:-1000}
build_dir=${BENCH_BUILD_DIR:-build}
for v in "$rows" "$tables" "$repeat" "$split_rows" "$delay_us"; do
  [[ $v =~ ^[0-9]+$ ]] || { echo "bench: ROWS, TABLES and the BENCH_* numbers are whole numbers" >&2; exit 64; }
done
log() { echo "bench: $*" >&2; }

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  [ -f "$build_dir/CMakeCache.txt" ] || cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build_dir" -j2 --target mysql2mongo m2m_discard_endpoint m2m_delay_proxy >/dev/null
fi
out=$(mktemp -d /tmp/m2m-bench-units.XXXXXX)
mkdir -p "$out/bin"
# Copies: someone rebuilding the shared build directory meanwhile cannot swap a binary between runs.
cp "$build_dir/app/mysql2mongo" "$build_dir/bench/m2m_discard_endpoint" "$build_dir/bench/m2m_delay_proxy" "$out/bin/"
tool=$out/bin/mysql2mongo

rig=$out/rig
proxy_pid=
cleanup() {
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null || true
  if [ "${BENCH_KEEP_RIG:-0}" = 1 ]; then log "rig left running in $rig"; else tests/support/rig.sh stop "$rig" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
MYSQL2MONGO_RIG_DISCARD_WRITES=1 MYSQL2MONGO_RIG_MONGO_ENDPOINT="$repo/bench/discard_endpoint.py" \
  M2M_DISCARD_ENDPOINT="$out/bin/m2m_discard_endpoint" tests/support/rig.sh start "$rig" >"$out/rig.log" 2>&1 \
  || { cat "$out/rig.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$rig/rig.env"
client() { mariadb --defaults-file="$rig/client.cnf" --skip-ssl --batch --skip-column-names "$@"; }

# The 1 ms proxy in front of the discard endpoint.
"$out/bin/m2m_delay_proxy" --listen 0 --to "${RIG_MONGODB_URL#mongodb://}" --delay-us "$delay_us" \
  --port-file "$out/proxy.port" >"$out/proxy.log" 2>&1 &
proxy_pid=$!
for _ in $(seq 100); do [ -s "$out/proxy.port" ] && break; sleep 0.05; done
proxy_url="mongodb://127.0.0.1:$(<"$out/proxy.port")"

export MYSQL_HOST=$RIG_MYSQL_HOST MYSQL_PORT=$RIG_MYSQL_PORT MYSQL_USER=$RIG_MYSQL_USER MYSQL_PASSWORD=$RIG_MYSQL_PASSWORD
export MYSQL_SSL_MODE=disabled SYNC_CHANGES=timestamp
printf '[sync]\nsplit_rows = %s\n' "$split_rows" >"$out/units.toml"

log "creating orders ($rows rows) and $tables tables of 100 rows"
client <<SQL
CREATE DATABASE bench_orders; USE bench_orders;
CREATE TABLE orders (
  id BIGINT NOT NULL PRIMARY KEY, qty INT NOT NULL, name VARCHAR(64) NOT NULL, price DECIMAL(12,2) NOT NULL,
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3), score DOUBLE,
  flag TINYINT NOT NULL, note TEXT, KEY idx_updated_at (updated_at)) ENGINE=InnoDB;
SET SESSION sql_log_bin = 0;
INSERT INTO orders SELECT seq, (seq * 7919) % 1000000, CONCAT('name-', seq, '-', LEFT(MD5(seq), 16)),
  ((seq * 31) % 10000000) / 100, TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND, RAND(seq) * 1000, seq % 128,
  LEFT(REPEAT(SHA1(seq), 3), 100) FROM seq_1_to_$rows;
ANALYZE TABLE orders;
SQL
{
  echo "CREATE DATABASE bench_many; USE bench_many; SET SESSION sql_log_bin = 0;"
  for ((i = 1; i <= tables; i++)); do
    t=$(printf 't%05d' "$i")
    echo "CREATE TABLE $t (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(20) NOT NULL,"
    echo "  updated_at TIMESTAMP(3) NOT NULL DEFAULT '2020-01-01 00:00:00' ON UPDATE CURRENT_TIMESTAMP(3), KEY (updated_at));"
    echo "INSERT INTO $t (id, v, s) SELECT seq, seq * 7, CONCAT('row', seq) FROM seq_1_to_100;"
  done
} | client
client -D bench_orders --quick -e 'SELECT * FROM orders' >/dev/null  # warm the buffer pool for everyone

now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }
# timed NAME DB URL JOBS: one full sync; its wall time on stdout.
timed() {
  local name=$1 db=$2 url=$3 jobs=$4 a b
  a=$(now)
  MYSQL_DATABASE=$db MONGODB_URL=$url "$tool" --config "$out/units.toml" --json sync --full --jobs "$jobs" \
    >"$out/$name.json" 2>"$out/$name.err" || { log "$name failed:"; tail -n 5 "$out/$name.err" >&2; exit 1; }
  b=$(now)
  awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b - a }'
}

declare -A T
raws=()
for ((r = 1; r <= repeat; r++)); do
  a=$(now); client -D bench_orders --quick -e 'SELECT * FROM orders' >/dev/null; b=$(now)
  raws+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b - a }')")
  for via in direct proxy; do
    url=$RIG_MONGODB_URL
    [ $via = proxy ] && url=$proxy_url
    for j in 1 2 4; do
      T[orders_${via}_$j]+="$(timed "orders-$via-$j-$r" bench_orders "$url" "$j") "
      last=${T[orders_${via}_$j]% }
      log "orders $via --jobs $j #$r: ${last##* } s"
    done
    for j in 1 4; do
      T[tables_${via}_$j]+="$(timed "tables-$via-$j-$r" bench_many "$url" "$j") "
    done
  done
  log "round $r done (raw read ${raws[-1]} s)"
done
# shellcheck disable=SC2086
med() { median ${T[$1]}; }
raw=$(median "${raws[@]}")
ranges=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tables"]["orders"].get("key_ranges", 0))' "$out/orders-direct-4-1.json" 2>/dev/null || echo "?")

echo "units: orders $rows rows (8 columns), split_rows $split_rows ($ranges key ranges with --jobs 4); $tables tables of 100 rows"
echo "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), MariaDB $(client -e 'SELECT VERSION()'), discard endpoint, proxy delay ${delay_us} us per request; medians of $repeat"
echo
printf '%-28s %10s %10s %10s   %s\n' "full sync" "--jobs 1" "--jobs 2" "--jobs 4" "speed-up 2 / 4"
for via in direct proxy; do
  label="orders, $via"
  [ $via = proxy ] && label="orders, +${delay_us}us/round trip"
  printf '%-28s %10s %10s %10s   %sx / %sx\n' "$label" "$(med orders_${via}_1)" "$(med orders_${via}_2)" "$(med orders_${via}_4)" \
    "$(ratio "$(med orders_${via}_1)" "$(med orders_${via}_2)")" "$(ratio "$(med orders_${via}_1)" "$(med orders_${via}_4)")"
done
for via in direct proxy; do
  label="$tables tables, $via"
  [ $via = proxy ] && label="$tables tables, +${delay_us}us"
  printf '%-28s %10s %10s %10s   -- / %sx\n' "$label" "$(med tables_${via}_1)" "-" "$(med tables_${via}_4)" \
    "$(ratio "$(med tables_${via}_1)" "$(med tables_${via}_4)")"
done
echo
echo "raw read (mariadb --quick, one stream): $raw s; orders --jobs 2 direct / raw = $(ratio "$(med orders_direct_2)" "$raw")x"
echo "every run (s): raw ${raws[*]}"
for k in $(printf '%s\n' "${!T[@]}" | sort); do echo "  $k: ${T[$k]}"; done
echo "targets (reported, not asserted): with the proxy, --jobs 4 >= 3x --jobs 1; direct, --jobs 2 <= the raw read"
echo "logs: $out"
