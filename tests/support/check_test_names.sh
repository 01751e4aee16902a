#!/usr/bin/env bash
# Fails when a Catch test name holds ';', '[' or ']': catch_discover_tests turns the names into a CMake
# list, which splits at ';' and does not split inside brackets, so such a test would be run under a name
# that matches nothing (or not at all).
set -euo pipefail
rc=0
for bin in "$@"; do
  bad=$("$bin" --list-test-names-only | grep -n '[][;]' || true)
  if [ -n "$bad" ]; then
    echo "$(basename "$bin"): test names with ';', '[' or ']' (ctest would not run them as written):" >&2
    echo "$bad" >&2
    rc=1
  fi
  listed=$("$bin" --list-test-names-only | grep -c . || true)
  echo "$(basename "$bin"): $listed test cases"
done
exit $rc
