#!/usr/bin/env python3
"""bench/customer_page_bench.py - a customer's page in the web console on a
book of 100,000 customers (issue 16's review, point 5: each per-customer
read scanned the whole book, and the page's seven requests queue on the
node's one thread). Never part of `make check`: it prints figures, it does
not pass or fail on them.

The replica is made by bench/import_bench.c (`carnet-import-bench --keep`),
then records are added through the API: `--children` documents, actions,
reminders and contacts spread over random customers, and a few of each for
the customer measured. Then the page's requests are timed from this client,
one by one and all seven at once (as the console sends them), median and
worst of several runs after one warm-up. `--before BIN` times another
`carnet` binary on the same replica too (the build before the change).
Prints one JSON line per measure, then a table.

  python3 bench/customer_page_bench.py --build build [--n 100000] [--runs 7]
          [--before OTHER/bin/carnet] [--replica DIR [--populated]]
"""
import argparse
import concurrent.futures
import glob
import json
import os
import random
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
    with urllib.request.urlopen(req, timeout=120) as r:
        data = r.read()
    return (time.perf_counter() - t0) * 1000.0, json.loads(data)


def serve(cli, replica):
    web = subprocess.Popen([cli, "--dir", replica, "web", "--http", "127.0.0.1:0"],
                           stdout=subprocess.PIPE, text=True)
    url = web.stdout.readline().split("console: ", 1)[1].strip()
    base, token = url.split("/#token=")
    return web, base, token


def page_paths(cid):
    return [
        ("customer", f"/api/customers/{cid}"),
        ("contacts", f"/api/customers/{cid}/contacts"),
        ("consents", f"/api/customers/{cid}/consents"),
        ("documents", f"/api/documents?customer={cid}&limit=100"),
        ("actions", f"/api/actions?customer={cid}&limit=100"),
        ("reminders", f"/api/reminders?customer={cid}&limit=100"),
        ("history", f"/api/customers/{cid}/history"),
    ]


def populate(base, token, ids, target, children):
    rng = random.Random(16)

    def add(cu):
        request(base, token, "/api/documents", "POST", {"type": "invoice", "customer": cu})
        request(base, token, "/api/actions", "POST", {"channel": "visit", "customers": [cu]})
        request(base, token, "/api/reminders", "POST", {"customer": cu, "date": "2026-12-01"})
        request(base, token, "/api/contacts", "POST", {"customer": cu, "name": "Contact"})
    for _ in range(children):
        add(rng.choice(ids))
    for _ in range(5):
        add(target)


def measure(label, base, token, cid, runs, n):
    rows = []
    paths = page_paths(cid)
    for name, path in paths:
        request(base, token, path)  # warm-up
        times = [request(base, token, path)[0] for _ in range(runs)]
        rows.append({"binary": label, "measure": name, "customers": n,
                     "median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)})
    # The whole page: seven requests at once, as the console sends them; the
    # page is there when the last one is.
    whole = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(paths)) as ex:
        for _ in range(runs):
            t0 = time.perf_counter()
            list(ex.map(lambda p: request(base, token, p[1]), paths))
            whole.append((time.perf_counter() - t0) * 1000.0)
    rows.append({"binary": label, "measure": "whole page (7 at once)", "customers": n,
                 "median_ms": round(statistics.median(whole), 1), "max_ms": round(max(whole), 1)})
    for r in rows:
        print(json.dumps(r))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--before", help="another carnet binary to time on the same replica")
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--children", type=int, default=500, help="records of each kind spread over the book")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--dir", default="/tmp")
    ap.add_argument("--replica", help="an existing replica instead of importing")
    ap.add_argument("--populated", action="store_true", help="the replica already has the records")
    ap.add_argument("--keep", action="store_true")
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
    rows = []
    try:
        web, base, token = serve(cli, replica)
        try:
            n = request(base, token, "/api/status")[1]["customers"]
            page = request(base, token, "/api/customers?limit=500")[1]["items"]
            ids = [c["id"] for c in page]
            cid = ids[250]
            if not a.populated:
                print(f"# adding {a.children} records of each kind ...", file=sys.stderr)
                populate(base, token, ids, cid, a.children)
            rows += measure("after", base, token, cid, a.runs, n)
        finally:
            web.terminate()
            web.wait(timeout=60)
        if a.before:
            web, base, token = serve(a.before, replica)
            try:
                rows += measure("before", base, token, cid, a.runs, n)
            finally:
                web.terminate()
                web.wait(timeout=60)
        print()
        print(f"{'binary':<8}{'measure':<26}{'median ms':>10}{'max ms':>10}")
        for r in rows:
            print(f"{r['binary']:<8}{r['measure']:<26}{r['median_ms']:>10}{r['max_ms']:>10}")
        print(f"({rows[0]['customers']} customers; target: the whole page well under 100 ms)")
    finally:
        if made and not a.keep:
            shutil.rmtree(made, ignore_errors=True)
        elif made:
            print(f"# kept {replica}", file=sys.stderr)


if __name__ == "__main__":
    main()
