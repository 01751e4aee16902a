#!/usr/bin/env bash
# Installs every Debian package that building, testing and the demo need.
# Idempotent: packages already present are left alone. Runs as root, or through sudo otherwise.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake pkg-config git ca-certificates
  # libraries the code links against
  libmariadb-dev libmariadb-dev-compat
  libmongoc-dev libbson-dev
  # OpenSSL's default trust store paths (util/trust_store)
  libssl-dev
  libcli11-dev libfmt-dev libtomlplusplus-dev nlohmann-json3-dev
  zlib1g-dev
  catch2
  # the test rig: a throwaway MariaDB and the MongoDB wire-protocol endpoint
  mariadb-server mariadb-client
  python3 python3-mongomock python3-mockupdb python3-pymongo
  # the baseline script of bench/tables.sh
  python3-pymysql
  # the packaging test reads the Kubernetes manifests as YAML
  python3-yaml
  # pymongo's and bson's C extensions: the endpoint decodes and encodes BSON several times faster
  python3-bson-ext python3-pymongo-ext
  openssl procps
  # a MariaDB of a test's own under a fake clock (daylight saving time tests)
  libfaketime
  # systemd-analyze, to verify the shipped units (the tests skip that check without it)
  systemd
  # man pages and packaging: lintian checks the .deb, bash-completion loads the shipped completion
  scdoc groff-base man-db dpkg-dev file lintian bash-completion
  # jq: the man page's EXAMPLES pipe --json into it, and tests run every example
  jq
  # zone data: the log file test checks the UTC offset of a zone that has one; the DST tests load zones
  tzdata
  # the benchmarks (bench/run.sh): GNU time for the tool's peak RSS and CPU time, callgrind for the
  # instructions per row of BENCH_CALLGRIND=1 and of bench/cpu.sh
  time valgrind
)

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-deps: run as root or install sudo" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
# --no-install-recommends keeps the machine lean; policy-rc.d keeps mariadb-server's
# postinst from starting a system service: the rig runs its own throwaway server.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod +x "$policy"
  created_policy=1
fi
trap '[ $created_policy -eq 1 ] && "${sudo[@]}" rm -f "$policy"' EXIT
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${#missing[@]} packages"
