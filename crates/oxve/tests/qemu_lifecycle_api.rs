//! A real VM through the API: the project's guest image boots under QEMU (TCG), writes its
//! data disk, is paused and resumed, shut down over ACPI, and a daemon restart keeps it running.

mod common;

use std::time::{Duration, Instant};

use common::{guest_image, wait_task, Daemon, DaemonOptions, Session};

async fn status(s: &Session, vmid: u32) -> serde_json::Value {
    s.get(&format!("/nodes/testnode/qemu/{vmid}/status/current"), &[])
        .await
        .data()
        .clone()
}

#[tokio::test]
async fn boot_pause_shutdown_and_survive_a_daemon_restart() {
    let mut d = Daemon::start();
    let s = Session::admin(&d).await;
    // the boot disk: a copy of the guest image as an existing volume of VM 400
    let dir = d.data_dir.join("local/images/400");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(guest_image(), dir.join("vm-400-disk-0.qcow2")).unwrap();
    let r = s
        .post(
            "/nodes/testnode/qemu",
            &[
                ("vmid", "400"),
                ("name", "guest"),
                ("tags", "web;prod"),
                ("memory", "256"),
                ("scsihw", "virtio-scsi-single"),
                ("scsi0", "local:400/vm-400-disk-0.qcow2"),
                ("scsi1", "local:1,format=raw"),
                ("serial0", "socket"),
                ("net0", "virtio,bridge=vmbr0"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    assert_eq!(status(&s, 400).await["status"], "stopped");

    let r = s.post("/nodes/testnode/qemu/400/status/start", &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    let st = status(&s, 400).await;
    assert_eq!(st["status"], "running", "{st}");
    assert_eq!(st["tags"], "web;prod", "{st}");
    assert!(st["pid"].as_u64().unwrap() > 0);
    assert_eq!(
        s.post("/nodes/testnode/qemu/400/status/start", &[])
            .await
            .status,
        500,
        "already running"
    );
    let list = s.get("/nodes/testnode/qemu", &[]).await;
    assert_eq!(list.data()[0]["status"], "running");
    let res = s.get("/cluster/resources", &[("type", "vm")]).await;
    assert_eq!(res.data()[0]["status"], "running");

    // the guest boots and writes its blank data disk
    let data_disk = d.data_dir.join("local/images/400/vm-400-disk-1.raw");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let head = std::fs::read(&data_disk)
            .map(|b| b[..4096.min(b.len())].to_vec())
            .unwrap_or_default();
        if String::from_utf8_lossy(&head).contains("writes=") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the guest did not write its disk in time"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // pause and resume
    let r = s.post("/nodes/testnode/qemu/400/status/suspend", &[]).await;
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    assert_eq!(status(&s, 400).await["qmpstatus"], "paused");
    let r = s.post("/nodes/testnode/qemu/400/status/resume", &[]).await;
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    assert_eq!(status(&s, 400).await["qmpstatus"], "running");

    // the guest keeps running while the daemon is killed and restarted
    let pid = status(&s, 400).await["pid"].as_u64().unwrap();
    d.restart(&DaemonOptions::default());
    let s = Session::admin(&d).await;
    let st = status(&s, 400).await;
    assert_eq!(st["status"], "running");
    assert_eq!(
        st["pid"].as_u64().unwrap(),
        pid,
        "same QEMU process re-adopted"
    );
    // destroying a running VM is refused
    assert_eq!(s.delete("/nodes/testnode/qemu/400", &[]).await.status, 500);

    // clean ACPI shutdown
    let r = s
        .post(
            "/nodes/testnode/qemu/400/status/shutdown",
            &[("timeout", "60")],
        )
        .await;
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    assert_eq!(status(&s, 400).await["status"], "stopped");
    // gone, or a zombie waiting for whoever inherited it
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let exited = state.is_empty()
        || state
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z');
    assert!(exited, "QEMU exited: {state}");
    let r = s.delete("/nodes/testnode/qemu/400", &[]).await;
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
}

#[tokio::test]
async fn boot_from_iso_onto_a_new_disk_and_report_the_hardware() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    let iso_dir = d.data_dir.join("local/template/iso");
    std::fs::create_dir_all(&iso_dir).unwrap();
    std::fs::copy(
        guest_image().with_file_name("oxve-guest.iso"),
        iso_dir.join("oxve-guest.iso"),
    )
    .unwrap();
    let r = s
        .post(
            "/nodes/testnode/qemu",
            &[
                ("vmid", "401"),
                ("memory", "384"),
                ("cores", "2"),
                ("ide2", "local:iso/oxve-guest.iso,media=cdrom"),
                ("virtio0", "local:1,format=qcow2"),
                ("boot", "order=ide2;virtio0"),
                ("serial0", "socket"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    let r = s.post("/nodes/testnode/qemu/401/status/start", &[]).await;
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");

    // The guest writes what it saw into the header of its blank disk.
    let disk = d.data_dir.join("local/images/401/vm-401-disk-0.qcow2");
    let deadline = Instant::now() + Duration::from_secs(150);
    let header = loop {
        let head = d.data_dir.join("head.raw");
        let _ = std::fs::remove_file(&head);
        let _ = std::process::Command::new("qemu-img")
            .args(["dd", "-U", "-f", "qcow2", "-O", "raw", "bs=4096", "count=1"])
            .arg(format!("if={}", disk.display()))
            .arg(format!("of={}", head.display()))
            .output();
        let ascii = String::from_utf8_lossy(&std::fs::read(&head).unwrap_or_default())
            .trim_end_matches('\0')
            .to_string();
        if ascii.contains("END") {
            break ascii;
        }
        assert!(
            Instant::now() < deadline,
            "the guest did not write its disk: {ascii}"
        );
        tokio::time::sleep(Duration::from_millis(1000)).await;
    };
    assert!(header.contains("cpus=2"), "{header}");
    let ram_kb: u64 = header
        .split("ram_kb=")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        ram_kb.abs_diff(384 * 1024) < 2048,
        "guest RAM {ram_kb} KiB for 384 MiB: {header}"
    );
    assert!(header.contains("name=vda"), "{header}");

    let r = s.post("/nodes/testnode/qemu/401/status/stop", &[]).await;
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    let r = s.delete("/nodes/testnode/qemu/401", &[]).await;
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    assert!(!disk.exists(), "the VM's disk is freed with it");
}
