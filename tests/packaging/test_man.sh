#!/usr/bin/env bash
# The generated man pages render with man -l and groff without a single warning.
# Usage: test_man.sh BUILD_DIR
set -euo pipefail
build=$1
status=0
for page in "$build"/man/mysql2mongo.1 "$build"/man/mysql2mongo.toml.5; do
  [ -s "$page" ] || { echo "FAIL: $page was not generated"; exit 1; }
  out=$(groff -man -z -ww "$page" 2>&1 || true)
  if [ -n "$out" ]; then echo "FAIL: groff warns on $page:"; echo "$out"; status=1; fi
  out=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null || true)
  if [ -n "$out" ]; then echo "FAIL: man -l warns on $page:"; echo "$out"; status=1; fi
  # Every command the binary knows appears in mysql2mongo(1).
  if [[ $page == *.1 ]]; then
    for cmd in test-connection tables sync status; do
      grep -q "$cmd" "$page" || { echo "FAIL: $page does not mention $cmd"; status=1; }
    done
  fi
done
[ $status -eq 0 ] && echo "man pages render without warnings"
exit $status
