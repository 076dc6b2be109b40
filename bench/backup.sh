#!/usr/bin/env bash
# Backup and restore benchmark (issue 8), each against a baseline measured in the same run,
# alternating rounds so that neither side alone profits from a warm page cache:
#   (a) backup of a stopped VM's 4 GiB raw disk (2 GiB random data, 2 GiB written zeros) with
#       POST vzdump compress=zstd zstd=0 (task done), vs compressing the same image with
#       `zstd -T0` (target: API throughput >= 0.90 of the baseline's). `qemu-img convert -O
#       raw` cannot write to a pipe (it resizes its target), and for a raw image its output
#       is the file itself, so the baseline reads the image directly: a stricter baseline.
#   (b) restore of that archive (POST qemu archive=, raw target) vs `zstd -d < archive > file`
#       (target >= 0.90), and vs the same followed by an fsync of the file (the API fsyncs the
#       restored volume before it reports success);
#   (c) backup of a 100 GiB thin raw disk vs a 1 GiB one holding the same 256 MiB of data:
#       time follows the data, not the size (ratio ~1).
# Usage: bench/backup.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
cargo build --release -q --bin oxve
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null; rm -rf "$tmp"' EXIT

OXVE_ADMIN_PASSWORD=bench-pass-1 OXVE_LOG=warn target/release/oxve serve \
  --data-dir "$tmp/data" --listen 127.0.0.1:0 --node benchnode --accel tcg >"$tmp/out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$tmp/out" && break; sleep 0.1; done
url=$(grep -o 'https://[^ ]*' "$tmp/out" | head -1 | sed 's#/$##')

images="$tmp/data/local/images"
mkdir -p "$images/100" "$images/101" "$images/102"
# (a)/(b): 2 GiB random then 2 GiB of zeros really written (allocated).
head -c 2G /dev/urandom >"$images/100/vm-100-disk-0.raw"
head -c 2G /dev/zero >>"$images/100/vm-100-disk-0.raw"
# (c): the same 256 MiB (4 runs of 64 MiB, spread out) in a 1 GiB and a 100 GiB thin disk.
head -c 64M /dev/urandom >"$tmp/chunk"
for vmid in 101 102; do
  size=$([ $vmid = 101 ] && echo 1G || echo 100G)
  f="$images/$vmid/vm-$vmid-disk-0.raw"
  truncate -s "$size" "$f"
  for i in 0 1 2 3; do
    step=$([ $vmid = 101 ] && echo 256 || echo 25600) # MiB between runs
    dd if="$tmp/chunk" of="$f" bs=1M seek=$((i * step)) conv=notrunc status=none
  done
done
sync

python3 - "$url" "$tmp" "$rounds" <<'PY'
import os, ssl, statistics, subprocess, sys, time, urllib.parse, urllib.request, json
url, tmp, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def req(method, path, params=None, auth=None):
    data = urllib.parse.urlencode(params or {}).encode() if method not in ("GET", "DELETE") else None
    if method in ("GET", "DELETE") and params:
        path += "?" + urllib.parse.urlencode(params)
    r = urllib.request.Request(f"{url}/api2/json{path}", data=data, method=method, headers=auth or {})
    return json.load(urllib.request.urlopen(r, context=ctx))["data"]
t = req("POST", "/access/ticket", {"username": "admin@pve", "password": "bench-pass-1"})
auth = {"Cookie": f"PVEAuthCookie={t['ticket']}", "CSRFPreventionToken": t["CSRFPreventionToken"]}
call = lambda m, p, params=None: req(m, p, params, auth)
def wait(upid):
    while True:
        st = call("GET", f"/nodes/benchnode/tasks/{urllib.parse.quote(upid)}/status")
        if st["status"] == "stopped":
            assert st["exitstatus"] == "OK", st
            return
        time.sleep(0.01)
def log(upid):
    return [l["t"] for l in call("GET", f"/nodes/benchnode/tasks/{urllib.parse.quote(upid)}/log", {"limit": 1000})]
def timed(method, path, params=None):
    os.sync()  # each side starts without the other's dirty pages to write back
    t = time.perf_counter()
    upid = call(method, path, params)
    wait(upid)
    return time.perf_counter() - t, upid
def shell(cmd):
    os.sync()
    t = time.perf_counter()
    subprocess.run(["bash", "-o", "pipefail", "-c", cmd], check=True)
    return time.perf_counter() - t
GIB = 1 << 30
images = f"{tmp}/data/local/images"
dump = f"{tmp}/data/local/dump"

for vmid in (100, 101, 102):
    wait(call("POST", "/nodes/benchnode/qemu", {"vmid": vmid, "memory": 128,
                                                "scsi0": f"local:{vmid}/vm-{vmid}-disk-0.raw"}))

def backup(vmid):
    """Backs up `vmid` (zstd, all cores); its time and archive path."""
    secs, upid = timed("POST", "/nodes/benchnode/vzdump", {
        "vmid": vmid, "mode": "stop", "storage": "local", "compress": "zstd", "zstd": 0, "remove": 0})
    line = next(l for l in log(upid) if "creating vzdump archive '" in l)
    return secs, line.split("'")[1]

# (a) backup throughput, alternating with the baseline.
disk = f"{images}/100/vm-100-disk-0.raw"
api_s, base_s, archive = [], [], None
for r in range(rounds):
    if archive:
        os.remove(archive)
    secs, archive = backup(100)
    api_s.append(secs)
    base_s.append(shell(f"zstd -q -T0 < {disk} > {tmp}/base.zst"))
    os.remove(f"{tmp}/base.zst") if r + 1 < rounds else None
a, b = statistics.median(api_s), statistics.median(base_s)
print(f"(a) backup of 4 GiB (half random, half zeros), zstd: API {4 / a:.2f} GiB/s ({a:.2f} s), "
      f"zstd -T0 {4 / b:.2f} GiB/s ({b:.2f} s); ratio {b / a:.2f} (target >= 0.90; median of {rounds}); "
      f"archive {os.path.getsize(archive) / GIB:.2f} GiB, zstd -T0 {os.path.getsize(f'{tmp}/base.zst') / GIB:.2f} GiB")
os.remove(f"{tmp}/base.zst")

# (b) restore throughput of that archive, alternating with `zstd -d` into a file.
volid = "local:backup/" + os.path.basename(archive)
api_s, base_s, synced_s = [], [], []
for r in range(rounds):
    secs, _ = timed("POST", "/nodes/benchnode/qemu", {"vmid": 300, "archive": volid, "storage": "local"})
    api_s.append(secs)
    wait(call("DELETE", "/nodes/benchnode/qemu/300", {"purge": 1}))
    base_s.append(shell(f"zstd -q -d < {archive} > {tmp}/restored.raw"))
    os.remove(f"{tmp}/restored.raw")
    # The API fsyncs the restored volume before it reports success; so does this baseline.
    synced_s.append(shell(f"zstd -q -d < {archive} > {tmp}/restored.raw && sync {tmp}/restored.raw"))
    os.remove(f"{tmp}/restored.raw")
a, b, c = statistics.median(api_s), statistics.median(base_s), statistics.median(synced_s)
print(f"(b) restore of that archive (raw target): API {4 / a:.2f} GiB/s ({a:.2f} s), "
      f"zstd -d into a file {4 / b:.2f} GiB/s ({b:.2f} s); ratio {b / a:.2f} (target >= 0.90; median of {rounds}); "
      f"zstd -d into a file then fsync {4 / c:.2f} GiB/s ({c:.2f} s): ratio {c / a:.2f}")
os.remove(archive)

# (c) a 100 GiB thin disk costs what its data costs.
small, big = [], []
for r in range(rounds):
    for vmid, out in ((101, small), (102, big)):
        secs, path = backup(vmid)
        out.append(secs)
        os.remove(path)
a, b = statistics.median(small), statistics.median(big)
print(f"(c) backup of 256 MiB of data in a thin disk: 1 GiB disk {a:.2f} s, 100 GiB disk {b:.2f} s; "
      f"ratio {b / a:.2f} (target ~1: time follows data, not size; median of {rounds})")
PY
