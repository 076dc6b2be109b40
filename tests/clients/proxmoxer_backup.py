"""Drive backup jobs, retention and backup listings on a running oxve daemon with proxmoxer,
the way scripts and Ansible's proxmox_backup modules do. Exits non-zero on the first mismatch.

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

# a job as Ansible's proxmox_backup creates it
px.cluster.backup.post(id="py-nightly", schedule="mon..fri 22:30", vmid="100,101",
                       storage="local", mode="snapshot", compress="zstd",
                       **{"prune-backups": "keep-last=3,keep-weekly=2",
                          "notes-template": "{{guestname}}"})
jobs = px.cluster.backup.get()
job = next(j for j in jobs if j["id"] == "py-nightly")
check(job["schedule"] == "mon..fri 22:30", "job listed with its schedule")
check(job["next-run"] > time.time(), "next-run in the future")
check(job["prune-backups"] == {"keep-last": 3, "keep-weekly": 2}, "prune-backups as an object")
check(time.localtime(job["next-run"]).tm_wday < 5, "next-run on a weekday")
check(time.strftime("%H:%M", time.localtime(job["next-run"])) == "22:30", "next-run at 22:30 local")

px.cluster.backup("py-nightly").put(enabled=0, delete="notes-template")
job = px.cluster.backup("py-nightly").get()
check(job["enabled"] == 0 and "notes-template" not in job, "job updated")
check("children" in px.cluster.backup("py-nightly").included_volumes.get(), "included volumes")
check(isinstance(px.cluster("backup-info")("not-backed-up").get(), list), "not backed up")

try:
    px.cluster.backup.post(schedule="sat 02:00", vmid="100", all=1)
    check(False, "conflicting selection refused")
except ResourceException as e:
    check(e.status_code == 400 and "all" in str(e), f"400 names the parameter ({e})")

# retention preview and prune task
marks = px.nodes("testnode").storage("local").prunebackups.get(**{"prune-backups": "keep-last=1"})
check(isinstance(marks, list), "prune dry run")
upid = px.nodes("testnode").storage("local").prunebackups.delete(**{"prune-backups": "keep-last=1"})
status = Tasks.blocking_status(px, upid, timeout=30, polling_interval=0.1)
check(status["exitstatus"] == "OK", "prune task")
check(isinstance(px.nodes("testnode").storage("local").content.get(content="backup"), list),
      "backup listing")

px.cluster.backup("py-nightly").delete()
check(not any(j["id"] == "py-nightly" for j in px.cluster.backup.get()), "job deleted")
print("proxmoxer backup: all checks passed")
