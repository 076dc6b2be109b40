//! Backup jobs where one guest fails and the job goes on with the next and reports "job
//! errors": a storage that fills up (no partial archive is left that could pass for a
//! complete one), and a VM that does not shut down in stop mode (left running, untouched).
//! No guest needs to boot.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{task_log, wait_task, Daemon, Session};

/// A 4 MiB tmpfs, unmounted on drop.
struct SmallFs(PathBuf);

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
    }
}

fn small_fs(dir: &Path) -> Option<SmallFs> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return None;
    }
    std::fs::create_dir_all(dir).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "oxve-test-full"])
        .arg(dir)
        .status()
        .unwrap()
        .success();
    ok.then(|| SmallFs(dir.to_path_buf()))
}

async fn create_vm(s: &Session, vmid: u32) {
    let vmid_s = vmid.to_string();
    let r = s
        .post(
            "/nodes/testnode/qemu",
            &[("vmid", vmid_s.as_str()), ("scsi0", "local:1,format=raw")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        wait_task(s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
}

/// Writes `len` bytes of incompressible data at the start of a raw disk.
fn fill(path: &Path, len: usize) {
    let mut data = vec![0u8; len];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, &data, 0).unwrap();
}

#[tokio::test]
async fn a_full_backup_storage_fails_one_guest_and_the_job_goes_on() {
    let d = Daemon::start();
    let mount = d.data_dir.join("small-backups");
    let Some(_fs) = small_fs(&mount) else { return };
    let s = Session::admin(&d).await;
    let r = s
        .post(
            "/storage",
            &[
                ("storage", "small"),
                ("type", "dir"),
                ("path", mount.to_str().unwrap()),
                ("content", "backup"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    create_vm(&s, 701).await;
    create_vm(&s, 702).await;
    // 701 does not fit in 4 MiB; 702 does.
    fill(
        &d.data_dir.join("local/images/701/vm-701-disk-0.raw"),
        8 << 20,
    );
    fill(
        &d.data_dir.join("local/images/702/vm-702-disk-0.raw"),
        64 << 10,
    );

    let r = s
        .post(
            "/nodes/testnode/vzdump",
            &[("vmid", "701,702"), ("storage", "small"), ("mode", "stop")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let upid = r.data().as_str().unwrap().to_string();
    assert!(
        upid.contains(":vzdump::"),
        "a job of several guests has no id: {upid}"
    );
    let t = wait_task(&s, &upid).await;
    assert_eq!(t["exitstatus"], "job errors", "{t}");
    let log: String = s
        .get(
            &format!("/nodes/testnode/tasks/{upid}/log"),
            &[("limit", "1000")],
        )
        .await
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|l| format!("{}\n", l["t"].as_str().unwrap_or_default()))
        .collect();
    assert!(log.contains("ERROR: Backup of VM 701 failed"), "{log}");
    assert!(log.contains("Finished Backup of VM 702"), "{log}");

    let files: Vec<String> = std::fs::read_dir(mount.join("dump"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("vzdump-qemu-702-") && f.ends_with(".oxar")),
        "{files:?}"
    );
    assert!(
        !files
            .iter()
            .any(|f| f.starts_with("vzdump-qemu-701-") && !f.ends_with(".log")),
        "no archive of 701, complete-looking or temporary: {files:?}"
    );
    // The listing shows only the complete backup.
    let r = s
        .get(
            "/nodes/testnode/storage/small/content",
            &[("content", "backup")],
        )
        .await;
    let listed: Vec<&str> = r
        .data()
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["volid"].as_str())
        .collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0].contains("vzdump-qemu-702-"));
}

/// Stop mode and a VM that ignores the ACPI power button (its firmware finds nothing to boot
/// and waits): that VM's backup fails after `stopwait`, it keeps running, and the next guest
/// is still backed up.
#[tokio::test]
async fn a_vm_that_does_not_shut_down_fails_its_backup_and_keeps_running() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    create_vm(&s, 711).await;
    create_vm(&s, 712).await;
    let r = s.post("/nodes/testnode/qemu/711/status/start", &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );

    let r = s
        .post(
            "/nodes/testnode/vzdump",
            &[
                ("vmid", "711,712"),
                ("storage", "local"),
                ("mode", "stop"),
                ("stopwait", "0"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let upid = r.data().as_str().unwrap().to_string();
    let t = wait_task(&s, &upid).await;
    let log = task_log(&s, &upid).await;
    assert_eq!(t["exitstatus"], "job errors", "{t}\n{log}");
    assert!(log.contains("ERROR: Backup of VM 711 failed"), "{log}");
    assert!(log.contains("unable to stop the VM"), "{log}");
    assert!(log.contains("Finished Backup of VM 712"), "{log}");

    let status = s.get("/nodes/testnode/qemu/711/status/current", &[]).await;
    assert_eq!(status.data()["status"], "running", "{:?}", status.body);
    let config = s.get("/nodes/testnode/qemu/711/config", &[]).await;
    assert!(config.data().get("lock").is_none(), "{:?}", config.body);
    let backups = s
        .get(
            "/nodes/testnode/storage/local/content",
            &[("content", "backup")],
        )
        .await;
    let volids: Vec<&str> = backups
        .data()
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["volid"].as_str())
        .collect();
    assert!(
        !volids.iter().any(|v| v.contains("vzdump-qemu-711-")),
        "{volids:?}"
    );
    assert!(
        volids.iter().any(|v| v.contains("vzdump-qemu-712-")),
        "{volids:?}"
    );

    let r = s.post("/nodes/testnode/qemu/711/status/stop", &[]).await;
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
}
