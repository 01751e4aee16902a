#!/usr/bin/env bash
# The systemd units in packaging/: `systemd-analyze verify` finds nothing to say about them, their key
# settings are what mysql2mongo(1) documents, and their sandbox stays tight.
# Usage: test_units.sh BINARY SOURCE_DIR BINARY_DIR
set -euo pipefail
binary=$1 src=$2 build=$3
pkg=$src/packaging
units=(mysql2mongo.service mysql2mongo.timer mysql2mongo-full.service mysql2mongo-verify.service mysql2mongo-verify.timer)
# The shard templates, verified as the instance of shard 0 of 3 (instance "0-3", %I "0/3").
templates=(mysql2mongo@.service mysql2mongo@.timer)
instances=(mysql2mongo@0-3.service mysql2mongo@0-3.timer)
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# The settings that matter, whatever systemd says about the syntax.
expect() {  # expect FILE REGEX WHAT
  grep -Eq "$2" "$pkg/$1" || fail "$1: $3 (no line matching /$2/)"
}
expect_not() {
  ! grep -Eq "$2" "$pkg/$1" || fail "$1: $3 (a line matches /$2/)"
}
for svc in mysql2mongo.service mysql2mongo-full.service mysql2mongo-verify.service mysql2mongo@.service; do
  expect $svc '^Type=oneshot$' "a oneshot service"
  expect $svc '^EnvironmentFile=-/etc/mysql2mongo/sync\.env$' "optional EnvironmentFile"
  expect $svc '^LoadCredential=mysql_password:/etc/mysql2mongo/mysql_password$' "password as a credential"
  expect $svc '^DynamicUser=yes$' "DynamicUser"
  expect $svc '^TimeoutStartSec=' "a start timeout"
  for setting in ProtectSystem=strict ProtectHome=yes PrivateTmp=yes NoNewPrivileges=yes PrivateDevices=yes \
                 ProtectKernelTunables=yes ProtectKernelModules=yes ProtectKernelLogs=yes \
                 ProtectControlGroups=yes RestrictNamespaces=yes LockPersonality=yes \
                 MemoryDenyWriteExecute=yes 'CapabilityBoundingSet=' 'SystemCallFilter=@system-service' \
                 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX'; do
    expect $svc "^${setting}\$" "hardening $setting"
  done
  # Exit 3 (some tables failed) must stay a failure.
  expect_not $svc '^SuccessExitStatus=.*\b3\b' "exit 3 counted as success"
done
expect mysql2mongo.service '^ExecStart=/usr/bin/mysql2mongo sync$' "ExecStart runs an incremental sync"
expect mysql2mongo.service '^SuccessExitStatus=.*\b75\b' "exit 75 (lock held) is not a failure"
expect mysql2mongo-full.service '^ExecStart=/usr/bin/mysql2mongo .*sync --full --wait=' "ExecStart runs a full sync"
expect mysql2mongo@.service '^ExecStart=/usr/bin/mysql2mongo sync --shard %I$' "ExecStart runs shard %I (I/N)"
expect mysql2mongo@.service '^SuccessExitStatus=.*\b75\b' "exit 75 (lock or shard place held) is not a failure"
expect mysql2mongo@.timer '^Unit=mysql2mongo@%i\.service$' "triggers the same instance"
expect mysql2mongo@.timer '^OnCalendar=\*:0/5$' "every 5 minutes, as mysql2mongo.timer"
expect_not mysql2mongo@.timer '^RandomizedDelaySec=' "a random delay (the shards of one run must start together)"
expect mysql2mongo.timer '^OnCalendar=\*:0/5$' "every 5 minutes (SYNC_INTERVAL=300)"
expect mysql2mongo.timer '^Persistent=true$' "Persistent"
expect mysql2mongo.timer '^RandomizedDelaySec=' "RandomizedDelaySec"
expect mysql2mongo.timer '^Unit=mysql2mongo\.service$' "triggers mysql2mongo.service"
expect mysql2mongo.timer '^WantedBy=timers\.target$' "installed into timers.target"
expect mysql2mongo-verify.service '^ExecStart=/usr/bin/mysql2mongo verify$' "ExecStart runs a verify"
# Exit 1 (differences found) must fail the unit, so that it shows.
expect_not mysql2mongo-verify.service '^SuccessExitStatus=.*\b1\b' "exit 1 counted as success"
expect mysql2mongo-verify.timer '^OnCalendar=\*-\*-\* 03:30:00$' "daily"
expect mysql2mongo-verify.timer '^Persistent=true$' "Persistent"
expect mysql2mongo-verify.timer '^RandomizedDelaySec=' "RandomizedDelaySec"
expect mysql2mongo-verify.timer '^Unit=mysql2mongo-verify\.service$' "triggers mysql2mongo-verify.service"
expect mysql2mongo-verify.timer '^WantedBy=timers\.target$' "installed into timers.target"

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIP: systemd-analyze not available (Debian package systemd); checked the unit settings only"
  [ $failures -eq 0 ] && echo "test_units: settings ok" && exit 0
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# verify wants ExecStart's binary to exist: point copies of the units at the one just built.
mkdir -p "$tmp/units" "$tmp/man/man1" "$tmp/man/man5"
for u in "${units[@]}" "${templates[@]}"; do
  sed "s#/usr/bin/mysql2mongo#$binary#g" "$pkg/$u" > "$tmp/units/$u"
done
# Documentation=man:... is checked against the pages built in this tree, when man is there.
man_opt=--man=no
if command -v man >/dev/null 2>&1 && [ -f "$build/man/mysql2mongo.1" ] && [ -f "$build/man/mysql2mongo.toml.5" ]; then
  cp "$build/man/mysql2mongo.1" "$tmp/man/man1/"
  cp "$build/man/mysql2mongo.toml.5" "$tmp/man/man5/"
  man_opt=--man=yes
fi

verify() {  # verify UNIT...: prints systemd-analyze's complaints; returns non-zero if there are any
  local out rc=0
  out=$(cd "$tmp/units" && MANPATH="$tmp/man" SYSTEMD_LOG_COLOR=0 \
        systemd-analyze verify $man_opt --generators=no --recursive-errors=no "$@" 2>&1) || rc=$?
  [ -n "$out" ] && printf '%s\n' "$out"
  [ $rc -eq 0 ] && [ -z "$out" ]
}

if verify "${units[@]/#/./}" "${instances[@]/#/./}"; then
  echo "ok: systemd-analyze verify ($man_opt): ${units[*]} ${instances[*]}"
else
  fail "systemd-analyze verify complained about the units (above)"
fi

# The check itself must be able to fail: an unknown setting is reported.
cp "$tmp/units/mysql2mongo.service" "$tmp/units/broken.service"
printf 'NoSuchSetting=1\n' >> "$tmp/units/broken.service"
if verify ./broken.service >/dev/null 2>&1; then
  fail "systemd-analyze verify accepted a unit with an unknown setting: the check checks nothing"
fi
rm -f "$tmp/units/broken.service"

# The sandbox: systemd's exposure score (0 = locked down, 10 = none) at most 2.0 ("OK").
for svc in mysql2mongo.service mysql2mongo-full.service mysql2mongo-verify.service mysql2mongo@0-3.service; do
  if out=$(cd "$tmp/units" && SYSTEMD_LOG_COLOR=0 systemd-analyze security --offline=yes --threshold=20 --no-pager "./$svc" 2>&1); then
    echo "ok: $(printf '%s\n' "$out" | grep -o 'Overall exposure level.*' | tr -d '\n')"
  else
    printf '%s\n' "$out" | tail -5
    fail "$svc: systemd-analyze security exposure above 2.0"
  fi
done

if [ $failures -ne 0 ]; then
  echo "test_units: $failures failure(s)" >&2
  exit 1
fi
echo "test_units: all checks passed"
