//! LVM, LVM-thin, ZFS and NFS backends against their real tools, where this machine's
//! kernel supports them. Where it does not, each test prints plainly why it cannot run (and
//! passes): this build machine has no device-mapper, no ZFS and no kernel NFS client. The
//! command lines themselves are checked by the plugins' unit tests.
//!
//! NFS needs a server: set `OXVE_TEST_NFS=<server>:<export>` to run against one.

mod common;

use std::path::Path;
use std::process::Command;

use common::{have, is_root, sh};
use oxve_storage::plugin::{AllocRequest, VolumeFilter};
use oxve_storage::{PluginContext, PluginRegistry, StorageEntry, StoragePlugin, VolumeFormat};

fn cannot(what: &str, reason: &str) {
    eprintln!("NOT RUN: {what} integration test cannot run on this machine: {reason}");
}

fn kernel_fs(name: &str) -> bool {
    std::fs::read_to_string("/proc/filesystems")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().last() == Some(name))
}

fn device_mapper() -> Result<(), String> {
    if !is_root() {
        return Err("needs root".into());
    }
    if !have("lvcreate") || !have("pvcreate") {
        return Err("LVM tools (lvm2) are not installed".into());
    }
    if !Path::new("/dev/mapper/control").exists() {
        return Err("the kernel has no device-mapper (/dev/mapper/control is missing)".into());
    }
    let ok = Command::new("dmsetup")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        return Err("device-mapper does not answer ('dmsetup version' fails)".into());
    }
    Ok(())
}

/// A loop device over a sparse file, detached on drop.
struct LoopDev {
    dev: String,
    _dir: tempfile::TempDir,
}

impl LoopDev {
    fn new(size: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("disk.img");
        std::fs::File::create(&img).unwrap().set_len(size).unwrap();
        let dev = sh("losetup", &["--find", "--show", img.to_str().unwrap()])
            .trim()
            .to_string();
        LoopDev { dev, _dir: dir }
    }
}

impl Drop for LoopDev {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
    }
}

fn open(entry: StorageEntry) -> Box<dyn StoragePlugin> {
    let ctx = PluginContext::system(Path::new("/tmp"));
    PluginRegistry::with_builtin().open(&entry, &ctx).unwrap()
}

fn exercise(plugin: &dyn StoragePlugin, vmid: u32, thin: bool) {
    plugin.activate().unwrap();
    let req = AllocRequest {
        vmid,
        name: None,
        format: VolumeFormat::Raw,
        size: 32 << 20,
        preallocation: None,
    };
    let vol = plugin.alloc_image(&req).unwrap();
    assert_eq!(vol, format!("vm-{vmid}-disk-0"));
    plugin.activate_volume(&vol).unwrap();
    assert!(plugin.path(&vol).unwrap().exists());
    let listed = plugin
        .list_volumes(&VolumeFilter {
            vmid: Some(vmid),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(listed.len(), 1);
    plugin.resize(&vol, 64 << 20).unwrap();
    assert_eq!(plugin.volume_info(&vol).unwrap().size, 64 << 20);
    assert!(plugin.resize(&vol, 16 << 20).is_err());
    if thin {
        plugin.snapshot_create(&vol, "s1").unwrap();
        plugin.snapshot_rollback(&vol, "s1").unwrap();
        plugin.snapshot_delete(&vol, "s1").unwrap();
    }
    let status = plugin.status().unwrap();
    assert!(status.active && status.total > 0);
    plugin.free_image(&vol).unwrap();
    assert!(plugin
        .list_volumes(&VolumeFilter {
            vmid: Some(vmid),
            ..Default::default()
        })
        .unwrap()
        .is_empty());
}

#[test]
fn lvm_and_lvmthin_on_a_loop_device() {
    if let Err(reason) = device_mapper() {
        cannot("lvm/lvmthin", &reason);
        return;
    }
    let disk = LoopDev::new(512 << 20);
    let vg = format!("oxvetest{}", std::process::id());
    sh("pvcreate", &["-q", "-y", &disk.dev]);
    sh("vgcreate", &["-q", &vg, &disk.dev]);
    let result = std::panic::catch_unwind(|| {
        exercise(
            open(StorageEntry::create("lvmt", "lvm", &[("vgname", &vg)]).unwrap()).as_ref(),
            900,
            false,
        );
        sh(
            "lvcreate",
            &["-q", "-y", "-L", "200M", "-T", &format!("{vg}/pool")],
        );
        let thin =
            StorageEntry::create("thint", "lvmthin", &[("vgname", &vg), ("thinpool", "pool")])
                .unwrap();
        exercise(open(thin).as_ref(), 901, true);
    });
    let _ = Command::new("vgremove").args(["-f", "-y", &vg]).status();
    let _ = Command::new("pvremove").args(["-y", &disk.dev]).status();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn zfspool_on_a_file_backed_pool() {
    if !is_root() {
        return cannot("zfspool", "needs root");
    }
    if !have("zfs") || !have("zpool") {
        return cannot("zfspool", "ZFS tools (zfsutils-linux) are not installed");
    }
    if !Path::new("/dev/zfs").exists() {
        return cannot(
            "zfspool",
            "the kernel has no ZFS module (/dev/zfs is missing)",
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("pool.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(512 << 20)
        .unwrap();
    let pool = format!("oxvetest{}", std::process::id());
    sh(
        "zpool",
        &["create", "-m", "none", &pool, img.to_str().unwrap()],
    );
    let result = std::panic::catch_unwind(|| {
        let entry =
            StorageEntry::create("zt", "zfspool", &[("pool", &pool), ("sparse", "1")]).unwrap();
        exercise(open(entry).as_ref(), 902, true);
    });
    let _ = Command::new("zpool")
        .args(["destroy", "-f", &pool])
        .status();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn nfs_against_a_server() {
    if !is_root() {
        return cannot("nfs", "needs root");
    }
    if !kernel_fs("nfs") && !kernel_fs("nfs4") {
        return cannot(
            "nfs",
            "the kernel has no NFS client (no 'nfs' in /proc/filesystems)",
        );
    }
    if !have("mount.nfs") {
        return cannot("nfs", "nfs-common (mount.nfs) is not installed");
    }
    let Ok(target) = std::env::var("OXVE_TEST_NFS") else {
        return cannot(
            "nfs",
            "no NFS server given (set OXVE_TEST_NFS=<server>:<export>)",
        );
    };
    let (server, export) = target
        .split_once(':')
        .expect("OXVE_TEST_NFS=<server>:<export>");
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    let entry = StorageEntry::create(
        "nfst",
        "nfs",
        &[
            ("path", mnt.to_str().unwrap()),
            ("server", server),
            ("export", export),
            ("options", "soft"),
        ],
    )
    .unwrap();
    let plugin = open(entry);
    plugin.activate().unwrap();
    let req = AllocRequest {
        vmid: 903,
        name: None,
        format: VolumeFormat::Qcow2,
        size: 32 << 20,
        preallocation: None,
    };
    let vol = plugin.alloc_image(&req).unwrap();
    assert!(plugin.path(&vol).unwrap().exists());
    plugin.free_image(&vol).unwrap();
    plugin.deactivate().unwrap();
}
