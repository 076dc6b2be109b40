//! Templates and clones: a VM with the guest image becomes a template (refused while it has
//! snapshots); a linked clone shares its base's blocks and boots; the base cannot go while the
//! clone exists; a full clone to another storage and format boots and stands alone.

mod common;

use std::process::Command;

use common::ws::{guest_exec, open_serial};
use common::{guest_image, wait_task, Daemon, Session};

async fn task_ok(s: &Session, r: common::Reply) -> serde_json::Value {
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = wait_task(s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    t
}

async fn config(s: &Session, vmid: u32) -> serde_json::Value {
    s.get(&format!("/nodes/testnode/qemu/{vmid}/config"), &[])
        .await
        .data()
        .clone()
}

/// Starts `vmid`, checks its guest answers on the serial console, stops it.
async fn boots(s: &Session, vmid: u32) {
    task_ok(
        s,
        s.post(&format!("/nodes/testnode/qemu/{vmid}/status/start"), &[])
            .await,
    )
    .await;
    let mut term = open_serial(s, vmid).await;
    let out = guest_exec(&mut term, "echo BOOTED-$((40+2))").await;
    assert!(out.contains("BOOTED-42"), "{out}");
    task_ok(
        s,
        s.post(&format!("/nodes/testnode/qemu/{vmid}/status/stop"), &[])
            .await,
    )
    .await;
}

fn qemu_img_info(path: &std::path::Path) -> serde_json::Value {
    let out = Command::new("qemu-img")
        .args(["info", "-U", "--backing-chain", "--output=json"])
        .arg(path)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn template_linked_and_full_clones() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    let dir = d.data_dir.join("local/images/450");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(guest_image(), dir.join("vm-450-disk-0.qcow2")).unwrap();
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/qemu",
            &[
                ("vmid", "450"),
                ("name", "golden"),
                ("memory", "256"),
                ("scsihw", "virtio-scsi-single"),
                ("scsi0", "local:450/vm-450-disk-0.qcow2"),
                ("serial0", "socket"),
                ("net0", "virtio,bridge=vmbr0"),
            ],
        )
        .await,
    )
    .await;
    let mac = config(&s, 450).await["net0"].as_str().unwrap().to_string();

    // snapshots stand in the way of a template
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/qemu/450/snapshot",
            &[("snapname", "snap1")],
        )
        .await,
    )
    .await;
    let r = s.post("/nodes/testnode/qemu/450/template", &[]).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("snap1"));
    task_ok(
        &s,
        s.delete("/nodes/testnode/qemu/450/snapshot/snap1", &[])
            .await,
    )
    .await;

    let t = task_ok(&s, s.post("/nodes/testnode/qemu/450/template", &[]).await).await;
    assert!(t["upid"].as_str().unwrap().contains(":qmtemplate:450:"));
    let conf = config(&s, 450).await;
    assert_eq!(conf["template"], 1);
    assert!(conf["scsi0"]
        .as_str()
        .unwrap()
        .starts_with("local:450/base-450-disk-0.qcow2"));
    let base = dir.join("base-450-disk-0.qcow2");
    assert!(base.exists() && !dir.join("vm-450-disk-0.qcow2").exists());
    let r = s.post("/nodes/testnode/qemu/450/status/start", &[]).await;
    assert_eq!(r.status, 500, "a template does not start: {:?}", r.body);

    // linked clone: an overlay on the base, with its own MAC
    let t = task_ok(
        &s,
        s.post(
            "/nodes/testnode/qemu/450/clone",
            &[("newid", "451"), ("name", "linked")],
        )
        .await,
    )
    .await;
    assert!(t["upid"].as_str().unwrap().contains(":qmclone:450:"));
    let conf = config(&s, 451).await;
    assert_eq!(conf["name"], "linked");
    assert!(conf.get("template").is_none());
    let disk = conf["scsi0"].as_str().unwrap();
    assert!(
        disk.starts_with("local:450/base-450-disk-0.qcow2/451/vm-451-disk-0.qcow2"),
        "{disk}"
    );
    assert_ne!(conf["net0"].as_str().unwrap(), mac, "a new MAC");
    let overlay = d.data_dir.join("local/images/451/vm-451-disk-0.qcow2");
    let chain = qemu_img_info(&overlay);
    assert_eq!(chain.as_array().unwrap().len(), 2, "{chain}");
    assert!(chain[0]["backing-filename"]
        .as_str()
        .unwrap()
        .ends_with("450/base-450-disk-0.qcow2"));
    let overlay_bytes = std::fs::metadata(&overlay).unwrap().len();
    assert!(
        overlay_bytes < std::fs::metadata(&base).unwrap().len() / 4,
        "shares the base's blocks"
    );
    boots(&s, 451).await;

    // the base stays while its clone exists
    let r = s.delete("/nodes/testnode/qemu/450", &[]).await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("451"));
    let r = s
        .delete(
            "/nodes/testnode/storage/local/content/local:450%2Fbase-450-disk-0.qcow2",
            &[],
        )
        .await;
    if r.status == 200 {
        let t = wait_task(&s, r.data().as_str().unwrap()).await;
        assert_ne!(t["exitstatus"], "OK", "base volume deleted under its clone");
    }
    assert!(base.exists());

    // refusals: a linked clone of a normal VM, an existing VMID
    let r = s
        .post(
            "/nodes/testnode/qemu/451/clone",
            &[("newid", "460"), ("full", "0")],
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = s
        .post("/nodes/testnode/qemu/450/clone", &[("newid", "451")])
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);

    // full clone to another storage, as raw: independent of the template
    let second = d.data_dir.join("second");
    let r = s
        .post(
            "/storage",
            &[
                ("storage", "second"),
                ("type", "dir"),
                ("path", second.to_str().unwrap()),
                ("content", "images"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/qemu/450/clone",
            &[
                ("newid", "452"),
                ("full", "1"),
                ("storage", "second"),
                ("format", "raw"),
            ],
        )
        .await,
    )
    .await;
    let conf = config(&s, 452).await;
    assert!(conf["scsi0"]
        .as_str()
        .unwrap()
        .starts_with("second:452/vm-452-disk-0.raw"));
    assert_eq!(conf["name"], "Copy-of-VM-golden");
    let raw = second.join("images/452/vm-452-disk-0.raw");
    let info = qemu_img_info(&raw);
    assert_eq!(info[0]["format"], "raw");
    assert!(info[0].get("backing-filename").is_none());
    let same = Command::new("qemu-img")
        .args(["compare", "-U"])
        .arg(&base)
        .arg(&raw)
        .status()
        .unwrap();
    assert!(same.success(), "same content as the template");
    boots(&s, 452).await;

    // once the clones are gone, the template can go
    for vmid in [451, 452, 450] {
        task_ok(
            &s,
            s.delete(&format!("/nodes/testnode/qemu/{vmid}"), &[]).await,
        )
        .await;
    }
    assert!(!base.exists());
}

/// `btrfs subvolume show` field `name` of subvolume `path`.
fn subvolume_field(path: &std::path::Path, name: &str) -> String {
    let out = Command::new("btrfs")
        .args(["subvolume", "show"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

/// Linked clones on btrfs: the template's raw disk becomes a read-only base subvolume, the
/// clone's disk a snapshot of it (sharing its extents) that boots; a full clone of the
/// template copies the data to the dir storage.
#[tokio::test]
async fn linked_clone_on_btrfs() {
    let Some(fs) = common::btrfs::make_btrfs(&[], false) else {
        return;
    };
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    let mnt = fs.mountpoint();
    let r = s
        .post(
            "/storage",
            &[
                ("storage", "bt"),
                ("type", "btrfs"),
                ("path", mnt.to_str().unwrap()),
                ("content", "images"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/qemu",
            &[
                ("vmid", "470"),
                ("name", "golden"),
                ("memory", "256"),
                ("scsihw", "virtio-scsi-single"),
                ("scsi0", "bt:1"),
                ("serial0", "socket"),
            ],
        )
        .await,
    )
    .await;
    let disk = config(&s, 470).await["scsi0"].as_str().unwrap().to_string();
    assert!(disk.starts_with("bt:470/vm-470-disk-0.raw"), "{disk}");
    let raw = mnt.join("images/470/vm-470-disk-0/disk.raw");
    assert!(Command::new("qemu-img")
        .args(["convert", "-n", "-O", "raw"])
        .arg(guest_image())
        .arg(&raw)
        .status()
        .unwrap()
        .success());

    task_ok(&s, s.post("/nodes/testnode/qemu/470/template", &[]).await).await;
    let base_disk = config(&s, 470).await["scsi0"].as_str().unwrap().to_string();
    assert!(
        base_disk.starts_with("bt:470/base-470-disk-0.raw"),
        "{base_disk}"
    );
    let base = mnt.join("images/470/base-470-disk-0");
    assert!(subvolume_field(&base, "Flags:").contains("readonly"));

    let started = std::time::Instant::now();
    let t = task_ok(
        &s,
        s.post(
            "/nodes/testnode/qemu/470/clone",
            &[("newid", "471"), ("name", "linked")],
        )
        .await,
    )
    .await;
    eprintln!("linked clone on btrfs: {:?}", started.elapsed());
    assert!(t["upid"].as_str().unwrap().contains(":qmclone:470:"));
    let conf = config(&s, 471).await;
    let disk = conf["scsi0"].as_str().unwrap();
    assert!(disk.starts_with("bt:471/vm-471-disk-0.raw"), "{disk}");
    let clone = mnt.join("images/471/vm-471-disk-0");
    assert_eq!(
        subvolume_field(&clone, "Parent UUID:"),
        subvolume_field(&base, "UUID:"),
        "the clone is a snapshot of the base"
    );
    boots(&s, 471).await;

    // a full clone of the template to the dir storage holds the same data
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/qemu/470/clone",
            &[("newid", "472"), ("full", "1"), ("storage", "local")],
        )
        .await,
    )
    .await;
    let disk = config(&s, 472).await["scsi0"].as_str().unwrap().to_string();
    assert!(disk.starts_with("local:472/vm-472-disk-0.raw"), "{disk}");
    let copy = d.data_dir.join("local/images/472/vm-472-disk-0.raw");
    let same = Command::new("qemu-img")
        .args(["compare", "-f", "raw", "-F", "raw"])
        .arg(base.join("disk.raw"))
        .arg(&copy)
        .status()
        .unwrap();
    assert!(same.success(), "the full clone matches its template");
}
