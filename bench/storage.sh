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

# Full copy through the API (move_disk, a task; target: at least 90% of bare qemu-img
# convert's throughput) against a bare `qemu-img convert` of the same 4 GiB qcow2 (random
# data), alternating three times (each after a sync, on the same file system). The timed
# move keeps its source (delete=0, as the bare copy does; the full-clone path never frees
# one); the source is then freed untimed, and the cost of freeing it inside the task
# (delete=1) is reported on its own: on a file system mounted with online discard, that
# unlink's journal commit discards the whole image.
mkdir -p "$tmp/thin/images/200"
head -c 4G /dev/urandom >"$tmp/src.raw"
qemu-img convert -O qcow2 "$tmp/src.raw" "$tmp/thin/images/200/vm-200-disk-0.qcow2"
rm -f "$tmp/src.raw"
api -d vmid=200 -d scsi0=thin:200/vm-200-disk-0.qcow2 "$url/api2/json/nodes/benchnode/qemu" >/dev/null
sleep 1
python3 - "$url" "$ticket" "$csrf" "$tmp" <<'PY'
import json, os, ssl, subprocess, sys, time, statistics, urllib.request, urllib.parse
url, ticket, csrf, tmp = sys.argv[1:5]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def call(method, path, params=None):
    data = urllib.parse.urlencode(params or {}).encode() if method != "GET" else None
    req = urllib.request.Request(f"{url}/api2/json{path}", data=data, method=method,
        headers={"Cookie": f"PVEAuthCookie={ticket}", "CSRFPreventionToken": csrf})
    return json.load(urllib.request.urlopen(req, context=ctx))["data"]
def wait(upid):
    while True:
        st = call("GET", f"/nodes/benchnode/tasks/{urllib.parse.quote(upid)}/status")
        if st["status"] == "stopped":
            assert st["exitstatus"] == "OK", st
            return
        time.sleep(0.005)
def disk():
    return call("GET", "/nodes/benchnode/qemu/200/config")["scsi0"].split(",")[0]
def api_move(fmt, delete):
    os.sync()  # start from clean page cache writeback, like the bare run
    t = time.perf_counter()
    wait(call("POST", "/nodes/benchnode/qemu/200/move_disk", {"disk": "scsi0", "storage": "thin", "format": fmt, "delete": delete}))
    secs = time.perf_counter() - t
    if not delete:  # free the source (now unused0) outside the timing
        old = call("GET", "/nodes/benchnode/qemu/200/config")["unused0"]
        wait(call("DELETE", "/nodes/benchnode/storage/thin/content/" + urllib.parse.quote(old, safe="")))
        call("PUT", "/nodes/benchnode/qemu/200/config", {"delete": "unused0"})
    return secs
def bare(src):
    dst = f"{tmp}/thin/bare.raw"
    os.sync()
    t = time.perf_counter()
    subprocess.run(["qemu-img", "convert", "-O", "raw", src, dst], check=True)
    d = time.perf_counter() - t
    os.remove(dst)
    return d
src = lambda: f"{tmp}/thin/images/200/" + disk().split("/")[-1]
api_t, bare_t, del_t = [], [], []
for _ in range(3):
    bare_t.append(bare(src()))
    api_t.append(api_move("raw", 0))   # qcow2 -> raw, timed
    del_t.append(api_move("qcow2", 1)) # back to qcow2 for the next round, freeing the raw
a, b, c = statistics.median(api_t), statistics.median(bare_t), statistics.median(del_t)
print(f"4 GiB qcow2 -> raw: move_disk via API {a:.2f} s ({4096/a:.0f} MiB/s), bare qemu-img convert {b:.2f} s ({4096/b:.0f} MiB/s)")
print(f"throughput ratio API/bare: {b/a:.2f} (target >= 0.90)")
print(f"raw -> qcow2 with delete=1 (copy, then free the 4 GiB source in the task): {c:.2f} s")
PY
