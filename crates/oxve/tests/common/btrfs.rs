//! A btrfs on a loop file in a temp dir, for tests of btrfs storage (as root). Containers
//! named in `vmids` are stopped and the file system unmounted on drop: declare it before
//! the daemon, so the daemon (and its QEMUs) go first.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Btrfs {
    dir: tempfile::TempDir,
    /// The LXC path of the daemon, once known.
    pub lxc_path: Option<PathBuf>,
    pub vmids: Vec<u32>,
}

impl Btrfs {
    pub fn mountpoint(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }
}

impl Drop for Btrfs {
    fn drop(&mut self) {
        if let Some(p) = &self.lxc_path {
            for vmid in &self.vmids {
                let _ = Command::new("lxc-stop")
                    .args(["-n", &vmid.to_string(), "-k", "-P"])
                    .arg(p)
                    .output();
            }
        }
        let _ = Command::new("umount").arg(self.mountpoint()).output();
    }
}

/// A 1 GiB btrfs, or `None` (with a note) where root, btrfs-progs or kernel btrfs are missing;
/// `lxc`: LXC is needed too.
pub fn make_btrfs(vmids: &[u32], lxc: bool) -> Option<Btrfs> {
    let fs = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !nix::unistd::Uid::effective().is_root()
        || (lxc && !Path::new("/usr/bin/lxc-start").exists())
        || !fs.contains("btrfs")
        || Command::new("mkfs.btrfs")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!("skipped: needs root, btrfs-progs and kernel btrfs (and lxc for containers)");
        return None;
    }
    let b = Btrfs {
        dir: tempfile::tempdir().unwrap(),
        lxc_path: None,
        vmids: vmids.to_vec(),
    };
    let img = b.dir.path().join("btrfs.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    assert!(Command::new("mkfs.btrfs")
        .args(["-q", "-f"])
        .arg(&img)
        .status()
        .unwrap()
        .success());
    std::fs::create_dir(b.mountpoint()).unwrap();
    assert!(Command::new("mount")
        .args(["-o", "loop"])
        .arg(&img)
        .arg(b.mountpoint())
        .status()
        .unwrap()
        .success());
    Some(b)
}

/// A daemon with the container template installed and this btrfs as storage `bt`.
pub async fn daemon_with_btrfs_storage(fs: &mut Btrfs) -> (super::Daemon, super::Session) {
    let d = super::Daemon::start();
    fs.lxc_path = Some(d.data_dir.join("run/lxc"));
    let s = super::Session::admin(&d).await;
    super::ct::install_template(&d);
    let mp = fs.mountpoint();
    let r = s
        .post(
            "/storage",
            &[
                ("storage", "bt"),
                ("type", "btrfs"),
                ("path", mp.to_str().unwrap()),
                ("content", "rootdir,images"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    (d, s)
}
