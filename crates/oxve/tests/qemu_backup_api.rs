//! Backups of a running VM in the three vzdump modes, restored to new VMIDs: the restored
//! disks hold what the source held at the backup (snapshot mode: at its start, while the
//! guest overwrote the data during the backup), the restored VM boots, and damaged archives,
//! wrong guest types and running targets are refused.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::ws::{guest_disk_of_size, guest_exec, open_serial};
use common::{create_and_start_guest, task_log, task_ok, wait_task, Daemon, Session};
use serde_json::Value;

const MIB: u64 = 1 << 20;

/// Polls a task for up to five minutes (a throttled backup on a loaded machine).
async fn wait_long(s: &Session, upid: &str) -> Value {
    for _ in 0..3000 {
        let r = s
            .get(&format!("/nodes/testnode/tasks/{upid}/status"), &[])
            .await;
        if r.data()["status"] == "stopped" {
            return r.data().clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("task {upid} did not finish");
}

/// The archive a finished vzdump task wrote (from its log).
async fn archive_of(s: &Session, upid: &str) -> PathBuf {
    let log = task_log(s, upid).await;
    let line = log
        .lines()
        .find(|l| l.contains("creating vzdump archive '"))
        .unwrap_or_else(|| panic!("no archive in log:\n{log}"));
    PathBuf::from(line.split('\'').nth(1).unwrap())
}

fn volid_of(archive: &Path) -> String {
    format!(
        "local:backup/{}",
        archive.file_name().unwrap().to_str().unwrap()
    )
}

/// `len` bytes at `offset` of a disk image as QEMU reads it (any format, shared lock).
fn read_image(path: &Path, offset: u64, len: u64) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    let ok = Command::new("qemu-img")
        .args(["convert", "-U", "-O", "raw"])
        .arg(path)
        .arg(&raw)
        .status()
        .unwrap();
    assert!(ok.success());
    let f = std::fs::File::open(&raw).unwrap();
    let mut buf = vec![0u8; len as usize];
    std::os::unix::fs::FileExt::read_exact_at(&f, &mut buf, offset).unwrap();
    buf
}

fn images_equal(a: &Path, b: &Path) -> bool {
    Command::new("qemu-img")
        .args(["compare", "-U"])
        .arg(a)
        .arg(b)
        .status()
        .unwrap()
        .success()
}

async fn config(s: &Session, vmid: u32) -> Value {
    s.get(&format!("/nodes/testnode/qemu/{vmid}/config"), &[])
        .await
        .data()
        .clone()
}

fn volume_path(d: &Daemon, volid: &str) -> PathBuf {
    // local:<vmid>/<file>
    let (_, name) = volid.split_once(':').unwrap();
    let file = name.split(',').next().unwrap();
    d.data_dir.join("local/images").join(file)
}

async fn restore(s: &Session, vmid: u32, archive: &Path, extra: &[(&str, &str)]) -> common::Reply {
    let vmid = vmid.to_string();
    let volid = volid_of(archive);
    let mut params = vec![("vmid", vmid.as_str()), ("archive", volid.as_str())];
    params.extend_from_slice(extra);
    s.post("/nodes/testnode/qemu", &params).await
}

async fn status(s: &Session, vmid: u32) -> Value {
    s.get(&format!("/nodes/testnode/qemu/{vmid}/status/current"), &[])
        .await
        .data()
        .clone()
}

#[tokio::test]
async fn running_vm_backed_up_in_every_mode_and_restored() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    create_and_start_guest(
        &d,
        &s,
        480,
        &[
            ("scsi1", "local:0.0625,format=raw"),
            ("virtio0", "local:1,format=qcow2,backup=0"),
            ("net0", "virtio"),
        ],
    )
    .await;
    let mut term = open_serial(&s, 480).await;
    // scsi1, whatever name the guest gave it
    let data = guest_disk_of_size(&mut term, 64 * MIB).await;
    // P1: 4 MiB of pattern at 16 MiB of the data disk; P2 ready in the guest's tmpfs.
    guest_exec(
        &mut term,
        &format!("yes P1-pattern-P1 | head -c 4194304 > /tmp/p1 && dd if=/tmp/p1 of=/dev/{data} bs=1M seek=16 conv=fsync 2>/dev/null; yes P2-overwrite-P2 | head -c 4194304 > /tmp/p2"),
    )
    .await;
    let src_conf = config(&s, 480).await;
    let src_data = volume_path(&d, src_conf["scsi1"].as_str().unwrap());
    assert_eq!(&read_image(&src_data, 16 * MIB, MIB)[..6], b"P1-pat");

    // Snapshot mode, slowed down (bwlimit: the 64 MiB copy would take over 4 minutes) so the
    // guest overwrites P1 with P2 while it runs, however slow the guest is on a loaded host;
    // then the limit is lifted (monitor) so the test need not wait for it.
    let r = s
        .post(
            "/nodes/testnode/vzdump",
            &[
                ("vmid", "480"),
                ("mode", "snapshot"),
                ("storage", "local"),
                ("compress", "zstd"),
                ("bwlimit", "256"),
                ("notes-template", "{{vmid}} on {{node}}"),
                ("protected", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let upid = r.data().as_str().unwrap().to_string();
    assert!(upid.contains(":vzdump:480:"), "{upid}");
    let mut started = false;
    for _ in 0..1200 {
        if task_log(&s, &upid)
            .await
            .contains("the point in time is taken")
        {
            started = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(started, "{}", task_log(&s, &upid).await);
    guest_exec(
        &mut term,
        &format!("dd if=/tmp/p2 of=/dev/{data} bs=1M seek=16 conv=fsync 2>/dev/null"),
    )
    .await;
    let running = s
        .get(&format!("/nodes/testnode/tasks/{upid}/status"), &[])
        .await;
    assert_eq!(
        running.data()["status"],
        "running",
        "the backup should still run while the guest writes"
    );
    let monitor = |command: String| {
        let s = &s;
        async move {
            let r = s
                .post("/nodes/testnode/qemu/480/monitor", &[("command", &command)])
                .await;
            assert_eq!(r.status, 200, "{command}: {:?}", r.body);
            r.data().as_str().unwrap().to_string()
        }
    };
    // "Type backup, device <job>: Completed 17039360 of 67108864 bytes, speed limit 262144 bytes/s"
    let jobs = monitor("info block-jobs".into()).await;
    let job = jobs
        .lines()
        .find_map(|l| l.strip_prefix("Type backup, device "))
        .and_then(|l| l.split(':').next())
        .unwrap_or_else(|| panic!("no backup job: {jobs}"));
    assert!(jobs.contains("speed limit 262144 bytes/s"), "{jobs}");
    monitor(format!("block_job_set_speed {job} 0")).await;
    let t = wait_long(&s, &upid).await;
    assert_eq!(t["exitstatus"], "OK", "{t}\n{}", task_log(&s, &upid).await);
    let snap_archive = archive_of(&s, &upid).await;
    let name = snap_archive
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        name.starts_with("vzdump-qemu-480-") && name.ends_with(".oxar.zst"),
        "{name}"
    );
    assert!(snap_archive.exists());
    let notes = std::fs::read_to_string(format!("{}.notes", snap_archive.display())).unwrap();
    assert_eq!(notes, "480 on testnode");
    assert!(PathBuf::from(format!("{}.protected", snap_archive.display())).exists());
    assert!(snap_archive
        .with_file_name(name.replace(".oxar.zst", ".log"))
        .exists());
    let log = task_log(&s, &upid).await;
    assert!(log.contains("exclude disk 'virtio0'"), "{log}");
    assert!(log.contains("Backup job finished successfully"), "{log}");
    // The live disk has P2; the guest was never paused.
    assert_eq!(&read_image(&src_data, 16 * MIB, MIB)[..6], b"P2-ove");
    assert_eq!(status(&s, 480).await["qmpstatus"], "running");

    // Restore it as 481: the data disk holds P1, the instant the backup started.
    task_ok(
        &s,
        restore(&s, 481, &snap_archive, &[("unique", "1")]).await,
    )
    .await;
    let conf = config(&s, 481).await;
    assert!(
        conf.get("virtio0").is_none(),
        "backup=0 disk is not restored: {conf}"
    );
    assert_ne!(conf["net0"], src_conf["net0"], "unique gives new MACs");
    let restored_data = volume_path(&d, conf["scsi1"].as_str().unwrap());
    assert!(conf["scsi1"]
        .as_str()
        .unwrap()
        .starts_with("local:481/vm-481-disk-"));
    assert_eq!(
        &read_image(&restored_data, 16 * MIB, 4 * MIB)[..],
        &b"P1-pattern-P1\n".repeat(400_000)[..4 * MIB as usize]
    );

    // Suspend mode: paused during the copy, running after; identical data disk.
    let t = task_ok(
        &s,
        s.post(
            "/nodes/testnode/vzdump",
            &[("vmid", "480"), ("mode", "suspend"), ("compress", "gzip")],
        )
        .await,
    )
    .await;
    let suspend_archive = archive_of(&s, t["upid"].as_str().unwrap()).await;
    assert!(suspend_archive.to_str().unwrap().ends_with(".oxar.gz"));
    assert_eq!(status(&s, 480).await["qmpstatus"], "running");
    task_ok(&s, restore(&s, 482, &suspend_archive, &[]).await).await;
    let conf = config(&s, 482).await;
    assert!(images_equal(
        &src_data,
        &volume_path(&d, conf["scsi1"].as_str().unwrap())
    ));

    // Stop mode: shut down, backed up, started again.
    let t = task_ok(
        &s,
        s.post(
            "/nodes/testnode/vzdump",
            &[("vmid", "480"), ("mode", "stop")],
        )
        .await,
    )
    .await;
    let stop_log = task_log(&s, t["upid"].as_str().unwrap()).await;
    assert!(
        stop_log.contains("stopping virtual guest")
            && stop_log.contains("restarting virtual guest"),
        "{stop_log}"
    );
    assert_eq!(status(&s, 480).await["qmpstatus"], "running");
    let stop_archive = archive_of(&s, t["upid"].as_str().unwrap()).await;
    assert!(stop_archive.to_str().unwrap().ends_with(".oxar"));
    // Over an existing stopped VM with force: 482's old volumes are replaced.
    let old482 = volume_path(&d, config(&s, 482).await["scsi1"].as_str().unwrap());
    let r = restore(&s, 482, &stop_archive, &[]).await;
    assert_ne!(r.status, 200, "restoring over an existing VM needs force");
    task_ok(&s, restore(&s, 482, &stop_archive, &[("force", "1")]).await).await;
    let conf = config(&s, 482).await;
    let new482 = volume_path(&d, conf["scsi1"].as_str().unwrap());
    assert!(images_equal(&src_data, &new482));
    assert!(!old482.exists() || old482 == new482);

    // The restored VM boots.
    task_ok(
        &s,
        s.post("/nodes/testnode/qemu/481/status/start", &[]).await,
    )
    .await;
    let mut term481 = open_serial(&s, 481).await;
    let data = guest_disk_of_size(&mut term481, 64 * MIB).await;
    let seen = guest_exec(
        &mut term481,
        &format!("dd if=/dev/{data} bs=1M skip=16 count=1 2>/dev/null | head -c 6"),
    )
    .await;
    assert!(seen.contains("P1-pat"), "{seen}");

    // Refusals: a running target, a flipped byte.
    let r = restore(&s, 481, &stop_archive, &[("force", "1")]).await;
    assert_ne!(r.status, 200, "restoring over a running VM is refused");
    let damaged = stop_archive.with_file_name("vzdump-qemu-480-2000_01_01-00_00_00.oxar");
    std::fs::copy(&stop_archive, &damaged).unwrap();
    let len = std::fs::metadata(&damaged).unwrap().len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .read(true)
        .open(&damaged)
        .unwrap();
    let mut byte = [0u8; 1];
    std::os::unix::fs::FileExt::read_exact_at(&f, &mut byte, len / 2).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, &[byte[0] ^ 0x40], len / 2).unwrap();
    drop(f);
    let r = restore(&s, 483, &damaged, &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    assert_ne!(t["exitstatus"], "OK");
    let log = task_log(&s, r.data().as_str().unwrap()).await;
    assert!(
        log.to_lowercase().contains("checksum")
            || log.contains("mismatch")
            || log.contains("corrupt"),
        "{log}"
    );
    assert_eq!(
        s.get("/nodes/testnode/qemu/483/config", &[]).await.status,
        500,
        "nothing is left of the failed restore"
    );
    assert!(
        !d.data_dir.join("local/images/483").exists()
            || std::fs::read_dir(d.data_dir.join("local/images/483"))
                .unwrap()
                .next()
                .is_none()
    );
    drop(term481);
    drop(term);
}
