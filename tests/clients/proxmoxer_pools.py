"""Manage resource pools on a running oxve daemon with proxmoxer, the way Ansible's
proxmox_pool and proxmox_pool_member modules do. Exits non-zero on the first mismatch.

Environment: OXVE_HOST (host:port), OXVE_ADMIN_PASSWORD.
"""
import os
import sys

from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException
from proxmoxer.tools import Tasks

host = os.environ["OXVE_HOST"]
hostname, port = host.rsplit(":", 1)
password = os.environ["OXVE_ADMIN_PASSWORD"]


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def wait(upid):
    status = Tasks.blocking_status(px, upid, timeout=60, polling_interval=0.1)
    check(status["exitstatus"] == "OK", f"task {upid} OK")


px = ProxmoxAPI(hostname, port=int(port), user="admin@pve", password=password, verify_ssl=False)
node = px.nodes("testnode")
for vmid in (631, 632):
    wait(node.qemu.post(vmid=vmid, name=f"py{vmid}"))

# proxmox_pool: list, create, read
check(px.pools.get() == [], "no pools at first")
px.pools.post(poolid="py", comment="from proxmoxer")
check([p["poolid"] for p in px.pools.get()] == ["py"], "pool listed")
check(px.pools.get(poolid="py")[0]["comment"] == "from proxmoxer", "pool read by poolid")

# proxmox_pool_member: members as lists (several VMIDs arrive as repeated keys)
px.pools("py").put(vms=[631, 632])
px.pools("py").put(storage=["local"])
members = px.pools("py").get()["members"]
vms = sorted(m["vmid"] for m in members if m["type"] != "storage")
stores = [m["storage"] for m in members if m["type"] == "storage"]
check(vms == [631, 632], "both VMs are members")
check(stores == ["local"], "storage is a member")
check(all(m["node"] == "testnode" for m in members), "members name their node")
try:
    px.pools.post(poolid="py")
    check(False, "duplicate pool refused")
except ResourceException as e:
    check("already exists" in str(e), "duplicate pool refused")
try:
    px.pools.delete(poolid="py")
    check(False, "non-empty pool not deleted")
except ResourceException as e:
    check("not empty" in str(e), "non-empty pool not deleted")
px.pools("py").put(vms=[631, 632], delete=1)
px.pools("py").put(storage=["local"], delete=1)
check(px.pools("py").get()["members"] == [], "members removed")

# the guest's pool in /cluster/resources, and the pool itself
px.pools.put(poolid="py", vms="631")
res = px.cluster.resources.get()
check(any(r["type"] == "pool" and r["pool"] == "py" for r in res), "pool in resources")
check(next(r for r in res if r.get("vmid") == 631).get("pool") == "py", "guest's pool in resources")
px.pools.put(poolid="py", vms="631", delete=1)
px.pools.delete(poolid="py")
check(px.pools.get() == [], "pool deleted")
print("proxmoxer pools: all checks passed")
