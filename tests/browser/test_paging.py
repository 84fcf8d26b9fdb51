#!/usr/bin/python3
"""The list pages by cursor, 50 at a time, and never asks for more: 120
customers read as pages of 50, 50 and 20; back and forth gives the same
pages; a search pages too."""

import os

from harness import run, check

N = 120


def page_ids(s):
    # One round trip for the whole page (50 get_attribute calls would be 50).
    return s.driver.execute_script(
        "return [...document.querySelectorAll('#results tbody tr')].map((r) => r.dataset.id)")


def wait_page(s, n, count, q=""):
    s.visible('#results[data-page="%d"][data-q="%s"]' % (n, q))
    s.wait(lambda d: len(page_ids(s)) == count, message="page %d has %d rows" % (n, count))
    s.text_of("#page", r"\b%d\b" % n)
    return page_ids(s)


def flow(s):
    a = s.replica("A")
    csv = os.path.join(s.root, "customers.csv")
    with open(csv, "w", encoding="utf-8") as f:
        f.write("Nom;Ville;Téléphone\n")
        for i in range(N):
            city = "Lyon" if i % 3 == 0 else "Paris"
            f.write("Client %03d;%s;06 00 00 %02d %02d\n" % (i, city, i // 100, i % 100))
    report = s.cli(a, "import", csv, json_out=True)
    check(report["imported"] == N, "imported %r" % report)
    # The console pages in id order (its cursor is the last id of a page);
    # `customer list` shows the oldest first, which for an import is the
    # file's order, not the ids' (an imported row's id is a hash of it).
    ids = sorted(c["id"] for c in s.cli(a, "customer", "list", json_out=True))
    url = s.web(a)
    d = s.browser()
    s.open(url)

    p1 = wait_page(s, 1, 50)
    check(not s.enabled("#prev"), "no previous page on page 1")
    s.click("#next")
    p2 = wait_page(s, 2, 50)
    s.click("#next")
    p3 = wait_page(s, 3, 20)
    check(not s.enabled("#next"), "no next page after the last")
    check(p1 + p2 + p3 == ids, "the three pages are the book in order, each customer once")
    s.text_of("#count", r"101.+120")
    s.mark("pages of 50, 50, 20")

    s.click("#prev")
    check(wait_page(s, 2, 50) == p2, "back to page 2: the same rows")
    s.click("#prev")
    check(wait_page(s, 1, 50) == p1, "back to page 1: the same rows")

    # A search pages as well (40 customers in Lyon), and starts at page 1.
    s.click("#next")
    wait_page(s, 2, 50)
    s.set_input("#search", "lyon")
    wait_page(s, 1, 40, "lyon")
    check(not s.enabled("#next"), "40 results: one page")
    s.mark("a search starts again at page 1")

    # Every list request asked for one page, never the whole book.
    urls = d.execute_script("""return performance.getEntriesByType('resource')
        .map((e) => e.name).filter((n) => n.includes('/api/customers?'))""")
    check(len(urls) >= 6, "the list requests were seen: %r" % urls)
    bad = [u for u in urls if "limit=50" not in u]
    check(not bad, "every list request is a page of 50: %r" % bad)
    check(any("cursor=" in u for u in urls), "later pages use the cursor")


run("paging", flow)
