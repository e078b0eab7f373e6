#!/usr/bin/env bash
# Checks the packages scripts/package.sh built, as CI does: lintian without errors; both
# installed (apt resolves their dependencies); the server's unit's ExecStart line run as written
# with a copy of the packaged config pointing at a temporary folder (systemd may be absent);
# /healthz and /readyz answer 200; a kiosk syncs one scan; /metrics counts it; `kiosk --version`.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
server_deb=(target/debian/pm-sync-server_*.deb)
kiosk_deb=(target/debian/pm-kiosk_*.deb)
[ ${#server_deb[@]} -eq 1 ] && [ ${#kiosk_deb[@]} -eq 1 ] || {
  echo "error: run scripts/package.sh first (want one of each package in target/debian)" >&2; exit 1; }

echo "== lintian"
lintian --fail-on error "${server_deb[0]}" "${kiosk_deb[0]}"

sudo_=()
[ "$(id -u)" -eq 0 ] || sudo_=(sudo -n)
echo "== install"
"${sudo_[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall --no-install-recommends \
  "./${server_deb[0]}" "./${kiosk_deb[0]}" >/dev/null
dpkg -s pm-sync-server pm-kiosk | grep -E '^(Package|Status|Version):'
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify /lib/systemd/system/pm-sync-server.service /lib/systemd/system/pm-kiosk.service
  echo "units verified"
fi

tmp=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
config="$tmp/config.toml"
sed -e "s|/var/lib/pm-sync-server|$tmp|g" \
    -e 's|^listen = .*|listen = "127.0.0.1:0"|' \
    -e 's|^# metrics_token = .*|metrics_token = "ci-metrics"|' \
    /etc/pm-sync-server/config.toml > "$config"
exec_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/pm-sync-server.service)
[ -n "$exec_start" ] || { echo "error: no ExecStart in the unit" >&2; exit 1; }
command_line=${exec_start//\/etc\/pm-sync-server\/config.toml/$config}
echo "== run: $command_line"
$command_line 2> "$tmp/server.log" &
server_pid=$!
url=
for _ in $(seq 1 100); do
  url=$(sed -n 's/^serving on //p' "$tmp/server.log" | head -1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$tmp/server.log" >&2; echo "error: the server did not start" >&2; exit 1; }
curl -fsS "$url/healthz" >/dev/null
echo "healthz 200"
curl -fsS "$url/readyz" >/dev/null
echo "readyz 200"

admin=(/usr/bin/sync-server --config "$config")
"${admin[@]}" school add --id lincoln --name "Lincoln Elementary" --timezone America/Chicago
printf 'id,name,school,language\nM-1,María López,lincoln,es\n' > "$tmp/mentors.csv"
"${admin[@]}" mentor import "$tmp/mentors.csv"
"${admin[@]}" badges --out "$tmp/badges" >/dev/null
token=$("${admin[@]}" kiosk add --school lincoln --name "Parent room" | tail -1)
echo "$token" | /usr/bin/kiosk --data "$tmp/kiosk" setup --server "$url" --token - >/dev/null
printf 'at,image\n%s,%s\n' "$(date -u -d '-10 min' +%Y-%m-%dT%H:%M:%SZ)" "$tmp/badges/M-1.png" > "$tmp/scan.csv"
/usr/bin/kiosk --data "$tmp/kiosk" replay "$tmp/scan.csv"
/usr/bin/kiosk --data "$tmp/kiosk" sync --once
# As installed: each service user can use its own folder and config (as root, like CI).
if [ "$(id -u)" -eq 0 ]; then
  runuser -u pm-sync-server -- /usr/bin/sync-server --config /etc/pm-sync-server/config.toml review list >/dev/null
  echo "pm-sync-server user: config readable, state folder writable"
  token2=$("${admin[@]}" kiosk add --school lincoln --name "Hallway" | tail -1)
  echo "$token2" | runuser -u pm-kiosk -- /usr/bin/kiosk --data /var/lib/pm-kiosk setup --server "$url" --token - >/dev/null
  runuser -u pm-kiosk -- /usr/bin/kiosk --data /var/lib/pm-kiosk sync --once
fi
ingested=$(curl -fsS -H "Authorization: Bearer ci-metrics" "$url/metrics" | awk '$1 == "pm_events_ingested_total" {print $2}')
echo "pm_events_ingested_total $ingested"
[ "${ingested:-0}" -ge 1 ] || { echo "error: the scan was not counted" >&2; exit 1; }
/usr/bin/kiosk --version
/usr/bin/sync-server --version
# Another architecture cannot be built here, and says why.
other=arm64; [ "$(dpkg --print-architecture)" = arm64 ] && other=amd64
if scripts/package.sh --arch "$other" 2> "$tmp/cross.txt"; then
  echo "error: package.sh --arch $other should refuse on this machine" >&2; exit 1
fi
grep -q "Build on the" "$tmp/cross.txt"
echo "--arch $other refused with the way to build on the device"
echo "packages OK"
