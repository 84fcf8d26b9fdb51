#!/usr/bin/python3
"""Import a CSV through the page: the report counts the rows and lists the
rejected one with its line, column and reason; then export the customers to
a CSV file downloaded by the browser."""

import os

from harness import run, check


def flow(s):
    a = s.replica("A")
    csv = os.path.join(s.root, "clients.csv")
    with open(csv, "w", encoding="utf-8") as f:
        f.write("Nom;Téléphone;Ville\nHélène Martin;06 12 34 56 78;Lyon\nJean Mauvais;123;Paris\n"
                "Zoé Bernard;07 11 22 33 44;Nantes\n")
    url = s.web(a)
    s.browser()
    s.open(url, "/import")

    # A dry run first: counted, nothing written.
    s.visible("#import-file").send_keys(csv)
    s.click("#import-dry")
    s.click("#import-go")
    s.text_of("#import-report h2", "rien n’a été écrit")
    s.text_of("#import-imported", "^2$")
    check(s.cli(a, "customer", "list", json_out=True) == [], "a dry run writes nothing")

    s.click("#import-dry")
    s.click("#import-go")
    s.text_of("#import-report h2", "^Compte rendu$")
    s.text_of("#import-rows", "^3$")
    s.text_of("#import-imported", "^2$")
    s.text_of("#import-rejected", "^1$")
    s.text_of("#import-report tbody tr.reject", r"^3\s+Téléphone\s+invalid phone number '123'")
    s.text_of("#import-report tbody tr.reject", "Jean Mauvais")
    names = sorted(c["name"] for c in s.cli(a, "customer", "list", json_out=True))
    check(names == ["Hélène Martin", "Zoé Bernard"], "imported: %r" % names)
    s.mark("imported 2, rejected 1 shown")
    s.screenshot("-report")

    s.click('#nav a[data-route="export"]')
    s.click("#export-go")
    name = s.text_of("#export-result", r"carnet-customers.*\.csv").split()[0]
    path = os.path.join(s.downloads, name)
    s.wait(lambda d: os.path.exists(path) and os.path.getsize(path) > 0, message="%s downloaded" % name)
    with open(path, encoding="utf-8-sig") as f:
        data = f.read()
    check("Hélène Martin" in data and "Zoé Bernard" in data and "Jean Mauvais" not in data,
          "the export holds the two customers: %r" % data[:300])
    s.mark("exported %s" % name)


run("import_export", flow)
