#!/usr/bin/env bash
# Moves the engine's files into engine/<part>/, one folder per part of
# scripts/dev/engine-parts.txt, and rewrites every path that names a moved
# file (includes, comments, build files, docs). Re-runnable: a file already
# in its folder stays; a new file at the top of engine/ is moved, or named
# if it is in no part. Run on a clean work tree, then build and review
# `git status`; scripts/dev/layers.py checks the result.
set -euo pipefail
cd "$(dirname "$0")/../.."
parts=scripts/dev/engine-parts.txt

declare -A part_of
while IFS= read -r line; do
  line=${line%%#*}
  [ -z "${line//[[:space:]]/}" ] && continue
  part=${line%%:*}
  part=${part//[[:space:]]/}
  for stem in ${line#*:}; do part_of[$stem]=$part; done
done <"$parts"

missing=0
for f in engine/*.c engine/*.cc engine/*.h; do
  [ -e "$f" ] || continue
  b=${f#engine/}
  stem=${b%.*}
  stem=${stem%_int}
  if [ -z "${part_of[$stem]:-}" ]; then
    echo "split-engine: $f is in no part of $parts: add it there first" >&2
    missing=1
  fi
done
[ "$missing" = 0 ] || exit 1

# The substitutions: engine/<file> -> engine/<part>/<file>, for every file
# of every part (moved now or before), so a second run fixes what was
# written with the old paths meanwhile.
subs=$(mktemp)
trap 'rm -f "$subs"' EXIT
n=0
for stem in "${!part_of[@]}"; do
  p=${part_of[$stem]}
  for b in "$stem.c" "$stem.cc" "$stem.h" "${stem}_int.h"; do
    if [ -e "engine/$b" ]; then
      mkdir -p "engine/$p"
      git mv "engine/$b" "engine/$p/$b"
      n=$((n + 1))
    fi
    [ -e "engine/$p/$b" ] || continue
    # engine/alloc.h, not engine/base/alloc.h and not engine/alloc.hh.
    printf 's{(?<![A-Za-z0-9_/])engine/\\Q%s\\E(?![A-Za-z0-9_])}{engine/%s/%s}g;\n' "$b" "$p" "$b" >>"$subs"
  done
done

# Every tracked text file that may name an engine file.
git ls-files -z -- '*.c' '*.cc' '*.h' '*.md' '*.txt' '*.py' '*.sh' '*.cmake' '*.scd' '*.js' \
  'CMakeLists.txt' 'Makefile' ':!scripts/dev/split-engine.sh' ':!scripts/dev/split-engine.patch' |
  xargs -0 perl -pi -e "$(cat "$subs")"

# The build follows the folders: each layer an object library with an
# include root of its own (scripts/dev/split-engine.patch: CMakeLists.txt,
# README's layout table, the probe that shows protocol/ cannot include an
# engine internal). Applied once.
if ! grep -q carnet_include_root CMakeLists.txt; then
  git add -u # the paths rewritten above: --3way applies against the index
  if ! git apply --3way scripts/dev/split-engine.patch; then
    echo "split-engine: scripts/dev/split-engine.patch did not apply: merge it by hand" >&2
    exit 1
  fi
fi

echo "split-engine: $n files moved into engine/<part>/ ($(cut -d: -f1 <"$parts" | grep -v '^#' | grep -c .) parts)"
git status --short | grep -c '^R' | xargs printf 'split-engine: %s renames staged\n'
