#!/usr/bin/env bash
# A whole morning on embedded defaults, with demo data and no camera: starts the sync server on
# loopback, registers a kiosk, prints badges, replays a morning of badge scans through the real
# decode -> scan engine -> SQLite path (offline first), syncs, and shows the coordinator's
# "today" table and the organizer's hours report, resolves a forgotten check-out, enters a
# day kept on a paper sign-in sheet, and lists the rules period by period. Everything lands in
# ./demo-data/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system-deps.sh
cargo build --workspace --bins --quiet
bin=target/debug
out=demo-data
rm -rf "$out"; mkdir -p "$out"
server() { "$bin/sync-server" --db "$out/server.db" "$@"; }
kiosk() { "$bin/kiosk" --data "$out/kiosk" "$@"; }

server school add --id demo-school --name "Demo Elementary" --timezone America/Chicago
server mentor import assets/demo/mentors.csv
server badges --out "$out/badges"
token=$(server kiosk add --school demo-school --name "Parent room" | tail -n 1)
organizer=$(server organizer add --name "Demo organizer" --all | tail -n 1)

port=$(( 20000 + RANDOM % 20000 ))
"$bin/sync-server" --db "$out/server.db" serve --listen "127.0.0.1:$port" >"$out/server.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q "serving on" "$out/server.log" 2>/dev/null && break; sleep 0.1; done

kiosk setup --server "http://127.0.0.1:$port" --token "$token"
kiosk sync --once

# Yesterday Rosa (M-0003) checked in and never checked out: a review item once her day ended.
yesterday_in=$(TZ=America/Chicago date -d "yesterday 08:10" +%FT%T%:z)
yesterday_out=$(TZ=America/Chicago date -d "yesterday 10:05" +%FT%T%:z)
printf 'at,image\n%s,badges/M-0003.png\n' "$yesterday_in" > "$out/yesterday.csv"
echo; echo "== Yesterday at the kiosk =="
kiosk replay "$out/yesterday.csv"

# This morning, school time (America/Chicago): arrivals, a double scan, a flyer, departures.
day=$(TZ=America/Chicago date +%F)
offset=$(TZ=America/Chicago date +%:z)
{
  echo "at,image"
  echo "${day}T07:58:00${offset},badges/M-0001.png"
  echo "${day}T07:58:20${offset},badges/M-0001.png"
  echo "${day}T08:02:00${offset},badges/M-0002.png"
  echo "${day}T08:05:00${offset},badges/M-0003.png"
  echo "${day}T10:01:00${offset},badges/M-0001.png"
  echo "${day}T10:04:00${offset},badges/M-0002.png"
} > "$out/morning.csv"

echo; echo "== Scans at the kiosk (recorded locally first) =="
kiosk replay "$out/morning.csv"
echo; echo "== Sync =="
kiosk sync --once
echo; echo "== Coordinator: today =="
if command -v column >/dev/null; then kiosk today | column -t -s $'\t'; else kiosk today; fi
echo; echo "== Organizer: hours report (CSV) =="
server report hours --format csv
echo; echo "== Organizer: review queue =="
server review list --format csv
item=$(server review list --format csv | awk -F, 'NR > 1 && $2 == "M-0003" { print $1; exit }')
echo; echo "== Organizer: Rosa's coordinator says she left at 10:05 yesterday =="
server review resolve "$item" --end "$yesterday_out" --by "Demo organizer" --reason "coordinator confirmed she left at 10:05"
server review list --format csv
server report hours --format csv

# Two days ago the kiosk's camera would not read: the coordinator kept a paper sign-in sheet,
# and the organizer enters it after the fact (all or nothing, each line checked).
paper_day=$(TZ=America/Chicago date -d "2 days ago" +%F)
{
  echo "mentor_id,date,start,end,category"
  echo "M-0001,${paper_day},08:00,10:00,classroom"
  echo "M-0002,${paper_day},08:15,10:05,classroom"
} > "$out/paper-sheet.csv"
echo; echo "== Organizer: a paper sign-in sheet from ${paper_day} =="
server session import "$out/paper-sheet.csv" --by "Demo organizer" --reason "camera would not read; paper sign-in sheet"
server report hours --format csv
echo; echo "== Program rules, period by period =="
server program show
echo; echo "Badges to print: $out/badges/badges.html  Databases: $out/server.db, $out/kiosk/kiosk.db"
echo "Organizer page: run   $bin/sync-server --db $out/server.db serve"
echo "                then open http://127.0.0.1:8080/#token=$organizer"
