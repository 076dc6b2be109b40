#!/usr/bin/env bash
# Snapshot and clone benchmark (issue 5), each against a baseline measured in the same run:
#   - linked clone of a template through the API (task done), 1 GiB vs 100 GiB disk
#     (target < 100 ms, independent of size), vs a bare `qemu-img create -b` overlay;
#   - snapshot of a stopped VM without vmstate (target < 100 ms), vs a bare
#     `qemu-img snapshot -c`;
#   - snapshot with vmstate of a running guest whose RAM holds 192 MiB of random data: the
#     state-writing rate the task reports, vs `dd` writing the same amount to the same disk.
# Needs QEMU and the guest image (scripts/build-guest-image.sh). Usage: bench/snapshot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q --bin oxve
[ -f target/guest/oxve-guest.qcow2 ] || scripts/build-guest-image.sh target/guest
tmp=$(mktemp -d)
# Base images are immutable (chattr +i), as Proxmox makes them.
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null; pkill -f "$tmp/data/run/qemu" 2>/dev/null || true; chattr -R -i "$tmp" 2>/dev/null || true; rm -rf "$tmp"' EXIT

OXVE_ADMIN_PASSWORD=bench-pass-1 OXVE_LOG=warn target/release/oxve serve \
  --data-dir "$tmp/data" --listen 127.0.0.1:0 --node benchnode --accel tcg >"$tmp/out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$tmp/out" && break; sleep 0.1; done
url=$(grep -o 'https://[^ ]*' "$tmp/out" | head -1 | sed 's#/$##')
mkdir -p "$tmp/data/local/images/103"
cp target/guest/oxve-guest.qcow2 "$tmp/data/local/images/103/vm-103-disk-0.qcow2"

python3 - "$url" "$tmp" "$PWD/target/release/oxve" <<'PY'
import json, os, ssl, statistics, subprocess, sys, time, urllib.parse, urllib.request
url, tmp, oxve = sys.argv[1:4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def req(method, path, params=None, auth=None):
    data = urllib.parse.urlencode(params or {}).encode() if method != "GET" else None
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
        time.sleep(0.002)
def timed(method, path, params=None):
    t = time.perf_counter()
    wait(call(method, path, params))
    return (time.perf_counter() - t) * 1000
def log(upid):
    return "\n".join(l["t"] for l in call("GET", f"/nodes/benchnode/tasks/{urllib.parse.quote(upid)}/log", {"limit": 500}))
images = f"{tmp}/data/local/images"

# Templates with a 1 GiB and a 100 GiB disk (thin qcow2).
for vmid, size in ((100, 1), (101, 100)):
    wait(call("POST", "/nodes/benchnode/qemu", {"vmid": vmid, "scsi0": f"local:{size},format=qcow2"}))
    wait(call("POST", f"/nodes/benchnode/qemu/{vmid}/template"))
clone_ms = {100: [], 101: []}
newid = 200
for _ in range(7):
    for src in (100, 101):
        clone_ms[src].append(timed("POST", f"/nodes/benchnode/qemu/{src}/clone", {"newid": newid}))
        newid += 1
bare = []
for i in range(7):
    t = time.perf_counter()
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", "../101/base-101-disk-0.qcow2",
                    f"{images}/101/bare-{i}.qcow2"], check=True, cwd=f"{images}/101")
    bare.append((time.perf_counter() - t) * 1000)
a, b, c = statistics.median(clone_ms[100]), statistics.median(clone_ms[101]), statistics.median(bare)
print(f"linked clone via API: 1 GiB {a:.1f} ms, 100 GiB {b:.1f} ms (median of 7; target < 100 ms); "
      f"bare qemu-img overlay {c:.1f} ms (ratio API/bare {b / c:.2f})")

# Snapshot of a stopped VM (1 GiB qcow2), no vmstate.
wait(call("POST", "/nodes/benchnode/qemu", {"vmid": 102, "scsi0": "local:1,format=qcow2"}))
snap_ms = [timed("POST", "/nodes/benchnode/qemu/102/snapshot", {"snapname": f"s{i}"}) for i in range(7)]
subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", f"{tmp}/bare.qcow2", "1G"], check=True)
bare = []
for i in range(7):
    t = time.perf_counter()
    subprocess.run(["qemu-img", "snapshot", "-c", f"s{i}", f"{tmp}/bare.qcow2"], check=True)
    bare.append((time.perf_counter() - t) * 1000)
a, b = statistics.median(snap_ms), statistics.median(bare)
print(f"snapshot of a stopped VM via API: {a:.1f} ms (median of 7; target < 100 ms); bare qemu-img snapshot -c {b:.1f} ms (ratio {a / b:.2f})")

# Snapshot with vmstate of a running guest with 192 MiB of random data in RAM.
wait(call("POST", "/nodes/benchnode/qemu", {"vmid": 103, "memory": 512, "scsi0": "local:103/vm-103-disk-0.qcow2", "serial0": "socket"}))
wait(call("POST", "/nodes/benchnode/qemu/103/status/start"))
sock = f"{tmp}/data/run/oxve.sock"
def guest(command):
    out = subprocess.run([oxve, "vm", "terminal", "103", "--socket", sock], input=f"{command}\r".encode(),
                         capture_output=True, timeout=120).stdout.decode(errors="replace")
    return out
deadline = time.time() + 300
while "SHELL-2" not in guest("echo SHELL-$((1+1))"):  # the guest's shell is up
    assert time.time() < deadline
    time.sleep(2)
guest("dd if=/dev/urandom of=/tmp/fill bs=1M count=192 2>/dev/null &")
while "SIZE-201326592" not in guest("echo SIZE-$(wc -c < /tmp/fill)"):
    assert time.time() < deadline
    time.sleep(3)
upid = call("POST", "/nodes/benchnode/qemu/103/snapshot", {"snapname": "ram", "vmstate": 1})
wait(upid)
line = next(l for l in log(upid).splitlines() if "VM state saved" in l)
mib = int(line.split("saved: ")[1].split(" MiB")[0])
rate = float(line.split("(")[1].split(" MiB/s")[0])
t = time.perf_counter()
subprocess.run(["dd", "if=/dev/zero", f"of={tmp}/dd.raw", "bs=1M", f"count={mib}", "conv=fdatasync"],
               check=True, capture_output=True)
dd = mib / (time.perf_counter() - t)
print(f"snapshot with vmstate: {line.split(': ', 1)[1]}; dd of {mib} MiB: {dd:.0f} MiB/s (ratio {rate / dd:.2f})")
wait(call("POST", "/nodes/benchnode/qemu/103/status/stop"))
PY
