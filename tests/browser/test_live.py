#!/usr/bin/python3
"""Flow 5: a customer added on another replica (a second `carnet`, trusted,
syncing with this one) appears on the open list within a second, without a
reload of the page."""

import time

from harness import run, check, T


def flow(s):
    a = s.replica("A")
    b = s.replica("B")
    s.trust_pair(a, b)
    s.add_customer(a, "--name", "Jean Dupont", "--city", "Paris")
    addr, url = s.node(a)
    # B catches up first, so the sync below carries only the new customer.
    s.cli(b, "sync", addr)

    d = s.browser()
    s.open(url)
    s.wait(lambda d: len(s.rows()) == 1, message="A's list shows Jean Dupont")
    s.wait(lambda d: s.attr("#live", "data-state") == "live", message="the live stream is connected")
    # A mark that a reload would wipe out: it must still be there at the end.
    d.execute_script("window.__noReload = 'still here'")
    # A second reader of the event stream, beside the page's, records what
    # the server sends: the change must come from the peer (B's batch
    # applied by A's node), not from a poll of the directory.
    d.execute_script("""
        window.__events = [];
        fetch('/api/events', {headers: {'X-Carnet-Token': sessionStorage.getItem('carnet.token')}})
          .then(async (res) => {
            const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
            for (;;) {
              const {value, done} = await reader.read();
              if (done) break;
              window.__events.push(value);
            }
          });""")
    s.wait(lambda d: "event: hello" in "".join(d.execute_script("return window.__events")),
           message="the recorder is connected")
    s.mark("list open on A, live")

    c = s.add_customer(b, "--name", "Zoé Nouvelle", "--city", "Nantes")
    check(not any("Zoé Nouvelle" in r for r in s.rows()), "not on A's page before the sync")
    s.cli(b, "sync", addr)
    synced = time.monotonic()
    s.mark("B synced with A")

    row = 'tr[data-id="%s"]' % c["id"]
    s.visible("#results " + row, timeout=5)
    took = time.monotonic() - synced
    s.mark("appeared on A's open list %.0f ms after the sync ended" % (took * 1000))
    check(took <= T(1.0), "it took %.2fs, more than a second" % took)
    check(d.execute_script("return window.__noReload") == "still here", "the page was not reloaded")
    check("Zoé Nouvelle" in s.text("#results " + row), "the row shows her name")
    check(len(s.rows()) == 2, "two customers listed")
    stream = "".join(d.execute_script("return window.__events"))
    check('"source":"peer"' in stream.replace(" ", "") and c["id"] in stream,
          "the change came from the peer, naming her: %r" % stream[-600:])

    # An edit from the peer shows as well (the row is read again).
    s.cli(b, "customer", "edit", c["id"], "--city", "Angers")
    s.cli(b, "sync", addr)
    s.text_of("#results " + row, "Angers", timeout=5)
    check(d.execute_script("return window.__noReload") == "still here", "still no reload")
    s.mark("an edit from B shown too")


run("live", flow)
