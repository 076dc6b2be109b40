//! The engine against real QEMU under TCG with the project's test guest (see guest/README.md).
//! Each test has its own run dir; QEMUs left by a failing test are killed by its `TestEnv`.

mod common;

use std::time::Duration;

use common::{config, resolver, SerialLog, TestEnv};
use oxve_qemu::{QemuError, RunStatus, StartOptions};

const BOOT: Duration = Duration::from_secs(60);

/// A VM booting the guest from `test:boot` (virtio) with a blank `test:data` disk on
/// virtio-scsi-single with an iothread, one NIC and a serial console socket.
fn guest_config(name: &str, extra: &str) -> String {
    format!(
        "name: {name}\nmemory: 256\ncores: 1\nostype: l26\nboot: order=virtio0\n\
         virtio0: test:boot,size=19M\nscsihw: virtio-scsi-single\n\
         scsi0: test:data,iothread=1,size=16M\n\
         net0: virtio=BC:24:11:00:01:00,bridge=vmbr0\nserial0: socket\n{extra}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_pause_resume_write_disk_and_clean_shutdown() {
    let env = TestEnv::new();
    let engine = env.engine();
    let boot = env.boot_disk("boot.qcow2");
    let data = env.blank_disk("data.raw", 16);
    let volumes = resolver(&[("test:boot", &boot, "qcow2"), ("test:data", &data, "raw")]);
    let conf = config(&guest_config("it-lifecycle", ""));
    let vmid = 101;

    // Start with the vCPUs stopped, so the console is attached before the guest prints.
    let report = engine
        .start(
            vmid,
            &conf,
            &volumes,
            StartOptions {
                paused: true,
                ..Default::default()
            },
        )
        .await
        .expect("start");
    assert!(
        report.notes.iter().any(|n| n.contains("TCG")),
        "{:?}",
        report.notes
    );
    assert_eq!(engine.is_running(vmid), Some(report.pid));
    let st = engine.status(vmid, &conf).await.unwrap();
    assert_eq!(st.qmpstatus, "prelaunch");
    let serial = SerialLog::start(engine.connect_serial(vmid, 0).await.unwrap());
    assert!(engine.vnc_socket(vmid).unwrap().exists());
    engine.resume(vmid).await.unwrap();
    serial.wait_for("OXVE-GUEST-READY", BOOT).await;

    let st = engine.status(vmid, &conf).await.unwrap();
    assert_eq!(st.status, RunStatus::Running);
    assert_eq!(st.qmpstatus, "running");
    assert_eq!(st.pid, Some(report.pid));
    assert!(st.uptime >= 1, "uptime {}", st.uptime);
    assert!(st.cpu > 0.0, "cpu {}", st.cpu);
    assert_eq!((st.cpus, st.maxmem), (1, 256 << 20));
    assert!(st.mem > 0 && st.diskread > 0, "{st:?}");
    assert_eq!(st.maxdisk, 19 << 20);
    assert_eq!(st.balloon, Some(256 << 20));
    assert!(
        st.running_machine
            .as_deref()
            .is_some_and(|m| m.starts_with("pc-i440fx-")),
        "{st:?}"
    );
    assert!(st.running_qemu.is_some());
    let json = serde_json::to_value(&st).unwrap();
    for key in [
        "status",
        "qmpstatus",
        "pid",
        "uptime",
        "cpu",
        "cpus",
        "mem",
        "maxmem",
        "diskread",
        "diskwrite",
        "netin",
        "netout",
        "ballooninfo",
        "running-machine",
        "running-qemu",
    ] {
        assert!(json.get(key).is_some(), "no {key} in {json}");
    }

    engine.suspend(vmid).await.unwrap();
    assert_eq!(
        engine.status(vmid, &conf).await.unwrap().qmpstatus,
        "paused"
    );
    engine.resume(vmid).await.unwrap();
    assert_eq!(
        engine.status(vmid, &conf).await.unwrap().qmpstatus,
        "running"
    );

    let text = serial
        .wait_for("OXVE-GUEST-WROTE-DISK", Duration::from_secs(30))
        .await;
    // The guest saw its NIC (user-mode network: no bridge wiring in this engine).
    assert!(
        text.to_lowercase()
            .contains("oxve-guest-nic name=eth0 mac=bc:24:11:00:01:00 driver=virtio_net"),
        "{text}"
    );
    assert!(
        text.contains("OXVE-GUEST-WROTE-DISK name=sda writes=1"),
        "{text}"
    );
    // Disk counters are sampled at most every FACTS_TTL (2 s).
    let mut written = 0;
    for _ in 0..30 {
        written = engine.status(vmid, &conf).await.unwrap().diskwrite;
        if written > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(written > 0);

    // A second start is refused and changes nothing.
    let err = engine
        .start(vmid, &conf, &volumes, StartOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, QemuError::AlreadyRunning { pid, .. } if pid == report.pid),
        "{err}"
    );
    assert_eq!(engine.is_running(vmid), Some(report.pid));

    engine
        .shutdown(vmid, Duration::from_secs(30), false)
        .await
        .expect("clean shutdown");
    assert!(serial.text().contains("OXVE-GUEST-SHUTDOWN"));
    assert_eq!(engine.is_running(vmid), None);
    let st = engine.status(vmid, &conf).await.unwrap();
    assert_eq!(
        (st.status, st.qmpstatus.as_str()),
        (RunStatus::Stopped, "stopped")
    );
    assert_eq!(env.run_files(), Vec::<String>::new());
    assert!(env.qemu_pids().is_empty());

    let header = std::fs::read(&data).unwrap();
    let header = String::from_utf8_lossy(&header[..4096]);
    assert!(header.starts_with("OXVE-GUEST-DISK-DATA v1\n"), "{header}");
    assert!(header.contains("\nwrites=1\n"), "{header}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_ignoring_acpi_needs_force_stop() {
    let env = TestEnv::new();
    let engine = env.engine();
    let boot = env.boot_disk("boot.qcow2");
    let data = env.blank_disk("data.raw", 16);
    let volumes = resolver(&[("test:boot", &boot, "qcow2"), ("test:data", &data, "raw")]);
    let conf = config(&guest_config(
        "it-acpi-ignore",
        "args: -fw_cfg 'name=opt/oxve/config,string=acpi=ignore;write=none'\n",
    ));
    let vmid = 102;
    let report = engine
        .start(
            vmid,
            &conf,
            &volumes,
            StartOptions {
                paused: true,
                ..Default::default()
            },
        )
        .await
        .expect("start");
    let serial = SerialLog::start(engine.connect_serial(vmid, 0).await.unwrap());
    engine.resume(vmid).await.unwrap();
    let text = serial.wait_for("OXVE-GUEST-READY", BOOT).await;
    assert!(text.contains("acpi=ignore"), "{text}");

    let timeout = Duration::from_secs(3);
    let err = engine.shutdown(vmid, timeout, false).await.unwrap_err();
    assert!(matches!(err, QemuError::ShutdownTimeout { .. }), "{err}");
    assert!(err.to_string().contains("did not react"), "{err}");
    serial
        .wait_for(
            "OXVE-GUEST-POWER-BUTTON acpi=ignore",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(engine.is_running(vmid), Some(report.pid), "still running");

    engine
        .shutdown(vmid, timeout, true)
        .await
        .expect("forced shutdown");
    assert_eq!(engine.is_running(vmid), None);
    assert_eq!(
        engine.status(vmid, &conf).await.unwrap().status,
        RunStatus::Stopped
    );
    assert_eq!(env.run_files(), Vec::<String>::new());
    assert!(env.qemu_pids().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_engine_readopts_running_vm_and_reboots_it() {
    let env = TestEnv::new();
    let boot = env.boot_disk("boot.qcow2");
    let data = env.blank_disk("data.raw", 16);
    let volumes = resolver(&[("test:boot", &boot, "qcow2"), ("test:data", &data, "raw")]);
    let conf = config(&guest_config("it-readopt", ""));
    let vmid = 103;

    let first = env.engine();
    let pid = first
        .start(
            vmid,
            &conf,
            &volumes,
            StartOptions {
                paused: true,
                ..Default::default()
            },
        )
        .await
        .expect("start")
        .pid;
    // The daemon goes away (its QMP connection with it) while the VM runs.
    first.status(vmid, &conf).await.unwrap();
    drop(first);

    let engine = env.engine();
    assert_eq!(engine.is_running(vmid), Some(pid));
    let serial = SerialLog::start(engine.connect_serial(vmid, 0).await.unwrap());
    engine.resume(vmid).await.unwrap();
    let st = engine.status(vmid, &conf).await.unwrap();
    assert_eq!((st.pid, st.qmpstatus.as_str()), (Some(pid), "running"));
    let err = engine
        .start(vmid, &conf, &volumes, StartOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, QemuError::AlreadyRunning { .. }), "{err}");
    serial.wait_for("OXVE-GUEST-WROTE-DISK", BOOT).await;

    // Reboot: clean shutdown, then a new QEMU with the same config.
    let report = engine
        .reboot(vmid, &conf, &volumes, Duration::from_secs(30))
        .await
        .expect("reboot");
    assert_ne!(report.pid, pid);
    assert!(serial.text().contains("OXVE-GUEST-SHUTDOWN"));
    assert_eq!(engine.is_running(vmid), Some(report.pid));
    let serial = SerialLog::start(engine.connect_serial(vmid, 0).await.unwrap());
    serial
        .wait_for("OXVE-GUEST-WROTE-DISK name=sda writes=2", BOOT)
        .await;
    // A hard reset boots the guest again in the same QEMU.
    engine.reset(vmid).await.unwrap();
    serial
        .wait_for("OXVE-GUEST-WROTE-DISK name=sda writes=3", BOOT)
        .await;
    assert_eq!(engine.is_running(vmid), Some(report.pid));

    engine
        .stop(vmid, Duration::from_secs(10))
        .await
        .expect("stop");
    assert_eq!(engine.is_running(vmid), None);
    assert_eq!(env.run_files(), Vec::<String>::new());
    assert!(env.qemu_pids().is_empty());
    // Stopping a stopped VM is fine; pausing one is not.
    engine.stop(vmid, Duration::from_secs(1)).await.unwrap();
    assert!(matches!(
        engine.suspend(vmid).await,
        Err(QemuError::NotRunning { .. })
    ));
    let header = std::fs::read(&data).unwrap();
    let header = String::from_utf8_lossy(&header[..4096]);
    assert!(
        header.contains("\nwrites=3\n"),
        "three boots wrote: {header}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_start_leaves_nothing_behind() {
    let env = TestEnv::new();
    let engine = env.engine();
    let missing = env.dir.path().join("missing.qcow2");
    let volumes = resolver(&[
        ("test:boot", &missing, "qcow2"),
        ("test:data", &missing, "raw"),
    ]);
    let conf = config(&guest_config("it-fail", ""));
    let vmid = 104;

    let err = engine
        .start(vmid, &conf, &volumes, StartOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, QemuError::StartFailed { .. }), "{err}");
    assert!(err.to_string().contains("missing.qcow2"), "{err}");
    assert_eq!(engine.is_running(vmid), None);
    assert_eq!(env.run_files(), Vec::<String>::new());
    assert!(env.qemu_pids().is_empty());

    // An unknown volume fails before QEMU runs, naming the drive.
    let err = engine
        .start(
            vmid,
            &conf,
            &oxve_qemu::MapResolver::new(),
            StartOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, QemuError::Resolve { key, .. } if key == "scsi0"),
        "{err}"
    );
    assert_eq!(env.run_files(), Vec::<String>::new());

    // So does a QEMU that rejects its arguments.
    let boot = env.boot_disk("boot.qcow2");
    let data = env.blank_disk("data.raw", 16);
    let volumes = resolver(&[("test:boot", &boot, "qcow2"), ("test:data", &data, "raw")]);
    let conf = config(&guest_config("it-fail", "args: -device no-such-device\n"));
    let err = engine
        .start(vmid, &conf, &volumes, StartOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no-such-device"), "{err}");
    assert_eq!(env.run_files(), Vec::<String>::new());
    assert!(env.qemu_pids().is_empty());
}

/// Command lines using most device kinds start in real QEMU (paused; the guest does not run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_qemu_accepts_complex_command_lines() {
    let env = TestEnv::new();
    let engine = env.engine();
    let boot = env.boot_disk("boot.qcow2");
    let disks: Vec<_> = (0..4)
        .map(|i| env.blank_disk(&format!("d{i}.raw"), 2))
        .collect();
    let iso = common::guest_dir().join("oxve-guest.iso");
    let volumes = resolver(&[
        ("test:boot", &boot, "qcow2"),
        ("test:d0", &disks[0], "raw"),
        ("test:d1", &disks[1], "raw"),
        ("test:d2", &disks[2], "raw"),
        ("test:d3", &disks[3], "raw"),
        ("iso:guest.iso", &iso, "raw"),
    ]);
    let common = "memory: 256\nsockets: 2\ncores: 2\nvcpus: 3\nnuma: 1\ncpu: host,flags=+aes\n\
        agent: 1\nrng0: source=/dev/urandom\nwatchdog: model=i6300esb,action=reset\n\
        smbios1: uuid=5f3a3b1e-8a2c-4d6e-9f00-0123456789ab,base64=1,manufacturer=b3h2ZQ==\n\
        vmgenid: 2c4b8c1e-4b0f-4c3e-8c3d-3f7e2b1a0c9d\nserial0: socket\nserial1: socket\n\
        boot: order=virtio0;ide2;net0\nvirtio0: test:boot,iothread=1\n\
        ide2: iso:guest.iso,media=cdrom\nide0: none,media=cdrom\n\
        sata0: test:d0,ssd=1,serial=s0,discard=on\nscsi0: test:d1,mbps=50,iops_rd=100\n\
        scsi1: test:d2,iothread=1\nscsi8: test:d3\n\
        net0: virtio=BC:24:11:00:02:00,bridge=vmbr0,queues=2,link_down=1\n\
        net1: e1000=BC:24:11:00:02:01\nnet2: rtl8139=BC:24:11:00:02:02\n\
        net3: vmxnet3=BC:24:11:00:02:03\n";
    for (vmid, extra) in [
        (110, "machine: pc\nscsihw: lsi\nvga: cirrus\n"),
        (
            111,
            "machine: q35\nscsihw: virtio-scsi-single\nvga: virtio,memory=32\nostype: win10\n",
        ),
        (
            112,
            "machine: pc-q35-9.2+pve0\nscsihw: virtio-scsi-pci\nvga: std\n",
        ),
        (113, "scsihw: megasas\nvga: none\nballoon: 0\ntablet: 0\n"),
        (114, "scsihw: pvscsi\nvga: serial0\nkvm: 0\nreboot: 0\n"),
    ] {
        let conf = config(&format!("{common}{extra}"));
        let report = engine
            .start(
                vmid,
                &conf,
                &volumes,
                StartOptions {
                    paused: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{extra}: {e}"));
        let qmp = engine.qmp(vmid).await.unwrap();
        let blocks = qmp.query_block().await.unwrap();
        let mut devices: Vec<&str> = blocks.iter().map(|b| b.device.as_str()).collect();
        devices.sort_unstable();
        assert_eq!(
            devices,
            [
                "drive-ide0",
                "drive-ide2",
                "drive-sata0",
                "drive-scsi0",
                "drive-scsi1",
                "drive-scsi8",
                "drive-virtio0"
            ],
            "{extra}"
        );
        let st = engine.status(vmid, &conf).await.unwrap();
        assert_eq!(st.qmpstatus, "prelaunch", "{extra}");
        assert!(engine.serial_socket(vmid, 1).is_ok());
        assert!(matches!(
            engine.serial_socket(vmid, 2),
            Err(QemuError::NoConsole { .. })
        ));
        if vmid == 114 {
            // QEMU exits by itself (as when the guest powers off): the VM shows as stopped
            // and the files QEMU left behind are removed.
            qmp.quit().await.unwrap();
            drop(qmp);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while engine.is_running(vmid).is_some() {
                assert!(tokio::time::Instant::now() < deadline, "QEMU did not quit");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let st = engine.status(vmid, &conf).await.unwrap();
            assert_eq!(st.status, RunStatus::Stopped);
        } else {
            drop(qmp);
            engine.stop(vmid, Duration::from_secs(5)).await.unwrap();
        }
        assert_eq!(engine.is_running(vmid), None, "{extra}");
        assert_eq!(env.run_files(), Vec::<String>::new(), "{extra}");
        assert!(
            report.qemu_warnings.iter().all(|w| !w.contains("error")),
            "{:?}",
            report.qemu_warnings
        );
    }
    assert_eq!(env.run_files(), Vec::<String>::new());
    // A QEMU that quit by itself removed its pid file before it finished exiting.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !env.qemu_pids().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            env.qemu_pids()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
