//! The QMP client against a real `qemu-system-x86_64` (TCG) booting the project's guest image.

mod support;

use std::process::Command;
use std::time::Duration;

use oxve_qmp::events::{names, BlockJobEvent, Shutdown};
use oxve_qmp::types::{MigrationStatus, RunState};
use oxve_qmp::{BlockRef, BlockdevMirror, DriveMirror, MirrorSync, QmpClient};
use serde_json::json;
use support::{check_guest_disk, guest_dir, run, skip_without_qemu, Qemu};

const BOOT: Duration = Duration::from_secs(120);
const EVENT: Duration = Duration::from_secs(60);

fn s(v: &str) -> String {
    v.to_string()
}

async fn wait_running(qmp: &QmpClient) {
    for _ in 0..100 {
        if qmp.query_status().await.unwrap().status == RunState::Running {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("QEMU never reached running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boots_pauses_resumes_and_powers_off_a_real_guest() {
    if skip_without_qemu() {
        return;
    }
    let image = guest_dir().join("oxve-guest.raw");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.raw");
    std::fs::File::create(&data)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    let mut qemu = Qemu::start(
        dir,
        &[
            s("-m"),
            s("256"),
            s("-drive"),
            format!("file={},format=raw,if=virtio,snapshot=on", image.display()),
            s("-drive"),
            format!("file={},format=raw,if=virtio", data.display()),
            s("-device"),
            s("virtio-balloon-pci,id=balloon0"),
        ],
    );
    let qmp = qemu.connect().await;
    assert!(qmp.greeting().version.qemu.major >= 7);
    let version = qmp.query_version().await.unwrap();
    assert_eq!(version, qmp.greeting().version);
    wait_running(&qmp).await;

    let mut events = qmp.subscribe();
    qmp.stop().await.unwrap();
    events.wait_for_event(names::STOP, EVENT).await.unwrap();
    let status = qmp.query_status().await.unwrap();
    assert_eq!((status.running, status.status), (false, RunState::Paused));
    qmp.cont().await.unwrap();
    events.wait_for_event(names::RESUME, EVENT).await.unwrap();
    assert_eq!(qmp.query_status().await.unwrap().status, RunState::Running);

    let ready = qemu.wait_serial("OXVE-GUEST-READY", BOOT).await;
    let wrote = qemu.wait_serial("OXVE-GUEST-WROTE-DISK", BOOT).await;
    eprintln!("guest ready {ready:?} and wrote its disk {wrote:?} after QEMU started (TCG)");
    let serial = qemu.serial();
    assert!(serial.contains("OXVE-GUEST-INFO kernel="), "{serial}");
    assert!(serial.contains(" cpus=1 "), "{serial}");
    assert!(
        serial.contains("OXVE-GUEST-DISK name=vdb bytes=16777216 ro=0"),
        "{serial}"
    );
    check_guest_disk(&std::fs::read(&data).unwrap(), "OXVE-GUEST-PATTERN", 1);

    let cpus = qmp.query_cpus_fast().await.unwrap();
    assert_eq!(cpus.len(), 1);
    assert!(cpus[0].thread_id > 0);
    let blocks = qmp.query_block().await.unwrap();
    let data_name = data.display().to_string();
    let data_block = blocks
        .iter()
        .find(|b| b.inserted.as_ref().is_some_and(|i| i.file == data_name))
        .unwrap_or_else(|| panic!("no data disk in {blocks:?}"));
    let stats = qmp.query_blockstats().await.unwrap();
    let written = stats
        .iter()
        .find(|s| s.device.as_deref() == Some(data_block.device.as_str()))
        .expect("stats of the data disk")
        .stats
        .wr_bytes;
    assert!(written >= 1 << 20, "wr_bytes {written}");
    assert_eq!(qmp.query_balloon().await.unwrap().actual, 256 << 20);
    let hmp = qmp.human_monitor_command("info status").await.unwrap();
    assert!(hmp.contains("running"), "{hmp}");
    qmp.send_qcodes(&["shift"]).await.unwrap();
    let err = qmp.execute_unit("no-such-command", &()).await.unwrap_err();
    assert_eq!(err.class(), Some("CommandNotFound"));

    qmp.system_powerdown().await.unwrap();
    let shutdown = events.wait_for_event(names::SHUTDOWN, EVENT).await.unwrap();
    let data: Shutdown = shutdown.data_as().unwrap();
    assert!(data.guest, "{data:?}");
    assert_eq!(data.reason, "guest-shutdown");
    assert!(qemu.wait_exit(EVENT).await, "QEMU exited with an error");
    tokio::time::timeout(EVENT, qmp.closed()).await.unwrap();
    assert!(qemu.serial().contains("OXVE-GUEST-POWER-BUTTON"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resizes_mirrors_snapshots_and_migrates_a_real_guest() {
    if skip_without_qemu() {
        return;
    }
    let image = guest_dir().join("oxve-guest.qcow2");
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    let (boot, data) = (p("boot.qcow2"), p("data.qcow2"));
    run(Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
        .arg(&image)
        .arg(&boot));
    run(Command::new("qemu-img").args(["create", "-q", "-f", "qcow2", &data, "16M"]));
    let (mirror, copy, state) = (p("mirror.qcow2"), p("copy.raw"), p("vmstate"));
    let moved = p("moved.raw");
    let blockdev = |node: &str, file: &str| {
        format!("driver=qcow2,node-name={node},file.driver=file,file.filename={file}")
    };
    let mut qemu = Qemu::start(
        dir,
        &[
            s("-m"),
            s("256"),
            s("-blockdev"),
            blockdev("disk0", &boot),
            s("-device"),
            s("virtio-blk-pci,drive=disk0,id=virtio0"),
            s("-blockdev"),
            blockdev("disk1", &data),
            s("-device"),
            s("virtio-blk-pci,drive=disk1,id=virtio1"),
        ],
    );
    let qmp = qemu.connect().await;
    let mut events = qmp.subscribe();
    qemu.wait_serial("OXVE-GUEST-WROTE-DISK name=vdb", BOOT)
        .await;

    // Resize the data disk.
    qmp.block_resize(BlockRef::Node("disk1"), 32 << 20)
        .await
        .unwrap();
    let size = |blocks: &[oxve_qmp::types::BlockInfo], node: &str| {
        blocks
            .iter()
            .filter_map(|b| b.inserted.as_ref())
            .find(|i| i.node_name.as_deref() == Some(node))
            .and_then(|i| i.image.as_ref())
            .map(|i| i.virtual_size)
    };
    assert_eq!(
        size(&qmp.query_block().await.unwrap(), "disk1"),
        Some(32 << 20)
    );

    // Internal snapshot with VM state: save, load (stopped), delete.
    let disks = ["disk0", "disk1"];
    qmp.snapshot_save("save1", "s1", "disk0", &disks)
        .await
        .unwrap();
    qmp.wait_job("save1", EVENT).await.unwrap();
    let listed = qmp.human_monitor_command("info snapshots").await.unwrap();
    assert!(listed.contains("s1"), "{listed}");
    qmp.stop().await.unwrap();
    qmp.snapshot_load("load1", "s1", "disk0", &disks)
        .await
        .unwrap();
    qmp.wait_job("load1", EVENT).await.unwrap();
    qmp.cont().await.unwrap();
    qmp.snapshot_delete("del1", "s1", &disks).await.unwrap();
    qmp.wait_job("del1", EVENT).await.unwrap();
    let listed = qmp.human_monitor_command("info snapshots").await.unwrap();
    assert!(!listed.contains("s1"), "{listed}");
    let err = qmp
        .snapshot_delete("del2", "nope", &["nonexistent"])
        .await
        .err();
    let failed = match err {
        Some(e) => e.class().is_some(),
        None => qmp.wait_job("del2", EVENT).await.is_err(),
    };
    assert!(failed, "deleting a snapshot of a missing node must fail");

    // blockdev-mirror into a node we add, then cancel once in sync (no switch-over).
    run(Command::new("qemu-img").args(["create", "-q", "-f", "qcow2", &mirror, "32M"]));
    qmp.blockdev_add(&json!({"driver": "qcow2", "node-name": "mirror1",
                             "file": {"driver": "file", "filename": mirror}}))
        .await
        .unwrap();
    qmp.blockdev_mirror(&BlockdevMirror {
        job_id: Some(s("mirror-disk1")),
        device: s("disk1"),
        target: s("mirror1"),
        sync: MirrorSync::Full,
        speed: None,
        granularity: None,
        replaces: None,
        copy_mode: None,
        auto_finalize: None,
        auto_dismiss: None,
    })
    .await
    .unwrap();
    events
        .wait_for_event(names::BLOCK_JOB_READY, EVENT)
        .await
        .unwrap();
    let jobs = qmp.query_block_jobs().await.unwrap();
    assert!(
        jobs.iter().any(|j| j.device == "mirror-disk1" && j.ready),
        "{jobs:?}"
    );
    assert!(qmp
        .query_jobs()
        .await
        .unwrap()
        .iter()
        .any(|j| j.id == "mirror-disk1"));
    qmp.block_job_cancel("mirror-disk1", false).await.unwrap();
    let done = events
        .wait_for_event(names::BLOCK_JOB_COMPLETED, EVENT)
        .await
        .unwrap();
    let done: BlockJobEvent = done.data_as().unwrap();
    assert_eq!((done.device.as_str(), done.error), ("mirror-disk1", None));
    qmp.blockdev_del("mirror1").await.unwrap();
    run(Command::new("qemu-img").args(["convert", "-O", "raw", &mirror, &copy]));
    check_guest_disk(&std::fs::read(&copy).unwrap(), "OXVE-GUEST-PATTERN", 1);

    // drive-mirror into a new file, then complete: the device switches to the copy.
    qmp.drive_mirror(&DriveMirror {
        job_id: Some(s("move-disk1")),
        device: s("disk1"),
        target: moved.clone(),
        format: Some(s("raw")),
        sync: MirrorSync::Full,
        mode: None,
        speed: None,
        granularity: None,
        auto_finalize: None,
        auto_dismiss: None,
    })
    .await
    .unwrap();
    events
        .wait_for("move-disk1 ready", EVENT, |e| {
            e.is(names::BLOCK_JOB_READY) && e.data["device"] == "move-disk1"
        })
        .await
        .unwrap();
    qmp.block_job_complete("move-disk1").await.unwrap();
    events
        .wait_for_event(names::BLOCK_JOB_COMPLETED, EVENT)
        .await
        .unwrap();
    let blocks = qmp.query_block().await.unwrap();
    assert!(
        blocks
            .iter()
            .any(|b| b.inserted.as_ref().is_some_and(|i| i.file == moved)),
        "{blocks:?}"
    );
    check_guest_disk(&std::fs::read(&moved).unwrap(), "OXVE-GUEST-PATTERN", 1);

    // Migrate the (stopped) VM's state into a file.
    qmp.migrate_set_capabilities(&[("auto-converge", true)])
        .await
        .unwrap();
    qmp.migrate_set_parameters(&json!({"downtime-limit": 300}))
        .await
        .unwrap();
    // snapshot-save ran through the migration code: its status shows here until `migrate`.
    assert_ne!(
        qmp.query_migrate().await.unwrap().status,
        Some(MigrationStatus::Active)
    );
    qmp.stop().await.unwrap();
    qmp.migrate(&format!("exec:cat > {state}")).await.unwrap();
    let mut info = qmp.query_migrate().await.unwrap();
    for _ in 0..600 {
        if matches!(
            info.status,
            Some(MigrationStatus::Completed | MigrationStatus::Failed)
        ) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        info = qmp.query_migrate().await.unwrap();
    }
    assert_eq!(info.status, Some(MigrationStatus::Completed), "{info:?}");
    // Guest RAM plus the firmware's RAM blocks.
    assert!(
        info.ram.as_ref().is_some_and(|r| r.total >= 256 << 20),
        "{info:?}"
    );
    assert!(std::fs::metadata(&state).unwrap().len() > 0);
    assert_eq!(
        qmp.query_status().await.unwrap().status,
        RunState::Postmigrate
    );

    qmp.quit().await.unwrap();
    assert!(qemu.wait_exit(EVENT).await, "QEMU exited with an error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boots_the_iso_and_follows_options_given_through_fw_cfg() {
    if skip_without_qemu() {
        return;
    }
    let iso = guest_dir().join("oxve-guest.iso");
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.raw");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    let qemu = Qemu::start(
        dir,
        &[
            s("-m"),
            s("512"),
            s("-smp"),
            s("2"),
            s("-cdrom"),
            iso.display().to_string(),
            s("-boot"),
            s("d"),
            s("-device"),
            s("virtio-scsi-pci,id=scsihw0"),
            s("-drive"),
            format!("file={},format=raw,if=none,id=drive-scsi0", disk.display()),
            s("-device"),
            s("scsi-hd,bus=scsihw0.0,drive=drive-scsi0,id=scsi0"),
            s("-fw_cfg"),
            s("name=opt/oxve/config,string=acpi=ignore;pattern=iso-test-1"),
        ],
    );
    let qmp = qemu.connect().await;
    let mut events = qmp.subscribe();
    let wrote = qemu
        .wait_serial("OXVE-GUEST-WROTE-DISK name=sda", BOOT)
        .await;
    eprintln!("ISO guest wrote its disk {wrote:?} after QEMU started (TCG)");
    let serial = qemu.serial();
    assert!(serial.contains(" cpus=2 "), "{serial}");
    let ram_kb: u64 = serial
        .split("ram_kb=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("ram_kb in the report");
    assert!(
        (510 * 1024..=512 * 1024).contains(&ram_kb),
        "ram_kb={ram_kb}"
    );
    assert!(serial.contains("name=sr0"), "{serial}");
    check_guest_disk(&std::fs::read(&disk).unwrap(), "iso-test-1", 1);

    // acpi=ignore: the power button is seen but the guest stays up (a forceStop case).
    qmp.system_powerdown().await.unwrap();
    events
        .wait_for_event(names::POWERDOWN, EVENT)
        .await
        .unwrap();
    qemu.wait_serial("OXVE-GUEST-POWER-BUTTON acpi=ignore", EVENT)
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(qmp.query_status().await.unwrap().status, RunState::Running);
    assert!(!qemu.serial().contains("OXVE-GUEST-SHUTDOWN"));
    // The guest is killed (with its temp dir) when `qemu` drops.
}
