#!/usr/bin/env bash
# scripts/dev/import-compare.sh - do two builds of `carnet` import a file the
# same way? Each imports FILE into its own copy of one replica (same identity
# and keys, so the same row ids), then the outputs are compared byte for byte:
# the --json report (less its "seconds"), the --report file, `carnet export`
# (CSV: every customer, its id and fields) and `carnet dupes --json`; last,
# `carnet check` of the second build's replica.
#
#   scripts/dev/import-compare.sh OLD_CARNET NEW_CARNET FILE [import options...]
#   PRE=FILE0 scripts/dev/import-compare.sh ...   (both import FILE0 first)
#   scripts/dev/import-compare.sh --gen ROWS SEED > FILE
#
# --gen writes a CSV full of duplicates: a quarter of the rows repeat an
# earlier row's e-mail (in another case), phone (in another written form) or
# SIRET, half of them within the 50 rows before (the same group), half from
# anywhere before (an earlier group); extra e-mails and mobiles, 1 % bad
# e-mails. Exit status: 0 when everything is the same.
set -euo pipefail

if [ "${1:-}" = --gen ]; then
  exec python3 - "${2:-20000}" "${3:-7}" <<'EOF'
import random, sys
n = int(sys.argv[1]); random.seed(int(sys.argv[2]))
def phone(k):
    d = "61%07d" % k
    return random.choice(["0" + d, "0%s %s %s %s %s" % (d[0], d[1:3], d[3:5], d[5:7], d[7:9]),
                          "+33 " + d, "+33 (0)" + d, "0%s.%s.%s.%s.%s" % (d[0], d[1:3], d[3:5], d[5:7], d[7:9]),
                          "0033" + d])
def siret(k):
    s = "4%012d" % k; t = 0
    for i in range(13):
        x = int(s[12 - i])
        if i % 2 == 0: x = x * 2 - 9 if x * 2 > 9 else x * 2
        t += x
    return s + str((10 - t % 10) % 10)
print("Nom;Prénom;Société;E-mail;Téléphone;Portable;SIRET;Ville;Notes")
for i in range(n):
    k = i
    if i > 10 and random.random() < 0.25:
        k = random.randint(max(0, i - 50), i - 1) if random.random() < 0.5 else random.randint(0, i - 1)
    email = "client.%d@exemple.fr" % k
    if random.random() < 0.3: email = email.upper()
    more = "|autre.%d@ex.fr" % random.randint(0, n) if random.random() < 0.2 else ""
    ph = phone(k) if random.random() < 0.9 else ""
    mob = phone(random.randint(0, n)) if random.random() < 0.3 else ""
    sir = siret(k + 1) if k % 4 == 0 and random.random() < 0.8 else ""
    if random.random() < 0.01: email = "bad@"
    if random.random() < 0.3 and k != i: email = ""
    print(";".join(["Nom%d" % k, "P%d" % (i % 13), "", email + more, ph, mob, sir,
                    random.choice(["Paris", "Lyon", "Nîmes"]), "n%d" % random.randint(0, 5)]))
EOF
fi

[ $# -ge 3 ] || { sed -n '2,18p' "$0"; exit 2; }
OLD=$1 NEW=$2 FILE=$3
shift 3
W=$(mktemp -d "${TMPDIR:-/tmp}/import-compare.XXXXXX")
# KEEP=1 keeps the replicas and outputs (the folder is printed).
if [ -n "${KEEP:-}" ]; then echo "outputs in $W"; else trap 'rm -rf "$W"' EXIT; fi
"$NEW" --dir "$W/base" init >/dev/null
cp -a "$W/base" "$W/old"
cp -a "$W/base" "$W/new"
for v in old new; do
  bin=$OLD
  [ $v = new ] && bin=$NEW
  if [ -n "${PRE:-}" ]; then "$bin" --dir "$W/$v" import "$PRE" --json >/dev/null; fi
  { "$bin" --dir "$W/$v" import "$FILE" --json --report "$W/$v.report" "$@" || echo "exit $?"; } |
    grep -v '"seconds"' >"$W/$v.json"
  "$bin" --dir "$W/$v" export -o "$W/$v.csv" >/dev/null
  "$bin" --dir "$W/$v" dupes --json >"$W/$v.dupes"
done
same=0
for f in json report csv dupes; do
  if cmp -s "$W/old.$f" "$W/new.$f"; then
    echo "same $f ($(wc -l <"$W/new.$f") lines)"
  else
    echo "DIFFERENT $f"
    same=1
  fi
done
"$NEW" --dir "$W/new" check >/dev/null || { echo "carnet check FAILED"; same=1; }
exit $same
