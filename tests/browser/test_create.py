#!/usr/bin/python3
"""Flow 2: create a customer with a bad phone; the API's message shows next
to the phone field and nothing is created; fix the phone; the customer is
created and its page shows."""

from selenium.webdriver.common.by import By

from harness import run, check


def count(s, a):
    return len(s.cli(a, "customer", "list", json_out=True))


def flow(s):
    a = s.replica("A")
    url = s.web(a)
    d = s.browser()
    d.get(url)
    s.click("#new-customer")
    s.visible("#customer-form")
    s.mark("new customer form")

    s.set_input("#name", "Paul Durand")
    s.set_input("#city", "Nantes")
    s.set_input("#emails", "paul@example.fr")
    s.set_input("#phones", "123")
    s.click("#save")

    # The message sits under the phone field (the error JSON named it), the
    # field is marked invalid, and it has the focus.
    msg = s.text_of("#phones-error", r"invalid phone number '123'")
    check("06 12 34 56 78" in msg, "the message says what a good number looks like: %r" % msg)
    check(s.attr("#phones", "aria-invalid") == "true", "the phone field is marked invalid")
    check(d.execute_script("return document.activeElement.id") == "phones", "the phone field has the focus")
    # ...and only there: no other field shows an error.
    others = [e.get_attribute("id") for e in s.finds(".field-error") if e.text and e.get_attribute("id") != "phones-error"]
    check(not others, "no other field shows an error: %s" % others)
    check(s.text("#form-error") == "", "no general error")
    check("/customers/new" in d.current_url, "still on the form")
    check(count(s, a) == 0, "nothing was created by the refused request")
    s.mark("bad phone refused, message under the field")
    s.screenshot("-error")

    s.set_input("#phones", "06 12 34 56 78")
    s.click("#save")
    s.text_of("#customer-name", r"^Paul Durand")
    check("/customers/new" not in d.current_url, "left the form for the page")
    s.text_of("#identity-body", r"06 12 34 56 78 \(mobile\)")
    s.text_of("#identity-body", "paul@example.fr")
    s.mark("created, page shown")

    rows = s.cli(a, "customer", "list", json_out=True)
    check(len(rows) == 1, "one customer in the replica")
    c = rows[0]
    check(c["name"] == "Paul Durand" and c["address"]["city"] == "Nantes", "its fields: %r" % c)
    ph = c["phones"]
    check(len(ph) == 1 and ph[0]["type"] == "mobile" and ph[0]["number"] == "+33612345678"
          and ph[0]["line"] == "mobile" and ph[0]["extension"] is None, "its phone: %r" % ph)
    check(d.current_url.endswith("/customers/" + c["id"]), "the page is its page: %s" % d.current_url)

    # Edit: a bad SIRET shows under the SIRET field; a good change saves.
    s.click("#edit")
    s.visible("#customer-form")
    s.set_input("#siret", "1234")
    s.click("#save")
    s.text_of("#siret-error", r"(?i)siret")
    check(s.text("#phones-error") == "", "the phone is fine this time")
    s.set_input("#siret", "")
    s.set_input("#city", "Rennes")
    # A custom field, first with a value its type refuses.
    s.set_input("#custom-new-name", "surface")
    s.find("#custom-new-type option[value='number']").click()
    s.set_input("#custom-new-value", "cent")
    s.click("#save")
    # The API names the custom field ("custom.surface"): the message shows
    # under the custom fields, not above the buttons.
    s.text_of("#custom-error", r"invalid value 'cent' for custom field 'surface' \(number\)")
    check(s.text("#form-error") == "", "no general error for a custom field's value")
    check(s.cli(a, "customer", "show", c["id"], json_out=True)["address"]["city"] == "Nantes",
          "a refused edit changed nothing (not even the city)")
    s.set_input("#custom-new-value", "120")
    s.click("#save")
    s.text_of("#identity-body", "Rennes")
    s.text_of("#identity-body", r"surface\s+120")
    c = s.cli(a, "customer", "show", c["id"], json_out=True)
    check(c["address"]["city"] == "Rennes" and c["siret"] is None, "edited: %r" % c["address"])
    check(c["custom"] == {"surface": {"type": "number", "value": "120"}}, "custom field: %r" % c["custom"])
    check([(p["type"], p["number"]) for p in c["phones"]] == [("mobile", "+33612345678")],
          "the phone kept: %r" % c["phones"])
    s.mark("edited")

    # A likely duplicate is refused, and the form lists the customer already
    # in the book it resembles (its link, score and reasons), not itself.
    s.click('#nav a[data-route="customers"]')
    s.click("#new-customer")
    s.visible("#customer-form")
    s.set_input("#name", "Paul Durant")
    s.set_input("#emails", "paul@example.fr")
    s.click("#save")
    item = s.text_of('#duplicate-list li[data-id="%s"]' % c["id"], r"Paul Durand")
    check("same email" in item, "the reasons are shown: %r" % item)
    check(len(s.finds("#duplicate-list li")) == 1, "one customer resembles it")
    check(count(s, a) == 1, "nothing was created by the refused request")
    s.mark("likely duplicate listed")


run("create", flow)
