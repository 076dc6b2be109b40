//! `exclude-path` and `stdexcludes` of container backups, with real LXC: a running
//! container's image volumes are archived as trees of files read through its own mounts
//! (suspend mode), a stopped one's from its images mounted read-only; the restored
//! containers hold everything but what was excluded.

mod common;

use std::path::PathBuf;

use common::ct::{attach, can_run_containers, install_template, StopContainers, TEMPLATE};
use common::{task_log, task_ok, Daemon, Session};
use serde_json::Value;

/// Backs up 9761 with `params`; its log and the archive's volume id.
async fn backup(s: &Session, params: &[(&str, &str)]) -> (String, String) {
    let mut all = vec![("vmid", "9761"), ("storage", "local")];
    all.extend_from_slice(params);
    let t = task_ok(s, s.post("/nodes/testnode/vzdump", &all).await).await;
    let log = task_log(s, t["upid"].as_str().unwrap()).await;
    let line = log
        .lines()
        .find(|l| l.contains("creating vzdump archive '"))
        .unwrap_or_else(|| panic!("no archive in log:\n{log}"));
    let path = PathBuf::from(line.split('\'').nth(1).unwrap());
    let volid = format!(
        "local:backup/{}",
        path.file_name().unwrap().to_str().unwrap()
    );
    (log, volid)
}

async fn restore_and_start(s: &Session, vmid: &str, volid: &str) -> Value {
    let params = [
        ("vmid", vmid),
        ("ostemplate", volid),
        ("restore", "1"),
        ("unique", "1"),
    ];
    task_ok(s, s.post("/nodes/testnode/lxc", &params).await).await;
    let path = format!("/nodes/testnode/lxc/{vmid}/status/start");
    task_ok(s, s.post(&path, &[]).await).await;
    let conf = format!("/nodes/testnode/lxc/{vmid}/config");
    s.get(&conf, &[]).await.data().clone()
}

/// What `ls`-like probes inside see: each path, and whether it exists.
const PROBE: &str = "for p in /root/keep /root/drop.log /root/tmp/kept /data/keep /data/sub \
    /data/sub/drop.log /tmp /tmp/junk /var/tmp/junk2; do \
    if [ -e $p ]; then echo \"$p yes\"; else echo \"$p no\"; fi; done; stat -c %u /root/keep";

#[tokio::test]
async fn excluded_paths_are_left_out_of_container_backups() {
    if !can_run_containers() {
        return;
    }
    let d = Daemon::start();
    let lxc_path = d.data_dir.join("run/lxc");
    let _cleanup = StopContainers {
        lxc_path: lxc_path.clone(),
        vmids: vec![9761, 9762, 9763],
    };
    let s = Session::admin(&d).await;
    install_template(&d);
    let create = [
        ("vmid", "9761"),
        ("ostemplate", &format!("local:vztmpl/{TEMPLATE}") as &str),
        ("hostname", "exclude-me"),
        ("memory", "64"),
        ("rootfs", "local:0.25"),
        ("mp0", "local:0.125,mp=/data,backup=1"),
    ];
    task_ok(&s, s.post("/nodes/testnode/lxc", &create).await).await;
    task_ok(
        &s,
        s.post("/nodes/testnode/lxc/9761/status/start", &[]).await,
    )
    .await;
    attach(
        &lxc_path,
        9761,
        "mkdir -p /root/tmp /data/sub /var/tmp && echo k > /root/keep && echo d > /root/drop.log \
         && echo k > /root/tmp/kept && echo k > /data/keep && echo d > /data/sub/drop.log \
         && echo j > /tmp/junk && echo j > /var/tmp/junk2",
    );

    // Running, suspend mode: the image volumes are read as files through the container.
    let (log, volid) = backup(&s, &[("mode", "suspend"), ("exclude-path", "*.log")]).await;
    assert!(
        log.contains("image volumes are archived as trees of files"),
        "{log}"
    );
    assert!(log.contains("paths excluded"), "{log}");
    let conf = restore_and_start(&s, "9762", &volid).await;
    assert!(
        conf["rootfs"].as_str().unwrap().contains("size=256M"),
        "the rootfs comes back as an image of its size: {conf}"
    );
    assert_eq!(
        attach(&lxc_path, 9762, PROBE),
        "/root/keep yes\n/root/drop.log no\n/root/tmp/kept yes\n/data/keep yes\n/data/sub yes\n\
         /data/sub/drop.log no\n/tmp yes\n/tmp/junk no\n/var/tmp/junk2 no\n0"
    );

    // Stopped: the images are mounted read-only; no standard exclusions this time.
    task_ok(
        &s,
        s.post("/nodes/testnode/lxc/9761/status/stop", &[]).await,
    )
    .await;
    let (_, volid) = backup(
        &s,
        &[
            ("mode", "stop"),
            ("exclude-path", "/root/keep"),
            ("stdexcludes", "0"),
        ],
    )
    .await;
    restore_and_start(&s, "9763", &volid).await;
    assert_eq!(
        attach(
            &lxc_path,
            9763,
            PROBE.replace("stat -c %u /root/keep", "true").as_str()
        ),
        "/root/keep no\n/root/drop.log yes\n/root/tmp/kept yes\n/data/keep yes\n/data/sub yes\n\
         /data/sub/drop.log yes\n/tmp yes\n/tmp/junk yes\n/var/tmp/junk2 yes"
    );
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(
        !mounts.contains(&d.data_dir.join("tmp").to_string_lossy().into_owned()),
        "no read-only mount left behind: {mounts}"
    );

    // A pattern that is not a glob is refused before anything runs.
    let r = s
        .post(
            "/nodes/testnode/vzdump",
            &[("vmid", "9761"), ("exclude-path", "[")],
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(r.body.to_string().contains("exclude-path"), "{:?}", r.body);
}
