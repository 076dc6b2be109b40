//! Real LXC containers through the API (as root): the project's busybox template uploaded as
//! a vztmpl, an unprivileged container created with a password and SSH key, started, checked
//! from inside and from its cgroups, limits changed live, frozen and thawed, kept running
//! across a daemon SIGKILL + restart, rebooted with pending changes, shut down, destroyed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::ct::{ct_template as template, TEMPLATE};
use common::{send, wait_task, Daemon, DaemonOptions, Session};
use serde_json::Value;

/// LXC needs root and the Debian lxc package; elsewhere these tests say so and pass.
fn usable() -> bool {
    let ok = nix::unistd::Uid::effective().is_root() && Path::new("/usr/bin/lxc-start").exists();
    if !ok {
        eprintln!("skipped: needs root and the lxc package");
    }
    ok
}

/// Kills the test's containers even when an assertion fails (loop devices auto-clear).
struct Cleanup {
    lxc_path: PathBuf,
    vmids: Vec<u32>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for vmid in &self.vmids {
            let _ = Command::new("lxc-stop")
                .args(["-n", &vmid.to_string(), "-k", "-P"])
                .arg(&self.lxc_path)
                .output();
        }
    }
}

async fn upload_template(d: &Daemon, s: &Session) {
    let data = std::fs::read(template()).unwrap();
    let form = reqwest::multipart::Form::new()
        .text("content", "vztmpl")
        .part(
            "filename",
            reqwest::multipart::Part::bytes(data).file_name(TEMPLATE),
        );
    let r = send(
        s.http
            .post(format!(
                "{}/api2/json/nodes/testnode/storage/local/upload",
                d.base
            ))
            .header("Cookie", format!("PVEAuthCookie={}", s.ticket))
            .header("CSRFPreventionToken", &s.csrf)
            .multipart(form),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        wait_task(s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
}

async fn task_ok(s: &Session, r: common::Reply) -> Value {
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = wait_task(s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    t
}

async fn status(s: &Session, vmid: u32) -> Value {
    let r = s
        .get(&format!("/nodes/testnode/lxc/{vmid}/status/current"), &[])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.data().clone()
}

fn attach(d: &Daemon, vmid: u32, script: &str) -> String {
    let out = Command::new("lxc-attach")
        .args(["-n", &vmid.to_string(), "-P"])
        .arg(d.data_dir.join("run/lxc"))
        .args(["--clear-env", "--", "/bin/sh", "-c", script])
        .current_dir("/")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Whether this process may resize mounted file systems (CAP_SYS_RESOURCE, bit 24).
fn has_cap_sys_resource() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << 24) != 0)
}

fn cgroup_value(pid: u64, controller: &str, file: &str) -> u64 {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path = cg
        .lines()
        .find_map(|l| {
            let mut p = l.splitn(3, ':');
            let (_, c, path) = (p.next()?, p.next()?, p.next()?);
            c.split(',')
                .any(|x| x == controller)
                .then(|| path.to_string())
        })
        .unwrap();
    std::fs::read_to_string(format!("/sys/fs/cgroup/{controller}{path}/{file}"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn container_lifecycle_through_the_api() {
    if !usable() {
        return;
    }
    let vmid = 9701;
    let mut d = Daemon::start();
    let _cleanup = Cleanup {
        lxc_path: d.data_dir.join("run/lxc"),
        vmids: vec![vmid],
    };
    let s = Session::admin(&d).await;
    upload_template(&d, &s).await;
    let r = s
        .get(
            "/nodes/testnode/storage/local/content",
            &[("content", "vztmpl")],
        )
        .await;
    assert_eq!(r.data()[0]["volid"], format!("local:vztmpl/{TEMPLATE}"));

    let t = task_ok(
        &s,
        s.post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9701"),
                ("ostemplate", &format!("local:vztmpl/{TEMPLATE}")),
                ("hostname", "ct-test"),
                ("memory", "64"),
                ("swap", "32"),
                ("cores", "1"),
                ("rootfs", "local:0.25"),
                ("mp0", "local:0.125,mp=/data,backup=1"),
                ("password", "ct-Secret-1"),
                (
                    "ssh-public-keys",
                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 test@oxve",
                ),
                ("nameserver", "10.0.0.53"),
                ("tags", "web;test"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(t["type"], "vzcreate");
    let conf = s.get("/nodes/testnode/lxc/9701/config", &[]).await;
    let c = conf.data();
    assert_eq!(c["unprivileged"], 1, "unprivileged by default: {c}");
    assert_eq!(c["rootfs"], "local:9701/vm-9701-disk-0.raw,size=256M");
    assert_eq!(c["memory"], 64);
    assert_eq!(c["arch"], "amd64");
    assert!(c.get("lock").is_none() && c["digest"].is_string());
    assert_eq!(
        c["mp0"],
        "local:9701/vm-9701-disk-1.raw,mp=/data,backup=1,size=128M"
    );
    let image = d.data_dir.join("local/images/9701/vm-9701-disk-0.raw");
    assert!(image.exists());
    assert_eq!(status(&s, vmid).await["status"], "stopped");

    // start
    let t = task_ok(
        &s,
        s.post("/nodes/testnode/lxc/9701/status/start", &[]).await,
    )
    .await;
    assert_eq!(t["type"], "vzstart");
    let st = status(&s, vmid).await;
    assert_eq!(st["status"], "running", "{st}");
    assert_eq!(st["type"], "lxc");
    assert_eq!(st["name"], "ct-test");
    assert_eq!(st["maxmem"], 64u64 << 20);
    assert_eq!(st["maxswap"], 32u64 << 20);
    assert_eq!(st["tags"], "web;test");
    assert!(st["maxdisk"].as_u64().unwrap() > 200 << 20, "{st}");
    assert!(st["disk"].as_u64().unwrap() > 0);
    let pid = st["pid"].as_u64().unwrap();
    assert_eq!(
        s.post("/nodes/testnode/lxc/9701/status/start", &[])
            .await
            .status,
        500,
        "already running"
    );

    // from inside: init started, hostname, credentials, DNS
    assert_eq!(
        attach(&d, vmid, "cat /run/oxve-init"),
        "oxve-ct-init started ct-test"
    );
    assert_eq!(attach(&d, vmid, "grep -c '^root:[$]6[$]' /etc/shadow"), "1");
    assert_eq!(
        attach(&d, vmid, "cat /root/.ssh/authorized_keys"),
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 test@oxve"
    );
    assert_eq!(
        attach(&d, vmid, "cat /etc/resolv.conf"),
        "nameserver 10.0.0.53"
    );
    // the volume mount point is writable by the container's root; the host keeps no mount
    assert_eq!(
        attach(
            &d,
            vmid,
            "echo hi > /data/f && cat /data/f && stat -c %u /data/f"
        ),
        "hi\n0"
    );
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.contains("/lxc/9701/"),
        "no host-side mounts left: {mountinfo}"
    );
    // online resize of the rootfs
    let kib = |d: &Daemon| -> u64 {
        attach(d, vmid, "df -k / | tail -1")
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    let before = kib(&d);
    let r = s
        .put(
            "/nodes/testnode/lxc/9701/resize",
            &[("disk", "rootfs"), ("size", "+64M")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    if has_cap_sys_resource() {
        assert_eq!(t["exitstatus"], "OK", "{t}");
        let after = kib(&d);
        assert!(
            after > before + 50_000,
            "file system grew online: {before} -> {after} KiB"
        );
    } else {
        // ext4's online resize needs CAP_SYS_RESOURCE, which this host withholds; the
        // volume grew and the file system follows with an offline resize below
        assert!(
            t["exitstatus"].as_str().unwrap().contains("resize2fs"),
            "{t}"
        );
    }
    let c = s.get("/nodes/testnode/lxc/9701/config", &[]).await;
    assert_eq!(
        c.data()["rootfs"],
        "local:9701/vm-9701-disk-0.raw,size=320M"
    );
    let r = s
        .put(
            "/nodes/testnode/lxc/9701/resize",
            &[("disk", "rootfs"), ("size", "100M")],
        )
        .await;
    assert_eq!(r.status, 400, "shrinking is refused");
    // unprivileged: container root is host uid 100000
    let uid_map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    assert_eq!(
        uid_map.split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    attach(&d, vmid, "touch /root/by-ct-root");
    let meta = std::fs::metadata(format!("/proc/{pid}/root/root/by-ct-root")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 100_000);
    // limits in the cgroup
    assert_eq!(
        cgroup_value(pid, "memory", "memory.limit_in_bytes"),
        64 << 20
    );
    assert_eq!(
        cgroup_value(pid, "memory", "memory.memsw.limit_in_bytes"),
        96 << 20
    );

    // listings
    let list = s.get("/nodes/testnode/lxc", &[]).await;
    assert_eq!(list.data()[0]["vmid"], vmid);
    assert_eq!(list.data()[0]["status"], "running");
    assert_eq!(list.data()[0]["pid"], pid);
    assert!(list.data()[0]["mem"].as_u64().unwrap() > 0);
    assert_eq!(list.data()[0]["type"], "lxc");
    let res = s.get("/cluster/resources", &[("type", "vm")]).await;
    let entry = res
        .data()
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["vmid"] == vmid)
        .unwrap()
        .clone();
    assert_eq!(entry["type"], "lxc");
    assert_eq!(entry["id"], "lxc/9701");

    // config changes while running: memory now (cgroup), hostname pending until restart
    let conf = s.get("/nodes/testnode/lxc/9701/config", &[]).await;
    let digest = conf.data()["digest"].as_str().unwrap().to_string();
    let r = s
        .put(
            "/nodes/testnode/lxc/9701/config",
            &[
                ("memory", "96"),
                ("hostname", "ct-renamed"),
                ("digest", &digest),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        cgroup_value(pid, "memory", "memory.limit_in_bytes"),
        96 << 20
    );
    // the limit holds: a process growing past memory+swap is killed inside, the container
    // and the host carry on
    let killed = attach(
        &d,
        vmid,
        "dd if=/dev/zero bs=1M count=400 2>/dev/null | tail >/dev/null; echo $?",
    );
    assert_eq!(killed, "137", "tail was OOM-killed (SIGKILL)");
    assert!(cgroup_value(pid, "memory", "memory.failcnt") > 0);
    assert_eq!(status(&s, vmid).await["status"], "running");
    let current = s
        .get("/nodes/testnode/lxc/9701/config", &[("current", "1")])
        .await;
    assert_eq!(current.data()["memory"], 96);
    assert_eq!(current.data()["hostname"], "ct-test");
    let pending = s.get("/nodes/testnode/lxc/9701/pending", &[]).await;
    let host = pending
        .data()
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "hostname")
        .unwrap()
        .clone();
    assert_eq!(host["pending"], "ct-renamed");
    // a stale digest is refused
    let r = s
        .put(
            "/nodes/testnode/lxc/9701/config",
            &[("cores", "2"), ("digest", &digest)],
        )
        .await;
    assert_eq!(r.status, 500);

    // freeze and thaw
    task_ok(
        &s,
        s.post("/nodes/testnode/lxc/9701/status/suspend", &[]).await,
    )
    .await;
    assert_eq!(status(&s, vmid).await["frozen"], 1);
    task_ok(
        &s,
        s.post("/nodes/testnode/lxc/9701/status/resume", &[]).await,
    )
    .await;
    assert!(status(&s, vmid).await.get("frozen").is_none());

    // the container keeps running while the daemon is killed and restarted
    d.restart(&DaemonOptions::default());
    let s = Session::admin(&d).await;
    let st = status(&s, vmid).await;
    assert_eq!(st["status"], "running");
    assert_eq!(
        st["pid"].as_u64().unwrap(),
        pid,
        "same container re-adopted"
    );
    assert_eq!(
        s.delete("/nodes/testnode/lxc/9701", &[]).await.status,
        500,
        "running"
    );

    // reboot applies the pending hostname
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/lxc/9701/status/reboot",
            &[("timeout", "20")],
        )
        .await,
    )
    .await;
    assert_eq!(attach(&d, vmid, "hostname"), "ct-renamed");
    let c = s
        .get("/nodes/testnode/lxc/9701/config", &[("current", "1")])
        .await;
    assert_eq!(c.data()["hostname"], "ct-renamed");

    // clean shutdown: the init got its signal
    let t = task_ok(
        &s,
        s.post(
            "/nodes/testnode/lxc/9701/status/shutdown",
            &[("timeout", "20")],
        )
        .await,
    )
    .await;
    assert_eq!(t["type"], "vzshutdown");
    assert_eq!(status(&s, vmid).await["status"], "stopped");

    // offline resize (to the size the volume has: only the file system grows)
    task_ok(
        &s,
        s.put(
            "/nodes/testnode/lxc/9701/resize",
            &[("disk", "rootfs"), ("size", "320M")],
        )
        .await,
    )
    .await;
    // start and hard stop
    task_ok(
        &s,
        s.post("/nodes/testnode/lxc/9701/status/start", &[]).await,
    )
    .await;
    let grown = kib(&d);
    assert!(
        grown > before + 50_000,
        "file system grew: {before} -> {grown} KiB"
    );
    let t = task_ok(
        &s,
        s.post("/nodes/testnode/lxc/9701/status/stop", &[]).await,
    )
    .await;
    assert_eq!(t["type"], "vzstop");
    assert_eq!(status(&s, vmid).await["status"], "stopped");

    // destroy frees the volume
    let t = task_ok(&s, s.delete("/nodes/testnode/lxc/9701", &[]).await).await;
    assert_eq!(t["type"], "vzdestroy");
    assert!(!image.exists(), "rootfs volume removed");
    assert!(
        !d.data_dir
            .join("local/images/9701/vm-9701-disk-1.raw")
            .exists(),
        "mp0 volume removed"
    );
    assert_eq!(
        s.get("/nodes/testnode/lxc/9701/config", &[]).await.status,
        500
    );
    assert!(s
        .get("/nodes/testnode/lxc", &[])
        .await
        .data()
        .as_array()
        .unwrap()
        .is_empty());
}
