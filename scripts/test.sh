#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (unit + integration against a
# throwaway MariaDB and the MongoDB test endpoint, both started and stopped by ctest).
#
#   scripts/test.sh                 # build in build/ and run everything
#   BUILD_DIR=build-asan SANITIZE=1 scripts/test.sh   # the same under ASan+UBSan
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

build=${BUILD_DIR:-build}
sanitize=${SANITIZE:-0}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMYSQL2MONGO_WERROR=ON \
      -DMYSQL2MONGO_SANITIZE="$([ "$sanitize" = 1 ] && echo ON || echo OFF)" >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure --timeout 900 -j"$(nproc)" "$@"
