#!/usr/bin/env bash
# The bash completion shipped in packaging/bash-completion: it loads (complete -p), completes the
# commands, each command's flags and the choices of --mysql-ssl-mode, and offers every flag that
# `mysql2mongo [COMMAND] --help` lists, with and without the bash-completion library.
# Usage: test_completion.sh SOURCE_DIR MYSQL2MONGO_BINARY
set -euo pipefail
src=$1 bin=$2
file=$src/packaging/bash-completion/mysql2mongo
lib=/usr/share/bash-completion/bash_completion
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

libs=("")
if [ -f "$lib" ]; then libs+=("$lib"); else echo "note: $lib not installed (Debian package bash-completion): tested without it"; fi

for with in "${libs[@]}"; do
  label=${with:+with bash-completion}
  label=${label:-without bash-completion}
  # What `complete -p` says once the file is sourced.
  got=$(bash -c 'set -e; [ -z "$1" ] || . "$1"; . "$2"; complete -p mysql2mongo' _ "$with" "$file") || fail "$label: sourcing failed"
  [ "$got" = "complete -F _mysql2mongo mysql2mongo" ] || fail "$label: complete -p mysql2mongo: '$got'"

  # COMPREPLY for a command line whose last word is being completed.
  complete_line() {
    bash -c '[ -z "$1" ] || . "$1"; . "$2"; shift 2
      COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
      _mysql2mongo mysql2mongo "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
      printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ "$with" "$file" "$@"
  }
  expect() { # expected words... -- command line
    local want=() arg
    while [ "$1" != -- ]; do want+=("$1"); shift; done
    shift
    local expected got
    expected=$(printf "%s\n" "${want[@]}" | sort | tr "\n" " ")
    got=$(complete_line "$@")
    [ "$got" = "$expected" ] || fail "$label: '$*' completes to '$got', expected '$expected'"
  }
  expect sync status -- mysql2mongo s
  expect verify -- mysql2mongo v
  expect --repair -- mysql2mongo verify --re
  expect test-connection tables -- mysql2mongo t
  expect sync -- mysql2mongo -v --json sy
  expect --force-deletes --full -- mysql2mongo sync --f
  expect --changes --check --config --crit -- mysql2mongo status --c
  expect --timeout -- mysql2mongo status --check --ti
  expect verify_ca verify_identity -- mysql2mongo --mysql-ssl-mode v
  expect --tables -- mysql2mongo tables --tab

  # Every flag --help lists, globally and per command, is offered.
  for cmd in "" test-connection tables sync status verify; do
    # shellcheck disable=SC2086 # an empty $cmd is no argument
    listed=$("$bin" $cmd --help | grep -oE -- '--[a-z][a-z-]*' | sort -u)
    # shellcheck disable=SC2086
    offered=" $(complete_line mysql2mongo $cmd --) "
    for flag in $listed; do
      [[ $offered == *" $flag "* || $offered == *" $flag= "* ]] || fail "$label: '${cmd:-(global)}' --help lists $flag, the completion does not offer it"
    done
  done
done

if [ $failures -ne 0 ]; then
  echo "test_completion: $failures failure(s)" >&2
  exit 1
fi
echo "test_completion: all checks passed"
