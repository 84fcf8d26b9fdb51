#!/usr/bin/env python3
"""`carnet customer list --search TEXT --limit 50` timed from the command
line, the one-shot process a user runs, on an existing replica (e.g. the
one `carnet-import-bench --keep` leaves: 98,951 customers).

For each query: a cold run (the replica's data.mdb evicted from the page
cache first with posix_fadvise(DONTNEED), so its pages come from the disk),
then --runs warm runs (median and min). Wall time, and CPU time (user +
system) of the child, in ms; the number of matches from a --json run.
Prints one JSON line per query, then a table. Never part of `make check`.

  python3 bench/search_cli_bench.py --carnet build/bin/carnet --dir REPLICA [--runs 5]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import time

QUERIES = [
    ("common name", "dupre"),
    ("common first name", "loic"),
    ("common city", "marseille"),
    ("rare: name and number", "Dupré-4242"),
    ("accented, two words", "hélène évry"),
    ("ligature", "cœur-3"),
    ("phone as typed", "06 10 00 42 42"),
    ("phone, digits", "0610004242"),
    ("e-mail", "client.777@"),
    ("no match", "zzzz"),
    ("two letters (scan)", "ma"),
]


def evict(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def run(argv):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = (time.monotonic() - t0) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000
    if p.returncode != 0:
        raise SystemExit("%s: exit %d: %s" % (" ".join(argv), p.returncode, p.stderr.decode()))
    return wall, cpu, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--carnet", default="build/bin/carnet")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    data = os.path.join(a.dir, "data.mdb")
    rows = []
    for label, q in QUERIES:
        base = [a.carnet, "--dir", a.dir, "customer", "list", "--search", q]
        _, _, out = run(base + ["--json"])
        matches = len(json.loads(out))
        evict(data)
        cold_wall, cold_cpu, _ = run(base + ["--limit", "50"])
        warm = [run(base + ["--limit", "50"]) for _ in range(a.runs)]
        r = {
            "query": q,
            "label": label,
            "matches": matches,
            "cold_ms": round(cold_wall, 1),
            "cold_cpu_ms": round(cold_cpu, 1),
            "warm_ms": round(statistics.median(w for w, _, _ in warm), 1),
            "warm_min_ms": round(min(w for w, _, _ in warm), 1),
            "warm_cpu_ms": round(statistics.median(c for _, c, _ in warm), 1),
        }
        print(json.dumps(r, ensure_ascii=False), flush=True)
        rows.append(r)
    print("%-24s %-16s %7s %8s %8s %8s %8s" % ("query", "text", "matches", "cold", "warm",
                                               "warm min", "warm cpu"))
    for r in rows:
        print("%-24s %-16s %7d %8.1f %8.1f %8.1f %8.1f" % (r["label"], r["query"], r["matches"],
                                                         r["cold_ms"], r["warm_ms"],
                                                         r["warm_min_ms"], r["warm_cpu_ms"]))
    print("(ms; load average %.2f %.2f %.2f)" % os.getloadavg())


if __name__ == "__main__":
    main()
