#!/bin/sh
# scripts/dev/stored_bytes.sh BUILD_A BUILD_B - do two builds store the same
# bytes? Builds scripts/dev/stored_bytes.c against each build's libcarnet.a
# (and libcarnet_testsupport.a: `cmake --build B --target carnet_static
# carnet_testsupport`), runs it twice per build and compares `mdb_dump -a`.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 BUILD_A BUILD_B" >&2; exit 2; }
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
libs="-llmdb -lsodium -lmsgpackc -luv -lpthread -lutf8proc -lzip -lexpat -lxlsxwriter -lz
      -licuuc -licudata -lphonenumber -lprotobuf -ljansson -lm"
i=0
for b in "$1" "$2"; do
  i=$((i + 1))
  # shellcheck disable=SC2086
  for f in scripts/dev/stored_bytes bench/workload bench/mapping; do
    cc -std=c11 -O1 -I"$src" -I"$src/include" -c -o "$tmp/$(basename $f).o" "$src/$f.c"
  done
  c++ -o "$tmp/sb$i" "$tmp/stored_bytes.o" "$tmp/workload.o" "$tmp/mapping.o" \
    "$b/libcarnet_testsupport.a" "$b/libcarnet.a" $libs
  for run in 1 2; do
    "$tmp/sb$i" "$tmp/r$i.$run"
    mdb_dump -a "$tmp/r$i.$run" >"$tmp/d$i.$run"
  done
  cmp "$tmp/d$i.1" "$tmp/d$i.2" || { echo "$b: two runs differ" >&2; exit 1; }
done
if cmp "$tmp/d1.1" "$tmp/d2.1"; then
  echo "same stored bytes: $(wc -c <"$tmp/d1.1") bytes of mdb_dump -a, $(grep -c . "$tmp/d1.1") lines"
else
  diff "$tmp/d1.1" "$tmp/d2.1" | head -20
  exit 1
fi
