//! Backups of containers whose volumes are directories (subvolumes on dir storage), with real
//! LXC: an unprivileged container's tree, with files of a non-root user, a symlink and a hard
//! link, backed up in stop, suspend and snapshot mode (which falls back to suspend), restored
//! to new VMIDs with the same contents and host ids; a flipped byte is caught by verify and
//! makes the restore fail with nothing left allocated.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::ct::{attach, can_run_containers, install_template, StopContainers, TEMPLATE};
use common::{task_log, task_ok, wait_task, Daemon, Session};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The archive a vzdump task wrote (its volume id) and its log.
async fn backup(s: &Session, vmid: u32, mode: &str) -> (String, String) {
    let t = task_ok(
        s,
        s.post(
            "/nodes/testnode/vzdump",
            &[
                ("vmid", vmid.to_string().as_str()),
                ("mode", mode),
                ("storage", "local"),
                ("compress", "0"),
            ],
        )
        .await,
    )
    .await;
    let log = task_log(s, t["upid"].as_str().unwrap()).await;
    let line = log
        .lines()
        .find(|l| l.contains("creating vzdump archive '"))
        .unwrap_or_else(|| panic!("no archive in log:\n{log}"));
    let path = PathBuf::from(line.split('\'').nth(1).unwrap());
    let name = path.file_name().unwrap().to_str().unwrap();
    (format!("local:backup/{name}"), log)
}

async fn config(s: &Session, vmid: u32) -> Value {
    s.get(&format!("/nodes/testnode/lxc/{vmid}/config"), &[])
        .await
        .data()
        .clone()
}

/// The host directory of a `local:VMID/subvol-...` volume in a mount point value.
fn subvol_dir(d: &Daemon, value: &str) -> PathBuf {
    let volid = value.split(',').next().unwrap();
    let (vmid, name) = volid
        .strip_prefix("local:")
        .unwrap()
        .split_once('/')
        .unwrap();
    assert!(name.ends_with(".subvol"), "{value}");
    d.data_dir.join(format!("local/images/{vmid}/{name}"))
}

/// Every entry below `root`: type, content digest or link target, host uid:gid, mode, links.
fn describe(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        let what = if m.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
            "dir".to_string()
        } else if m.file_type().is_symlink() {
            format!("-> {}", std::fs::read_link(&p).unwrap().display())
        } else if m.is_file() {
            format!("{:x}", Sha256::digest(std::fs::read(&p).unwrap()))
        } else {
            format!("special {}", m.rdev())
        };
        out.insert(
            p.strip_prefix(root).unwrap().to_path_buf(),
            format!(
                "{what} {}:{} {:o} n{}",
                m.uid(),
                m.gid(),
                m.mode(),
                m.nlink()
            ),
        );
    }
    out
}

/// Volumes of `vmid` left on `local`.
fn leftover_volumes(d: &Daemon, vmid: u32) -> Vec<String> {
    std::fs::read_dir(d.data_dir.join(format!("local/images/{vmid}")))
        .map(|dir| {
            dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

const FILES: &str = "mkdir -p /data/d /data/empty && echo precious > /data/d/file \
    && chown 1000:1001 /data/d/file && chmod 640 /data/d/file && ln -s d/file /data/link \
    && ln /data/d/file /data/hard && mknod /data/fifo p && echo root-data > /root/note && sync";

const CHECK: &str =
    "cat /data/d/file; stat -c %u:%g:%h /data/hard; readlink /data/link; cat /root/note";

#[tokio::test]
async fn subvolume_container_backed_up_and_restored_as_trees() {
    if !can_run_containers() {
        return;
    }
    let d = Daemon::start();
    let lxc_path = d.data_dir.join("run/lxc");
    let _cleanup = StopContainers {
        lxc_path: lxc_path.clone(),
        vmids: vec![9781, 9782, 9783],
    };
    let s = Session::admin(&d).await;
    install_template(&d);
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9781"),
                ("ostemplate", &format!("local:vztmpl/{TEMPLATE}")),
                ("hostname", "tree-ct"),
                ("memory", "64"),
                ("unprivileged", "1"),
                ("rootfs", "local:0"),
                ("mp0", "local:0,mp=/data,backup=1"),
                ("start", "1"),
            ],
        )
        .await,
    )
    .await;
    attach(&lxc_path, 9781, FILES);
    let conf = config(&s, 9781).await;
    let (root_dir, data_dir) = (
        subvol_dir(&d, conf["rootfs"].as_str().unwrap()),
        subvol_dir(&d, conf["mp0"].as_str().unwrap()),
    );
    // Unprivileged: the container's root and user 1000 are 100000 and 101000 on the host.
    let file = std::fs::metadata(data_dir.join("d/file")).unwrap();
    assert_eq!((file.uid(), file.gid()), (101_000, 101_001));
    assert_eq!(std::fs::metadata(&root_dir).unwrap().uid(), 100_000);

    // Snapshot mode: dir storage has no subvolume snapshots, so suspend.
    let (snap_volid, log) = backup(&s, 9781, "snapshot").await;
    assert!(log.contains("trying 'suspend' mode instead"), "{log}");
    assert!(log.contains("rootfs: directory tree"), "{log}");
    assert!(log.contains("mp0: directory tree"), "{log}");
    assert_eq!(attach(&lxc_path, 9781, "echo alive"), "alive");
    let (suspend_volid, log) = backup(&s, 9781, "suspend").await;
    assert!(log.contains("backup mode: suspend"), "{log}");
    let (stop_volid, log) = backup(&s, 9781, "stop").await;
    assert!(log.contains("stopping virtual guest"), "{log}");
    let before = describe(&data_dir);
    assert!(before[Path::new("d/file")].ends_with(" 101000:101001 100640 n2"));

    // Each archive restores to the same tree, and the restored container runs on it.
    for (vmid, volid) in [(9782, &stop_volid), (9783, &suspend_volid)] {
        task_ok(
            &s,
            s.post(
                "/nodes/testnode/lxc",
                &[
                    ("vmid", vmid.to_string().as_str()),
                    ("ostemplate", volid.as_str()),
                    ("restore", "1"),
                    ("storage", "local"),
                ],
            )
            .await,
        )
        .await;
        let conf = config(&s, vmid).await;
        let data = subvol_dir(&d, conf["mp0"].as_str().unwrap());
        assert!(data.starts_with(d.data_dir.join(format!("local/images/{vmid}"))));
        assert_eq!(describe(&data), before, "{volid}");
        let root = subvol_dir(&d, conf["rootfs"].as_str().unwrap());
        assert_eq!(std::fs::metadata(&root).unwrap().uid(), 100_000);
        task_ok(
            &s,
            s.post(&format!("/nodes/testnode/lxc/{vmid}/status/start"), &[])
                .await,
        )
        .await;
        assert_eq!(
            attach(&lxc_path, vmid, CHECK),
            "precious\n1000:1001:2\nd/file\nroot-data"
        );
    }

    // The snapshot-mode archive verifies; a copy with a flipped byte in the tree does not,
    // and restoring it fails with nothing left behind.
    let dump = d.data_dir.join("local/dump");
    let name = snap_volid.strip_prefix("local:backup/").unwrap();
    let mut bytes = std::fs::read(dump.join(name)).unwrap();
    let at = bytes
        .windows(9)
        .position(|w| w == b"precious\n")
        .expect("uncompressed archive holds the file");
    bytes[at] ^= 0x01;
    let bad = "vzdump-lxc-9781-2020_01_01-00_00_00.oxar";
    std::fs::write(dump.join(bad), &bytes).unwrap();
    let verify = |volid: String| {
        let s = &s;
        async move {
            let enc = volid.replace(':', "%3A").replace('/', "%2F");
            let r = s
                .post(
                    &format!("/nodes/testnode/storage/local/content/{enc}/verify"),
                    &[],
                )
                .await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            let upid = r.data().as_str().unwrap().to_string();
            (wait_task(s, &upid).await, task_log(s, &upid).await)
        }
    };
    let (ok, log) = verify(snap_volid.clone()).await;
    assert_eq!(ok["exitstatus"], "OK", "{log}");
    assert!(log.contains("directory tree"), "{log}");
    let (failed, log) = verify(format!("local:backup/{bad}")).await;
    assert_ne!(failed["exitstatus"], "OK");
    assert!(log.contains("checksum mismatch in mp0"), "{log}");
    let r = s
        .post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9784"),
                ("ostemplate", &format!("local:backup/{bad}")),
                ("restore", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let upid = r.data().as_str().unwrap().to_string();
    assert_ne!(wait_task(&s, &upid).await["exitstatus"], "OK");
    let log = task_log(&s, &upid).await;
    assert!(log.contains("checksum mismatch"), "{log}");
    assert!(log.contains("removed volume"), "{log}");
    assert!(leftover_volumes(&d, 9784).is_empty(), "{log}");
    let r = s.get("/nodes/testnode/lxc/9784/config", &[]).await;
    assert_ne!(r.status, 200, "no container is left: {:?}", r.body);
}

/// On btrfs, snapshot mode snapshots the subvolumes (no fallback), and the restore onto the
/// same storage makes subvolumes again.
#[tokio::test]
async fn snapshot_mode_snapshots_btrfs_subvolumes() {
    let Some(mut fs) = common::btrfs::make_btrfs(&[9791, 9792], true) else {
        return;
    };
    let (d, s) = common::btrfs::daemon_with_btrfs_storage(&mut fs).await;
    let lxc_path = d.data_dir.join("run/lxc");
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9791"),
                ("ostemplate", &format!("local:vztmpl/{TEMPLATE}")),
                ("rootfs", "bt:0"),
                ("unprivileged", "1"),
                ("memory", "64"),
                ("start", "1"),
            ],
        )
        .await,
    )
    .await;
    let conf = config(&s, 9791).await;
    assert!(
        conf["rootfs"].as_str().unwrap().contains("subvol"),
        "{conf}"
    );
    attach(
        &lxc_path,
        9791,
        "echo at-backup > /root/state && chown 1000:1000 /root/state && sync",
    );
    let t = task_ok(
        &s,
        s.post(
            "/nodes/testnode/vzdump",
            &[("vmid", "9791"), ("mode", "snapshot"), ("compress", "zstd")],
        )
        .await,
    )
    .await;
    let upid = t["upid"].as_str().unwrap();
    let log = task_log(&s, upid).await;
    assert!(log.contains("backup mode: snapshot"), "{log}");
    assert!(log.contains("create storage snapshot 'vzdump'"), "{log}");
    assert!(log.contains("rootfs: directory tree"), "{log}");
    let leftovers = std::process::Command::new("btrfs")
        .args(["subvolume", "list"])
        .arg(fs.mountpoint())
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&leftovers.stdout).contains("vzdump"),
        "{}",
        String::from_utf8_lossy(&leftovers.stdout)
    );
    let line = log
        .lines()
        .find(|l| l.contains("creating vzdump archive '"))
        .unwrap();
    let path = PathBuf::from(line.split('\'').nth(1).unwrap());
    let volid = format!(
        "local:backup/{}",
        path.file_name().unwrap().to_str().unwrap()
    );
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9792"),
                ("ostemplate", &volid),
                ("restore", "1"),
                ("storage", "bt"),
            ],
        )
        .await,
    )
    .await;
    let conf = config(&s, 9792).await;
    assert!(
        conf["rootfs"]
            .as_str()
            .unwrap()
            .starts_with("bt:9792/subvol-9792-disk-"),
        "{conf}"
    );
    task_ok(
        &s,
        s.post("/nodes/testnode/lxc/9792/status/start", &[]).await,
    )
    .await;
    assert_eq!(
        attach(&lxc_path, 9792, "cat /root/state; stat -c %u /root/state"),
        "at-backup\n1000"
    );
}

/// A directory volume whose config gives a size cannot be a subvolume on dir storage (no
/// size limits there): as pve-container does, it is restored into an ext4 image of that size.
#[tokio::test]
async fn a_sized_tree_restores_into_an_ext4_image_on_dir() {
    if !can_run_containers() {
        return;
    }
    let d = Daemon::start();
    let lxc_path = d.data_dir.join("run/lxc");
    let _cleanup = StopContainers {
        lxc_path: lxc_path.clone(),
        vmids: vec![9795, 9796],
    };
    let s = Session::admin(&d).await;
    install_template(&d);
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9795"),
                ("ostemplate", &format!("local:vztmpl/{TEMPLATE}")),
                ("memory", "64"),
                ("unprivileged", "1"),
                ("rootfs", "local:0"),
            ],
        )
        .await,
    )
    .await;
    let conf = config(&s, 9795).await;
    let root = subvol_dir(&d, conf["rootfs"].as_str().unwrap());
    std::fs::write(root.join("root/sized"), b"in an image\n").unwrap();
    std::os::unix::fs::lchown(root.join("root/sized"), Some(101_000), Some(101_000)).unwrap();
    let (volid, _) = backup(&s, 9795, "stop").await;
    // The same backup, its config giving the rootfs a size.
    let dump = d.data_dir.join("local/dump");
    let name = volid.strip_prefix("local:backup/").unwrap();
    let text = {
        let mut r = oxve_archive::ArchiveReader::new(std::fs::File::open(dump.join(name)).unwrap())
            .unwrap();
        String::from_utf8(r.configs().unwrap()["pct.conf"].clone()).unwrap()
    };
    let sized: String = text
        .lines()
        .map(|l| {
            if l.starts_with("rootfs: ") {
                format!("{l},size=256M\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let crafted = "vzdump-lxc-9795-2020_01_02-00_00_00.oxar";
    let mut w = oxve_archive::ArchiveWriter::new(
        std::fs::File::create(dump.join(crafted)).unwrap(),
        oxve_archive::Compression::None,
        "lxc",
        9795,
        1_577_923_200,
    )
    .unwrap();
    w.add_config("pct.conf", sized.as_bytes()).unwrap();
    w.add_tree("rootfs", &root, &|_| false, &mut |_| {})
        .unwrap();
    w.finish().unwrap();
    let t = task_ok(
        &s,
        s.post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9796"),
                ("ostemplate", &format!("local:backup/{crafted}")),
                ("restore", "1"),
            ],
        )
        .await,
    )
    .await;
    let log = task_log(&s, t["upid"].as_str().unwrap()).await;
    assert!(log.contains("using an ext4 image"), "{log}");
    let conf = config(&s, 9796).await;
    let rootfs = conf["rootfs"].as_str().unwrap();
    assert!(
        rootfs.starts_with("local:9796/vm-9796-disk-0.raw") && rootfs.contains("size=256M"),
        "{conf}"
    );
    let image = d.data_dir.join("local/images/9796/vm-9796-disk-0.raw");
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 256 << 20);
    task_ok(
        &s,
        s.post("/nodes/testnode/lxc/9796/status/start", &[]).await,
    )
    .await;
    assert_eq!(
        attach(&lxc_path, 9796, "cat /root/sized; stat -c %u /root/sized"),
        "in an image\n1000"
    );
}
