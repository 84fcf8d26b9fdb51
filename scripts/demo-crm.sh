#!/usr/bin/env bash
# scripts/demo-crm.sh - a guided tour of the CRM records: a quote with three
# VAT rates, validated (numbered), accepted (the prospect becomes a
# customer) and converted to an invoice; a visit logged; a reminder due
# today; the customer's history with its balance; and two laptops that
# validate invoices offline and never hand out the same number.
#
# Usage: scripts/demo-crm.sh [path/to/carnet]     (default: build/bin/carnet)
# The replicas are made in a fresh directory under ./demo-replicas and kept.
set -euo pipefail

bin=${1:-build/bin/carnet}
if [[ ! -x $bin ]]; then
  echo "demo-crm: '$bin' is not an executable: build first (make build) or pass the carnet binary" >&2
  exit 1
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

mkdir -p demo-replicas
work=$(mktemp -d "$PWD/demo-replicas/crm.XXXXXX")
cd "$work"
unset CARNET_DIR CARNET_TEST_NOW CARNET_PASSPHRASE CARNET_KEY_FILE

if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
section() { printf '\n%s== %s ==%s\n' "$bold" "$*" "$plain"; }
note() { printf '   (%s)\n' "$*"; }

show_cmd() {
  local line="[$1] \$ carnet" a
  shift
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_.,:=@+/%-]+$ ]]; then line+=" $a"; else line+=" '${a//\'/\'\\\'\'}'"; fi
  done
  printf '%s\n' "$line"
}
on() { local who=$1; shift; show_cmd "$who" "$@"; "$bin" --dir "$who" "$@"; }
quiet() { local who=$1; shift; "$bin" --dir "$who" "$@"; }
# Shows the command, runs it, hides what it prints (an id).
on_q() { local who=$1; shift; show_cmd "$who" "$@"; "$bin" --dir "$who" "$@" >/dev/null; }

section "A prospect and a quote (three VAT rates, line discounts)"
quiet office init --no-passphrase >/dev/null
show_cmd office customer add --name "Boulangerie Lefèvre" --company --sales-rep alice
cu=$(quiet office customer add --name "Boulangerie Lefèvre" --company --sales-rep alice --json |
  sed -n 's/^  "ref": "\(.*\)",$/\1/p')
echo "$cu"
show_cmd office doc add --type quote --customer "$cu" --validity 30 --terms "30 days"
q=$(quiet office doc add --type quote --customer "$cu" --validity 30 --terms "30 days")
echo "$q"
on_q office doc line add "$q" --label "Oven cleaning" --qty 3 --price 19.99 --discount 10
on_q office doc line add "$q" --label "Baking manual" --qty 2.5 --price 12.35 --vat 5.5
on_q office doc line add "$q" --label "Visit (travel)" --qty 7 --price 3.33 --vat 10 --discount 5 --cost 1.50
on office doc show "$q"
note "totals are exact integers: each line rounded once to the cent, VAT rounded once per rate"

section "Validate, accept: the prospect becomes a customer"
show_cmd office doc validate "$q"
qnum=$(quiet office doc validate "$q")
echo "$qnum"
note "the number comes from this replica's own series: its tag is in the number"
on office doc status "$qnum" accepted
on office customer show "$cu" | grep -E '^(ref|name|roles):'

section "Convert the quote to an invoice, validate it"
show_cmd office doc convert "$qnum" --to invoice
inv=$(quiet office doc convert "$qnum" --to invoice)
echo "$inv"
show_cmd office doc validate "$inv"
fnum=$(quiet office doc validate "$inv")
echo "$fnum"
on office doc show "$fnum"
on office doc line add "$fnum" --label "one more thing" || note "a validated invoice is read-only: correct it with a credit note"
on office doc list

section "A visit, and reminders"
on_q office action add --channel visit --customer "$cu" --rating 4 --details "showed the new ovens"
on_q office reminder add --customer "$cu" --comment "call back about the delivery date"
on_q office reminder add --customer "$cu" --date "$(date -d '+3 days' +%F)" --comment "send the catalogue"
on office reminders
note "due today: the reminder dated today (a reminder with --week is due every day of its week)"

section "The customer's history, with the balance"
on_q office doc status "$fnum" paid
on office history "$cu"

section "Two laptops validate invoices offline: no number is given twice"
quiet laptop-a init --no-passphrase >/dev/null
quiet laptop-b init --no-passphrase >/dev/null
quiet office changes export -o office.carnet >/dev/null
quiet laptop-a changes apply office.carnet >/dev/null
quiet laptop-b changes apply office.carnet >/dev/null
for who in laptop-a laptop-b laptop-a laptop-b; do
  d=$(quiet "$who" doc add --type invoice --customer "$cu")
  quiet "$who" doc line add "$d" --label "Croissants (dozen)" --qty 10 --price 6.50 --vat 5.5 >/dev/null
  on "$who" doc validate "$d"
done
quiet laptop-a changes export -o a.carnet >/dev/null
quiet laptop-b changes export -o b.carnet >/dev/null
quiet laptop-a changes apply b.carnet >/dev/null
quiet laptop-b changes apply a.carnet >/dev/null
on laptop-a doc list --type invoice
note "each laptop numbers from its own series (its tag), without gaps; no single global sequence"

section "The web console of the office replica"
# `carnet web` keeps running after the demo (detached, its own session), so
# the page can be opened; it prints one URL, with a fresh access token, and
# writes it to office/web.url.
setsid "$bin" --dir office web --http 127.0.0.1:0 >web.log 2>&1 </dev/null &
web_pid=$!
for _ in $(seq 1 100); do
  [[ -s office/web.url ]] && break
  kill -0 "$web_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -s office/web.url ]]; then
  printf 'Open the office replica in a browser:\n  %s%s%s\n' "$bold" "$(cat office/web.url)" "$plain"
  note "it keeps running: stop it with 'kill $web_pid' (or carnet web --help for more)"
else
  echo "demo: the console did not start:" >&2
  cat web.log >&2
  exit 1
fi

printf '\nThe replicas are in %s\n' "$work"
