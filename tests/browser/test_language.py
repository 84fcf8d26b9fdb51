#!/usr/bin/python3
"""French by default, English by the language switch, the choice kept
across a reload; and the dictionary is whole: every key the scripts use
exists in French and in English."""

import glob
import os
import re

from harness import run, check, SOURCE_DIR


def texts(s):
    return {
        "nav": s.text('#nav a[data-route="customers"]'),
        "h1": s.text("main h1"),
        "label": s.text('label[for="search"]'),
        "lang": s.driver.execute_script("return document.documentElement.lang"),
    }


def flow(s):
    a = s.replica("A")
    c = s.add_customer(a, "--name", "Hélène Martin", "--city", "Lyon")
    url = s.web(a)
    d = s.browser()
    s.open(url)
    s.wait(lambda d: len(s.rows()) == 1, message="the list")
    check(texts(s) == {"nav": "Clients", "h1": "Clients", "label": "Rechercher", "lang": "fr"},
          "French by default: %r" % texts(s))
    s.text_of("#live", "en direct")
    s.mark("French by default")

    s.find("#lang option[value='en']").click()
    s.wait(lambda d: texts(s) == {"nav": "Customers", "h1": "Customers", "label": "Search", "lang": "en"},
           message="English after the switch")
    s.text_of("#live", "^live$")
    s.text_of("#results thead", "Name")
    check(len(s.rows()) == 1, "the list is still there")
    s.mark("switched to English")

    d.refresh()
    s.wait(lambda d: len(s.rows()) == 1, message="the list after a reload")
    check(texts(s)["h1"] == "Customers", "English kept across a reload")
    s.click("#results tbody tr a.name")
    s.text_of("#identity-title", "^Record$")
    s.text_of("#consents-title", "^Consents$")
    s.text_of('#consents li[data-channel="email"]', "not granted")
    s.mark("a customer's page in English")

    s.find("#lang option[value='fr']").click()
    s.text_of("#identity-title", "^Fiche$")
    s.text_of('#consents li[data-channel="email"]', "non accordé")
    s.find("#lang option[value='en']").click()
    s.text_of("#identity-title", "^Record$")

    # The dictionary: same keys in both languages, and every literal key
    # of the scripts present (a missing one would show as its key).
    keys = d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        import('/js/i18n.js').then((m) => done({fr: Object.keys(m.strings.fr), en: Object.keys(m.strings.en)}));
    """)
    fr, en = set(keys["fr"]), set(keys["en"])
    check(fr == en, "French and English have the same keys; only in fr: %s; only in en: %s"
          % (sorted(fr - en), sorted(en - fr)))
    used = set()
    for path in glob.glob(os.path.join(SOURCE_DIR, "web", "assets", "js", "**", "*.js"), recursive=True):
        if path.endswith("i18n.js"):
            continue  # the dictionary itself (its comments show t('key'))
        with open(path, encoding="utf-8") as f:
            used |= set(re.findall(r"\bt\('([a-z_.]+)'", f.read()))
    with open(os.path.join(SOURCE_DIR, "web", "assets", "index.html"), encoding="utf-8") as f:
        used |= set(re.findall(r'data-i18n="([a-z_.]+)"', f.read()))
    check(len(used) > 100, "the scripts' keys were found (%d)" % len(used))
    missing = sorted(used - fr)
    check(not missing, "keys used but not in the dictionary: %s" % missing)
    s.mark("dictionary: %d keys, %d used literally, all present" % (len(fr), len(used)))


run("language", flow)
