#!/usr/bin/python3
"""At a phone's width (390 px) the console fits: no page scrolls sideways,
tables read as one card per row with each value labelled, and the flows
still work (search, a customer's page, a document)."""

from harness import run, check

# screen.width is the phone's (390); a page wider than it would make a
# phone zoom out (window.innerWidth grows) or scroll sideways.
OVERFLOW = """return {doc: document.documentElement.scrollWidth, inner: window.innerWidth, win: screen.width,
  wide: [...document.querySelectorAll('main *')].filter((e) => e.getBoundingClientRect().right > screen.width + 1)
        .slice(0, 5).map((e) => e.tagName + '#' + e.id + '.' + e.className)}"""


def fits(s, where):
    r = s.driver.execute_script(OVERFLOW)
    check(r["doc"] <= r["win"] and r["inner"] <= r["win"] and not r["wide"], "%s: wider than the phone (%r)" % (where, r))


def flow(s):
    a = s.replica("A")
    c = s.add_customer(a, "--name", "Hélène Martin-Delacroix de la Fontaine", "--city", "Saint-Rémy-de-Provence",
                       "--email", "helene.martin-delacroix@exemple-de-domaine-long.fr", "--phone", "06 12 34 56 78",
                       "--tag", "salon-2026", "--company=Établissements Martin et Fils SARL")
    s.add_customer(a, "--name", "Jean Dupont", "--city", "Paris")
    doc = s.cli(a, "doc", "add", "--type", "quote", "--customer", c["id"]).strip()
    s.cli(a, "doc", "line", "add", doc, "--label", "Pose de menuiseries extérieures en aluminium", "--qty", "2.5",
          "--price", "1450", "--vat", "10")
    url = s.web(a)
    s.browser(390, 844, phone=True)
    s.open(url)
    s.wait(lambda d: len(s.rows()) == 2, message="the list")
    check(s.driver.execute_script("return screen.width") == 390, "a phone-sized screen")
    check(not s.shown("#results thead"), "no header row on a phone")
    label = s.driver.execute_script(
        "return getComputedStyle(document.querySelector('#results tbody td'), '::before').content")
    check("Référence" in label, "each cell shows its column's name: %r" % label)
    fits(s, "the list")
    s.set_input("#search", "helene")
    s.visible('#results[data-q="helene"]')
    s.wait(lambda d: len(s.rows()) == 1, message="search on a phone")
    fits(s, "the search")
    s.mark("list fits")

    s.click("#results tbody tr a.name")
    s.text_of("#customer-name", "Hélène")
    s.text_of("#documents-list", "Devis")
    fits(s, "a customer's page")
    s.mark("customer's page fits")
    s.click("#documents-list tbody a")
    s.text_of("#total-ttc", r"3\s?987,50")
    fits(s, "a document")
    s.click('#nav a[data-route="sync"]')
    s.visible("#replica-status dl")
    fits(s, "the sync page")
    s.click('#nav a[data-route="customers"]')
    s.wait(lambda d: len(s.rows()) >= 1, message="back to the list")
    s.mark("document and sync pages fit")


run("phone", flow)
