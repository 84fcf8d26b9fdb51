#!/usr/bin/python3
"""A customer's page beyond the record: a contact (a bad phone's message
under the contact's phone field, then added), a consent granted with a note
and its log, an action (in the history too), a reminder that shows on
today's reminders and is marked done there."""

from harness import run, check


def flow(s):
    a = s.replica("A")
    c = s.add_customer(a, "--company=Boulangerie Martin", "--city", "Lyon")
    url = s.web(a)
    s.browser()
    s.open(url, "/customers/" + c["id"])
    s.text_of("#customer-name", "Boulangerie Martin")

    # Contact: the API's message under the contact form's phone field.
    s.set_input("#contact-form-name", "Marie Martin")
    s.find("#contact-form-role option[value='director']").click()
    s.set_input("#contact-form-phones", "123")
    s.click("#contact-form button[type=submit]")
    s.text_of("#contact-form-phones-error", "invalid phone number '123'")
    check(s.text("#contacts-list") and "Marie" not in s.text("#contacts-list"), "no contact added")
    s.set_input("#contact-form-phones", "04 78 00 00 00")
    s.click("#contact-form button[type=submit]")
    s.text_of("#contacts-list tbody", r"Marie Martin.*Dirigeant")
    s.text_of("#contacts-list tbody", "04 78 00 00 00")
    check(s.text("#contact-form-phones-error") == "", "the message is cleared")
    s.mark("contact added")

    # Consent by e-mail, with where it comes from; the log shows it.
    s.set_input("#consent-form-note", "formulaire signé, salon 2026")
    s.click('#consents li[data-channel="email"] button')
    s.visible('#consents li[data-channel="email"][data-granted="true"]')
    s.click("#consents details.log summary")
    s.text_of("#consents details.log tbody", r"E-mail.*accordé.*formulaire signé, salon 2026")
    s.mark("consent granted, in the log")

    # An action, listed and in the history.
    s.find("#action-form-channel option[value='visit']").click()
    s.set_input("#action-form-details", "visite du magasin")
    s.click("#action-form button[type=submit]")
    s.text_of("#actions-list tbody", r"Visite.*visite du magasin")
    s.text_of("#history-body", "visite du magasin")
    s.mark("action recorded")

    # A reminder for today, then on the day's list, done from there.
    s.set_input("#reminder-form-comment", "rappeler pour le devis")
    s.click("#reminder-form button[type=submit]")
    s.text_of("#reminders-list tbody", "rappeler pour le devis")
    s.click('#nav a[data-route="reminders"]')
    s.text_of("#reminders-due tbody", r"Boulangerie Martin.*rappeler pour le devis")
    s.click("#reminders-due tbody button")
    # Done: off the list of what is due.
    s.text_of("#reminders-due", r"^Aucun rappel\.$")
    r = s.cli(a, "reminder", "list", "--all", "--customer", c["id"], json_out=True)
    check(len(r) == 1 and r[0]["done"] is True, "done in the replica: %r" % r)
    s.mark("reminder due today, marked done")

    got = s.cli(a, "consent", "show", c["id"], json_out=True)
    check(got["consents"]["email"]["granted"] is True, "the consent is in the replica")
    check(len(s.cli(a, "action", "list", json_out=True)) == 1, "one action in the replica")


run("customer_page", flow)
