#!/usr/bin/env bash
# tests/demo/run-demo.sh - CTest `demo`: the scripts `make demo` runs
# (README's first command), end to end, in a scratch directory: two replicas,
# offline edits, sync, a duplicate merged, a person erased, the CRM part and
# the console's URL. `make demo` is not otherwise part of `make check`, and
# a change of search semantics broke it once without any test noticing.
# Usage: run-demo.sh CARNET_BIN SOURCE_DIR
set -euo pipefail
bin=$1
src=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/carnet-demo-test.XXXXXX")
web_pid=
cleanup() {
  [ -n "$web_pid" ] && kill "$web_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
fail() {
  echo "demo test: $1" >&2
  sed 's/^/  | /' "$2" >&2
  exit 1
}
"$src/scripts/demo.sh" "$bin" >demo.log 2>&1 || fail "scripts/demo.sh exited $?" demo.log
"$src/scripts/demo-crm.sh" "$bin" >crm.log 2>&1 || fail "scripts/demo-crm.sh exited $?" crm.log
web_pid=$(sed -n "s/.*stop it with 'kill \([0-9]*\)'.*/\1/p" crm.log | head -1)
grep -q "^converged: yes" demo.log || fail "the replicas did not converge" demo.log
grep -q "^erased: her record is gone from both replicas" demo.log || fail "no erasure" demo.log
grep -q "merge CU" demo.log || fail "no merge" demo.log
grep -Eq "http://127\.0\.0\.1:[0-9]+/#token=" crm.log || fail "no console URL" crm.log
[ -n "$web_pid" ] || fail "the console's pid is not printed" crm.log
kill -0 "$web_pid" || fail "the console is not running" crm.log
echo "demo: $(grep -c '^== ' demo.log) sections, CRM: $(grep -c '^== ' crm.log) sections"
