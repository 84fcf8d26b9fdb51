#!/usr/bin/python3
"""Files on a customer's page: upload one (with a marker inside) and a
caption, see it listed with its name, size and caption, download it
byte-identical, get it in the subject export's zip, then delete it: the list
empties, the replica marks it deleted and its content file is gone."""

import os
import zipfile

from harness import run, check


def content_files(a):
    d = os.path.join(a, "files")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def flow(s):
    a = s.replica("A")
    c = s.add_customer(a, "--name", "Hélène Fichier", "--city", "Lyon")
    marker = b"CARNET-BROWSER-MARKER-" + os.urandom(8).hex().encode()
    data = os.urandom(150000) + marker + os.urandom(70000)
    name = "devis signé.pdf"
    src = os.path.join(s.root, name)
    with open(src, "wb") as f:
        f.write(data)
    url = s.web(a)
    s.browser()
    s.open(url, "/customers/" + c["id"])

    s.text_of("#attachments-list", "Aucun fichier")
    s.visible("#attach-form-file").send_keys(src)
    s.set_input("#attach-form-caption", "Devis signé le 3 mars")
    s.click("#attach-go")
    row = s.text_of("#attachments-list tbody tr", "devis signé.pdf")
    check("220.0 KB" in row and "Devis signé le 3 mars" in row, "the row shows size and caption: %r" % row)
    atts = s.cli(a, "attachments", c["id"], json_out=True)
    check(len(atts) == 1 and atts[0]["size"] == len(data) and atts[0]["here"], "the replica has it: %r" % atts)
    s.mark("uploaded and listed")

    s.click("#attachments-list a.attachment-name")
    path = os.path.join(s.downloads, name)
    s.wait(lambda d: os.path.exists(path) and os.path.getsize(path) == len(data), message="%s downloaded" % name)
    with open(path, "rb") as f:
        check(f.read() == data, "the download is byte-identical")
    s.mark("downloaded byte-identical")

    s.click("#subject-archive")
    zips = lambda: [x for x in os.listdir(s.downloads) if x.endswith(".zip")]
    s.wait(lambda d: zips() and not any(x.endswith(".crdownload") for x in os.listdir(s.downloads)),
           message="the subject archive downloaded")
    with zipfile.ZipFile(os.path.join(s.downloads, zips()[0])) as z:
        names = z.namelist()
        check("subject.json" in names, "subject.json in %r" % names)
        inner = [n for n in names if n.startswith("files/") and n.endswith("/" + name)]
        check(len(inner) == 1 and marker in z.read(inner[0]), "the file with its marker in %r" % names)
    s.mark("subject archive holds the file")

    before = content_files(a)
    check(len(before) == 1, "one content file: %r" % before)
    s.driver.execute_script("window.confirm = () => true")
    s.click("#attachments-list .attachment-delete")
    s.text_of("#attachments-list", "Aucun fichier")
    atts = s.cli(a, "attachments", c["id"], "--deleted", json_out=True)
    check(len(atts) == 1 and atts[0]["deleted"], "marked deleted: %r" % atts)
    check(content_files(a) == [], "its content file is gone: %r" % content_files(a))
    s.mark("deleted")


run("attachments", flow)
