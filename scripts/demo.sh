#!/usr/bin/env bash
# scripts/demo.sh - a guided tour of the `carnet` command: two replicas of the
# customer book (a laptop and the office PC) work offline, exchange change
# files, and end up identical.
#
# Usage: scripts/demo.sh [path/to/carnet]     (default: build/bin/carnet)
# The replicas are made in a fresh directory under ./demo-replicas and kept
# there afterwards, so you can try more commands on them.
set -euo pipefail

bin=${1:-build/bin/carnet}
if [[ ! -x $bin ]]; then
  echo "demo: '$bin' is not an executable: build first (make build) or pass the carnet binary" >&2
  exit 1
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

mkdir -p demo-replicas
work=$(mktemp -d "$PWD/demo-replicas/run.XXXXXX")
cd "$work"
laptop=laptop
office=office
# The demo never touches a real replica: every command gets --dir.
unset CARNET_DIR

if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
section() { printf '\n%s== %s ==%s\n' "$bold" "$*" "$plain"; }
note() { printf '   (%s)\n' "$*"; }

# Prints a command the way a person would type it, then runs it.
show_cmd() {
  local line="[$1] \$ carnet" a
  shift
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_.,:=@+/%-]+$ ]]; then line+=" $a"; else line+=" '${a//\'/\'\\\'\'}'"; fi
  done
  printf '%s\n' "$line"
}
on_laptop() { show_cmd laptop "$@"; "$bin" --dir "$laptop" "$@"; }
on_office() { show_cmd office "$@"; "$bin" --dir "$office" "$@"; }
quiet_laptop() { "$bin" --dir "$laptop" "$@"; }
quiet_office() { "$bin" --dir "$office" "$@"; }

# The reference code of a customer added with --json.
ref_of() { sed -n 's/^  "ref": "\([^"]*\)".*/\1/p'; }

# Laptop -> office and office -> laptop, through files.
sync_laptop_to_office() {
  on_laptop changes export -o laptop.carnet
  on_office changes apply laptop.carnet
}
sync_office_to_laptop() {
  on_office changes export -o office.carnet
  on_laptop changes apply office.carnet
}

section "1. Two replicas: a sales laptop and the office PC"
on_laptop init
on_office init

section "2. Customers added on the laptop, offline"
add_dupont=(customer add --name "Dupont SARL" --company="Dupont SARL" --email contact@dupont.fr
  --phone "06 12 34 56 78" --siret "732 829 320 00074" --street "12 rue de la République"
  --postcode 69002 --city Lyon --country FR)
show_cmd laptop "${add_dupont[@]}"
dupont_id=$(quiet_laptop "${add_dupont[@]}")
echo "$dupont_id"
dupont=$(quiet_laptop customer show "$dupont_id" --json | ref_of)
note "add prints the new id; Dupont SARL also got the reference code $dupont"
on_laptop customer add --name "Claire Martin" --individual --email claire.martin@example.org \
  --mobile "+33 7 11 22 33 44" --city Villeurbanne --tag bio
on_laptop customer add --name "Boulangerie Petit" --company --phone "04 78 00 11 22" \
  --city Lyon --role customer --discount 5
on_laptop contact add --customer "$dupont" --name "Jean Dupont" --role director \
  --email jean@dupont.fr
on_laptop customer list

section "3. The laptop's changes carried to the office (a file on a USB stick)"
sync_laptop_to_office
on_office customer list

section "4. Both sides edit the same customer while offline"
on_laptop customer edit "$dupont" --email compta@dupont.fr --tag vip \
  --notes "Called on Monday: wants a quote"
sleep 0.01
on_office customer edit "$dupont" --work-phone "04 72 00 00 00" --tag salon-2025 \
  --notes "Meeting on Friday at the office"
note "different fields (e-mail, phone), a tag on each side, and the same field (notes) on both"

section "5. Exchange changes both ways"
sync_laptop_to_office
sync_office_to_laptop

section "6. The converged customer, on each side"
on_laptop customer show "$dupont"
echo
on_office customer show "$dupont"
note "both tags and both e-mails kept; for notes, written on both sides, the later write wins"
if cmp -s <(quiet_laptop customer show "$dupont" --json) <(quiet_office customer show "$dupont" --json) &&
  cmp -s <(quiet_laptop customer list --deleted --json) <(quiet_office customer list --deleted --json); then
  echo "converged: yes"
else
  echo "converged: NO" >&2
  diff <(quiet_laptop customer show "$dupont" --json) <(quiet_office customer show "$dupont" --json) >&2 || true
  exit 1
fi

section "7. Consent per channel: off until granted, every change dated"
on_laptop consent grant "$dupont" email --note "signed the order form"
on_laptop consent grant "$dupont" sms
on_laptop consent withdraw "$dupont" sms --note "replied STOP"
on_laptop consent show "$dupont"
sync_laptop_to_office
on_office consent show "$dupont"

section "8. Searching"
on_laptop customer list --search lyon
on_laptop customer list --tag vip
on_laptop customer list --search claire --json

section "Done"
echo "The replicas are kept in $work: try for example"
echo "  $bin --dir $work/$laptop customer show $dupont"
echo "(remove them with: rm -rf demo-replicas)"
echo
echo "Not in this demo yet: network sync between replicas, duplicate detection and merge,"
echo "and GDPR erasure come in later issues."
