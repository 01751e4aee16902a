#!/usr/bin/env bash
# packaging/config.example.toml: documents every key the loader knows, changes no default as shipped
# (it is installed as /etc/mysql2mongo/config.toml, which mysql2mongo reads by default), and is accepted
# by the loader as shipped, with every default uncommented, and with the [tables.<name>] example
# uncommented too.
# Usage: test_example_config.sh BINARY SOURCE_DIR
set -euo pipefail
binary=$1 src=$2
example=$src/packaging/config.example.toml
loader=$src/lib/config/config.cpp
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. As shipped: only comments, blank lines and the section headers, so nothing is set.
active=$(grep -Evn '^[[:space:]]*(#.*)?$' "$example" | grep -Ev '^[0-9]+:\[(mysql|mongodb|sync|binlog|verify|log)\]$' || true)
[ -z "$active" ] || fail "the example sets something (it must change no default): $active"

# 2. Every key of the loader is documented in its section: "#key = default" (a line that can be
#    uncommented as it is) or "# Example: key = value" (for keys without a usable default).
keys=$(grep -oE '^\s*\{"[a-z_]+\.[a-z_]+", Kind::' "$loader" | grep -oE '[a-z_]+\.[a-z_]+' || true)
[ "$(printf '%s\n' "$keys" | grep -c .)" -ge 30 ] || fail "found only $(printf '%s\n' "$keys" | grep -c .) keys in $loader: has its settings() table changed shape?"
documented() {  # documented SECTION KEY: the key appears as a setting line inside [SECTION]
  awk -v sec="[$1]" -v key="$2" '
    /^\[/ || /^#\[tables\./ { in_sec = ($0 == sec) }
    in_sec && ($0 ~ "^#" key " = " || $0 ~ "^# Example: " key " = ") { found = 1 }
    END { exit !found }' "$example"
}
for k in $keys; do
  section=${k%%.*} name=${k#*.}
  if [ "$k" = mysql.password ]; then
    grep -q 'password is NOT accepted in this file' "$example" || fail "mysql.password: say it is refused in the file"
    continue
  fi
  documented "$section" "$name" || fail "$k is not documented in [$section] of the example"
  # ... with its environment variable, when it has one.
  env=$(grep -E "^\s*\{\"$k\", Kind::" "$loader" | grep -oE '"[A-Z_]+"' | tr -d '"' || true)
  if [ -n "$env" ]; then
    grep -q "$env" "$example" || fail "$k: its environment variable $env is not mentioned"
  fi
done
# The per-table keys, inside the commented [tables.<name>] example.
table_keys=$(grep -oE 'key == "[a-z_]+"' "$loader" | grep -oE '"[a-z_]+"' | tr -d '"' | sort -u)
[ -n "$table_keys" ] || fail "found no per-table keys in $loader"
for k in $table_keys; do
  awk -v key="$k" '/^#\[tables\./ { t = 1 } t && $0 ~ "^#" key " = " { f = 1 } END { exit !f }' "$example" ||
    fail "tables.<name>.$k is not in the [tables.<name>] example"
done

# 3. The loader accepts it. Without servers the run ends at the MySQL connection (exit 69); a
#    configuration error would be 78 before that.
run() {  # run CONFIG [OPTION...]: mysql2mongo's exit status, its stderr in $tmp/err
  local rc=0 config=$1
  shift
  env -i PATH=/usr/bin:/bin HOME=/nonexistent "$binary" --config "$config" "$@" --mysql-database example_db \
    --mysql-host 127.0.0.1 --mysql-port 1 --mysql-connect-timeout 2s tables >/dev/null 2>"$tmp/err" || rc=$?
  echo $rc
}
accepts() {  # accepts CONFIG WHAT [OPTION...]
  local rc config=$1 what=$2
  shift 2
  rc=$(run "$config" "$@")
  if [ "$rc" -eq 78 ] || [ "$rc" -eq 64 ] || [ "$rc" -eq 70 ] || [ "$rc" -eq 0 ]; then
    fail "$what: exit $rc, expected 69 (cannot reach MySQL): $(cat "$tmp/err")"
  else
    echo "ok: $what accepted by the loader (exit $rc: $(head -c 100 "$tmp/err"))"
  fi
}
accepts "$example" "the example as shipped"

# Every "#key = value" line uncommented: the documented defaults are valid values.
sed -E 's/^#([a-z_]+ = )/\1/' "$example" | awk '/^#\[tables\./ { stop = 1 } !stop' > "$tmp/defaults.toml"
n=$(grep -cE '^[a-z_]+ = ' "$tmp/defaults.toml")
[ "$n" -ge 30 ] || fail "only $n settings could be uncommented"
accepts "$tmp/defaults.toml" "the example with its $n defaults uncommented"

# ... and the [tables.<name>] example too (parsed at load; the table's existence is checked only when
# planning, after connecting).
sed -E 's/^#([a-z_]+ = )/\1/; s/^#(\[tables\.)/\1/' "$example" > "$tmp/all.toml"
accepts "$tmp/all.toml" "the example with the [tables.orders] example uncommented"

# packaging/sync.env.example, the settings file of the units and the crontab, read as an --env-file
# (its host and port are overridden by the flags, as every run here does).
accepts "$example" "packaging/sync.env.example as --env-file" --env-file "$src/packaging/sync.env.example"

# The runs above must have read the file: a bad key in a copy is refused with exit 78, naming its line.
sed '/^\[sync\]$/a no_such_key = 1' "$example" > "$tmp/bad.toml"
rc=$(run "$tmp/bad.toml")
if [ "$rc" -ne 78 ] || ! grep -q 'no_such_key' "$tmp/err"; then
  fail "a copy with an unknown key: exit $rc, expected 78: $(cat "$tmp/err")"
fi
sed -E 's/^#batch_size = 1000$/batch_size = 0/' "$example" > "$tmp/range.toml"
rc=$(run "$tmp/range.toml")
[ "$rc" -eq 78 ] || fail "batch_size = 0 (out of range): exit $rc, expected 78"

if [ $failures -ne 0 ]; then
  echo "test_example_config: $failures failure(s)" >&2
  exit 1
fi
echo "test_example_config: all checks passed"
