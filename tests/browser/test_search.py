#!/usr/bin/python3
"""Flow 1: typing "helene" in the list's search finds "Hélène" (the search
folds accents and case), and only her."""

from harness import run, check


def flow(s):
    a = s.replica("A")
    helene = s.add_customer(a, "--name", "Hélène Martin", "--city", "Lyon", "--phone", "06 12 34 56 78")
    s.add_customer(a, "--name", "Jean Dupont", "--city", "Paris")
    s.add_customer(a, "--company=Boulangerie Helios", "--city", "Lille")
    url = s.web(a)
    d = s.browser()
    d.get(url)

    # The whole (small) list first: the search has something to narrow.
    s.wait(lambda d: len(s.rows()) == 3, message="the list shows the 3 customers")
    check(any("Jean Dupont" in r for r in s.rows()), "Jean Dupont is listed before searching")
    s.mark("list shown")

    box = s.visible("#search")
    box.send_keys("helene")
    s.visible('#results[data-q="helene"]')
    # Only Hélène: Jean is gone, and "Helios" is not a match for "helene".
    s.wait(lambda d: len(s.rows()) == 1 and "Hélène Martin" in s.rows()[0],
           message="typing 'helene' leaves exactly Hélène Martin")
    check(s.attr("#results tbody tr", "data-id") == helene["id"], "the row is Hélène's (by id)")
    s.mark("'helene' found Hélène")

    # Upper case and a partial word, and the search kept in the address bar.
    box.clear()
    box.send_keys("HÉLÈ")
    s.visible('#results[data-q="HÉLÈ"]')
    s.wait(lambda d: len(s.rows()) == 1 and "Hélène" in s.rows()[0], message="'HÉLÈ' finds Hélène")
    check("q=H%C3%89L%C3%88" in d.current_url or "q=HÉLÈ" in d.current_url, "the search is kept in the URL: %s" % d.current_url)

    # Nothing matches: an explicit empty state, not a stale list.
    box.clear()
    box.send_keys("zzzz")
    s.visible('#results[data-q="zzzz"] #empty')
    check(len(s.rows()) == 0, "no rows for 'zzzz'")

    box.clear()
    box.send_keys("helene")
    s.visible('#results[data-q="helene"]')
    s.wait(lambda d: len(s.rows()) == 1, message="back to Hélène")
    # Her page from the result.
    s.click("#results tbody tr a.name")
    s.text_of("#customer-name", "Hélène Martin")
    s.text_of("#identity-body", "06 12 34 56 78")
    s.mark("her page")


run("search", flow)
