#!/usr/bin/env bash
# Instructions per row of a full sync, counted with callgrind (bench/README.md). Instruction counts do not
# depend on the load of a shared machine the way times do, so this is the figure to compare between
# commits. Prints figures; never asserts on them.
#
#   bench/cpu.sh [ROWS...]          default: 50000 100000
#
# For each ROWS, two tables of ROWS rows are generated server-side in the rig's MariaDB:
#   orders   the 8 mixed columns of bench/run.sh (BIGINT key, INT, VARCHAR, DECIMAL(12,2),
#            DATETIME(3), DOUBLE, TINYINT, TEXT)
#   typed    the expensive types: DECIMAL(20,6), DATETIME(6) with microseconds, JSON, VARCHAR utf8mb4
#            with non-ASCII text, BLOB, and a DATETIME(3) change column
# and `mysql2mongo sync --full --tables T` runs under `valgrind --tool=callgrind` for each table. The
# report gives, per table and size:
#   Ir/row     every instruction of the process (start-up included) / ROWS
#   copy/row   the instructions inside sync::copy_ordered (the copy loop: reading rows, building the
#              documents, the bulk writes) / ROWS
#   marginal   (Ir at the largest ROWS - Ir at the smallest) / (difference of ROWS): the cost of one
#              more row, start-up excluded (needs two sizes)
# and the functions with the largest inclusive cost at the largest size. The MongoDB side is the discard
# endpoint of bench/run.sh, which acknowledges writes without storing them.
#
# Knobs (environment):
#   BENCH_BUILD_DIR  the build directory (default build; configured as RelWithDebInfo when missing)
#   BENCH_NO_BUILD   1: do not run cmake --build first
#   BENCH_OUT        where the callgrind files and logs go (default BUILD_DIR/bench/cpu/DATE)
#   BENCH_TOP        how many functions to list per table (default 25)
#   BENCH_KEEP_RIG   1: leave the rig running at the end
set -Eeuo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(50000 100000)
for n in "${sizes[@]}"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench: ROWS must be positive integers, got '$n'" >&2; exit 64; }
done
build_dir=${BENCH_BUILD_DIR:-build}
top=${BENCH_TOP:-25}
[[ $top =~ ^[0-9]+$ ]] || { echo "bench: BENCH_TOP must be a number" >&2; exit 64; }
log() { echo "bench: $*" >&2; }

command -v valgrind >/dev/null || { log "valgrind is missing (Debian package valgrind; scripts/install-deps.sh)"; exit 1; }
command -v callgrind_annotate >/dev/null || { log "callgrind_annotate is missing (Debian package valgrind)"; exit 1; }

out=${BENCH_OUT:-$build_dir/bench/cpu/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  log "building ($build_dir)"
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$out/build.log" 2>&1 || { tail -n 30 "$out/build.log" >&2; exit 1; }
  fi
  cmake --build "$build_dir" -j2 --target mysql2mongo m2m_discard_endpoint >>"$out/build.log" 2>&1 ||
    { tail -n 30 "$out/build.log" >&2; exit 1; }
fi
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
[ "$build_type" = RelWithDebInfo ] || log "warning: $build_dir is a '${build_type:-?}' build, not RelWithDebInfo: counts are not comparable"

# Run copies, so that a rebuild of the build directory while this runs cannot change the binary.
mkdir -p "$out/bin"
cp "$build_dir/app/mysql2mongo" "$build_dir/bench/m2m_discard_endpoint" "$out/bin/"
tool=$out/bin/mysql2mongo

rig=$(mktemp -d /tmp/m2m-bench-cpu.XXXXXX)
if [ "${BENCH_KEEP_RIG:-0}" = 1 ]; then
  trap 'log "rig left running in $rig (tests/support/rig.sh stop $rig)"' EXIT
else
  trap 'tests/support/rig.sh stop "$rig" >/dev/null 2>&1 || log "warning: rig.sh stop $rig failed"' EXIT
fi
trap 'exit 130' INT
trap 'exit 143' TERM
log "starting the rig in $rig"
MYSQL2MONGO_RIG_DISCARD_WRITES=1 MYSQL2MONGO_RIG_MONGO_ENDPOINT="$repo/bench/discard_endpoint.py" \
  M2M_DISCARD_ENDPOINT="$out/bin/m2m_discard_endpoint" tests/support/rig.sh start "$rig" >"$out/rig.log" 2>&1 ||
  { cat "$out/rig.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$rig/rig.env"
[ "$RIG_EXTERNAL_MONGODB" = 1 ] && log "warning: MYSQL2MONGO_TEST_MONGODB_URL is set: writes go to a real MongoDB"
sql() { mariadb --defaults-file="$rig/client.cnf" --skip-ssl --default-character-set=utf8mb4 --batch --skip-column-names "$@"; }

make_tables() { # db rows
  sql <<SQL
DROP DATABASE IF EXISTS \`$1\`;
CREATE DATABASE \`$1\` CHARACTER SET utf8mb4;
USE \`$1\`;
SET SESSION sql_log_bin = 0;
CREATE TABLE orders (
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
INSERT INTO orders (id, qty, name, price, updated_at, score, flag, note)
SELECT seq, (seq * 7919) % 1000000, CONCAT('name-', seq, '-', LEFT(MD5(seq), 16)),
       ((seq * 31) % 10000000) / 100, TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND,
       RAND(seq) * 1000, seq % 128, LEFT(REPEAT(SHA1(seq), 3), 100)
FROM seq_1_to_$2;
CREATE TABLE typed (
  id BIGINT NOT NULL PRIMARY KEY,
  amount DECIMAL(20,6) NOT NULL,
  created DATETIME(6) NOT NULL,
  attrs JSON,
  title VARCHAR(120) CHARACTER SET utf8mb4 NOT NULL,
  payload BLOB,
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  KEY idx_updated_at (updated_at)
) ENGINE=InnoDB;
INSERT INTO typed (id, amount, created, attrs, title, payload, updated_at)
SELECT seq, ((seq * 7919) % 100000000000) / 1000000 - 50000,
       TIMESTAMP'2023-06-01 00:00:00' + INTERVAL seq SECOND + INTERVAL ((seq * 37) % 1000000) MICROSECOND,
       JSON_OBJECT('sku', CONCAT('SKU-', seq), 'n', seq % 1000, 'price', ((seq * 13) % 100000) / 100,
                   'tags', JSON_ARRAY('red', 'large', seq % 7), 'ok', seq % 2 = 0),
       CONCAT('Crème brûlée n°', seq, ' — ', LEFT(MD5(seq), 12), ' 😀'),
       UNHEX(CONCAT(MD5(seq), SHA1(seq), MD5(seq + 1))),
       TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND
FROM seq_1_to_$2;
ANALYZE TABLE orders, typed;
SQL
}

export MYSQL_HOST=$RIG_MYSQL_HOST MYSQL_PORT=$RIG_MYSQL_PORT MYSQL_USER=$RIG_MYSQL_USER
export MYSQL_PASSWORD=$RIG_MYSQL_PASSWORD MONGODB_URL=$RIG_MONGODB_URL MYSQL_SSL_MODE=disabled

# callgrind_annotate's inclusive list as "Ir<TAB>function [object]" lines, largest first. The whole
# output is read (no early exit: under pipefail, a closed pipe would fail the script).
# A function inlined into others appears once per source file; its largest entry is kept.
annotate_list() { # file yes|no (inclusive)
  callgrind_annotate --inclusive="$2" --auto=no --threshold=100 "$1" 2>/dev/null | awk '
    /file:function/ { on = 1; next }
    on && $1 ~ /^[0-9,]+$/ && $2 ~ /^\(/ {
      ir = $1; gsub(",", "", ir); $1 = ""; $2 = ""; sub(/^ +/, "")
      sub(/^[^:]*:/, "")                                # the source file
      if (match($0, / \[[^]]*\]$/)) {                    # the object: its base name only
        obj = substr($0, RSTART + 2, RLENGTH - 3); sub(/.*\//, "", obj)
        $0 = substr($0, 1, RSTART - 1) " [" obj "]"
      }
      name = $0; key = name; sub(/ \[[^]]*\]$/, "", key)
      if (!(key in best) || ir + 0 > best[key] + 0) { best[key] = ir; shown[key] = name }
    }
    END { for (k in best) print best[k] "\t" shown[k] }' | sort -t$'\t' -k1,1nr
}
inclusive_list() { annotate_list "$1" yes; }
# The inclusive cost of the first function whose name contains the pattern.
inclusive_of() { # file pattern
  inclusive_list "$1" | awk -F'\t' -v pat="$2" 'index($2, pat) && !found { print $1; found = 1 }'
}
total_of() { # file
  awk '/^summary:/ && !found { print $2; found = 1 }' "$1"
}

tables=(orders typed)
declare -A IR COPY
for n in "${sizes[@]}"; do
  db=m2m_cpu_$n
  log "$n rows: generating $db.orders and $db.typed"
  make_tables "$db" "$n" >"$out/gen-$n.log" 2>&1 || { cat "$out/gen-$n.log" >&2; exit 1; }
  for t in "${tables[@]}"; do
    [ "$(sql -D "$db" -e "SELECT COUNT(*) FROM $t")" = "$n" ] || { log "$db.$t does not have $n rows"; exit 1; }
    sql --quick -D "$db" -e "SELECT * FROM $t" >/dev/null  # warm the buffer pool
    file=$out/callgrind.$t.$n
    log "$n rows: callgrind on sync --full --tables $t"
    if ! MYSQL_DATABASE=$db MONGODB_DATABASE=$db valgrind --tool=callgrind --callgrind-out-file="$file" \
      "$tool" --json sync --full --tables "$t" >"$out/sync.$t.$n.json" 2>"$out/sync.$t.$n.err"; then
      log "the sync of $t exited non-zero:"
      tail -n 20 "$out/sync.$t.$n.err" >&2
      exit 1
    fi
    synced=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tables"][sys.argv[2]]["records_synced"])' \
      "$out/sync.$t.$n.json" "$t" 2>/dev/null || echo "?")
    [ "$synced" = "$n" ] || log "warning: $t: $synced records synced, expected $n"
    IR[$t.$n]=$(total_of "$file")
    COPY[$t.$n]=$(inclusive_of "$file" "m2m::sync::copy_ordered(")
  done
  sql -e "DROP DATABASE \`$db\`" >/dev/null
done

per() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b <= 0) print "-"; else printf "%.0f", a / b }'; }
{
  echo "mysql2mongo instructions per row (callgrind), $(date -u +%Y-%m-%dT%H:%M:%SZ)," \
    "$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$repo" diff --quiet HEAD 2>/dev/null || echo '+changes')," \
    "$build_dir ($build_type), MariaDB $(sql -e 'SELECT VERSION()'), $(valgrind --version)"
  echo
  printf '%-8s %9s %15s %9s %9s\n' table rows Ir Ir/row copy/row
  for t in "${tables[@]}"; do
    for n in "${sizes[@]}"; do
      printf '%-8s %9s %15s %9s %9s\n' "$t" "$n" "${IR[$t.$n]}" "$(per "${IR[$t.$n]}" "$n")" "$(per "${COPY[$t.$n]}" "$n")"
    done
  done
  if [ ${#sizes[@]} -ge 2 ]; then
    first=${sizes[0]} last=${sizes[-1]}
    echo
    for t in "${tables[@]}"; do
      echo "marginal $t: $(awk -v a="${IR[$t.$first]}" -v b="${IR[$t.$last]}" -v n="$first" -v m="$last" \
        'BEGIN { if (m != n) printf "%.0f", (b - a) / (m - n); else print "-" }') instructions per row" \
        "(rows $first -> $last)"
    done
  fi
  last=${sizes[-1]}
  for t in "${tables[@]}"; do
    echo
    copy=${COPY[$t.$last]:-${IR[$t.$last]}}
    echo "$t, $last rows: the $top functions with the largest inclusive cost inside the copy loop (Ir, share of the"
    echo "process's total):"
    inclusive_list "$out/callgrind.$t.$last" | awk -F'\t' -v total="${IR[$t.$last]}" -v copy="$copy" -v top="$top" '
      $1 + 0 <= copy + 0 && shown < top { name = $2; if (length(name) > 120) name = substr(name, 1, 117) "..."
                  printf "  %14s %5.1f%%  %s\n", $1, 100 * $1 / total, name; shown++ }'
    echo "$t, $last rows: the $top functions with the largest own (exclusive) cost:"
    annotate_list "$out/callgrind.$t.$last" no | awk -F'\t' -v total="${IR[$t.$last]}" -v top="$top" '
      NR <= top { name = $2; if (length(name) > 120) name = substr(name, 1, 117) "..."
                  printf "  %14s %5.1f%%  %s\n", $1, 100 * $1 / total, name }'
  done
  echo
  echo "callgrind files: $out (callgrind_annotate --inclusive=yes FILE; kcachegrind FILE)"
} | tee "$out/results.txt"
