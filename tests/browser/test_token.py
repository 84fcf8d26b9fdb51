#!/usr/bin/python3
"""The access token: the printed link works and the token leaves the
address bar; no token or a wrong one shows "open the link printed by
carnet"; after carnet restarts (a new token) an open page says so too."""

import re

from harness import run, check

MESSAGE = "Ouvrez le lien affiché par carnet"


def flow(s):
    a = s.replica("A")
    s.add_customer(a, "--name", "Hélène Martin")
    url = s.web(a)
    base, token = url.split("/#token=")
    d = s.browser()

    # No token at all: the message, and no list.
    d.get(base + "/")
    s.text_of("#token-screen h1", MESSAGE)
    check(not s.finds("#results"), "no list without a token")
    s.mark("no token: the message")

    # A wrong token, opened in the same tab: the token is taken, the API
    # answers 401, and the message is shown anew (the old one is removed
    # first, so what is seen is the page's answer to the 401).
    d.execute_script("document.getElementById('token-screen').remove()")
    d.get(base + "/#token=" + "0" * 64)
    s.text_of("#token-screen h1", MESSAGE)
    check("token" not in d.current_url, "even a wrong token leaves the address bar")
    check(d.execute_script("return sessionStorage.getItem('carnet.token')") == "0" * 64,
          "the wrong token was taken and sent (the 401 is the server's answer)")
    s.mark("wrong token: the message")

    # The printed link: the list, and the token gone from the address bar.
    d.get(url)
    s.wait(lambda d: len(s.rows()) == 1, message="the list with the right token")
    check("token" not in d.current_url, "the token left the address bar: %s" % d.current_url)
    check(d.execute_script("return sessionStorage.getItem('carnet.token')") == token, "kept in sessionStorage")
    check(d.execute_script("return localStorage.getItem('carnet.token')") is None, "not in localStorage")
    check(not d.execute_script("return document.cookie"), "no cookie")
    check(not s.finds("#token-screen"), "no message")
    d.refresh()
    s.wait(lambda d: len(s.rows()) == 1, message="a reload keeps working (sessionStorage)")
    s.mark("printed link: list, token out of the address bar")

    # carnet restarts on the same port with a new token: the open page (its
    # event stream reconnects, gets 401) shows the message by itself.
    port = re.search(r":(\d+)$", base).group(1)
    s.wait(lambda d: s.attr("#live", "data-state") == "live", message="live before the restart")
    problem = s.procs[0].stop()
    check(problem is None, problem or "")
    p = s._start([s.procs[0].args[0], "--dir", a, "web", "--http", "127.0.0.1:" + port], "web")
    url2 = p.wait_line(r"^console: (http://127\.0\.0\.1:%s/#token=[0-9a-f]{64})$" % port, 15).group(1)
    check(url2 != url, "a new token at each start")
    s.text_of("#token-screen h1", MESSAGE, timeout=15)
    s.mark("restarted carnet: the open page shows the message")
    # The new link brings the page back.
    d.get(url2)
    s.wait(lambda d: len(s.rows()) == 1, message="the new link works")
    # A tab without the token (sessionStorage is per tab): the message.
    d.execute_script("sessionStorage.clear()")
    d.get(base + "/")
    d.refresh()
    s.text_of("#token-screen h1", MESSAGE)


run("token", flow)
