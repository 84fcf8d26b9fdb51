#!/usr/bin/env bash
# bench/attach_cpu.sh - CPU time of one attachment transfer (issue 22), beside
# carnet-attach-bench's wall times: a 50 MB attachment (SIZE bytes) on a replica A
# served by `carnet serve`, then RUNS syncs of a new replica B, each printing
# the session's seconds, the receiver's CPU (perf stat task-clock, every
# thread) and the server's (utime+stime from /proc, 10 ms ticks).
#   nice bench/attach_cpu.sh build/bin/carnet 2
# PERFCMD replaces the perf stat prefix (e.g. "perf record -g -o FILE").
set -euo pipefail
C=$1; RUNS=${2:-5}
R=$(mktemp -d /tmp/carnet-attach-cpu-XXXXXX)
A=$R/a
$C --dir $A init >/dev/null
CU=$($C --dir $A customer add --name "Bench Fichier" | head -1)
head -c ${SIZE:-50000000} /dev/urandom > $R/file.bin
$C --dir $A attach $CU $R/file.bin >/dev/null
$C --dir $A serve --listen 127.0.0.1:0 > $R/serve.log 2>&1 &
SP=$!
for i in $(seq 50); do grep -q "listening on" $R/serve.log && break; sleep 0.1; done
ADDR=$(grep -o "listening on [^ ]*" $R/serve.log | head -1 | awk '{print $3}')
KA=$($C --dir $A id --json | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["key"], j["team"])')
TK=($KA)
tck=$(getconf CLK_TCK)
cpu() { awk -v t=$tck '{print ($14+$15)*1000/t}' /proc/$1/stat; }
for i in $(seq $RUNS); do
  B=$R/b$i
  $C --dir $B init >/dev/null
  KB=$($C --dir $B id --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
  $C --dir $B peer trust ${TK[0]} --team ${TK[1]} >/dev/null
  $C --dir $A peer trust $KB >/dev/null
  s0=$(cpu $SP)
  out=$(${PERFCMD:-perf stat -x, -e task-clock -o $R/perf.$i} $C --dir $B sync $ADDR --json)
  s1=$(cpu $SP)
  secs=$(echo "$out" | python3 -c 'import json,sys; j=json.load(sys.stdin); print("%.3f %d" % (j["seconds"], j["content_in"]))')
  rx=$(grep task-clock $R/perf.$i 2>/dev/null | cut -d, -f1 || echo 0)
  echo "run $i: session_s content_in = $secs receiver_cpu_ms=$(printf %.0f $rx) sender_cpu_ms=$(echo "$s1 - $s0" | bc)"
  rm -rf $B
done
kill $SP; wait $SP 2>/dev/null || true
rm -rf $R
