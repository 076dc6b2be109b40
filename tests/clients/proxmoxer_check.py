"""Drive a running oxve daemon with proxmoxer, the Python Proxmox VE client, exactly as
scripts and Ansible use it. Exits non-zero on the first mismatch.

Environment: OXVE_HOST (host:port), OXVE_ADMIN_PASSWORD.
"""
import os
import sys
import time

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


px = ProxmoxAPI(hostname, port=int(port), user="admin@pve", password=password, verify_ssl=False)

version = px.version.get()
major = int(version["version"].split(".")[0])
check(major >= 8, f"version {version['version']} >= 8")

nodes = px.nodes.get()
check(nodes[0]["node"] == "testnode" and nodes[0]["status"] == "online", "nodes list")
status = px.nodes("testnode").status.get()
check(status["memory"]["total"] > 0, "node status memory")

check(isinstance(px.cluster.nextid.get(), str), "nextid is a string")
resources = px.cluster.resources.get(type="node")
check(resources[0]["id"] == "node/testnode", "cluster resources")

# users, groups, tokens, ACLs as Ansible's proxmox_user/role/acl modules do
px.access.groups.post(groupid="pyops", comment="from proxmoxer")
px.access.users.post(userid="py@pve", password="py-pass-12", groups="pyops", email="py@example.com")
users = px.access.users.get(full=1)
check(any(u["userid"] == "py@pve" for u in users), "user created")
user = px.access.users("py@pve").get()
check(user["email"] == "py@example.com", "user read back")
px.access.acl.put(path="/vms", roles="PVEVMUser", users="py@pve")
acl = px.access.acl.get()
check(any(e["ugid"] == "py@pve" and e["roleid"] == "PVEVMUser" for e in acl), "acl set")
perms = px.access.permissions.get(userid="py@pve", path="/vms")
check(perms["/vms"].get("VM.PowerMgmt") == 1, "permissions of another user")

token = px.access.users("py@pve").token("auto").post(privsep=0)
check(token["full-tokenid"] == "py@pve!auto", "token created")
tpx = ProxmoxAPI(hostname, port=int(port), user="py@pve", token_name="auto",
                 token_value=token["value"], verify_ssl=False)
check(tpx.version.get()["version"] == version["version"], "token authentication")

# errors surface as proxmoxer exceptions with status and parameter errors
try:
    px.access.users.post(userid="bad user@@pve")
    check(False, "bad userid refused")
except ResourceException as e:
    check(e.status_code == 400 and "userid" in str(e), f"400 names the parameter ({e})")
try:
    tpx.access.users.post(userid="x@pve")
    check(False, "token without rights refused")
except ResourceException as e:
    check(e.status_code == 403, "403 for missing privilege")

# tasks: a UPID proxmoxer can parse and wait on
upid = px.nodes("testnode").post("oxve-test/sleep", seconds=1)
info = Tasks.decode_upid(upid)
check(info["node"] == "testnode" and info["type"] == "testsleep", "UPID decodes")
result = Tasks.blocking_status(px, upid, timeout=30, polling_interval=0.2)
check(result["status"] == "stopped" and result["exitstatus"] == "OK", "task finished OK")
log = px.nodes("testnode").tasks(upid).log.get()
check(log[-1]["t"] == "TASK OK", "task log")

# ticket renewal as proxmoxer does it (ticket as password)
px2 = ProxmoxAPI(hostname, port=int(port), user="admin@pve", password=password, verify_ssl=False)
px2._backend.auth.renew_age = 0
px2._backend.auth._get_new_tokens(password=px2._backend.auth.pve_auth_ticket)
check(px2.version.get()["version"], "renewed ticket works")

px.access.users("py@pve").delete()
px.access.groups("pyops").delete()
check(not any(u["userid"] == "py@pve" for u in px.access.users.get()), "user deleted")
print("proxmoxer: all checks passed")
