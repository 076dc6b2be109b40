#!/usr/bin/env bash
# Benchmark of the API core (issue 2 targets), as ratios against a baseline measured in the
# same run on the same daemon:
#   - GET /cluster/resources with 1,000 guest configs, HTTPS keep-alive, API token auth
#     (target >= 5,000 req/s on 2 cores, p99 < 5 ms), against GET /version (the cheapest
#     authenticated call) as baseline;
#   - the same with Accept-Encoding: gzip, as python-requests (proxmoxer) sends it;
#   - daemon idle RSS (target < 30 MB).
# Needs wrk (apt install wrk). Usage: bench/api.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }

cargo build --release -q --bin oxve --bin oxve-bench-seed
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null; rm -rf "$tmp"' EXIT
target/release/oxve-bench-seed "$tmp/data" 1000 benchnode >/dev/null

OXVE_ADMIN_PASSWORD=bench-pass-1 OXVE_LOG=warn target/release/oxve serve \
  --data-dir "$tmp/data" --listen 127.0.0.1:0 --node benchnode >"$tmp/out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$tmp/out" && break; sleep 0.1; done
url=$(grep -o 'https://[^ ]*' "$tmp/out" | head -1 | sed 's#/$##')

ticket_json=$(curl -sk -d username=admin@pve -d password=bench-pass-1 "$url/api2/json/access/ticket")
ticket=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["ticket"])' <<<"$ticket_json")
csrf=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["CSRFPreventionToken"])' <<<"$ticket_json")
token_json=$(curl -sk -b "PVEAuthCookie=$ticket" -H "CSRFPreventionToken: $csrf" -d privsep=0 \
  "$url/api2/json/access/users/admin@pve/token/bench")
secret=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["value"])' <<<"$token_json")
auth="Authorization: PVEAPIToken=admin@pve!bench=$secret"

count=$(curl -sk -H "$auth" "$url/api2/json/cluster/resources" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))')
echo "resources listed: $count (1000 guests + node)"

sleep 3
rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
echo "idle RSS: $((rss_kb / 1024)) MB (${rss_kb} kB)"

run() { # name path extra-header
  local out
  out=$(wrk -t1 -c8 -d"${secs}s" --latency -H "$auth" ${3:+-H "$3"} "$url/api2/json$2")
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  echo "$1: $rps req/s, p99 $p99" >&2
  echo "$rps"
}
base=$(run "baseline GET /version" /version)
plain=$(run "GET /cluster/resources" /cluster/resources)
gz=$(run "GET /cluster/resources (gzip)" /cluster/resources "Accept-Encoding: gzip")
python3 - "$base" "$plain" "$gz" <<'PY'
import sys
base, plain, gz = map(float, sys.argv[1:])
print(f"ratio resources/baseline: {plain / base:.2f} (plain), {gz / base:.2f} (gzip)")
PY
