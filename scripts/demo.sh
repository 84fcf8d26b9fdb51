#!/usr/bin/env bash
# scripts/demo.sh - a guided tour of the `carnet` command: two replicas of the
# customer book (the office PC and a sales laptop) join one team with an
# invite, work offline, sync over the network (TCP on loopback, encrypted and
# authenticated), and end up identical, a conflicting edit included. Then the
# laptop keeps a live session and sees the office's changes within a second.
#
# Usage: scripts/demo.sh [path/to/carnet]     (default: build/bin/carnet)
# The replicas are made in a fresh directory under ./demo-replicas and kept
# there afterwards, so you can try more commands on them. The `carnet serve`
# processes the demo starts are stopped when it ends, however it ends.
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
unset CARNET_DIR CARNET_PASSPHRASE CARNET_KEY_FILE

# Background `carnet serve` processes, stopped on exit (SIGTERM: they say BYE
# to their peers and remove their serve.addr), killed if they do not stop.
serve_pids=()
stop_serves() {
  local pid
  for pid in "${serve_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${serve_pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  serve_pids=()
}
trap stop_serves EXIT

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

# serve NAME DIR [args...]: starts `carnet serve` in the background and
# waits (10 s at most) for the address it prints; sets $served.
serve() {
  local name=$1 dir=$2
  shift 2
  show_cmd "$name" serve --listen 127.0.0.1:0 "$@" "&"
  # The background shell opens the output files when it gets to run: create
  # them first, so that the first read below cannot find them missing.
  : >"$name-serve.out"
  : >"$name-serve.log"
  "$bin" --dir "$dir" serve --listen 127.0.0.1:0 "$@" >"$name-serve.out" 2>"$name-serve.log" &
  serve_pids+=($!)
  served=
  for _ in $(seq 100); do
    served=$(sed -n 's/^listening on //p' "$name-serve.out")
    [[ -n $served ]] && break
    kill -0 "${serve_pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $served ]]; then
    echo "demo: carnet serve did not start:" >&2
    cat "$name-serve.log" >&2
    exit 1
  fi
  echo "listening on $served"
}

# The reference code of a customer, from `customer show --json`.
ref_of() { sed -n 's/^  "ref": "\([^"]*\)".*/\1/p'; }

section "1. The office PC creates the customer book and serves it"
on_office init --no-passphrase
serve office "$office"
office_addr=$served
note "only replicas of the team are accepted; the log of this process is in $work/office-serve.log"

section "2. The laptop joins the team with a one-time invite"
show_cmd office invite --ttl 10m
token=$(quiet_office invite --ttl 10m 2>/dev/null)
echo "$token"
on_laptop init --no-passphrase
on_laptop join "$token"
note "the token carries the office's address and key; it works once, and for 10 minutes"
on_office peer list

section "3. Customers added at the office reach the laptop with 'carnet sync'"
add_dupont=(customer add --name "Dupont SARL" --company="Dupont SARL" --email contact@dupont.fr
  --phone "06 12 34 56 78" --siret "732 829 320 00074" --street "12 rue de la République"
  --postcode 69002 --city Lyon --country FR)
show_cmd office "${add_dupont[@]}"
dupont_id=$(quiet_office "${add_dupont[@]}")
echo "$dupont_id"
dupont=$(quiet_office customer show "$dupont_id" --json | ref_of)
on_office customer add --name "Claire Martin" --individual --email claire.martin@example.org \
  --mobile "+33 7 11 22 33 44" --city Villeurbanne --tag bio
on_laptop sync "$office_addr"
on_laptop customer list

section "4. Offline, both sides edit; the same field (notes) on both"
on_laptop customer edit "$dupont" --email compta@dupont.fr --tag vip \
  --notes "Called on Monday: wants a quote"
on_laptop customer add --name "Boulangerie Petit" --company --phone "04 78 00 11 22" --city Lyon
sleep 0.01
on_office customer add --name "Petit Boulangerie SARL" --company --phone "0478001122" \
  --city Lyon --force
on_office customer edit "$dupont" --work-phone "04 72 00 00 00" --tag salon-2025 \
  --notes "Meeting on Friday at the office"
note "different fields (e-mail, phone), a tag on each side, and the same field (notes) on both"

section "5. One sync, both ways, over the network"
on_laptop sync "$office_addr"

section "6. The converged customer, on each side"
on_laptop customer show "$dupont"
echo
on_office customer show "$dupont"
note "both tags and both phones kept; for notes, written on both sides, the later write wins"
if cmp -s <(quiet_laptop customer list --deleted --json) <(quiet_office customer list --deleted --json) &&
  [[ $(quiet_laptop debug digest) == $(quiet_office debug digest) ]]; then
  echo "converged: yes (same records, same state digest)"
else
  echo "converged: NO" >&2
  diff <(quiet_laptop customer show "$dupont" --json) <(quiet_office customer show "$dupont" --json) >&2 || true
  exit 1
fi

section "6b. Both created the same bakery: found and merged once, for everyone"
on_office dupes
# The pair `dupes` found (a search for either name finds both: it matches
# words in any order).
pair=$(quiet_office dupes --json | sed -n 's/^ *"refcode": "\([^"]*\)".*/\1/p' | head -2)
petit=$(sed -n 1p <<<"$pair")
other=$(sed -n 2p <<<"$pair")
on_office merge "$petit" "$other"
on_laptop sync "$office_addr"
on_laptop customer list --search petit
note "a merge is an edge 'same as', synced like any change: an unmerge ('carnet unmerge') undoes it"

section "6c. A person asks to be forgotten: erased once, gone from every replica"
claire=$(quiet_office customer list --search "Claire Martin" --json | sed -n 's/^ *"ref": "\([^"]*\)".*/\1/p' | head -1)
on_office erase "$claire" --reason "GDPR request received by e-mail"
on_laptop sync "$office_addr"
on_laptop customer list --search claire
on_office erasures
# The office's data file is compacted by its running serve within a second.
for _ in $(seq 50); do
  grep -rqa "claire.martin@example.org" "$office" || break
  sleep 0.1
done
if grep -rqa -e "claire.martin@example.org" -e "+33711223344" "$office" "$laptop"; then
  echo "erased: NO (her e-mail or phone is still in a data file)" >&2
  exit 1
fi
echo "erased: her record is gone from both replicas; each data file is compacted (at once by the"
echo "        laptop's sync, within a second by the office's running serve) so that not even its"
echo "        encrypted bytes stay in a free page"
note "the certificate (id, time, replica, reason: no personal data) is kept; each replica confirms it"

section "7. Live: the laptop keeps a session open with the office"
serve laptop "$laptop" --peer "$office_addr"
for _ in $(seq 50); do grep -q synced laptop-serve.log && break; sleep 0.1; done
on_office customer add --name "Garage Moreau" --company --city Lyon
start=$(date +%s%N)
for _ in $(seq 50); do quiet_laptop customer list --search moreau | grep -q Moreau && break; sleep 0.1; done
echo "on the laptop $(( ($(date +%s%N) - start) / 1000000 )) ms later:"
on_laptop customer list --search moreau
on_laptop status
note "a change made by any carnet command reaches the connected peers within a second"

section "8. What the office's node logged"
sed 's/^/   /' office-serve.log

section "Done"
stop_serves
echo "The replicas are kept in $work: try for example"
echo "  $bin --dir $work/$laptop customer show $dupont"
echo "  $bin --dir $work/$office serve        (then, on the laptop: carnet sync ADDRESS)"
echo "(remove them with: rm -rf demo-replicas)"
echo
echo "Without a network, 'carnet changes export' and 'carnet changes apply' carry changes in a file."
