//! Containers on btrfs storage (as root, real LXC, a btrfs on a loop file the test makes):
//! `rootfs: bt:SIZE` is a subvolume whose size is a btrfs quota the kernel enforces inside
//! the container; resize raises the quota (while it runs, and stopped); snapshots, rollback, a
//! template, a linked clone and full clones (to the btrfs and to a dir storage) work and
//! keep the limit, a subvolume moves to a dir storage; destroy removes the subvolumes and their qgroups; bad input and a failed
//! create leave nothing behind.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use common::btrfs::{daemon_with_btrfs_storage, make_btrfs};
use common::ct::{attach, TEMPLATE};
use common::{task_ok, wait_task, Session};

const MIB: u64 = 1 << 20;

async fn rootfs(s: &Session, vmid: u32) -> String {
    let c = s
        .get(&format!("/nodes/testnode/lxc/{vmid}/config"), &[])
        .await;
    c.data()["rootfs"].as_str().unwrap().to_string()
}

/// Level-0 qgroups of the btrfs: id -> limit (`None`: no limit).
fn qgroups(mount: &Path) -> Vec<(String, Option<u64>)> {
    let out = Command::new("btrfs")
        .args(["qgroup", "show", "--raw", "-r"])
        .arg(mount)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 4 && f[0].starts_with("0/")).then(|| (f[0].to_string(), f[3].parse().ok()))
        })
        .collect()
}

fn subvol_qgroup(path: &Path) -> String {
    let out = Command::new("btrfs")
        .args(["subvolume", "show"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{path:?} is a subvolume");
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Subvolume ID:"))
        .unwrap();
    format!("0/{}", id.trim())
}

fn limit_of(mount: &Path, subvol: &Path) -> Option<u64> {
    let id = subvol_qgroup(subvol);
    qgroups(mount)
        .into_iter()
        .find(|(q, _)| *q == id)
        .and_then(|(_, l)| l)
}

async fn start(s: &Session, vmid: u32) {
    task_ok(
        s,
        s.post(&format!("/nodes/testnode/lxc/{vmid}/status/start"), &[])
            .await,
    )
    .await;
}

#[tokio::test]
async fn subvolume_containers_on_btrfs() {
    let Some(mut fs) = make_btrfs(&[9781, 9782, 9783, 9784], true) else {
        return;
    };
    let (d, s) = daemon_with_btrfs_storage(&mut fs).await;
    let lxc_path = d.data_dir.join("run/lxc");
    let mount = fs.mountpoint();
    let images = mount.join("images");

    // bad sizes are refused, naming the parameter; nothing is created
    for bad in ["bt:abc", "bt:-1", "bt:1G"] {
        let r = s
            .post(
                "/nodes/testnode/lxc",
                &[
                    ("vmid", "9781"),
                    ("ostemplate", &format!("local:vztmpl/{TEMPLATE}")),
                    ("rootfs", bad),
                ],
            )
            .await;
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
        assert!(r.body["errors"]["rootfs"].is_string(), "{:?}", r.body);
    }
    // a failed create (corrupt template) frees the subvolume and its qgroup
    let bad = d.data_dir.join("local/template/cache/broken.tar.gz");
    std::fs::write(&bad, b"this is not a tar archive").unwrap();
    let r = s
        .post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9781"),
                ("ostemplate", "local:vztmpl/broken.tar.gz"),
                ("rootfs", "bt:0.125"),
            ],
        )
        .await;
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    assert_ne!(t["exitstatus"], "OK", "{t}");
    assert!(!images.join("9781").exists(), "the subvolume is freed");
    let before: Vec<String> = qgroups(&mount).into_iter().map(|(q, _)| q).collect();
    assert!(before.len() <= 1, "only the top level's qgroup: {before:?}");

    // an unprivileged container on a 128 MiB subvolume
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9781"),
                ("ostemplate", &format!("local:vztmpl/{TEMPLATE}")),
                ("rootfs", "bt:0.125"),
                ("hostname", "quota"),
                ("memory", "64"),
                ("start", "1"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(
        rootfs(&s, 9781).await,
        "bt:9781/subvol-9781-disk-0.subvol,size=128M"
    );
    let sv = images.join("9781/subvol-9781-disk-0.subvol");
    assert_eq!(limit_of(&mount, &sv), Some(128 * MIB));
    let hostname = std::fs::metadata(sv.join("etc/hostname")).unwrap();
    assert_eq!(
        hostname.uid(),
        100_000,
        "ids shifted for the unprivileged root"
    );
    let info = s
        .get(
            "/nodes/testnode/storage/bt/content/bt:9781%2Fsubvol-9781-disk-0.subvol",
            &[],
        )
        .await;
    assert_eq!(info.status, 200, "{:?}", info.body);
    assert_eq!(info.data()["size"], 128 * MIB);
    assert_eq!(info.data()["format"], "subvol");
    assert!(info.data()["used"].as_u64().unwrap() > 0);

    // writing past the quota fails inside; the host's file system is fine
    let out = attach(
        &lxc_path,
        9781,
        "dd if=/dev/zero of=/root/big bs=1M count=200 2>&1; echo rc=$?; sync",
    );
    assert!(out.contains("Disk quota exceeded"), "{out}");
    assert!(!out.ends_with("rc=0"), "{out}");
    attach(&lxc_path, 9781, "rm -f /root/big; sync");
    std::fs::write(mount.join("host-file"), vec![1u8; 16 * MIB as usize]).unwrap();
    std::fs::remove_file(mount.join("host-file")).unwrap();

    // online resize: only the quota changes
    task_ok(
        &s,
        s.put(
            "/nodes/testnode/lxc/9781/resize",
            &[("disk", "rootfs"), ("size", "+128M")],
        )
        .await,
    )
    .await;
    assert_eq!(limit_of(&mount, &sv), Some(256 * MIB));
    assert_eq!(
        rootfs(&s, 9781).await,
        "bt:9781/subvol-9781-disk-0.subvol,size=256M"
    );
    let out = attach(
        &lxc_path,
        9781,
        "dd if=/dev/zero of=/root/big bs=1M count=160 2>&1 && echo written; rm -f /root/big; sync",
    );
    assert!(out.ends_with("written"), "{out}");

    // snapshot, change, roll back: the files and the limit are back
    attach(&lxc_path, 9781, "echo kept > /root/marker; sync");
    task_ok(
        &s,
        s.post("/nodes/testnode/lxc/9781/snapshot", &[("snapname", "s1")])
            .await,
    )
    .await;
    attach(&lxc_path, 9781, "echo changed > /root/marker; sync");
    task_ok(
        &s,
        s.post("/nodes/testnode/lxc/9781/snapshot/s1/rollback", &[])
            .await,
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(sv.join("root/marker")).unwrap(),
        "kept\n"
    );
    assert_eq!(limit_of(&mount, &sv), Some(256 * MIB));
    task_ok(
        &s,
        s.delete("/nodes/testnode/lxc/9781/snapshot/s1", &[]).await,
    )
    .await;
    // offline resize (the rollback stopped the container)
    task_ok(
        &s,
        s.put(
            "/nodes/testnode/lxc/9781/resize",
            &[("disk", "rootfs"), ("size", "+32M")],
        )
        .await,
    )
    .await;
    assert_eq!(limit_of(&mount, &sv), Some(288 * MIB));

    // template: the subvolume keeps its name and becomes read-only
    let r = s.post("/nodes/testnode/lxc/9781/template", &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        rootfs(&s, 9781).await,
        "bt:9781/subvol-9781-disk-0.subvol,size=288M"
    );
    let ro = Command::new("btrfs")
        .args(["property", "get"])
        .arg(&sv)
        .arg("ro")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&ro.stdout).trim(), "ro=true");

    // a linked clone (a snapshot), a full clone on the btrfs and one on the dir storage
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/lxc/9781/clone",
            &[("newid", "9782"), ("hostname", "linked")],
        )
        .await,
    )
    .await;
    for (newid, storage) in [(9783, "bt"), (9784, "local")] {
        task_ok(
            &s,
            s.post(
                "/nodes/testnode/lxc/9781/clone",
                &[
                    ("newid", &newid.to_string()),
                    ("full", "1"),
                    ("storage", storage),
                    ("hostname", &format!("full{newid}")),
                ],
            )
            .await,
        )
        .await;
    }
    assert_eq!(
        rootfs(&s, 9782).await,
        "bt:9782/subvol-9782-disk-0.subvol,size=288M"
    );
    assert_eq!(
        rootfs(&s, 9783).await,
        "bt:9783/subvol-9783-disk-0.subvol,size=288M"
    );
    assert_eq!(
        rootfs(&s, 9784).await,
        "local:9784/vm-9784-disk-0.raw,size=288M"
    );
    for vmid in [9782, 9783] {
        let clone = images.join(format!("{vmid}/subvol-{vmid}-disk-0.subvol"));
        assert_eq!(limit_of(&mount, &clone), Some(288 * MIB), "{vmid}");
        let m = std::fs::metadata(clone.join("root/marker")).unwrap();
        assert_eq!(m.uid(), 100_000, "{vmid}: owners kept");
    }
    // moving a subvolume to the dir storage copies its files into a raw ext4 image
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/lxc/9782/move_volume",
            &[("volume", "rootfs"), ("storage", "local"), ("delete", "1")],
        )
        .await,
    )
    .await;
    assert_eq!(
        rootfs(&s, 9782).await,
        "local:9782/vm-9782-disk-0.raw,size=288M"
    );
    assert!(!images.join("9782").exists());
    for (vmid, name) in [(9782, "linked"), (9783, "full9783"), (9784, "full9784")] {
        start(&s, vmid).await;
        assert_eq!(
            attach(&lxc_path, vmid, "hostname; cat /root/marker"),
            format!("{name}\nkept")
        );
    }
    // the full clone on btrfs has its own quota
    let out = attach(
        &lxc_path,
        9783,
        "dd if=/dev/zero of=/root/big bs=1M count=300 2>&1; sync",
    );
    assert!(out.contains("Disk quota exceeded"), "{out}");

    // destroy frees the subvolumes and their qgroups
    for vmid in [9782, 9783, 9784, 9781] {
        task_ok(
            &s,
            s.delete(&format!("/nodes/testnode/lxc/{vmid}"), &[("force", "1")])
                .await,
        )
        .await;
    }
    let left: Vec<_> = std::fs::read_dir(&images)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "subvolumes removed: {left:?}");
    let left = qgroups(&mount);
    assert!(left.len() <= 1, "only the top level's qgroup: {left:?}");
    assert!(!d.data_dir.join("local/images/9784").exists());
}
