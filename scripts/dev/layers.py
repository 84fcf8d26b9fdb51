#!/usr/bin/env python3
"""The layers of the library, checked: no include loop between files of
different parts, and no edge from a part to a part above it.

Layers, bottom up: io and engine (io uses engine/base only), protocol,
replica. The engine's parts and their order are in
scripts/dev/engine-parts.txt (or, once split, the folders engine/<part>/ in
that order). A unit is a file stem: foo.c, foo.h and foo_int.h together.

Two graphs are read:
  - includes, from the sources (always);
  - calls, from the symbols of the library's object files (--objects DIR,
    nm): a function of one unit calling one of another is an edge, which
    catches a call through a public header the includes do not show.
An edge from a part to a part that comes later in the order (a back edge),
or a layer to a layer above it, fails with the files and what links them.

Usage: layers.py [--root DIR] [--objects DIR] [--list]
"""
import argparse
import collections
import os
import re
import subprocess
import sys

LAYERS = ["io", "engine", "protocol", "replica", "book"]  # bottom up
# What io may use of the engine: its base part only.
IO_MAY_USE = {"engine/base"}


def read_parts(root):
    """[(part, [stems])] in order, from the folders or the parts file."""
    eng = os.path.join(root, "engine")
    order = []
    for line in open(os.path.join(root, "scripts/dev/engine-parts.txt")):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        part, stems = line.split(":", 1)
        order.append((part.strip(), stems.split()))
    return order


def unit_of(path):
    """engine/store/replica_int.h -> engine/store/replica."""
    stem = path[:-2] if path.endswith((".c", ".h")) else path
    return stem[:-4] if stem.endswith("_int") else stem


def part_of(unit, stem_part):
    """(layer, part) of a unit: ('engine', 'store'), ('protocol', None)."""
    bits = unit.split("/")
    layer = bits[0]
    if layer != "engine":
        return layer, None
    if len(bits) == 3:  # engine/<part>/<stem>
        return layer, bits[1]
    return layer, stem_part.get(bits[1])


def sources(root):
    out = []
    for layer in LAYERS:
        for d, _, files in os.walk(os.path.join(root, layer)):
            for f in files:
                if f.endswith((".c", ".h")):
                    out.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(out)


INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def include_edges(root, files):
    """{(unit_from, unit_to): [why]} from #include lines."""
    edges = collections.defaultdict(list)
    known = set(files)
    for f in files:
        for n, line in enumerate(open(os.path.join(root, f), errors="replace"), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            target = m.group(1)
            if target not in known:
                continue  # carnet/*.h (the API) and system headers
            a, b = unit_of(f), unit_of(target)
            if a != b:
                edges[(a, b)].append("%s:%d includes %s" % (f, n, target))
    return edges


def symbol_edges(objdir, root):
    """{(unit_from, unit_to): [why]} from nm of the object files under objdir
    (CMake names them <source path>.o)."""
    defs, undef = {}, {}
    for d, _, files in os.walk(objdir):
        for f in files:
            if not f.endswith(".c.o"):
                continue
            path = os.path.join(d, f)
            rel = os.path.relpath(path, objdir)
            src = rel[: -len(".o")]
            # CMakeFiles/<target>.dir/<source path>.o
            m = re.search(r"\.dir/(.*)$", src)
            src = m.group(1) if m else src
            if src.split("/")[0] not in LAYERS:
                continue
            out = subprocess.run(["nm", path], capture_output=True, text=True, check=True).stdout
            u = set()
            for line in out.splitlines():
                p = line.split()
                if len(p) == 2 and p[0] == "U":
                    u.add(p[1])
                elif len(p) == 3 and p[1] in "TDBRV":
                    defs.setdefault(p[2], unit_of(src))
            undef[unit_of(src)] = undef.get(unit_of(src), set()) | u
    edges = collections.defaultdict(list)
    for a, syms in undef.items():
        for s in sorted(syms):
            b = defs.get(s)
            if b and b != a:
                edges[(a, b)].append("calls %s" % s)
    return edges


def rank(layer, part, parts_order):
    """A number that only grows up the layers and parts."""
    li = LAYERS.index(layer)
    if layer == "engine":
        names = [p for p, _ in parts_order]
        return (1, names.index(part) if part in names else -1)
    return (li if layer != "io" else 0, 0)


def check(edges, stem_part, parts_order, what):
    bad = []
    for (a, b), why in sorted(edges.items()):
        la, pa = part_of(a, stem_part)
        lb, pb = part_of(b, stem_part)
        if la == "engine" and pa is None:
            bad.append("%s: %s is in no part of scripts/dev/engine-parts.txt" % (what, a))
            continue
        if la == "io" and lb == "engine" and "engine/" + (pb or "") in IO_MAY_USE:
            continue
        if la == "io" and lb != "io":
            bad.append("%s: %s -> %s: io may use engine/base only (%s)" % (what, a, b, why[0]))
            continue
        if lb == "io" and la in ("engine",):
            bad.append("%s: %s -> %s: the engine does not use io (%s)" % (what, a, b, why[0]))
            continue
        if la == lb == "engine":
            ra, rb = rank(la, pa, parts_order), rank(lb, pb, parts_order)
            if rb > ra:
                bad.append("%s: back edge %s (%s) -> %s (%s): %s" % (what, a, pa, b, pb, "; ".join(why[:3])))
            continue
        if LAYERS.index(lb) > LAYERS.index(la) and lb != "io":
            bad.append("%s: back edge %s (%s) -> %s (%s): %s" % (what, a, la, b, lb, "; ".join(why[:3])))
    return bad


def include_loops(edges, stem_part):
    """Loops of the include graph between units of different parts."""
    g = collections.defaultdict(set)
    for a, b in edges:
        g[a].add(b)
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                out.append(sorted(scc))

    for v in list(g):
        if v not in index:
            visit(v)
    bad, inside = [], []
    for scc in out:
        parts = {part_of(u, stem_part) for u in scc}
        if len(parts) > 1:
            bad.append("includes: a loop across parts: %s" % " ".join(scc))
        else:
            inside.append(scc)
    return bad, inside


def self_test():
    """A planted back edge, a planted loop across parts, a file in no part:
    each must fail; the tree without them must pass."""
    import tempfile
    with tempfile.TemporaryDirectory() as root:
        def put(path, text):
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)
        put("scripts/dev/engine-parts.txt", "low: a\nhigh: b c\n")
        put("engine/a.h", "")
        put("engine/a.c", '#include "engine/a.h"\n')
        put("engine/b.h", '#include "engine/a.h"\n')
        put("engine/b.c", '#include "engine/b.h"\n')
        put("engine/c.c", '#include "engine/b.h"\n')
        put("protocol/p.c", '#include "engine/b.h"\n')
        def run():
            return subprocess.run([sys.executable, os.path.abspath(__file__), "--root", root],
                                  capture_output=True, text=True)
        results = [("a clean tree passes", run().returncode == 0)]
        put("engine/a.c", '#include "engine/a.h"\n#include "engine/b.h"\n')  # low -> high
        r = run()
        results.append(("a back edge is caught", r.returncode == 1 and "back edge engine/a" in r.stdout))
        put("engine/a.c", '#include "engine/a.h"\n')
        put("engine/a.h", '#include "engine/c.h"\n')
        put("engine/c.h", '#include "engine/a.h"\n')
        r = run()
        results.append(("a loop across parts is caught", r.returncode == 1 and "loop across parts" in r.stdout))
        put("engine/a.h", "")
        put("engine/c.h", "")
        put("engine/d.c", "")
        r = run()
        results.append(("a file in no part is caught", r.returncode == 1 and "engine/d.c is in no part" in r.stdout))
        os.remove(os.path.join(root, "engine/d.c"))
        put("engine/a.c", '#include "engine/a.h"\n#include "protocol/p.h"\n')
        put("protocol/p.h", "")
        r = run()
        results.append(("an engine file using protocol is caught", r.returncode == 1 and "back edge engine/a" in r.stdout))
    for name, ok in results:
        print("layers self-test: %s: %s" % (name, "ok" if ok else "WRONG"))
    return 0 if all(ok for _, ok in results) else 1


def main():
    if "--self-test" in sys.argv[1:]:
        return self_test()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    ap.add_argument("--objects", help="a build's object directory (nm), for the call graph")
    ap.add_argument("--list", action="store_true", help="print the parts and their order")
    o = ap.parse_args()
    root = os.path.abspath(o.root)
    parts_order = read_parts(root)
    stem_part = {s: p for p, stems in parts_order for s in stems}
    files = sources(root)
    if o.list:
        for i, (p, stems) in enumerate(parts_order):
            print("%d. engine/%s: %s" % (i + 1, p, " ".join(stems)))
    # Every engine file belongs to a part (a new file must be placed).
    bad = []
    for f in files:
        layer, part = part_of(unit_of(f), stem_part)
        if layer == "engine" and part is None:
            bad.append("%s is in no part of scripts/dev/engine-parts.txt" % f)
    inc = include_edges(root, files)
    bad += check(inc, stem_part, parts_order, "includes")
    loop_bad, inside = include_loops(inc, stem_part)
    bad += loop_bad
    if o.objects:
        bad += check(symbol_edges(o.objects, root), stem_part, parts_order, "calls")
    for b in bad:
        print("layers: " + b)
    print("layers: %d files, %d include edges%s; %d loops inside a part: %s" % (
        len(files), len(inc), ", call graph checked" if o.objects else "",
        len(inside), "; ".join(" ".join(l) for l in inside) or "none"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
