//! Containers refuse bad input and clean up after failures (as root, with real LXC): bad
//! parameters give HTTP 400 naming the parameter and change nothing; a failed create (a
//! corrupt template) frees its rootfs and its VMID; a missing bridge fails the start with a
//! clear error; protection blocks destroy; a privileged container maps no ids.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::ct::{ct_template as template, TEMPLATE};
use common::{wait_task, Daemon, Session};
use serde_json::Value;

fn usable() -> bool {
    let ok = nix::unistd::Uid::effective().is_root() && Path::new("/usr/bin/lxc-start").exists();
    if !ok {
        eprintln!("skipped: needs root and the lxc package");
    }
    ok
}

struct Cleanup(PathBuf, Vec<u32>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for vmid in &self.1 {
            let _ = Command::new("lxc-stop")
                .args(["-n", &vmid.to_string(), "-k", "-P"])
                .arg(&self.0)
                .output();
        }
    }
}

/// The template copied into the local storage as a vztmpl.
fn install_template(d: &Daemon) -> String {
    let dir = d.data_dir.join("local/template/cache");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(template(), dir.join(TEMPLATE)).unwrap();
    format!("local:vztmpl/{TEMPLATE}")
}

async fn task(s: &Session, r: common::Reply) -> Value {
    assert_eq!(r.status, 200, "{:?}", r.body);
    wait_task(s, r.data().as_str().unwrap()).await
}

fn files_of(d: &Daemon, vmid: u32) -> Vec<String> {
    std::fs::read_dir(d.data_dir.join(format!("local/images/{vmid}")))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn bad_requests_change_nothing() {
    if !usable() {
        return;
    }
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    let tmpl = install_template(&d);
    let create = |extra: Vec<(&'static str, String)>| {
        let mut form: Vec<(&str, String)> =
            vec![("vmid", "9711".into()), ("ostemplate", tmpl.clone())];
        for (k, v) in extra {
            form.retain(|(f, _)| *f != k);
            form.push((k, v));
        }
        form
    };
    let post = |form: Vec<(&'static str, String)>| {
        let s = s.clone();
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.post("/nodes/testnode/lxc", &form).await
        }
    };
    for (param, value, message) in [
        (
            "hostname",
            "not_a_host",
            "value does not look like a valid DNS name",
        ),
        ("memory", "8", "value must have a minimum value of 16"),
        (
            "net0",
            "bridge=vmbr0",
            "invalid format - name: property is missing and it is not optional",
        ),
        ("rootfs", "local:1,mountoptions=exec", "mountoptions"),
        (
            "ostemplate",
            "local:vztmpl/missing.tar.zst",
            "does not exist",
        ),
        ("ostemplate", "local:iso/x.iso", "not a container template"),
        ("rootfs", "nosuch:1", "storage 'nosuch' does not exist"),
        (
            "mp0",
            "/srv,mp=/srv,quota=1",
            "quotas are only available for volumes",
        ),
        (
            "password",
            "abc",
            "value must be at least 5 characters long",
        ),
        ("rootfs", "local:9711/vm-9711-disk-0.raw", "new volumes"),
    ] {
        let r = post(create(vec![(param, value.into())])).await;
        assert_eq!(r.status, 400, "{param}={value}: {:?}", r.body);
        let err = r.body["errors"][param].as_str().unwrap_or_default();
        assert!(err.contains(message), "{param}={value}: {:?}", r.body);
    }
    let r = s.post("/nodes/testnode/lxc", &[("vmid", "9711")]).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["errors"]["ostemplate"],
        "property is missing and it is not optional"
    );
    // a storage without container directories
    let iso_dir = d.data_dir.join("isoonly");
    let r = s
        .post(
            "/storage",
            &[
                ("storage", "isoonly"),
                ("type", "dir"),
                ("path", iso_dir.to_str().unwrap()),
                ("content", "iso"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = post(create(vec![("rootfs", "isoonly:1".into())])).await;
    assert_eq!(r.status, 400);
    assert!(r.body["errors"]["rootfs"]
        .as_str()
        .unwrap()
        .contains("does not support container directories"));
    // nothing was created
    assert_eq!(
        s.get("/nodes/testnode/lxc/9711/config", &[]).await.status,
        500
    );
    assert!(files_of(&d, 9711).is_empty());

    // a corrupt template: the task fails, the volume and the VMID reservation are gone
    let bad = d.data_dir.join("local/template/cache/broken.tar.gz");
    std::fs::write(&bad, b"this is not a tar archive").unwrap();
    let t = task(
        &s,
        post(create(vec![
            ("ostemplate", "local:vztmpl/broken.tar.gz".into()),
            ("rootfs", "local:0.1".into()),
        ]))
        .await,
    )
    .await;
    assert_ne!(t["exitstatus"], "OK");
    assert!(
        t["exitstatus"].as_str().unwrap().contains("broken.tar.gz"),
        "{t}"
    );
    assert_eq!(
        s.get("/nodes/testnode/lxc/9711/config", &[]).await.status,
        500
    );
    assert!(
        files_of(&d, 9711).is_empty(),
        "rootfs freed: {:?}",
        files_of(&d, 9711)
    );
    let losetup = Command::new("losetup").arg("-a").output().unwrap();
    assert!(!String::from_utf8_lossy(&losetup.stdout).contains("vm-9711-disk"));

    // a good create, then update errors that change nothing
    let t = task(
        &s,
        post(create(vec![
            ("rootfs", "local:0.1".into()),
            ("hostname", "ok".into()),
        ]))
        .await,
    )
    .await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    let before = s
        .get("/nodes/testnode/lxc/9711/config", &[])
        .await
        .data()
        .clone();
    for (param, value) in [
        ("memory", "1"),
        ("cores", "0"),
        ("net0", "name=eth0,tag=5000"),
        ("unprivileged", "0"),
        ("bogus", "1"),
    ] {
        let r = s
            .put("/nodes/testnode/lxc/9711/config", &[(param, value)])
            .await;
        assert_eq!(r.status, 400, "{param}: {:?}", r.body);
        assert!(r.body["errors"][param].is_string(), "{param}: {:?}", r.body);
    }
    let r = s
        .put(
            "/nodes/testnode/lxc/9711/config",
            &[("mp0", "local:100/vm-100-disk-0.raw,mp=/x")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["errors"]["mp0"]
            .as_str()
            .unwrap()
            .contains("belongs to guest 100"),
        "{:?}",
        r.body
    );
    let r = s
        .put("/nodes/testnode/lxc/9711/config", &[("delete", "rootfs")])
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        s.get("/nodes/testnode/lxc/9711/config", &[]).await.data(),
        &before
    );
    let r = s
        .post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9711"),
                ("ostemplate", &tmpl),
                ("rootfs", "local:0.1"),
            ],
        )
        .await;
    assert_eq!(r.status, 500);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("already exists"),
        "{:?}",
        r.body
    );

    // raw images on a dir storage cannot be snapshotted
    let f = s
        .get(
            "/nodes/testnode/lxc/9711/feature",
            &[("feature", "snapshot")],
        )
        .await;
    assert_eq!(f.data()["hasFeature"], false, "{:?}", f.body);
    let r = s
        .post("/nodes/testnode/lxc/9711/snapshot", &[("snapname", "s1")])
        .await;
    // refused before anything is touched, naming the volume
    assert_eq!(r.status, 400, "{:?}", r.body);
    let message = r.body["message"].as_str().unwrap();
    assert!(
        message.contains("snapshot") && message.contains("rootfs"),
        "{message}"
    );
    let c = s.get("/nodes/testnode/lxc/9711/config", &[]).await;
    assert!(c.data().get("lock").is_none(), "no lock left behind");
    assert!(
        s.get("/nodes/testnode/lxc/9711/snapshot", &[])
            .await
            .data()
            .as_array()
            .unwrap()
            .len()
            == 1
    );

    // a NIC on a bridge that does not exist: the start fails and says why
    let r = s
        .put(
            "/nodes/testnode/lxc/9711/config",
            &[("net0", "name=eth0,bridge=nosuchbr0")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let net0 = s.get("/nodes/testnode/lxc/9711/config", &[]).await.data()["net0"].clone();
    assert!(
        net0.as_str().unwrap().contains("hwaddr=BC:24:11:"),
        "MAC generated: {net0}"
    );
    let t = task(
        &s,
        s.post("/nodes/testnode/lxc/9711/status/start", &[]).await,
    )
    .await;
    assert!(
        t["exitstatus"]
            .as_str()
            .unwrap()
            .contains("bridge 'nosuchbr0' does not exist"),
        "{t}"
    );
    let st = s.get("/nodes/testnode/lxc/9711/status/current", &[]).await;
    assert_eq!(st.data()["status"], "stopped");

    // protection blocks destroy until removed
    assert_eq!(
        s.put("/nodes/testnode/lxc/9711/config", &[("protection", "1")])
            .await
            .status,
        200
    );
    let r = s.delete("/nodes/testnode/lxc/9711", &[]).await;
    assert_eq!(r.status, 500);
    assert!(r.body["message"]
        .as_str()
        .unwrap()
        .contains("protection mode enabled"));
    assert_eq!(
        s.put(
            "/nodes/testnode/lxc/9711/config",
            &[("delete", "protection")]
        )
        .await
        .status,
        200
    );
    let t = task(&s, s.delete("/nodes/testnode/lxc/9711", &[]).await).await;
    assert_eq!(t["exitstatus"], "OK");
    assert!(files_of(&d, 9711).is_empty());
}

#[tokio::test]
async fn privileged_container_maps_no_ids() {
    if !usable() {
        return;
    }
    let d = Daemon::start();
    let _cleanup = Cleanup(d.data_dir.join("run/lxc"), vec![9721]);
    let s = Session::admin(&d).await;
    let tmpl = install_template(&d);
    let t = task(
        &s,
        s.post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9721"),
                ("ostemplate", &tmpl),
                ("rootfs", "local:0.1"),
                ("unprivileged", "0"),
                ("start", "1"),
                ("cpulimit", "0.5"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    let st = s
        .get("/nodes/testnode/lxc/9721/status/current", &[])
        .await
        .data()
        .clone();
    assert_eq!(st["status"], "running", "start=1 started it: {st}");
    assert_eq!(st["cpus"], 0.5);
    let pid = st["pid"].as_u64().unwrap();
    let uid_map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    assert_eq!(
        uid_map.split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "4294967295"]
    );
    // files of a privileged container belong to host root
    let meta = std::fs::metadata(format!("/proc/{pid}/root/bin/busybox")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 0);
    let c = s.get("/nodes/testnode/lxc/9721/config", &[]).await;
    assert_eq!(c.data()["unprivileged"], 0);
    // raw lxc.* keys: root only (over the CLI socket), checked, applied at the next start
    let r = s
        .put(
            "/nodes/testnode/lxc/9721/config",
            &[("lxc", "lxc.cgroup.pids.max: 64")],
        )
        .await;
    assert_eq!(r.status, 403, "not for admin@pve: {:?}", r.body);
    let root_set = |value: &str| {
        let socket = d.socket();
        Command::new(env!("CARGO_BIN_EXE_oxve"))
            .args([
                "api",
                "set",
                "/nodes/testnode/lxc/9721/config",
                "--lxc",
                value,
            ])
            .env("OXVE_SOCKET", &socket)
            .env_remove("OXVE_HOST")
            .output()
            .unwrap()
    };
    let out = root_set("lxc.idmap: u 0 100000");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid map entry"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = root_set("lxc.idmap: b 0 100000 65536");
    assert!(
        !out.status.success(),
        "id maps need an unprivileged container"
    );
    let out = root_set("lxc.cgroup.pids.max: 64");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = s.get("/nodes/testnode/lxc/9721/config", &[]).await;
    assert_eq!(c.data()["lxc"][0][0], "lxc.cgroup.pids.max");
    task(
        &s,
        s.post(
            "/nodes/testnode/lxc/9721/status/reboot",
            &[("timeout", "10")],
        )
        .await,
    )
    .await;
    let st = s
        .get("/nodes/testnode/lxc/9721/status/current", &[])
        .await
        .data()
        .clone();
    let pid = st["pid"].as_u64().unwrap();
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path = cg
        .lines()
        .find_map(|l| {
            l.strip_prefix("8:pids:")
                .or_else(|| l.split_once(":pids:").map(|(_, p)| p))
        })
        .unwrap();
    let max = std::fs::read_to_string(format!("/sys/fs/cgroup/pids{path}/pids.max")).unwrap();
    assert_eq!(max.trim(), "64");

    // destroy of a running container is refused, unless forced
    assert_eq!(s.delete("/nodes/testnode/lxc/9721", &[]).await.status, 500);
    let t = task(
        &s,
        s.delete("/nodes/testnode/lxc/9721", &[("force", "1")])
            .await,
    )
    .await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    assert!(files_of(&d, 9721).is_empty());
}

#[tokio::test]
async fn onboot_containers_start_after_a_host_boot() {
    if !usable() {
        return;
    }
    let mut d = Daemon::start();
    let _cleanup = Cleanup(d.data_dir.join("run/lxc"), vec![9725]);
    let s = Session::admin(&d).await;
    let tmpl = install_template(&d);
    let t = task(
        &s,
        s.post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9725"),
                ("ostemplate", &tmpl),
                ("rootfs", "local:0.1"),
                ("onboot", "1"),
                ("startup", "order=1,up=0"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    let state = |s: Session| async move {
        s.get("/nodes/testnode/lxc/9725/status/current", &[])
            .await
            .data()["status"]
            .clone()
    };
    // a daemon restart within the same host boot starts nothing
    d.restart(&common::DaemonOptions::default());
    let s = Session::admin(&d).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(state(s.clone()).await, "stopped");
    // the first daemon start after a host boot (another boot id) starts it
    std::fs::remove_file(d.data_dir.join("last-boot-id")).unwrap();
    d.restart(&common::DaemonOptions::default());
    let s = Session::admin(&d).await;
    let mut running = false;
    for _ in 0..100 {
        if state(s.clone()).await == "running" {
            running = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    if !running {
        let tasks = s.get("/nodes/testnode/tasks", &[]).await;
        let upid = tasks
            .data()
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "startall")
            .map(|t| t["upid"].as_str().unwrap().to_string());
        let log = match upid {
            Some(u) => {
                s.get(&format!("/nodes/testnode/tasks/{u}/log"), &[])
                    .await
                    .body
            }
            None => tasks.body.clone(),
        };
        panic!("onboot container did not start: {log}");
    }
    let tasks = s
        .get("/nodes/testnode/tasks", &[("typefilter", "startall")])
        .await;
    assert_eq!(tasks.data()[0]["type"], "startall", "{:?}", tasks.body);
    let t = task(
        &s,
        s.delete("/nodes/testnode/lxc/9725", &[("force", "1")])
            .await,
    )
    .await;
    assert_eq!(t["exitstatus"], "OK");
}
