#!/usr/bin/python3
"""Flow 4: from a customer's page, a quote with lines, validated (its
number shows), turned into an invoice, validated in turn: the invoice's
number and totals show, and match what the replica holds."""

import re

from harness import run, check


def add_line(s, label, qty, price, vat):
    before = len(s.finds("#doc-lines tbody tr"))
    s.set_input("#line-form-label", label)
    s.set_input("#line-form-qty", qty)
    s.set_input("#line-form-unit_price", price)
    s.find("#line-form-vat_rate option[value='%s']" % vat).click()
    s.click("#add-line")
    s.wait(lambda d: len(s.finds("#doc-lines tbody tr")) == before + 1, message="line %r added" % label)


def flow(s):
    a = s.replica("A")
    c = s.add_customer(a, "--name", "Hélène Martin", "--city", "Lyon")
    url = s.web(a)
    d = s.browser()
    s.open(url, "/customers/" + c["id"])
    s.text_of("#customer-name", "Hélène Martin")

    s.click("#new-quote")
    s.text_of("#doc-number", "brouillon")
    s.text_of("#doc-head h1", "Devis")
    # The header of a draft: a validity of 30 days.
    s.click("#doc-header-edit summary")
    s.set_input("#header-form-validity_days", "trente")
    s.click("#save-header")
    s.text_of("#header-form-validity_days-error", "trente")
    s.set_input("#header-form-validity_days", "30")
    s.click("#save-header")
    s.text_of("#doc-head", r"Validité \(jours\)\s+30")
    # A bad quantity: the message under the quantity.
    s.set_input("#line-form-label", "Pose")
    s.set_input("#line-form-qty", "deux")
    s.click("#add-line")
    s.text_of("#line-form-qty-error", "deux")
    check(not s.finds("#doc-lines tbody tr"), "no line added")
    add_line(s, "Pose", "2,5", "45", "10")
    add_line(s, "Fourniture", "1", "100", "20")
    # 2.5 x 45 = 112.50 at 10 %, 100 at 20 %: HT 212.50, VAT 11.25 + 20 = 31.25.
    s.text_of("#total-ht", r"^212,50\s€$")
    s.text_of("#total-vat", r"^31,25\s€$")
    s.text_of("#total-ttc", r"^243,75\s€$")
    s.mark("quote drafted with 2 lines")

    s.click("#validate")
    quote_no = s.text_of("#doc-number", r"^DE\d{4}-[0-9A-Z]{4}-\d{4}$")
    check(not s.shown("#line-form"), "a validated quote takes no more lines")
    s.mark("quote validated: " + quote_no)

    s.click("#convert-invoice")
    s.text_of("#doc-head h1", "Facture")
    s.text_of("#doc-number", "brouillon")
    check(len(s.finds("#doc-lines tbody tr")) == 2, "the invoice has the quote's lines")
    s.text_of("#total-ttc", r"^243,75\s€$")
    check(s.attr("#doc-source", "href").endswith("/documents/" + s.cli(a, "doc", "list", json_out=True)[0]["id"]),
          "the invoice links to its quote")
    s.click("#validate")
    inv_no = s.text_of("#doc-number", r"^F[A-Z]?\d{4}-[0-9A-Z]{4}-\d{4}$")
    s.text_of("#doc-status", r"\S")
    s.text_of("#total-ht", r"^212,50\s€$")
    s.text_of("#total-vat", r"^31,25\s€$")
    s.text_of("#total-ttc", r"^243,75\s€$")
    s.mark("invoice validated: " + inv_no)

    # Paid: the status moves forward (an invoice offers no "refused").
    opts = [o.get_attribute("value") for o in s.finds("#status-select option")]
    check(opts == ["paid"], "an invoice, once sent, can only be paid: %r" % opts)
    s.click("#set-status")
    s.text_of("#doc-status", "payé")

    # The replica agrees with the page.
    docs = {x["type"]: x for x in s.cli(a, "doc", "list", json_out=True)}
    inv = s.cli(a, "doc", "show", docs["invoice"]["id"], json_out=True)
    check(inv["status"] == "paid", "paid in the replica")
    check(inv["number"] == inv_no, "the invoice's number: page %s, replica %s" % (inv_no, inv["number"]))
    check(inv["totals"]["ttc"] == "243.75" and inv["totals"]["ht"] == "212.50", "totals: %r" % inv["totals"])
    check(docs["quote"]["number"] == quote_no, "the quote's number")
    check(s.cli(a, "doc", "show", docs["quote"]["id"], json_out=True)["validity_days"] == 30, "the quote's validity")
    check(re.match(r"#/documents/[0-9a-f]{32}$", d.current_url.split("/", 3)[3]), "on the invoice's page")

    # The customer's page lists both, and the history has the invoice.
    s.click("#doc-customer")
    s.text_of("#documents-list", inv_no)
    s.text_of("#documents-list", quote_no)
    s.text_of("#history-body", inv_no)
    s.text_of("#balance", r"€")
    s.mark("customer's page lists both")
    # Last screen: the invoice.
    s.click('#documents-list a[href$="%s"]' % docs["invoice"]["id"])
    s.text_of("#doc-number", inv_no)


run("invoice", flow)
