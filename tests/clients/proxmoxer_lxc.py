"""Drive containers on a running oxve daemon with proxmoxer, the way scripts and Ansible's
proxmox module do: create from a template, wait for tasks, start, read status and config,
change config with a digest, snapshot-less lifecycle, destroy. Exits non-zero on the first
mismatch.

Environment: OXVE_HOST (host:port), OXVE_ADMIN_PASSWORD, OXVE_CT_TEMPLATE (volume id).
"""
import os
import sys

from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException
from proxmoxer.tools import Tasks

host = os.environ["OXVE_HOST"]
hostname, port = host.rsplit(":", 1)
password = os.environ["OXVE_ADMIN_PASSWORD"]
template = os.environ["OXVE_CT_TEMPLATE"]
vmid = 9791


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def wait(upid, what):
    status = Tasks.blocking_status(px, upid, timeout=120, polling_interval=0.05)
    check(status["status"] == "stopped" and status["exitstatus"] == "OK", f"{what}: {status}")


px = ProxmoxAPI(hostname, port=int(port), user="admin@pve", password=password, verify_ssl=False)
node = px.nodes("testnode")

templates = node.storage("local").content.get(content="vztmpl")
check(any(t["volid"] == template for t in templates), "template listed as vztmpl")

# as Ansible's community.general.proxmox module creates a container
upid = node.lxc.create(
    vmid=vmid,
    ostemplate=template,
    hostname="ansible-ct",
    password="ct-Secret-1",
    memory=64,
    swap=0,
    cores=1,
    rootfs="local:0.1",
    unprivileged=1,
    onboot=0,
    description="made by proxmoxer",
)
wait(upid, "create")
check(any(ct["vmid"] == vmid for ct in node.lxc.get()), "listed")
config = node.lxc(vmid).config.get()
check(config["hostname"] == "ansible-ct" and config["memory"] == 64, "config")
check(config["description"] == "made by proxmoxer", "description")

wait(node.lxc(vmid).status.start.post(), "start")
current = node.lxc(vmid).status.current.get()
check(current["status"] == "running" and current["type"] == "lxc", f"running: {current}")
check(current["maxmem"] == 64 * 1024 * 1024, "maxmem")

node.lxc(vmid).config.put(memory=96, digest=config["digest"])
check(node.lxc(vmid).config.get()["memory"] == 96, "config update with digest")
try:
    node.lxc(vmid).config.put(memory=128, digest=config["digest"])
    check(False, "stale digest refused")
except ResourceException as e:
    check(e.status_code == 500, f"stale digest refused ({e.status_code})")
try:
    node.lxc(vmid).config.put(hostname="not_valid")
    check(False, "bad hostname refused")
except ResourceException as e:
    check(e.status_code == 400 and "hostname" in str(e.errors or e), f"bad hostname -> 400 ({e})")

resources = px.cluster.resources.get(type="vm")
check(any(r["id"] == f"lxc/{vmid}" and r["type"] == "lxc" for r in resources), "in cluster resources")

wait(node.lxc(vmid).status.shutdown.post(timeout=20), "shutdown")
check(node.lxc(vmid).status.current.get()["status"] == "stopped", "stopped")
wait(node.lxc(vmid).delete(), "destroy")
check(all(ct["vmid"] != vmid for ct in node.lxc.get()), "gone")
print("proxmoxer lxc: all checks passed")
