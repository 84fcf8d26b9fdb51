#!/usr/bin/python3
"""The sync page under `carnet serve --http`: a peer online while its
session is live and offline once it stops, with its last sync, as it
happens; an invite made on the page lets a new device join, which then
shows among the peers."""

import re

from harness import run, check, BIN


def flow(s):
    a = s.replica("A")
    b = s.replica("B")
    s.trust_pair(a, b)
    s.add_customer(a, "--name", "Jean Dupont")
    addr, url = s.node(a)
    idb = s.cli(b, "id", json_out=True)
    keyb = idb["key"]

    s.browser()
    s.open(url, "/sync")
    s.text_of("#replica-status", r"active, écoute sur " + re.escape(addr))
    peer = '#peers tr[data-key="%s"]' % keyb
    s.visible(peer)
    check(s.attr(peer, "data-online") == "false", "B is offline before it runs")
    s.text_of(peer, "jamais")
    s.mark("B listed, offline, never synced")

    # B runs as a node that dials A: online on the open page, then synced.
    p = s._start([BIN, "--dir", b, "serve", "--listen", "127.0.0.1:0", "--peer", addr, "--verbose"], "serve-B")
    p.wait_line(r"listening on", 15)
    s.visible(peer + '[data-online="true"]', timeout=10)
    s.wait(lambda d: "jamais" not in (s.text(peer) or "jamais"), message="B's last sync shown")
    check(s.attr(peer, "data-replica") == idb["replica"], "B's replica id, learned at the session")
    s.text_of("#peer-activity", r"synchronisé|connecté|authentifié")
    s.mark("B online and synced, live")

    problem = p.stop()
    check(problem is None, problem or "")
    s.visible(peer + '[data-online="false"]', timeout=10)
    s.mark("B offline once stopped, live")

    # An invite from the page, used by a new device.
    s.click("#invite")
    cmd = s.text_of("#invite-command", r"^carnet join \S+$")
    token = cmd.split()[-1]
    c = s.replica("C")
    s.cli(c, "join", token)
    keyc = s.cli(c, "id", json_out=True)["key"]
    s.visible('#peers tr[data-key="%s"]' % keyc, timeout=10)
    s.mark("C joined with the page's invite and is listed")


run("sync_page", flow)
