#!/usr/bin/env python3
"""bench/web_bench.py - the web console's list and search over HTTP on a
replica of 100,000 customers (issue 16: the first page <= 100 ms, a search
<= 200 ms). Never part of `make check`: it prints figures, it does not pass
or fail on them.

The replica is made by bench/import_bench.c (`carnet-import-bench --keep`:
the real `carnet import` of bench/import_gen.c's generated file), then
`carnet web` serves it and each request is timed from this client (median
and worst of several runs, after one warm-up). Prints one JSON line per
measure, then a table.

  python3 bench/web_bench.py --build build [--n 100000] [--runs 7] [--dir /tmp]
"""
import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request


def request(base, token, path, method="GET", body=None):
    headers = {"Authorization": "Bearer " + token}
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body).encode()
    req = urllib.request.Request(base + path, headers=headers, method=method, data=body)
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        body = r.read()
    return (time.perf_counter() - t0) * 1000.0, json.loads(body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--dir", default="/tmp")
    ap.add_argument("--replica", help="an existing replica to serve instead of importing")
    ap.add_argument("--keep", action="store_true", help="keep the imported replica (path on stderr)")
    a = ap.parse_args()
    cli = os.path.join(a.build, "bin", "carnet")
    made = None
    replica = a.replica
    if replica is None:
        gen = os.path.join(a.build, "bench", "carnet-import-bench")
        print(f"# importing {a.n} customers with {gen} --keep ...", file=sys.stderr)
        subprocess.run([gen, "--n", str(a.n), "--dir", a.dir, "--keep"], check=True,
                       stdout=subprocess.DEVNULL)
        made = sorted(glob.glob(os.path.join(a.dir, "carnet-import-bench-*")), key=os.path.getmtime)[-1]
        replica = os.path.join(made, "a")
    t_start = time.perf_counter()
    web = subprocess.Popen([cli, "--dir", replica, "web", "--http", "127.0.0.1:0"],
                           stdout=subprocess.PIPE, text=True)
    try:
        line = web.stdout.readline()
        start_ms = (time.perf_counter() - t_start) * 1000.0
        url = line.split("console: ", 1)[1].strip()
        base, token = url.split("/#token=")
        _, st = request(base, token, "/api/status")
        n = st["customers"]
        # A name of the generated base, typed without its accents and in lower case.
        _, first = request(base, token, "/api/customers?limit=1")
        name = (first["items"][0]["name"] or "").split()[-1].lower()
        _, mid = request(base, token, "/api/customers?limit=500")
        cursor = mid["next"]
        # A phone of the base, typed as people do ("06 12 34 56 78").
        phones = [p["number"] for it in mid["items"] for p in (it.get("phones") or [])
                  if p["number"].startswith("+336")]
        digits = "0" + phones[0][3:] if phones else "0612345678"
        typed = " ".join([digits[0:2], digits[2:4], digits[4:6], digits[6:8], digits[8:10]])
        edited = mid["items"][7]["id"]

        def edit():
            request(base, token, "/api/customers/" + edited, "PATCH",
                    {"notes": "edited at %f" % time.time()})
        cases = [
            ("first page (50)", "/api/customers?limit=50"),
            ("page after 500", "/api/customers?limit=50&cursor=" + cursor),
            ("search: common name", "/api/customers?limit=50&q=" + urllib.parse.quote(name)),
            ("search: accents folded", "/api/customers?limit=50&q=helene"),
            ("search: no match", "/api/customers?limit=50&q=zzzzqqq"),
            ("search: phone as typed", "/api/customers?limit=50&q=" + urllib.parse.quote(typed)),
            # Every customer's notes hold "client fidèle": each text is read to its end.
            ("search: near miss, all", "/api/customers?limit=50&q=client%20fidele%20x"),
            ("search: no match+role", "/api/customers?limit=50&q=zzzzqqq&role=prospect"),
            ("search: after an edit", "/api/customers?limit=50&q=zzzzqqq", edit),
            ("filter: tag", "/api/customers?limit=50&tag=vip"),
        ]
        rows = []
        for case in cases:
            label, path = case[0], case[1]
            before = case[2] if len(case) > 2 else None
            request(base, token, path)  # warm-up
            times = []
            for _ in range(a.runs):
                if before:
                    before()
                ms, body = request(base, token, path)
                times.append(ms)
            rec = {"measure": label, "customers": n, "median_ms": round(statistics.median(times), 1),
                   "max_ms": round(max(times), 1), "items": len(body["items"]), "runs": a.runs}
            print(json.dumps(rec))
            rows.append(rec)
        print()
        print(f"{'measure':<28}{'median ms':>10}{'max ms':>10}{'items':>7}")
        for r in rows:
            print(f"{r['measure']:<28}{r['median_ms']:>10}{r['max_ms']:>10}{r['items']:>7}")
        print(f"({n} customers; targets: first page <= 100 ms, search <= 200 ms)")
        with open(f"/proc/{web.pid}/status") as st_:
            rss = [l.split()[1] for l in st_ if l.startswith("VmRSS")][0]
        # The start includes building the search index (one scan of the book).
        print(json.dumps({"measure": "carnet web", "start_ms": round(start_ms), "rss_kb": int(rss)}))
    finally:
        web.terminate()
        web.wait(timeout=30)
        if made and not a.keep:
            shutil.rmtree(made, ignore_errors=True)
        elif made:
            print(f"# kept {made}/a", file=sys.stderr)


if __name__ == "__main__":
    import urllib.parse
    main()
