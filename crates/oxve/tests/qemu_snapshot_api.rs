//! Snapshots: a running guest snapshotted with its RAM, going on, rolled back, and resuming
//! from the snapshot's instant (its shell variables, its counter and its disk); the snapshot
//! tree with a deletion in the middle; snapshots of a stopped VM; refusals.

mod common;

use std::process::Command;

use common::ws::{guest_disk_of_size, guest_exec, open_serial};
use common::{create_and_start_guest, wait_task, Daemon, Session};

const VM: &str = "/nodes/testnode/qemu/440";

async fn task_ok(s: &Session, r: common::Reply) -> serde_json::Value {
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = wait_task(s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    t
}

async fn counter(term: &mut common::ws::Ws) -> u64 {
    guest_exec(term, "cat /tmp/counter")
        .await
        .trim()
        .parse()
        .unwrap()
}

fn qcow2_snapshots(path: &std::path::Path) -> String {
    let out = Command::new("qemu-img")
        .args(["snapshot", "-U", "-l"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn running_guest_rolls_back_to_its_ram_and_disk() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    create_and_start_guest(&d, &s, 440, &[("scsi1", "local:1,format=qcow2")]).await;
    let mut term = open_serial(&s, 440).await;
    // scsi1, whatever name the guest gave it
    let data = guest_disk_of_size(&mut term, 1 << 30).await;
    guest_exec(
        &mut term,
        "(i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 1; done) >/dev/null 2>&1 & true",
    )
    .await;
    guest_exec(
        &mut term,
        &format!("export PHASE=before; printf DISK-BEFORE | dd of=/dev/{data} bs=1M seek=8 conv=fsync 2>/dev/null"),
    )
    .await;
    let before = counter(&mut term).await;

    let t = task_ok(
        &s,
        s.post(
            &format!("{VM}/snapshot"),
            &[
                ("snapname", "s1"),
                ("vmstate", "1"),
                ("description", "with RAM"),
            ],
        )
        .await,
    )
    .await;
    assert!(t["upid"].as_str().unwrap().contains(":qmsnapshot:440:"));
    let after = counter(&mut term).await;
    assert!(after >= before);

    // the guest goes on
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    guest_exec(
        &mut term,
        &format!("export PHASE=after; printf DISK-AFTER! | dd of=/dev/{data} bs=1M seek=8 conv=fsync 2>/dev/null"),
    )
    .await;
    let late = counter(&mut term).await;
    assert!(late >= after + 4, "{after} -> {late}");
    drop(term);

    // the tree: s1 is the current state's parent, and holds RAM
    let list = s.get(&format!("{VM}/snapshot"), &[]).await;
    let items = list.data().as_array().unwrap().clone();
    let s1 = items.iter().find(|i| i["name"] == "s1").unwrap();
    assert_eq!(s1["vmstate"], 1);
    assert_eq!(s1["description"], "with RAM");
    let current = items.iter().find(|i| i["name"] == "current").unwrap();
    assert_eq!(current["parent"], "s1");
    assert_eq!(current["running"], 1);

    // roll back: the guest continues from the snapshot's instant
    let t = task_ok(&s, s.post(&format!("{VM}/snapshot/s1/rollback"), &[]).await).await;
    assert!(t["upid"].as_str().unwrap().contains(":qmrollback:440:"));
    let st = s.get(&format!("{VM}/status/current"), &[]).await;
    assert_eq!(st.data()["status"], "running");
    let mut term = open_serial(&s, 440).await;
    let phase = guest_exec(&mut term, "echo PHASE=$PHASE").await;
    assert!(phase.contains("PHASE=before"), "{phase}");
    let resumed = counter(&mut term).await;
    assert!(
        resumed >= before && resumed < late,
        "counter {resumed}: snapshot at {before}..{after}, later {late}"
    );
    let disk = guest_exec(
        &mut term,
        &format!("dd if=/dev/{data} bs=1M skip=8 count=1 2>/dev/null | head -c 11"),
    )
    .await;
    assert!(disk.contains("DISK-BEFORE"), "{disk}");
    let conf = s.get(&format!("{VM}/config"), &[]).await.data().clone();
    assert!(conf.get("lock").is_none(), "{conf}");
    assert_eq!(conf["parent"], "s1");

    // a second snapshot of the running VM (no RAM), then delete s1 in the middle of the tree
    task_ok(
        &s,
        s.post(&format!("{VM}/snapshot"), &[("snapname", "s2")])
            .await,
    )
    .await;
    // a full clone of the running VM as it was at s2 (its data disk as of the rollback)
    task_ok(
        &s,
        s.post(
            &format!("{VM}/clone"),
            &[("newid", "443"), ("snapname", "s2"), ("full", "1")],
        )
        .await,
    )
    .await;
    let clone_conf = s
        .get("/nodes/testnode/qemu/443/config", &[])
        .await
        .data()
        .clone();
    assert!(clone_conf.get("parent").is_none() && clone_conf.get("snaptime").is_none());
    let clone_disk = d.data_dir.join("local/images/443/vm-443-disk-1.qcow2");
    let head = d.data_dir.join("head.raw");
    let out = Command::new("qemu-img")
        .args(["convert", "-U", "-O", "raw"])
        .arg(&clone_disk)
        .arg(&head)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // (at 8 MiB, away from the header the guest writes to blank disks at boot)
    let mut cloned = vec![0u8; 16];
    std::os::unix::fs::FileExt::read_exact_at(
        &std::fs::File::open(&head).unwrap(),
        &mut cloned,
        8 << 20,
    )
    .unwrap();
    assert!(
        cloned.starts_with(b"DISK-BEFORE"),
        "{:?}",
        String::from_utf8_lossy(&cloned[..16])
    );
    let data_disk = d.data_dir.join("local/images/440/vm-440-disk-1.qcow2");
    let listed = qcow2_snapshots(&data_disk);
    assert!(listed.contains("s1") && listed.contains("s2"), "{listed}");
    let state = s.get(&format!("{VM}/snapshot/s1/config"), &[]).await.data()["vmstate"]
        .as_str()
        .unwrap()
        .to_string();
    let t = task_ok(&s, s.delete(&format!("{VM}/snapshot/s1"), &[]).await).await;
    assert!(t["upid"].as_str().unwrap().contains(":qmdelsnapshot:440:"));
    let listed = qcow2_snapshots(&data_disk);
    assert!(!listed.contains("s1") && listed.contains("s2"), "{listed}");
    let state_file = d
        .data_dir
        .join("local/images/440")
        .join(state.trim_start_matches("local:440/"));
    assert!(!state_file.exists(), "the RAM state volume is freed");
    let list = s.get(&format!("{VM}/snapshot"), &[]).await;
    let s2 = list
        .data()
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "s2")
        .cloned()
        .unwrap();
    assert!(s2.get("parent").is_none(), "s2 moved up to the root: {s2}");

    // refusals: a used name, 'current', a missing snapshot
    let r = s
        .post(&format!("{VM}/snapshot"), &[("snapname", "s2")])
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = s
        .post(&format!("{VM}/snapshot"), &[("snapname", "current")])
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = s.post(&format!("{VM}/snapshot/nope/rollback"), &[]).await;
    assert_eq!(r.status, 500, "{:?}", r.body);

    task_ok(&s, s.post(&format!("{VM}/status/stop"), &[]).await).await;
}

#[tokio::test]
async fn stopped_vm_snapshots_and_unsupported_disks() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    let vm = "/nodes/testnode/qemu/441";
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/qemu",
            &[("vmid", "441"), ("scsi0", "local:1,format=qcow2")],
        )
        .await,
    )
    .await;
    let disk = d.data_dir.join("local/images/441/vm-441-disk-0.qcow2");
    task_ok(
        &s,
        s.post(&format!("{vm}/snapshot"), &[("snapname", "first")])
            .await,
    )
    .await;
    assert!(qcow2_snapshots(&disk).contains(" first "));
    // settings change after the snapshot, and come back with a rollback
    let r = s.put(&format!("{vm}/config"), &[("memory", "777")]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s
        .put(
            &format!("{vm}/snapshot/first/config"),
            &[("description", "first")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let snap = s.get(&format!("{vm}/snapshot/first/config"), &[]).await;
    assert_eq!(snap.data()["description"], "first");
    assert!(snap.data().get("memory").is_none(), "default memory then");
    task_ok(
        &s,
        s.post(&format!("{vm}/snapshot"), &[("snapname", "second")])
            .await,
    )
    .await;
    task_ok(
        &s,
        s.post(&format!("{vm}/snapshot/first/rollback"), &[]).await,
    )
    .await;
    let conf = s.get(&format!("{vm}/config"), &[]).await.data().clone();
    assert!(conf.get("memory").is_none(), "{conf}");
    // a branch: third is a second child of first
    task_ok(
        &s,
        s.post(&format!("{vm}/snapshot"), &[("snapname", "third")])
            .await,
    )
    .await;
    let parents = |list: &serde_json::Value| -> Vec<(String, String)> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["name"].as_str().unwrap().to_string(),
                    i["parent"].as_str().unwrap_or("-").to_string(),
                )
            })
            .collect()
    };
    let list = s.get(&format!("{vm}/snapshot"), &[]).await;
    let tree = parents(list.data());
    for edge in [
        ("second", "first"),
        ("third", "first"),
        ("current", "third"),
    ] {
        assert!(
            tree.contains(&(edge.0.to_string(), edge.1.to_string())),
            "{tree:?}"
        );
    }
    // deleting the branch point moves both children up
    task_ok(&s, s.delete(&format!("{vm}/snapshot/first"), &[]).await).await;
    assert!(!qcow2_snapshots(&disk).contains(" first "));
    let tree = parents(s.get(&format!("{vm}/snapshot"), &[]).await.data());
    assert!(tree.contains(&("second".into(), "-".into())), "{tree:?}");
    assert!(tree.contains(&("third".into(), "-".into())), "{tree:?}");
    let conf = s.get(&format!("{vm}/snapshot/second/config"), &[]).await;
    assert_eq!(
        conf.data()["memory"],
        "777",
        "a snapshot keeps its own settings"
    );

    // a raw disk on a dir storage cannot be snapshotted: refused before anything changes
    let r = s
        .put(&format!("{vm}/config"), &[("scsi1", "local:1,format=raw")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s
        .post(&format!("{vm}/snapshot"), &[("snapname", "fourth")])
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(
        r.body["message"].as_str().unwrap().contains("scsi1"),
        "{:?}",
        r.body
    );
    let conf = s.get(&format!("{vm}/config"), &[]).await.data().clone();
    assert!(
        conf.get("lock").is_none() && conf["parent"] == "third",
        "{conf}"
    );
    assert!(
        !qcow2_snapshots(&disk).contains(" fourth "),
        "nothing touched"
    );
}
