//! Helpers for the integration tests: storage environments (a dir storage in a temp dir, a
//! btrfs storage on a loop-mounted file system the test creates and removes), and checks of
//! real image files with `qemu-img` and `stat`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use oxve_storage::command::{CommandRunner, SystemRunner};
use oxve_storage::{PluginContext, PluginRegistry, StorageConfig, StorageEntry, StorageManager};

/// Whether the test may skip when the machine lacks something: not in CI.
pub fn may_skip() -> bool {
    std::env::var_os("CI").is_none()
}

/// Skip (print why) outside CI, fail in CI, where the prerequisites are installed.
pub fn skip_or_fail(what: &str, reason: &str) {
    if may_skip() {
        eprintln!("SKIPPED {what}: {reason}");
    } else {
        panic!("{what} cannot run in CI: {reason}");
    }
}

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Whether we run as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Run a command, panicking with its output on failure.
pub fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `qemu-img info --output=json` of a file, as JSON.
pub fn qemu_img_info(path: &Path) -> serde_json::Value {
    let out = sh(
        "qemu-img",
        &["info", "--output=json", path.to_str().unwrap()],
    );
    serde_json::from_str(&out).unwrap()
}

/// Bytes allocated to a file (`stat` blocks × 512).
pub fn allocated(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().blocks() * 512
}

/// A btrfs file system on a loop-mounted sparse file, unmounted and deleted on drop.
pub struct BtrfsLoop {
    pub mountpoint: PathBuf,
    _dir: tempfile::TempDir,
}

impl BtrfsLoop {
    /// Create and mount a btrfs of `size` bytes; `Err(reason)` when this machine cannot.
    pub fn create(size: u64) -> Result<Self, String> {
        if !is_root() {
            return Err("needs root to mount a loop device".into());
        }
        if !have("mkfs.btrfs") || !have("btrfs") {
            return Err("btrfs-progs (mkfs.btrfs, btrfs) not installed".into());
        }
        let fs = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
        if !fs.lines().any(|l| l.trim_end().ends_with("btrfs")) {
            return Err("the kernel has no btrfs support".into());
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let img = dir.path().join("btrfs.img");
        let file = std::fs::File::create(&img).map_err(|e| e.to_string())?;
        file.set_len(size).map_err(|e| e.to_string())?;
        drop(file);
        let mkfs = Command::new("mkfs.btrfs")
            .args(["-q", "-f"])
            .arg(&img)
            .output()
            .map_err(|e| e.to_string())?;
        if !mkfs.status.success() {
            return Err(format!(
                "mkfs.btrfs failed: {}",
                String::from_utf8_lossy(&mkfs.stderr)
            ));
        }
        let mountpoint = dir.path().join("mnt");
        std::fs::create_dir(&mountpoint).map_err(|e| e.to_string())?;
        let mount = Command::new("mount")
            .args(["-o", "loop"])
            .arg(&img)
            .arg(&mountpoint)
            .output()
            .map_err(|e| e.to_string())?;
        if !mount.status.success() {
            return Err(format!(
                "mount -o loop failed: {}",
                String::from_utf8_lossy(&mount.stderr)
            ));
        }
        Ok(BtrfsLoop {
            mountpoint,
            _dir: dir,
        })
    }
}

impl Drop for BtrfsLoop {
    fn drop(&mut self) {
        for _ in 0..10 {
            let ok = Command::new("umount")
                .arg(&self.mountpoint)
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.mountpoint)
            .status();
    }
}

/// A storage manager with `local`, the storage under test (`store`) and a second dir
/// storage (`other`) for copies.
pub struct Env {
    pub manager: StorageManager,
    pub storage: String,
    pub root: PathBuf,
    pub tmp: tempfile::TempDir,
    pub btrfs: Option<BtrfsLoop>,
}

impl Env {
    fn build(
        tmp: tempfile::TempDir,
        entry: StorageEntry,
        btrfs: Option<BtrfsLoop>,
        runner: Arc<dyn CommandRunner>,
    ) -> Self {
        let data = tmp.path().join("data");
        let other = tmp.path().join("other");
        let mut cfg = StorageConfig::parse_with_local("", &data).unwrap();
        let root = entry.path().unwrap();
        cfg.add(entry).unwrap();
        cfg.add(
            StorageEntry::create(
                "other",
                "dir",
                &[("path", other.to_str().unwrap()), ("content", "images,iso")],
            )
            .unwrap(),
        )
        .unwrap();
        let ctx = PluginContext::system(&data).with_runner(runner);
        let manager = StorageManager::new(cfg, PluginRegistry::with_builtin(), ctx);
        for s in ["local", "store", "other"] {
            manager.activate(s).unwrap();
        }
        Env {
            manager,
            storage: "store".into(),
            root,
            tmp,
            btrfs,
        }
    }

    /// A dir storage in a temp dir.
    pub fn dir() -> Self {
        Self::dir_with_runner(Arc::new(SystemRunner))
    }

    /// A dir storage whose tools run through `runner`.
    pub fn dir_with_runner(runner: Arc<dyn CommandRunner>) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("store");
        let entry = StorageEntry::create(
            "store",
            "dir",
            &[
                ("path", path.to_str().unwrap()),
                ("content", "images,rootdir,iso,vztmpl,backup,snippets"),
            ],
        )
        .unwrap();
        Self::build(tmp, entry, None, runner)
    }

    /// A btrfs storage on a fresh loop file system; `None` (after saying why) when this
    /// machine cannot mount one.
    pub fn btrfs() -> Option<Self> {
        let fs = match BtrfsLoop::create(1 << 30) {
            Ok(fs) => fs,
            Err(reason) => {
                skip_or_fail("btrfs storage suite", &reason);
                return None;
            }
        };
        let tmp = tempfile::tempdir().unwrap();
        let entry = StorageEntry::create(
            "store",
            "btrfs",
            &[
                ("path", fs.mountpoint.to_str().unwrap()),
                ("content", "images,rootdir,iso,vztmpl,backup,snippets"),
            ],
        )
        .unwrap();
        Some(Self::build(tmp, entry, Some(fs), Arc::new(SystemRunner)))
    }
}
