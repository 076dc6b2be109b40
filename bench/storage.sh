#!/usr/bin/env bash
# Storage benchmark (issue 3): allocating a thin 100 GiB qcow2 through the API (target under
# 50 ms), against a bare `qemu-img create` of the same image in the same run.
# Usage: bench/storage.sh [count]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-20}
cargo build --release -q --bin oxve
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null; rm -rf "$tmp"' EXIT

OXVE_ADMIN_PASSWORD=bench-pass-1 OXVE_LOG=warn target/release/oxve serve \
  --data-dir "$tmp/data" --listen 127.0.0.1:0 --node benchnode >"$tmp/out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$tmp/out" && break; sleep 0.1; done
url=$(grep -o 'https://[^ ]*' "$tmp/out" | head -1 | sed 's#/$##')
ticket_json=$(curl -sk -d username=admin@pve -d password=bench-pass-1 "$url/api2/json/access/ticket")
ticket=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["ticket"])' <<<"$ticket_json")
csrf=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["CSRFPreventionToken"])' <<<"$ticket_json")
api() { curl -sk -b "PVEAuthCookie=$ticket" -H "CSRFPreventionToken: $csrf" "$@"; }
api -d storage=thin -d type=dir -d "path=$tmp/thin" -d content=images -d preallocation=off \
  "$url/api2/json/storage" >/dev/null

python3 - "$url" "$ticket" "$csrf" "$tmp" "$count" <<'PY'
import ssl, subprocess, sys, time, statistics, urllib.request, urllib.parse
url, ticket, csrf, tmp, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def alloc(i):
    body = urllib.parse.urlencode({"vmid": 100, "filename": f"vm-100-disk-{i}.qcow2", "size": "100G", "format": "qcow2"}).encode()
    req = urllib.request.Request(f"{url}/api2/json/nodes/benchnode/storage/thin/content", data=body,
        headers={"Cookie": f"PVEAuthCookie={ticket}", "CSRFPreventionToken": csrf})
    t = time.perf_counter(); urllib.request.urlopen(req, context=ctx).read(); return time.perf_counter() - t
def bare(i):
    t = time.perf_counter()
    subprocess.run(["qemu-img", "create", "-f", "qcow2", "-o", "preallocation=off", f"{tmp}/bare-{i}.qcow2", "100G"],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t
api_times = [alloc(i) for i in range(count)]
bare_times = [bare(i) for i in range(count)]
a, b = statistics.median(api_times), statistics.median(bare_times)
print(f"thin 100 GiB qcow2 via API: median {a*1000:.1f} ms, max {max(api_times)*1000:.1f} ms ({count} runs)")
print(f"bare qemu-img create:        median {b*1000:.1f} ms")
print(f"ratio API/bare: {a/b:.2f}")
PY
