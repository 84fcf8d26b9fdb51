#!/usr/bin/env python3
"""Summarise `perf script` output of carnet-bench by timed region or by process.

  perf record -e cpu-clock -F 2000 --call-graph dwarf,16384 -o perf.data \
      build/bench/carnet-bench --n 100000 --workloads w1 --no-tcp
  perf script -i perf.data -F comm,pid,ip,sym,dso > perf.txt
  bench/perf_regions.py perf.txt            # in-process: create / encode / apply / edit
  bench/perf_regions.py --by-pid perf.txt   # TCP run: one block per process (serve, sync)

A sample belongs to a region when a function of that region is on its stack
(apply and encode are tested first: carnet_changes_apply commits with
carnet_txn_commit too). "self" is the leaf function (kernel ones marked [k],
unsymbolised library code as [unknown] <library>); "inclusive" counts every
sample with the function anywhere on its stack. DWARF stacks are cut at 16 KiB,
so inclusive shares are lower bounds; self shares are exact.
"""
import collections
import re
import sys

REGIONS = [
    ("apply", {"carnet_changes_apply", "carnet__changes_apply"}),
    ("encode", {"carnet_changes_encode", "carnet__changes_since"}),
    ("edit", {"carnet_record_update_commit"}),
    ("create", {"carnet_record_create", "carnet_txn_commit", "carnet_txn_begin", "bench_patch_of",
                "carnet_patch_free"}),
]
INTERESTING = re.compile(r"(carnet|mdb_|msgpack|crypto_|bench_|__libc_pwrite|fdatasync|uv_run)")


def samples(path):
    """Yields (header, frames) with frames = [(symbol, dso)], leaf first."""
    header, frames = None, []
    for line in open(path, errors="replace"):
        if not line.strip():
            if header is not None:
                yield header, frames
            header, frames = None, []
        elif not line[0].isspace():
            if header is not None:
                yield header, frames
            header, frames = line.split(), []
        else:
            m = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
            if m:
                frames.append((re.sub(r"\+0x[0-9a-f]+$", "", m.group(1)), m.group(2)))
    if header is not None:
        yield header, frames


def leaf_name(frames):
    sym, dso = frames[0]
    if "kernel" in dso:
        return sym + " [k]", True
    if sym == "[unknown]":
        return "[unknown] <%s>" % dso.split("/")[-1], False
    return sym, False


def report(groups, total, top):
    for name, (n, kern, selfc, incl) in groups.items():
        print("\n== %s: %d samples (%.1f%% of all), kernel %.0f%%" %
              (name, n, 100.0 * n / max(total, 1), 100.0 * kern / max(n, 1)))
        print("  self:")
        for s, k in selfc.most_common(top):
            print("    %5.1f%%  %s" % (100.0 * k / n, s))
        print("  inclusive:")
        shown = 0
        for s, k in incl.most_common():
            if INTERESTING.match(s) and shown < top:
                print("    %5.1f%%  %s" % (100.0 * k / n, s))
                shown += 1


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    by_pid = "--by-pid" in sys.argv
    if not args:
        sys.exit(__doc__)
    top = int(args[1]) if len(args) > 1 else 20
    groups = collections.OrderedDict()
    total = 0
    for header, frames in samples(args[0]):
        if not frames:
            continue
        total += 1
        syms = [f[0] for f in frames]
        if by_pid:
            key = " ".join(header[:2])
        else:
            key = None
            for name, fs in REGIONS:
                if any(s in fs for s in syms):
                    if name == "create" and "bench_create_w1" not in syms:
                        continue
                    key = name
                    break
            if key is None:
                continue
        g = groups.setdefault(key, [0, 0, collections.Counter(), collections.Counter()])
        leaf, kern = leaf_name(frames)
        g[0] += 1
        g[1] += kern
        g[2][leaf] += 1
        for s in set(syms):
            g[3][s] += 1
    if by_pid:
        groups = collections.OrderedDict(
            sorted(groups.items(), key=lambda kv: -kv[1][0])[:4])
    report(groups, total, top)


if __name__ == "__main__":
    main()
