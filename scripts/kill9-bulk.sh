#!/bin/sh
# scripts/kill9-bulk.sh - kill -9 of the bulk writers at full size (issue 17):
# tests/sync/test_kill9.c at 100,000 customers, too slow for `make check`.
#
#   scripts/kill9-bulk.sh [--carnet PATH] [--n N] [--kills K] [--seed S] [--tmp DIR]
#                         [--span-import MS] [--span-sync MS]
#                         [--from-import MS] [--from-sync MS]
#
# Kills land FROM ms to FROM + SPAN ms after the start (FROM 50; SPAN 8000 and
# 4000 by default: an import and a first sync of 100,000 on a quiet 2-core
# machine; give more on a loaded one). A first sync of 100,000 now runs in
# ~0.6 s and commits its first group after ~0.45 s: --from-sync 420
# --span-sync 250 aims the kills between its groups.
# 1. `carnet import` of an N-row CSV, killed K times at random moments and
#    run again: after every kill `carnet check` passes, the customers already
#    there stay (nothing committed is lost) and never exceed N (nothing twice);
#    a last run completes the file.
# 2. The receiving `carnet sync` of a first sync from that replica, killed K
#    times and started again against one `carnet serve`: after every kill
#    `carnet check` passes and the count never goes down; a last sync gives
#    the same digest on both sides.
# Prints one line per kill and a summary; exits non-zero on the first failure.
set -eu

CARNET=build/carnet
N=100000
KILLS=20
SEED=1
TMP=${TMPDIR:-/tmp}
SPAN_IMPORT=8000
SPAN_SYNC=4000
FROM_IMPORT=50
FROM_SYNC=50
while [ $# -gt 0 ]; do
  case "$1" in
    --carnet) CARNET=$2; shift 2 ;;
    --n) N=$2; shift 2 ;;
    --kills) KILLS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --tmp) TMP=$2; shift 2 ;;
    --span-import) SPAN_IMPORT=$2; shift 2 ;;
    --span-sync) SPAN_SYNC=$2; shift 2 ;;
    --from-import) FROM_IMPORT=$2; shift 2 ;;
    --from-sync) FROM_SYNC=$2; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "kill9-bulk.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$CARNET" ] || { echo "kill9-bulk.sh: no carnet binary at $CARNET (--carnet PATH)" >&2; exit 2; }
CARNET=$(cd "$(dirname "$CARNET")" && pwd)/$(basename "$CARNET")
W=$(mktemp -d "$TMP/kill9-bulk.XXXXXX")
SERVE_PID=
cleanup() {
  [ -n "$SERVE_PID" ] && kill -9 "$SERVE_PID" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT INT TERM

# A reproducible random number in [lo, lo+span) from the seed and a counter
# (the counter moves in the caller: $(draw) runs in a subshell).
DRAW=0
draw() {
  echo $(( $1 + $(echo "$SEED $DRAW" | cksum | cut -d' ' -f1) % $2 ))
}
fail() { echo "kill9-bulk.sh: FAILED: $*" >&2; exit 1; }
count() { "$CARNET" --dir "$1" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["customers"]["live"])'; }
check() { "$CARNET" --dir "$1" check >/dev/null 2>"$W/check.err" || { cat "$W/check.err" >&2; fail "carnet check on $1 after $2"; }; }
# Kill "$@" (started in the background) after $1 ms; prints whether it was still running.
run_killed() {
  ms=$1; shift
  "$@" >/dev/null 2>>"$W/run.err" &
  pid=$!
  sleep "$(echo "$ms" | awk '{printf "%.3f", $1 / 1000}')"
  if kill -0 "$pid" 2>/dev/null; then state=mid-run; else state=done; fi
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$state"
}

# kill_loop WHAT DIR FROM SPAN CMD...: KILLS runs of CMD, each killed after a
# drawn FROM..FROM+SPAN ms, then `carnet check` of DIR and its customer count,
# which may never go down nor exceed N. Sets mid (kills that landed between
# two commits) and t0.
kill_loop() {
  what=$1 dir=$2 from=$3 span=$4; shift 4
  have=$(count "$dir") mid=0 t0=$(date +%s) k=0
  while [ $k -lt "$KILLS" ]; do
    DRAW=$((DRAW + 1)); ms=$(draw "$from" "$span")
    state=$(run_killed "$ms" "$@")
    check "$dir" "$what kill $k"
    now=$(count "$dir")
    echo "$what kill $k: after $ms ms ($state): $now customers"
    [ "$now" -ge "$have" ] || fail "$what kill $k: $now customers, $have before"
    [ "$now" -le "$N" ] || fail "$what kill $k: $now customers, more than $N"
    [ "$state" = mid-run ] && [ "$now" -gt "$have" ] && [ "$now" -lt "$N" ] && mid=$((mid + 1))
    have=$now
    k=$((k + 1))
  done
}

echo "# kill9-bulk: N=$N kills=$KILLS seed=$SEED from/spans=$FROM_IMPORT+$SPAN_IMPORT/$FROM_SYNC+$SPAN_SYNC ms carnet=$CARNET; $(uptime)"
awk -v n="$N" 'BEGIN {
  print "Nom,Courriel,Téléphone,Ville,Code postal";
  split("Lyon Paris Nantes Lille Brest", c, " ");
  for (i = 0; i < n; i++)
    printf "Client %06d,client%06d@exemple.fr,01 4%d %02d %02d %02d,%s,%05d\n", i, i,
      int(i / 1000000), int(i / 10000) % 100, int(i / 100) % 100, i % 100, c[i % 5 + 1], 10000 + i % 80000;
}' >"$W/clients.csv"

# 1. import
A=$W/A
"$CARNET" --dir "$A" init >/dev/null
kill_loop import "$A" "$FROM_IMPORT" "$SPAN_IMPORT" "$CARNET" --dir "$A" import "$W/clients.csv"
"$CARNET" --dir "$A" import "$W/clients.csv" >/dev/null
[ "$(count "$A")" -eq "$N" ] || fail "import: $(count "$A") customers after the last run, want $N"
check "$A" "the last import"
"$CARNET" --dir "$A" dupes --json >/dev/null
echo "import: $KILLS kills ($mid mid-write with progress), complete and sound ($(( $(date +%s) - t0 )) s)"

# 2. first sync, the receiver killed
B=$W/B
"$CARNET" --dir "$B" init >/dev/null
jget() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
"$CARNET" --dir "$B" peer trust "$("$CARNET" --dir "$A" id --json | jget key)" \
  --team "$("$CARNET" --dir "$A" id --json | jget team)" >/dev/null
"$CARNET" --dir "$A" peer trust "$("$CARNET" --dir "$B" id --json | jget key)" >/dev/null
"$CARNET" --dir "$A" serve --listen 127.0.0.1:0 --verbose >"$W/serve.out" 2>"$W/serve.err" &
SERVE_PID=$!
i=0
while ! grep -q 'listening on ' "$W/serve.out" "$W/serve.err" 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 400 ] || fail "carnet serve did not start"; sleep 0.05
done
ADDR=$(grep -oh 'listening on [0-9.]*:[0-9]*' "$W/serve.out" "$W/serve.err" | head -1 | sed 's/listening on //')
kill_loop sync "$B" "$FROM_SYNC" "$SPAN_SYNC" "$CARNET" --dir "$B" sync "$ADDR"
"$CARNET" --dir "$B" sync "$ADDR" >/dev/null
[ "$(count "$B")" -eq "$N" ] || fail "sync: $(count "$B") customers after the last sync, want $N"
[ "$("$CARNET" --dir "$A" debug digest)" = "$("$CARNET" --dir "$B" debug digest)" ] || fail "digests differ"
check "$B" "the last sync"
"$CARNET" --dir "$B" dupes --json >/dev/null
echo "sync: $KILLS kills ($mid mid-write with progress), complete, same digest, sound ($(( $(date +%s) - t0 )) s)"
echo "kill9-bulk: OK"
