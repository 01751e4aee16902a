#!/usr/bin/env bash
# Builds mysql2mongo with ThreadSanitizer (cmake -DMYSQL2MONGO_TSAN=ON) and runs the tests of what runs
# in parallel (workers, shards, the lease renewers, the stop watchdog) against a rig of its own. The
# binary the tests start is the instrumented one, so a data race in any of its threads is reported.
#
#   scripts/tsan.sh [CATCH_FILTER...]     default: "[units]" "[lock]" "[stop]"
#
# Reports go to files (TSAN_OPTIONS log_path), not to the binary's stderr, which the tests read; the
# script prints every report and exits 1 when there is one, or when a test failed.
#   BUILD_DIR   the build directory (default build-tsan)
set -Eeuo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build=${BUILD_DIR:-build-tsan}
filters=("$@")
[ ${#filters[@]} -gt 0 ] || filters=("[units]" "[lock]" "[stop]")

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMYSQL2MONGO_TSAN=ON -DMYSQL2MONGO_WERROR=ON >/dev/null
cmake --build "$build" -j2 --target mysql2mongo integration_tests unit_tests

reports=$(mktemp -d /tmp/m2m-tsan.XXXXXX)
rig=$build/tests/rig
trap 'tests/support/rig.sh stop "$rig" >/dev/null 2>&1 || true' EXIT
tests/support/rig.sh start "$rig" >"$reports/rig.log" 2>&1 || { cat "$reports/rig.log" >&2; exit 1; }

# halt_on_error=0: the run goes on after a report, so one run shows every race it meets.
export TSAN_OPTIONS="log_path=$reports/tsan second_deadlock_stack=1 halt_on_error=0 history_size=4"
rc=0
"$build/tests/unit_tests" "[units]" || rc=1
# The tests start the binary with an environment of their own, without TSAN_OPTIONS: its reports go to
# its stderr, which the tests print when they fail (an instrumented binary with a report exits 66). So
# the output is kept and searched too.
races=0
for f in "${filters[@]}"; do
  echo "tsan: integration_tests $f"
  "$build/tests/integration_tests" "$f" 2>&1 | tee "$reports/output.$(echo "$f" | tr -dc 'a-z')" || rc=1
  [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
done
races=$(cat "$reports"/output.* | grep -c "WARNING: ThreadSanitizer" || true)

shopt -s nullglob
found=("$reports"/tsan.*)
if [ ${#found[@]} -gt 0 ] || [ "$races" -gt 0 ]; then
  echo "tsan: ${#found[@]} report file(s), $races report(s) in the tests' output:"
  for r in "${found[@]}"; do echo "== $r"; cat "$r"; done
  grep -h "SUMMARY: ThreadSanitizer" "$reports"/output.* | sort | uniq -c || true
  rc=1
else
  echo "tsan: no data race reported"
  # What else failed is a test's own check: under TSan the binary runs several times slower, so a time
  # limit (a stop within 2 s) may be missed; the output above says which.
fi
[ $rc -eq 0 ] && rm -rf "$reports"
exit $rc
