#!/usr/bin/env python3
"""bench/team_bench.py - a team as it runs (issue 21, point 4): an office hub
and N laptops as real processes on 127.0.0.1, each laptop with a live
session to the hub (`carnet serve --peer HUB`), each laptop making edits
through the CLI while the sessions run. Never part of `make check`: it
prints figures, it does not pass or fail on them.

Measured, from the sessions' own counters (`carnet serve --verbose` logs
"session closed: N cells in (M new), K out, B bytes in, C out" when a laptop
stops cleanly at the end) and from /proc:

- per laptop, bytes sent per field it changed and bytes received per field
  it received (handshake and pings included: the whole session);
- the hub's CPU time (user + system) and memory (peak and final RSS) over
  the run;
- the time from the end of the last edit to convergence: the last moment a
  log says a session caught up having received cells (logs are read every
  10 ms), after which every replica is checked to hold the same digest;
- the share of received cells that were new (cells that changed the
  receiver), over every session of the team: the echo of issue 21 made it
  0.09 in a 12-replica star.

Prints one JSON line per measure, then a table.

  python3 bench/team_bench.py --build build [--laptops 10] [--adds 3] [--edits 5] [--dir /tmp]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

CLOSED = re.compile(r"\(key ([0-9a-f]{8})\S*\): session closed: (\d+) cells in \((\d+) new\), "
                    r"(\d+) out, (\d+) bytes in, (\d+) out")
SYNCED = re.compile(r"synced, (\d+) cells in, (\d+) out")


def run(cli, d, *args):
    r = subprocess.run([cli, "--dir", d, *args], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        sys.exit(f"carnet --dir {d} {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def ident(cli, d):
    return json.loads(run(cli, d, "id", "--json"))


class Serve:
    """A `carnet serve --verbose` with its log read as it grows."""

    def __init__(self, cli, d, name, logdir, peer=None):
        self.log_path = os.path.join(logdir, name + ".log")
        self.log = open(self.log_path, "w")
        args = [cli, "--dir", d, "serve", "--listen", "127.0.0.1:0", "--verbose"]
        if peer:
            args += ["--peer", peer]
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.p.stdout.readline()
        if not line.startswith("listening on "):
            sys.exit(f"{name}: serve did not say where it listens: {line!r}")
        self.addr = line.split()[2]
        self.pos = 0
        self.last_rx = None  # when a caught-up line with cells in was last seen

    def poll(self, now):
        with open(self.log_path) as f:
            f.seek(self.pos)
            chunk = f.read()
        cut = chunk.rfind("\n") + 1
        self.pos += len(chunk[:cut].encode())
        got = False
        for line in chunk[:cut].splitlines():
            if "synced" in line:
                m = SYNCED.search(line)
                got |= bool(m and int(m.group(1)) > 0)
        if got:
            self.last_rx = now
        return got

    def text(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=30)
        self.log.close()


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_mem_kb(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS"):
                out[k] = int(v.split()[0])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--laptops", type=int, default=10)
    ap.add_argument("--adds", type=int, default=3, help="customers each laptop adds")
    ap.add_argument("--edits", type=int, default=5, help="edits each laptop makes to them")
    ap.add_argument("--jobs", type=int, default=4, help="CLI commands run at once")
    ap.add_argument("--dir", default="/tmp")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    cli = os.path.abspath(os.path.join(a.build, "bin", "carnet"))
    root = tempfile.mkdtemp(prefix="carnet-team-bench-", dir=a.dir)
    n = a.laptops
    hub_dir = os.path.join(root, "hub")
    laps = [os.path.join(root, f"l{i:02d}") for i in range(n)]
    serves = []
    try:
        run(cli, hub_dir, "init")
        hub_id = ident(cli, hub_dir)
        keys = []
        for d in laps:
            run(cli, d, "init")
            run(cli, d, "peer", "trust", hub_id["key"], "--team", hub_id["team"])
            k = ident(cli, d)["key"]
            keys.append(k)
            run(cli, hub_dir, "peer", "trust", k)
        hub = Serve(cli, hub_dir, "hub", root)
        serves.append(hub)
        lap_serves = []
        for i, d in enumerate(laps):
            s = Serve(cli, d, f"l{i:02d}", root, hub.addr)
            serves.append(s)
            lap_serves.append(s)
        # Every laptop's first session caught up.
        t0 = time.time()
        while not all("synced" in s.text() for s in lap_serves):
            if time.time() - t0 > 60:
                sys.exit("the laptops did not all sync with the hub within 60 s")
            time.sleep(0.05)
        cpu0 = proc_cpu_s(hub.p.pid)
        t_start = time.time()

        # A reader of every log every 10 ms, from here to the end.
        stop_reading = threading.Event()

        def reader():
            while not stop_reading.is_set():
                now = time.time()
                for s in serves:
                    s.poll(now)
                time.sleep(0.01)

        rt = threading.Thread(target=reader, daemon=True)
        rt.start()

        # Edits: each laptop adds customers, then edits them; the commands
        # of all laptops interleave, `--jobs` at a time.
        ids = [[] for _ in range(n)]

        def add(i, k):
            out = run(cli, laps[i], "customer", "add", "--name", f"Client {i:02d}-{k}",
                      "--city", "Lyon", "--force")
            ids[i].append(out.strip().splitlines()[0])

        def edit(i, k):
            run(cli, laps[i], "customer", "edit", ids[i][k % len(ids[i])], "--notes",
                f"call back {i}-{k}")

        with ThreadPoolExecutor(max_workers=a.jobs) as ex:
            list(ex.map(lambda t: add(*t), [(i, k) for k in range(a.adds) for i in range(n)]))
            list(ex.map(lambda t: edit(*t), [(i, k) for k in range(a.edits) for i in range(n)]))
        t_last_edit = time.time()

        # Converged: the digests agree (checked once the logs have been
        # quiet for a second); the time is that of the last catching up
        # with cells received.
        deadline = t_last_edit + 120
        while True:
            time.sleep(0.2)
            last = max((s.last_rx or 0) for s in serves)
            if time.time() - max(last, t_last_edit) < 1.0:
                continue
            digests = {run(cli, d, "debug", "digest").strip() for d in [hub_dir] + laps}
            if len(digests) == 1:
                break
            if time.time() > deadline:
                sys.exit(f"no convergence within 120 s of the last edit ({len(digests)} digests)")
        conv_s = max(0.0, max((s.last_rx or 0) for s in serves) - t_last_edit)
        stop_reading.set()
        rt.join()
        cpu = proc_cpu_s(hub.p.pid) - cpu0
        mem = proc_mem_kb(hub.p.pid)
        wall = time.time() - t_start

        # Clean stops: the laptops first (each side logs its counters), then the hub.
        for s in lap_serves:
            s.stop()
        time.sleep(0.5)
        hub.stop()
        serves = []

        hub_log = hub.text()
        hub_by_key = {m.group(1): m for m in CLOSED.finditer(hub_log)}
        rows = []
        tot_in = tot_new = 0
        for i, s in enumerate(lap_serves):
            m = CLOSED.search(s.text())
            hm = hub_by_key.get(keys[i][:8])
            if not m or not hm:
                sys.exit(f"laptop {i}: no closed session in the logs")
            l_in, l_new, l_out, l_bin, l_bout = (int(x) for x in m.groups()[1:])
            h_in, h_new = int(hm.group(2)), int(hm.group(3))
            tot_in += l_in + h_in
            tot_new += l_new + h_new
            made = h_new  # what the hub took in from it as new: the cells it changed
            rows.append({"laptop": i, "fields_changed": made, "fields_received": l_new,
                         "cells_in": l_in, "bytes_out": l_bout, "bytes_in": l_bin,
                         "bytes_out_per_field": l_bout / made if made else None,
                         "bytes_in_per_field": l_bin / l_new if l_new else None,
                         "hub_cells_in": h_in})
        share = tot_new / tot_in if tot_in else 1.0
        load = os.getloadavg()
        summary = {
            "bench": "team", "laptops": n, "adds": a.adds, "edits": a.edits,
            "fields_changed": sum(r["fields_changed"] for r in rows),
            "bytes_out_per_field_median": statistics.median(r["bytes_out_per_field"] for r in rows),
            "bytes_out_per_field_max": max(r["bytes_out_per_field"] for r in rows),
            "bytes_in_per_field_median": statistics.median(r["bytes_in_per_field"] for r in rows),
            "bytes_in_per_field_max": max(r["bytes_in_per_field"] for r in rows),
            "hub_cells_in": sum(r["hub_cells_in"] for r in rows),
            "cells_received": tot_in, "cells_new": tot_new, "new_share": round(share, 4),
            "hub_cpu_s": round(cpu, 3), "hub_rss_peak_kb": mem.get("VmHWM"),
            "hub_rss_kb": mem.get("VmRSS"), "run_s": round(wall, 2),
            "convergence_s": round(conv_s, 3), "load": [round(x, 2) for x in load],
        }
        for r in rows:
            print(json.dumps({"bench": "team_laptop", "laptops": n, **r}))
        print(json.dumps(summary))
        print()
        print(f"team of {n} laptops + hub, {a.adds} adds and {a.edits} edits per laptop "
              f"(load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f})")
        print(f"  {'fields changed (cells)':40s} {summary['fields_changed']}")
        print(f"  {'laptop bytes sent / field changed':40s} median {summary['bytes_out_per_field_median']:.0f}"
              f", max {summary['bytes_out_per_field_max']:.0f}")
        print(f"  {'laptop bytes received / field received':40s} median {summary['bytes_in_per_field_median']:.0f}"
              f", max {summary['bytes_in_per_field_max']:.0f}")
        print(f"  {'cells received / new (share)':40s} {tot_in} / {tot_new} ({share:.3f})")
        print(f"  {'hub: cells in from laptops':40s} {summary['hub_cells_in']}")
        print(f"  {'hub CPU (user+sys)':40s} {cpu:.2f} s over {wall:.1f} s")
        print(f"  {'hub RSS peak / final':40s} {mem.get('VmHWM', 0) / 1024:.1f} MB / "
              f"{mem.get('VmRSS', 0) / 1024:.1f} MB")
        print(f"  {'last edit -> converged':40s} {conv_s * 1000:.0f} ms")
    finally:
        for s in serves:
            try:
                s.p.kill()
                s.p.wait(timeout=10)
            except Exception:
                pass
        if a.keep:
            print(f"# kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
