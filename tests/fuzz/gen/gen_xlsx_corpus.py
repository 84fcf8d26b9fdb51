#!/usr/bin/env python3
"""Writes tests/fuzz/corpus/xlsx/shared_dates.xlsx: a small workbook as
Excel writes it (shared strings with a rich-text run and a phonetic run,
an inline string, numbers, a phone and a postcode typed as numbers, dates
in a built-in and a custom date style, the 1900 date system, a skipped row).
tests/cli/test_import.c imports it; the fuzz replay mutates it.
Usage: gen_xlsx_corpus.py OUT.xlsx"""
import sys
import zipfile

CT = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>"""
RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"""
WB = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><workbookPr/><sheets><sheet name="Clients" sheetId="7" r:id="rId9"/></sheets></workbook>"""
WBRELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/><Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"""
STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="2"><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/><numFmt numFmtId="165" formatCode="0.00&quot; d&quot;"/></numFmts><cellStyleXfs count="1"><xf numFmtId="0"/></cellStyleXfs><cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/><xf numFmtId="165"/></cellXfs></styleSheet>"""
SS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="12" uniqueCount="12"><si><t>Nom</t></si><si><t>Prénom</t></si><si><t>Téléphone</t></si><si><t>Code postal</t></si><si><t>Ville</t></si><si><t>custom:depuis:date</t></si><si><t>custom:rappel:date</t></si><si><t>Dupont</t></si><si><r><t>Zo</t></r><r><rPr><b/></rPr><t>é</t></r><rPh sb="0" eb="1"><t>ゾエ</t></rPh></si><si><t xml:space="preserve"> Martin &amp; Fils </t></si><si><t>custom:poids:number</t></si><si><t>Société</t></si></sst>"""
SHEET = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v></c><c r="E1" t="s"><v>4</v></c><c r="F1" t="s"><v>5</v></c><c r="G1" t="s"><v>6</v></c><c r="H1" t="s"><v>10</v></c><c r="I1" t="s"><v>11</v></c></row><row r="2"><c r="A2" t="s"><v>7</v></c><c r="B2" t="s"><v>8</v></c><c r="C2"><v>612345678</v></c><c r="D2"><v>1000</v></c><c r="E2" t="inlineStr"><is><t>Besançon</t></is></c><c r="F2" s="1"><v>45000</v></c><c r="G2" s="2"><v>45001.75</v></c><c r="H2" s="3"><v>12.5</v></c></row><row r="4"><c r="B4" t="str"><f>"Léa"</f><v>Léa</v></c><c r="C4" t="str"><v>0698765432</v></c><c r="E4" t="inlineStr"><is><t>Évry</t></is></c><c r="H4"><v>1.0E2</v></c><c r="I4" t="s"><v>9</v></c></row></sheetData></worksheet>"""

with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for name, text in [("[Content_Types].xml", CT), ("_rels/.rels", RELS), ("xl/workbook.xml", WB),
                       ("xl/_rels/workbook.xml.rels", WBRELS), ("xl/styles.xml", STYLES),
                       ("xl/sharedStrings.xml", SS), ("xl/worksheets/sheet1.xml", SHEET)]:
        z.writestr(name, text)
