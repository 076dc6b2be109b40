//! Where a container's run files live: `<run_dir>/lxc/<vmid>/` holds the generated LXC config,
//! the LXC log and the init's pidfile; `<run_dir>/lxc` is the `lxc-* -P` path.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct LxcPaths {
    lxc_path: PathBuf,
}

impl LxcPaths {
    pub fn new(run_dir: &Path) -> Self {
        LxcPaths {
            lxc_path: run_dir.join("lxc"),
        }
    }

    /// The LXC path (`lxc-start -P`).
    pub fn lxc_path(&self) -> &Path {
        &self.lxc_path
    }

    pub fn dir(&self, vmid: u32) -> PathBuf {
        self.lxc_path.join(vmid.to_string())
    }

    /// The generated LXC config.
    pub fn config(&self, vmid: u32) -> PathBuf {
        self.dir(vmid).join("config")
    }

    pub fn log(&self, vmid: u32) -> PathBuf {
        self.dir(vmid).join("lxc.log")
    }

    /// The container init's host pid, written by `lxc-start -p`.
    pub fn pidfile(&self, vmid: u32) -> PathBuf {
        self.dir(vmid).join("pid")
    }

    /// Where an image mount point is mounted on the host while the container starts.
    pub fn mount_point(&self, vmid: u32, key: &str) -> PathBuf {
        self.dir(vmid).join("mnt").join(key)
    }

    /// What the last pre-start setup wrote (see `setup::stamp`).
    pub fn setup_stamp(&self, vmid: u32) -> PathBuf {
        self.dir(vmid).join("setup-stamp")
    }

    /// Where the rootfs is mounted for setup work on a stopped container.
    pub fn setup_mount(&self, vmid: u32) -> PathBuf {
        self.dir(vmid).join("setup")
    }
}
