#!/usr/bin/env bash
# The Debian package: cpack builds it from this build tree into a temporary directory, and it holds
# the binary (in /usr/bin, as the units' ExecStart says), the man pages, the units (and the shard templates), the example
# configuration as the conffile /etc/mysql2mongo/config.toml, the examples and the maintainer scripts;
# its Depends come from dpkg-shlibdeps. The unpacked binary runs, and reads the shipped conffile.
# lintian reports no error and no warning (no tag is overridden), and the changelog's version is the
# package's.
# Usage: test_deb.sh SOURCE_DIR BINARY_DIR
set -euo pipefail
src=$1 build=$2
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
for tool in cpack dpkg-deb dpkg-shlibdeps dpkg-parsechangelog lintian; do
  command -v $tool >/dev/null 2>&1 ||
    { echo "FAIL: $tool not found (Debian packages cmake, dpkg, dpkg-dev, lintian: scripts/install-deps.sh)" >&2; exit 1; }
done
[ -f "$build/CPackConfig.cmake" ] || { echo "FAIL: no $build/CPackConfig.cmake: reconfigure the build" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$build" && cpack -G DEB -B "$tmp/out" --config "$build/CPackConfig.cmake") > "$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log" >&2
  echo "FAIL: cpack -G DEB failed" >&2
  exit 1
fi

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
arch=$(dpkg --print-architecture)
deb=$tmp/out/mysql2mongo_${version}_${arch}.deb
if [ ! -f "$deb" ]; then
  ls -l "$tmp/out" >&2
  echo "FAIL: cpack did not make mysql2mongo_${version}_${arch}.deb" >&2
  exit 1
fi
echo "ok: built $(basename "$deb") ($(stat -c %s "$deb") bytes)"

dpkg-deb -c "$deb" > "$tmp/contents"
awk '{ print $NF }' "$tmp/contents" | sed 's#^\./#/#' > "$tmp/paths"
for path in /usr/bin/mysql2mongo \
            /usr/share/man/man1/mysql2mongo.1.gz /usr/share/man/man5/mysql2mongo.toml.5.gz \
            /lib/systemd/system/mysql2mongo.service /lib/systemd/system/mysql2mongo.timer \
            /lib/systemd/system/mysql2mongo-full.service \
            /lib/systemd/system/mysql2mongo-verify.service /lib/systemd/system/mysql2mongo-verify.timer \
            /lib/systemd/system/mysql2mongo@.service /lib/systemd/system/mysql2mongo@.timer \
            /etc/mysql2mongo/config.toml \
            /usr/share/doc/mysql2mongo/copyright /usr/share/doc/mysql2mongo/changelog.gz \
            /usr/share/bash-completion/completions/mysql2mongo \
            /usr/share/doc/mysql2mongo/examples/config.example.toml \
            /usr/share/doc/mysql2mongo/examples/crontab.example \
            /usr/share/doc/mysql2mongo/examples/sync.env.example; do
  grep -qxF "$path" "$tmp/paths" || fail "the package lacks $path"
done
grep -E '^-rwxr-xr-x root/root .* \./usr/bin/mysql2mongo$' "$tmp/contents" >/dev/null || fail "/usr/bin/mysql2mongo is not 0755 root:root"
# Nothing from a developer's prefix or build tree; units only in one of the two aliased directories.
if grep -E '^/usr/local|/usr/lib/systemd/system/|_CPack_Packages|/tmp/' "$tmp/paths"; then
  fail "stray paths in the package (above)"
fi

# Control data.
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = mysql2mongo ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version), expected $version"
[ "$(field Section)" = database ] || fail "Section: $(field Section)"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
depends=$(field Depends)
for lib in libc6 'libmariadb3|libmysqlclient[0-9]+' 'libmongoc-1\.0-0' 'libbson-1\.0-0' libstdc\\+\\+6; do
  grep -Eq "(^|, )($lib)( |,|$)" <<<"$depends" || fail "Depends lacks $lib (from dpkg-shlibdeps): $depends"
done
mkdir "$tmp/control"
dpkg-deb -e "$deb" "$tmp/control"
[ "$(cat "$tmp/control/conffiles" 2>/dev/null)" = /etc/mysql2mongo/config.toml ] ||
  fail "conffiles is not exactly /etc/mysql2mongo/config.toml: $(cat "$tmp/control/conffiles" 2>&1)"
for script in postinst prerm postrm; do
  [ -x "$tmp/control/$script" ] || fail "no executable $script"
  sh -n "$tmp/control/$script" || fail "$script: syntax error"
done
dpkg-deb -I "$deb" > "$tmp/info"
grep -q 'conffiles' "$tmp/info" || fail "dpkg-deb -I does not list conffiles"

# The files themselves.
mkdir "$tmp/root"
dpkg-deb -x "$deb" "$tmp/root"
cmp -s "$tmp/root/etc/mysql2mongo/config.toml" "$src/packaging/config.example.toml" ||
  fail "/etc/mysql2mongo/config.toml differs from packaging/config.example.toml"
for unit in mysql2mongo.service mysql2mongo.timer mysql2mongo-full.service mysql2mongo-verify.service \
            mysql2mongo-verify.timer mysql2mongo@.service mysql2mongo@.timer; do
  cmp -s "$tmp/root/lib/systemd/system/$unit" "$src/packaging/$unit" || fail "$unit differs from packaging/$unit"
done
for page in man1/mysql2mongo.1.gz man5/mysql2mongo.toml.5.gz; do
  gzip -t "$tmp/root/usr/share/man/$page" || fail "$page is not valid gzip"
  zcat "$tmp/root/usr/share/man/$page" > "$tmp/page"
  grep -q '^\.TH' "$tmp/page" || fail "$page is not a roff man page"
done
if command -v file >/dev/null 2>&1 && grep -q 'not stripped' <<<"$(file -b "$tmp/root/usr/bin/mysql2mongo")"; then
  fail "/usr/bin/mysql2mongo is not stripped"
fi

# The packaged binary runs (its libraries are those Depends names, present on this build machine), and
# accepts the conffile: with it in place it still gets as far as connecting to MySQL.
bin=$tmp/root/usr/bin/mysql2mongo
"$bin" --help > "$tmp/help" 2>&1 || fail "mysql2mongo --help: exit $?: $(head -3 "$tmp/help")"
grep -q 'Usage: mysql2mongo' "$tmp/help" || fail "mysql2mongo --help printed no usage"
[ "$("$bin" --version 2>&1 | head -1)" = "mysql2mongo $version" ] || fail "mysql2mongo --version: $("$bin" --version 2>&1)"
cmp -s "$tmp/root/usr/share/bash-completion/completions/mysql2mongo" "$src/packaging/bash-completion/mysql2mongo" ||
  fail "the bash completion differs from packaging/bash-completion/mysql2mongo"
zcat "$tmp/root/usr/share/doc/mysql2mongo/changelog.gz" > "$tmp/changelog"
changelog_version=$(dpkg-parsechangelog -l "$tmp/changelog" -S Version 2>&1) || fail "changelog.gz does not parse: $changelog_version"
[ "$changelog_version" = "$version" ] || fail "changelog version $changelog_version, package version $version"

# lintian: no error, no warning. It dislikes running as root (a message, not a tag).
lintian --no-tag-display-limit "$deb" > "$tmp/lintian" 2>&1 || true
if grep -E '^[EW]: ' "$tmp/lintian"; then
  fail "lintian reports the tags above"
else
  echo "ok: lintian: no E: or W: tags ($(grep -cE '^[IPX]: ' "$tmp/lintian" || true) informational)"
fi
rc=0
env -i PATH=/usr/bin:/bin HOME=/nonexistent "$bin" --config "$tmp/root/etc/mysql2mongo/config.toml" \
  --mysql-database example_db --mysql-host 127.0.0.1 --mysql-port 1 --mysql-connect-timeout 2s tables \
  >/dev/null 2>"$tmp/err" || rc=$?
{ [ $rc -ne 78 ] && [ $rc -ne 0 ]; } || fail "the packaged binary with the shipped config: exit $rc: $(cat "$tmp/err")"

echo "package contents:"
grep -vE '/$' "$tmp/paths" | sed 's/^/  /'
echo "Depends: $depends"
if [ $failures -ne 0 ]; then
  echo "test_deb: $failures failure(s)" >&2
  exit 1
fi
echo "test_deb: all checks passed"
