//! Changes to a running VM, checked from inside the guest through its serial console: a disk
//! and a NIC hot-plugged and unplugged, a disk grown online (QMP block_resize) and moved
//! online to another format (drive-mirror) with its data, and changes that must wait for the
//! next start kept pending.

mod common;

use std::process::Command;

use common::ws::{guest_exec, open_serial};
use common::{create_and_start_guest, wait_task, Daemon, Session};

const VM: &str = "/nodes/testnode/qemu/420";

async fn config(s: &Session) -> serde_json::Value {
    s.get(&format!("{VM}/config"), &[("current", "1")])
        .await
        .data()
        .clone()
}

async fn monitor(s: &Session, command: &str) -> String {
    let r = s
        .post(&format!("{VM}/monitor"), &[("command", command)])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.data().as_str().unwrap().to_string()
}

async fn task_ok(s: &Session, r: common::Reply) -> serde_json::Value {
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = wait_task(s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    t
}

fn virtual_size(path: &std::path::Path) -> u64 {
    let out = Command::new("qemu-img")
        .args(["info", "-U", "--output=json"])
        .arg(path)
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    info["virtual-size"].as_u64().unwrap()
}

#[tokio::test]
async fn hotplug_resize_and_mirror_a_running_vm() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    create_and_start_guest(&d, &s, 420, &[]).await;
    let mut term = open_serial(&s, 420).await;
    let disks = guest_exec(&mut term, "ls /sys/block").await;
    assert!(disks.contains("sda") && !disks.contains("sdb"), "{disks}");

    // a fast-plug key applies at once
    let r = s.put(&format!("{VM}/config"), &[("name", "renamed")]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(config(&s).await["name"], "renamed");

    // a new 1 GiB disk is allocated and hot-plugged: the guest sees it
    let r = s
        .put(
            &format!("{VM}/config"),
            &[("scsi1", "local:1,format=qcow2")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let scsi1 = config(&s).await["scsi1"].as_str().unwrap().to_string();
    assert!(
        scsi1.starts_with("local:420/vm-420-disk-1.qcow2"),
        "{scsi1}"
    );
    assert!(monitor(&s, "info block").await.contains("drive-scsi1"));
    let mut seen = String::new();
    for _ in 0..20 {
        seen = guest_exec(&mut term, "cat /sys/block/sdb/size").await;
        if seen.trim() == "2097152" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(seen.trim(), "2097152", "1 GiB in 512-byte sectors");
    let wrote = guest_exec(
        &mut term,
        "printf HELLO-MIRROR | dd of=/dev/sdb conv=fsync 2>/dev/null; echo wrote",
    )
    .await;
    assert!(wrote.contains("wrote"), "{wrote}");

    // online resize: QEMU grows the image it holds open, and the guest sees the new size
    task_ok(
        &s,
        s.put(
            &format!("{VM}/resize"),
            &[("disk", "scsi1"), ("size", "+1G")],
        )
        .await,
    )
    .await;
    let image = d.data_dir.join("local/images/420/vm-420-disk-1.qcow2");
    assert_eq!(virtual_size(&image), 2 << 30);
    assert!(config(&s).await["scsi1"]
        .as_str()
        .unwrap()
        .contains("size=2G"));
    let size = guest_exec(
        &mut term,
        "for f in /sys/class/scsi_device/*/device/rescan; do echo 1 > $f; done; cat /sys/block/sdb/size",
    )
    .await;
    assert_eq!(size.trim(), "4194304", "2 GiB in sectors");

    // online move to raw: the mirror carries the data the guest wrote
    let t = task_ok(
        &s,
        s.post(
            &format!("{VM}/move_disk"),
            &[("disk", "scsi1"), ("storage", "local"), ("format", "raw")],
        )
        .await,
    )
    .await;
    let log = s
        .get(
            &format!(
                "/nodes/testnode/tasks/{}/log",
                t["upid"].as_str().unwrap_or_default()
            ),
            &[],
        )
        .await;
    let conf = config(&s).await;
    let moved = conf["scsi1"].as_str().unwrap();
    assert!(moved.contains(".raw"), "{moved} {:?}", log.body);
    assert_eq!(conf["unused0"], "local:420/vm-420-disk-1.qcow2");
    let raw_name = moved
        .split(',')
        .next()
        .unwrap()
        .trim_start_matches("local:420/");
    let raw = d.data_dir.join("local/images/420").join(raw_name);
    let head = std::fs::read(&raw).unwrap();
    assert!(head.starts_with(b"HELLO-MIRROR"), "mirrored data");
    assert_eq!(head.len() as u64, 2 << 30);
    assert!(monitor(&s, "info block").await.contains(raw_name));
    let still = guest_exec(&mut term, "dd if=/dev/sdb bs=12 count=1 2>/dev/null").await;
    assert!(still.contains("HELLO-MIRROR"), "{still}");

    // a NIC is hot-plugged (user-mode network: no bridge here) and seen by the guest
    let r = s
        .put(&format!("{VM}/config"), &[("net1", "virtio,bridge=vmbr9")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(config(&s).await["net1"]
        .as_str()
        .unwrap()
        .starts_with("virtio="));
    let mut nics = String::new();
    for _ in 0..20 {
        nics = guest_exec(&mut term, "ls /sys/class/net").await;
        if nics.contains("eth") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(nics.contains("eth0"), "{nics}");

    // unplug the disk: gone from the VM and the guest, kept as unused
    let r = s.put(&format!("{VM}/config"), &[("delete", "scsi1")]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let conf = config(&s).await;
    assert!(conf.get("scsi1").is_none(), "{conf}");
    assert!(
        conf["unused1"].as_str().unwrap().contains(raw_name),
        "{conf}"
    );
    assert!(!monitor(&s, "info block").await.contains("drive-scsi1"));
    let disks = guest_exec(&mut term, "ls /sys/block").await;
    assert!(!disks.contains("sdb"), "{disks}");

    // memory cannot change live without memory hotplug: it stays pending
    let r = s.put(&format!("{VM}/config"), &[("memory", "384")]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let pending = s.get(&format!("{VM}/pending"), &[]).await;
    let memory = pending
        .data()
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "memory")
        .cloned()
        .unwrap();
    assert_eq!(memory["pending"], "384", "{memory}");

    task_ok(&s, s.post(&format!("{VM}/status/stop"), &[]).await).await;
}

#[tokio::test]
async fn suspend_to_disk_and_resume_where_it_was() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    create_and_start_guest(&d, &s, 421, &[]).await;
    let vm = "/nodes/testnode/qemu/421";
    let mut term = open_serial(&s, 421).await;
    // State that only lives in the guest's memory.
    guest_exec(&mut term, "export MARK=hibernated-$((6*7))").await;
    drop(term);

    let r = s
        .post(&format!("{vm}/status/suspend"), &[("todisk", "1")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let upid = r.data().as_str().unwrap().to_string();
    assert!(upid.contains(":qmsuspend:421:"), "{upid}");
    let t = wait_task(&s, &upid).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    let st = s.get(&format!("{vm}/status/current"), &[]).await;
    assert_eq!(st.data()["status"], "stopped");
    let conf = s.get(&format!("{vm}/config"), &[]).await.data().clone();
    assert_eq!(conf["lock"], "suspended", "{conf}");
    let state = conf["vmstate"].as_str().unwrap().to_string();
    assert!(
        state.starts_with("local:421/vm-421-state-suspend-"),
        "{state}"
    );
    let file = d
        .data_dir
        .join("local/images/421")
        .join(state.trim_start_matches("local:421/"));
    assert!(
        std::fs::metadata(&file).unwrap().len() > 1 << 20,
        "state written"
    );
    // a locked VM refuses other changes
    let r = s.put(&format!("{vm}/config"), &[("name", "x")]).await;
    assert_ne!(r.status, 200);

    // start resumes it: the shell still has its variable, so this is no fresh boot
    let r = s.post(&format!("{vm}/status/start"), &[]).await;
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    let conf = s.get(&format!("{vm}/config"), &[]).await.data().clone();
    assert!(
        conf.get("lock").is_none() && conf.get("vmstate").is_none(),
        "{conf}"
    );
    assert!(!file.exists(), "the state volume is freed");
    let mut term = open_serial(&s, 421).await;
    let mark = guest_exec(&mut term, "echo $MARK").await;
    assert!(mark.contains("hibernated-42"), "{mark}");

    let r = s.post(&format!("{vm}/status/stop"), &[]).await;
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
}
