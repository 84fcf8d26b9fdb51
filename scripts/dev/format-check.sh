#!/usr/bin/env bash
# Checks that the C lines a change touches are formatted as .clang-format
# says (run by `make check`). "The change" is what differs from a base:
#   - $FORMAT_BASE when set (a commit, a branch);
#   - on a branch other than main: its merge base with main;
#   - on main (a CI clone): the last commit, HEAD~1;
#   - no base (a clone of one commit): nothing to compare, the check passes.
# Uncommitted edits count too. Only touched lines are checked, so a change
# to a file is not blamed for the rest of it.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v git >/dev/null || ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "format-check: not a git work tree: skipped"
  exit 0
fi
if ! command -v git-clang-format >/dev/null; then
  echo "format-check: git-clang-format missing (Debian package clang-format: scripts/install-deps.sh)" >&2
  exit 1
fi

base="${FORMAT_BASE:-}"
if [ -z "$base" ]; then
  branch=$(git rev-parse --abbrev-ref HEAD 2>/dev/null || echo HEAD)
  if [ "$branch" != main ] && git rev-parse -q --verify main >/dev/null; then
    base=$(git merge-base HEAD main 2>/dev/null || true)
    # main itself, or a branch that has nothing of its own: the last commit.
    [ "$base" = "$(git rev-parse HEAD)" ] && base=""
  fi
  if [ -z "$base" ] && git rev-parse -q --verify HEAD~1 >/dev/null; then
    base=HEAD~1
  fi
fi
if [ -z "$base" ]; then
  echo "format-check: no earlier commit to compare with: nothing to check"
  exit 0
fi

out=$(git clang-format --diff --extensions c,h "$base" -- . 2>&1 || true)
case "$out" in
"" | *"no modified files to format"* | *"clang-format did not modify any files"*)
  echo "format-check: the C lines changed since $(git rev-parse --short "$base") are formatted"
  exit 0
  ;;
esac
echo "$out" | head -200
echo
echo "format-check: lines changed since $(git rev-parse --short "$base") differ from .clang-format;"
echo "  fix them with: git clang-format $base" >&2
exit 1
