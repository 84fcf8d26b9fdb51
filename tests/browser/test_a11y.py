#!/usr/bin/python3
"""Accessible basics on every screen: each form control has a label (or an
accessible name), each button has a name, nothing clickable is a bare div;
and a keyboard alone finds a customer, opens her page and reaches the
erasure form."""

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from harness import run, check

# Controls without an accessible name, buttons without a name, and
# elements made clickable by hand (role=button or tabindex on a div/span).
AUDIT = r"""
const name = (e) => (e.getAttribute('aria-label') || (e.labels && [...e.labels].map((l) => l.textContent).join(' ')) ||
                     e.getAttribute('aria-labelledby') && document.getElementById(e.getAttribute('aria-labelledby'))?.textContent || '').trim();
const out = [];
for (const e of document.querySelectorAll('input, select, textarea')) {
  if (e.type === 'hidden' || e.closest('[hidden]')) continue;
  if (!name(e)) out.push('no label: ' + e.outerHTML.slice(0, 120));
}
for (const b of document.querySelectorAll('button, a[href]')) {
  if (!(b.textContent || b.getAttribute('aria-label') || b.getAttribute('title') || '').trim())
    out.push('no name: ' + b.outerHTML.slice(0, 120));
}
for (const e of document.querySelectorAll('div[tabindex], span[tabindex], [role=button]:not(button)'))
  out.push('hand-made control: ' + e.outerHTML.slice(0, 120));
if (!document.querySelector('main h1')) out.push('no h1');
return out;
"""


def audit(s, where):
    problems = s.driver.execute_script(AUDIT)
    check(not problems, "%s: %s" % (where, problems))


def flow(s):
    a = s.replica("A")
    c = s.add_customer(a, "--name", "Hélène Martin", "--city", "Lyon", "--phone", "06 12 34 56 78")
    s.add_customer(a, "--force", "--name", "Helene Martin", "--city", "Lyon", "--phone", "06 12 34 56 78")
    doc = s.cli(a, "doc", "add", "--type", "quote", "--customer", c["id"]).strip()
    s.cli(a, "doc", "line", "add", doc, "--label", "Pose", "--price", "45")
    s.cli(a, "reminder", "add", "--customer", c["id"], "--comment", "rappeler")
    url = s.web(a)
    d = s.browser()
    s.open(url)
    s.wait(lambda d: len(s.rows()) == 2, message="the list")
    screens = [("/", "#results tbody tr"), ("/customers/new", "#customer-form"),
               ("/customers/" + c["id"], "#history-body .balance"), ("/documents/" + doc, "#doc-lines tbody tr"),
               ("/documents", "#documents-results tbody tr"), ("/duplicates", "article.pair"),
               ("/reminders", "#reminders-due tbody tr"), ("/sync", "#replica-status dl"),
               ("/erasures", "#erasures"), ("/import", "#import-form"), ("/export", "#export-form")]
    for route, ready in screens:
        d.execute_script("location.hash = arguments[0]", route)
        s.visible(ready)
        if route.startswith("/customers/0"):
            s.click("#erase summary")
            s.visible("#erase-form")
        audit(s, route)
    s.mark("%d screens: every control labelled, every button named" % len(screens))

    # The keyboard alone: search, Tab to the result, Enter, then the
    # erasure form's summary with Enter.
    d.execute_script("location.hash = '/'")
    s.visible("#results tbody tr")
    s.wait(lambda d: d.execute_script("return document.activeElement.id") == "search", message="the search has the focus")
    d.switch_to.active_element.send_keys("helene")
    s.visible('#results[data-q="helene"]')
    for _ in range(30):
        if d.execute_script("return document.activeElement.matches('#results a.name')"):
            break
        d.switch_to.active_element.send_keys(Keys.TAB)
    check(d.execute_script("return document.activeElement.matches('#results a.name')"), "Tab reaches the first result")
    d.switch_to.active_element.send_keys(Keys.ENTER)
    s.text_of("#customer-name", "Hélène Martin|Helene Martin")
    for _ in range(120):
        if d.execute_script("return document.activeElement.matches('#erase summary')"):
            break
        # Through the keyboard, not into the element: on the files' <input
        # type=file> selenium would take the key for a path to upload.
        ActionChains(d).send_keys(Keys.TAB).perform()
    check(d.execute_script("return document.activeElement.matches('#erase summary')"), "Tab reaches the erasure")
    d.switch_to.active_element.send_keys(Keys.ENTER)
    s.visible("#erase-form-reason")
    s.mark("keyboard: search, result, page, erasure form")


run("a11y", flow)
