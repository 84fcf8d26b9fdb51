#!/usr/bin/python3
"""Flow 6: erase a person from their page after typing the confirmation;
the confirmation step lists the records merged with hers, erased with her
(a merged group is one person); the audit shows the certificate, confirmed
by this replica and waiting for the peer; once the peer has synced,
confirmed by both."""

from harness import run, check


def flow(s):
    a = s.replica("A")
    b = s.replica("B")
    s.trust_pair(a, b)
    c = s.add_customer(a, "--name", "Zoé Effacée", "--email", "zoe@example.fr", "--phone", "06 99 88 77 66")
    twin = s.add_customer(a, "--force", "--name", "Zoé Effacée", "--email", "zoe.pro@example.fr",
                          "--city", "Nantes")
    s.cli(a, "merge", c["id"], twin["id"])
    s.add_customer(a, "--name", "Jean Dupont", "--city", "Paris")
    ida = s.cli(a, "id", json_out=True)["replica"]
    idb = s.cli(b, "id", json_out=True)["replica"]
    addr, url = s.node(a)
    s.cli(b, "sync", addr)  # B holds her too
    check(any(x["id"] == c["id"] for x in s.cli(b, "customer", "list", json_out=True)), "B has her")

    d = s.browser()
    s.open(url, "/customers/" + c["id"])
    s.text_of("#customer-name", "Zoé Effacée")
    s.click("#erase summary")
    s.visible("#erase-form")
    # Before the confirmation: every record that goes with her.
    s.visible('#erase-group li[data-id="%s"]' % twin["id"])
    s.visible('#erase-group li[data-id="%s"]' % c["id"])
    s.text_of("#erase-group", r"2")
    check("Zoé Effacée" in s.text('#erase-group li[data-id="%s"]' % twin["id"]), "the merged record is named")
    label = s.text('label[for="erase-form-confirm"]')
    check(c["ref"] in label, "the label says what to type: %r" % label)

    s.set_input("#erase-form-reason", "demande du 06/12 par e-mail")
    check(not s.enabled("#erase-button"), "no confirmation typed: the button sleeps")
    s.set_input("#erase-form-confirm", c["ref"][:-1])
    check(not s.enabled("#erase-button"), "a wrong confirmation: the button sleeps")
    s.set_input("#erase-form-confirm", c["ref"].lower())
    check(not s.enabled("#erase-button"), "the reference in the wrong case: the button sleeps")
    check(len(s.cli(a, "customer", "list", json_out=True)) == 2, "nothing erased yet")
    s.set_input("#erase-form-confirm", c["ref"])
    s.wait(lambda d: s.enabled("#erase-button"), message="the exact reference wakes the button")
    s.screenshot("-confirm")
    s.click("#erase-button")
    s.mark("erase confirmed")

    # The audit: this certificate, highlighted, confirmed by A, B pending.
    row = '#erasures tr[data-id="%s"]' % c["id"]
    s.visible(row + ".highlight")
    check("/erasures" in d.current_url, "on the audit page")
    s.text_of(row + " .confirmed", ida + r" \(ce carnet\)")
    s.text_of(row + " .pending", idb)
    check(idb not in s.text(row + " .confirmed"), "B has not confirmed yet")
    check("demande du 06/12" in s.text(row), "the reason is shown")
    s.mark("audit: confirmed by A, pending for B")

    # Gone from A, and from the list.
    code, _, err = s.cli(a, "customer", "show", c["id"], ok=False)
    check(code != 0, "A no longer has her")
    code, _, err = s.cli(a, "customer", "show", twin["id"], ok=False)
    check(code != 0, "nor the record merged with hers")
    s.cli(b, "sync", addr)
    code, _, err = s.cli(b, "customer", "show", c["id"], ok=False)
    check(code != 0, "B erased her at its sync")
    # The open audit follows: B's confirmation arrives with B's sync (a
    # peer event and a change), and the page reads the audit again.
    s.text_of(row + " .confirmed", idb, timeout=5)
    s.text_of(row + " .pending", r"personne|^—$")
    s.click('#nav a[data-route="customers"]')
    s.wait(lambda d: len(s.rows()) == 1, message="one customer left on the list")
    s.click('#nav a[data-route="erasures"]')
    s.text_of(row + " .confirmed", idb)
    s.mark("audit: confirmed by A and B")


run("erase", flow)
