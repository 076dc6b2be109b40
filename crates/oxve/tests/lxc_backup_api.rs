//! Container backups and restores through the API with real LXC: a running unprivileged
//! container backed up in suspend, snapshot (which falls back to suspend on dir storage) and
//! stop mode, restored to a new VMID with its files, their owners (the shifted ids of the
//! idmap) and its mount point; the wrong guest type is refused.

mod common;

use std::path::PathBuf;

use common::ct::{attach, can_run_containers, install_template, StopContainers, TEMPLATE};
use common::{task_log, task_ok, Daemon, Session};

async fn archive_volid(s: &Session, upid: &str) -> String {
    let log = task_log(s, upid).await;
    let line = log
        .lines()
        .find(|l| l.contains("creating vzdump archive '"))
        .unwrap_or_else(|| panic!("no archive in log:\n{log}"));
    let path = PathBuf::from(line.split('\'').nth(1).unwrap());
    format!(
        "local:backup/{}",
        path.file_name().unwrap().to_str().unwrap()
    )
}

async fn status(s: &Session, vmid: u32) -> String {
    let r = s
        .get(&format!("/nodes/testnode/lxc/{vmid}/status/current"), &[])
        .await;
    r.data()["status"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn container_backed_up_and_restored_with_owners() {
    if !can_run_containers() {
        return;
    }
    let d = Daemon::start();
    let lxc_path = d.data_dir.join("run/lxc");
    let _cleanup = StopContainers {
        lxc_path: lxc_path.clone(),
        vmids: vec![9751, 9752],
    };
    let s = Session::admin(&d).await;
    install_template(&d);
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9751"),
                ("ostemplate", &format!("local:vztmpl/{TEMPLATE}")),
                ("hostname", "backup-me"),
                ("memory", "64"),
                ("rootfs", "local:0.25"),
                ("mp0", "local:0.125,mp=/data,backup=1"),
                ("mp1", "local:0.125,mp=/scratch"),
                ("password", "ct-Secret-1"),
            ],
        )
        .await,
    )
    .await;
    task_ok(
        &s,
        s.post("/nodes/testnode/lxc/9751/status/start", &[]).await,
    )
    .await;
    attach(
        &lxc_path,
        9751,
        // No sync: freezing the container's file systems must write out what it wrote.
        "echo precious > /data/file && chown 1000:1000 /data/file && echo root-data > /root/note && echo temp > /scratch/x",
    );

    // Snapshot mode on dir storage falls back to suspend; the container runs on after.
    let t = task_ok(
        &s,
        s.post(
            "/nodes/testnode/vzdump",
            &[
                ("vmid", "9751"),
                ("mode", "snapshot"),
                ("compress", "zstd"),
                ("storage", "local"),
            ],
        )
        .await,
    )
    .await;
    let upid = t["upid"].as_str().unwrap();
    assert!(upid.contains(":vzdump:9751:"));
    let log = task_log(&s, upid).await;
    assert!(log.contains("trying 'suspend' mode instead"), "{log}");
    assert!(log.contains("excluding volume mount point mp1"), "{log}");
    assert!(!log.contains("cannot freeze"), "{log}");
    assert_eq!(
        log.matches("froze the file system at /proc/").count(),
        2,
        "rootfs and mp0: {log}"
    );
    assert_eq!(status(&s, 9751).await, "running");
    assert_eq!(
        attach(&lxc_path, 9751, "echo alive"),
        "alive",
        "thawed after the backup"
    );
    let volid = archive_volid(&s, upid).await;
    assert!(
        volid.starts_with("local:backup/vzdump-lxc-9751-") && volid.ends_with(".oxar.zst"),
        "{volid}"
    );

    // A container archive is not a VM backup.
    let r = s
        .post(
            "/nodes/testnode/qemu",
            &[("vmid", "9753"), ("archive", &volid)],
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);

    // Restore as 9752 and look inside.
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9752"),
                ("ostemplate", &volid),
                ("restore", "1"),
                ("unique", "1"),
            ],
        )
        .await,
    )
    .await;
    let conf = s
        .get("/nodes/testnode/lxc/9752/config", &[])
        .await
        .data()
        .clone();
    assert!(
        conf["rootfs"]
            .as_str()
            .unwrap()
            .starts_with("local:9752/vm-9752-disk-"),
        "{conf}"
    );
    assert!(conf["mp0"].as_str().unwrap().contains("mp=/data"), "{conf}");
    assert!(
        conf.get("mp1").is_none(),
        "a volume without backup=1 is not restored: {conf}"
    );
    assert_eq!(conf["hostname"], "backup-me");
    task_ok(
        &s,
        s.post("/nodes/testnode/lxc/9752/status/start", &[]).await,
    )
    .await;
    assert_eq!(
        attach(
            &lxc_path,
            9752,
            "cat /data/file; stat -c %u:%g /data/file; cat /root/note"
        ),
        "precious\n1000:1000\nroot-data"
    );

    // Stop mode: shut down, backed up, started again.
    let t = task_ok(
        &s,
        s.post(
            "/nodes/testnode/vzdump",
            &[("vmid", "9751"), ("mode", "stop")],
        )
        .await,
    )
    .await;
    let log = task_log(&s, t["upid"].as_str().unwrap()).await;
    assert!(
        log.contains("stopping virtual guest") && log.contains("restarting virtual guest"),
        "{log}"
    );
    assert_eq!(status(&s, 9751).await, "running");

    // Restoring over a running container is refused, even with force.
    let r = s
        .post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9752"),
                ("ostemplate", &volid),
                ("restore", "1"),
                ("force", "1"),
            ],
        )
        .await;
    assert_ne!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn snapshot_mode_on_btrfs_takes_a_storage_snapshot() {
    let Some(mut fs) = common::btrfs::make_btrfs(&[9771, 9772], true) else {
        return;
    };
    let (d, s) = common::btrfs::daemon_with_btrfs_storage(&mut fs).await;
    let lxc_path = d.data_dir.join("run/lxc");
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9771"),
                ("ostemplate", &format!("local:vztmpl/{TEMPLATE}")),
                ("rootfs", "local:0.25"),
                ("memory", "64"),
            ],
        )
        .await,
    )
    .await;
    // A raw image on the btrfs (STORAGE:SIZE there makes a subvolume).
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/lxc/9771/move_volume",
            &[("volume", "rootfs"), ("storage", "bt"), ("delete", "1")],
        )
        .await,
    )
    .await;
    task_ok(
        &s,
        s.post("/nodes/testnode/lxc/9771/status/start", &[]).await,
    )
    .await;
    attach(&lxc_path, 9771, "echo at-backup > /root/state && sync");
    let t = task_ok(
        &s,
        s.post(
            "/nodes/testnode/vzdump",
            &[("vmid", "9771"), ("mode", "snapshot"), ("compress", "zstd")],
        )
        .await,
    )
    .await;
    let upid = t["upid"].as_str().unwrap();
    let log = task_log(&s, upid).await;
    assert!(log.contains("backup mode: snapshot"), "{log}");
    assert!(log.contains("create storage snapshot 'vzdump'"), "{log}");
    assert!(!log.contains("trying 'suspend' mode"), "{log}");
    // The backup's snapshot is gone again, and the container ran on.
    let leftovers = std::process::Command::new("btrfs")
        .args(["subvolume", "list"])
        .arg(fs.mountpoint())
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&leftovers.stdout).contains("vzdump"),
        "{}",
        String::from_utf8_lossy(&leftovers.stdout)
    );
    assert_eq!(status(&s, 9771).await, "running");
    let volid = archive_volid(&s, upid).await;
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9772"),
                ("ostemplate", &volid),
                ("restore", "1"),
                ("storage", "bt"),
            ],
        )
        .await,
    )
    .await;
    task_ok(
        &s,
        s.post("/nodes/testnode/lxc/9772/status/start", &[]).await,
    )
    .await;
    assert_eq!(attach(&lxc_path, 9772, "cat /root/state"), "at-backup");
}
