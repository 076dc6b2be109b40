#!/usr/bin/env bash
# Container benchmark (issue 6 targets), measured side by side in one run, as root:
#   - start of a container through the API (POST .../status/start until its vzstart task
#     ended) against `lxc-start -d` by hand of the LXC config oxve generated for it
#     (target: at most 50 ms more), median of N alternating rounds;
#   - 50 small containers running at once, with the daemon's RSS (target < 60 MB).
# Usage: bench/lxc.sh [rounds] [containers]     (PROFILE=debug to skip the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
many=${2:-50}
profile=${PROFILE:-release}
[ "$(id -u)" = 0 ] || { echo "needs root (LXC)" >&2; exit 1; }

if [ "$profile" = release ]; then cargo build --release -q --bin oxve; else cargo build -q --bin oxve; fi
bin=target/$profile/oxve
tmpl=$(scripts/build-ct-template.sh target/ct-template)
tmp=$(mktemp -d)
node=benchnode
cleanup() {
  for d in "$tmp"/data/run/lxc/*/; do
    [ -d "$d" ] && lxc-stop -n "$(basename "$d")" -P "$tmp/data/run/lxc" -k >/dev/null 2>&1 || true
  done
  kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

OXVE_ADMIN_PASSWORD=bench-pass-1 OXVE_LOG=warn "$bin" serve \
  --data-dir "$tmp/data" --listen 127.0.0.1:0 --node $node >"$tmp/out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$tmp/out" && break; sleep 0.1; done
url=$(grep -o 'https://[^ ]*' "$tmp/out" | head -1 | sed 's#/$##')/api2/json
mkdir -p "$tmp/data/local/template/cache"
cp "$tmpl" "$tmp/data/local/template/cache/"
ostemplate="local:vztmpl/$(basename "$tmpl")"

login=$(curl -sk -d username=admin@pve -d password=bench-pass-1 "$url/access/ticket")
ticket=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["ticket"])' <<<"$login")
csrf=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["CSRFPreventionToken"])' <<<"$login")
api() { # METHOD PATH [curl args...]
  local m=$1 p=$2
  shift 2
  curl -sk -X "$m" -b "PVEAuthCookie=$ticket" -H "CSRFPreventionToken: $csrf" "$@" "$url$p"
}
data() { python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(d if not isinstance(d,(dict,list)) else json.dumps(d))'; }
wait_task() { # UPID -> exit status
  local st
  while :; do
    st=$(api GET "/nodes/$node/tasks/$1/status" | python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(d.get("exitstatus","") if d["status"]=="stopped" else "")')
    [ -n "$st" ] && { echo "$st"; return; }
    sleep 0.005
  done
}
now_ms() { date +%s%3N; }

# one container, started alternately through the API and by hand
upid=$(api POST "/nodes/$node/lxc" -d vmid=9901 --data-urlencode "ostemplate=$ostemplate" -d rootfs=local:0.1 -d memory=64 | data)
[ "$(wait_task "$upid")" = OK ] || { echo "create failed" >&2; exit 1; }
lxcpath="$tmp/data/run/lxc"
# timed in Python: one keep-alive HTTPS connection, task polled every 2 ms
python3 - "$url" "$ticket" "$csrf" "$node" "$lxcpath" "$rounds" <<'PY'
import http.client, json, ssl, statistics, subprocess, sys, time, urllib.parse
url, ticket, csrf, node, lxcpath, rounds = sys.argv[1:]
u = urllib.parse.urlparse(url)
conn = http.client.HTTPSConnection(u.hostname, u.port, context=ssl._create_unverified_context())
hdr = {"Cookie": f"PVEAuthCookie={ticket}", "CSRFPreventionToken": csrf}
def call(method, path):
    conn.request(method, u.path + path, headers=hdr)
    return json.loads(conn.getresponse().read())["data"]
def lxc(*args):
    subprocess.run(args, check=True)
api, byhand = [], []
for _ in range(int(rounds)):
    t0 = time.monotonic()
    upid = call("POST", f"/nodes/{node}/lxc/9901/status/start")
    while True:
        st = call("GET", f"/nodes/{node}/tasks/{upid}/status")
        if st["status"] == "stopped":
            break
        time.sleep(0.002)
    assert st["exitstatus"] == "OK", st
    api.append((time.monotonic() - t0) * 1000)
    lxc("lxc-stop", "-n", "9901", "-P", lxcpath, "-k"); time.sleep(0.2)
    t0 = time.monotonic()
    lxc("lxc-start", "-n", "9901", "-P", lxcpath, "-d", "-p", f"{lxcpath}/9901/pid")
    byhand.append((time.monotonic() - t0) * 1000)
    lxc("lxc-stop", "-n", "9901", "-P", lxcpath, "-k"); time.sleep(0.2)
a, l = statistics.median(api), statistics.median(byhand)
print(f"start through the API: median {a:.0f} ms {[round(x) for x in api]}")
print(f"lxc-start by hand:     median {l:.0f} ms {[round(x) for x in byhand]}")
print(f"overhead: {a - l:+.0f} ms (target <= 50 ms), ratio {a / l:.2f}")
PY

# many containers at once
t0=$(now_ms)
for i in $(seq "$many"); do
  vmid=$((10000 + i))
  upid=$(api POST "/nodes/$node/lxc" -d vmid=$vmid --data-urlencode "ostemplate=$ostemplate" -d rootfs=local:0.05 -d memory=32 -d swap=0 -d start=1 | data)
  [ "$(wait_task "$upid")" = OK ] || { echo "create+start of $vmid failed" >&2; exit 1; }
done
echo "created and started $many containers in $(($(now_ms) - t0)) ms"
running=$(api GET "/nodes/$node/lxc" | python3 -c 'import json,sys; print(sum(1 for c in json.load(sys.stdin)["data"] if c["status"]=="running"))')
rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
echo "running containers: $running; daemon RSS: $((rss_kb / 1024)) MB (target < 60 MB)"
