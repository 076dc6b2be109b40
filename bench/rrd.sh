#!/usr/bin/env bash
# Benchmark of GET /nodes/{node}/qemu/{vmid}/rrddata for a day of one guest (issue 9 target:
# under 5 ms server time), against GET /version (the cheapest authenticated call) measured in the
# same run on the same daemon. One connection (wrk -c1, keep-alive), so the time per request is
# the server time plus the same loopback/TLS overhead for both: the difference is what rrddata adds.
# Needs wrk (apt install wrk). Usage: bench/rrd.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }

cargo build --release -q --bin oxve
cargo build --release -q -p oxve-rrd --example seed
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null; rm -rf "$tmp"' EXIT
# Two days of 10-second samples of VM 100 (the day archive is full), as the sampler writes them.
target/release/examples/seed "$tmp/data/rrd" qemu/100 2 \
  cpu maxcpu mem maxmem disk maxdisk netin netout diskread diskwrite

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

path="/nodes/benchnode/qemu/100/rrddata?timeframe=day&cf=AVERAGE"
points=$(curl -sk -H "$auth" "$url/api2/json$path" | python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(len(d), sum(1 for p in d if "cpu" in p))')
echo "points (all, with values): $points"

run() { # name path -> mean latency in ms
  local out mean
  out=$(wrk -t1 -c1 -d"${secs}s" --latency -H "$auth" "$url/api2/json$2")
  mean=$(awk '$1 == "Latency" && $2 != "Distribution" {print $2; exit}' <<<"$out")
  echo "$1: $(awk '/Requests\/sec/ {print $2}' <<<"$out") req/s, mean $mean, p99 $(awk '$1 == "99%" {print $2}' <<<"$out")" >&2
  # One connection: the time per request is 1/throughput (the mean suffers from outliers).
  python3 -c 'import sys; print(1000 / float(sys.argv[1]))' "$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
}
base=$(run "baseline GET /version" /version)
rrd=$(run "GET qemu/100/rrddata day" "$path")
python3 - "$base" "$rrd" <<'PY'
import sys
base, rrd = map(float, sys.argv[1:])
print(f"time per request: /version {base:.3f} ms, rrddata {rrd:.3f} ms; ratio {rrd / base:.2f}; "
      f"rrddata server time over the baseline: {rrd - base:.3f} ms (target < 5 ms)")
PY
