//! A backup job whose storage fills up: the guest that does not fit fails, the job goes on
//! with the next guest and reports "job errors", and no partial archive is left that could
//! pass for a complete one. Stopped VMs, so no guest needs to boot.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{wait_task, Daemon, Session};

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
