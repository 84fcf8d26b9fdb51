#!/usr/bin/python3
"""Flow 3: a duplicate pair is reviewed side by side with its reasons,
merged from the page, then unmerged from the page."""

from harness import run, check


def listed(s, a):
    return sorted(c["name"] for c in s.cli(a, "customer", "list", json_out=True))


def flow(s):
    a = s.replica("A")
    first = s.add_customer(a, "--name", "Hélène Martin", "--phone", "06 12 34 56 78", "--city", "Lyon",
                           "--email", "helene@example.fr")
    second = s.add_customer(a, "--force", "--name", "Helene Martin", "--phone", "06 12 34 56 78", "--city", "Lyon",
                            "--tag", "salon")
    s.add_customer(a, "--name", "Jean Dupont", "--city", "Paris")
    check(listed(s, a) == ["Helene Martin", "Hélène Martin", "Jean Dupont"], "three customers before")
    url = s.web(a)
    d = s.browser()
    d.get(url)
    s.click('#nav a[data-route="duplicates"]')

    s.visible("article.pair")
    check(len(s.finds("#pairs article.pair")) == 1, "one likely pair")
    keep_id = s.attr("#pairs article.pair", "data-a")
    other_id = s.attr("#pairs article.pair", "data-b")
    ids = {keep_id, other_id}
    check(ids == {first["id"], second["id"]}, "the pair is the two Hélène")
    text = s.text("#pairs article.pair")
    check("same phone" in text, "the reasons are shown: %r" % text)
    sides = s.rows("#pairs article.pair .side")
    check(len(sides) == 2 and "Lyon" in sides[0] and "Lyon" in sides[1], "side by side, with their city")
    s.mark("pair shown side by side")
    s.screenshot("-pair")

    # Merge, keeping side A.
    s.click("#pairs article.pair .merge-keep-a")
    s.visible("#no-pairs")
    s.visible('#recent li[data-keep="%s"][data-other="%s"]' % (keep_id, other_id))
    names = listed(s, a)
    check(len(names) == 2 and "Jean Dupont" in names, "merged: the group is listed once: %r" % names)
    survivor = s.cli(a, "customer", "show", keep_id, json_out=True)
    check(other_id in survivor["merged"], "the survivor lists the other as merged")
    check("salon" in survivor["tags"] and "helene@example.fr" in survivor["emails"],
          "the survivor reads the fields of both: %r %r" % (survivor["tags"], survivor["emails"]))
    s.mark("merged")

    # The survivor's page shows the merged member, with a way back.
    d.execute_script("location.hash = arguments[0]", "/customers/" + keep_id)
    s.visible('#merged-list li[data-id="%s"]' % other_id)
    d.back()
    s.visible("#recent")

    # Unmerge from the duplicates page.
    s.click('#recent li[data-other="%s"] button.unmerge' % other_id)
    s.wait(lambda d: not s.finds("#recent"), message="the recent merge is gone once undone")
    s.visible("#pairs article.pair")
    check(listed(s, a) == ["Helene Martin", "Hélène Martin", "Jean Dupont"], "unmerged: three customers again")
    check(s.cli(a, "customer", "show", keep_id, json_out=True)["merged"] == [], "nothing merged any more")
    s.mark("unmerged")

    # "Later" moves the pair to the review list; "not the same" there takes
    # it off for good.
    s.click("#pairs article.pair .later")
    s.visible("#no-pairs")
    s.visible('#review article.pair[data-a="%s"]' % keep_id)
    s.text_of("#review article.pair h2", "Mise de côté")
    s.mark("set aside, on the review list")
    s.click("#review article.pair .dismiss")
    s.text_of("#review", "Rien à revoir")
    s.visible("#no-pairs")
    check(s.cli(a, "dupes", json_out=True) == [], "dismissed: carnet dupes proposes nothing")
    check(s.cli(a, "dupes", "review", json_out=True) == [], "nothing left to review")
    s.mark("dismissed")


run("merge", flow)
