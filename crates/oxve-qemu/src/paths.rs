//! Where a VM's run files live: everything under `<run_dir>/qemu/`, never a fixed `/run` path,
//! so several engines (tests, nodes) can run side by side.
//!
//! | file | what |
//! |---|---|
//! | `<vmid>.pid` | QEMU's pidfile |
//! | `<vmid>.qmp` | QMP socket |
//! | `<vmid>.vnc` | VNC socket (for the websocket proxy) |
//! | `<vmid>.serialN` | `serialN: socket` console |
//! | `<vmid>.qga` | guest agent channel (`agent: 1`) |
//! | `<vmid>.efivars.fd` | EFI vars of an OVMF VM without `efidisk0` (lost when it stops) |

use std::path::{Path, PathBuf};

use crate::error::{QemuError, Result};

/// Longest path a unix socket address takes (`sun_path` is 108 bytes with its NUL).
pub const MAX_SOCKET_PATH: usize = 107;

/// The run files of all VMs of one engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPaths {
    dir: PathBuf,
}

impl RunPaths {
    /// Paths under `run_dir` (files go to `run_dir/qemu/`).
    pub fn new(run_dir: impl AsRef<Path>) -> Self {
        RunPaths {
            dir: run_dir.as_ref().join("qemu"),
        }
    }

    /// The directory holding the run files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self, vmid: u32, suffix: &str) -> PathBuf {
        self.dir.join(format!("{vmid}.{suffix}"))
    }

    /// QEMU's pidfile.
    pub fn pidfile(&self, vmid: u32) -> PathBuf {
        self.file(vmid, "pid")
    }

    /// The QMP socket.
    pub fn qmp(&self, vmid: u32) -> PathBuf {
        self.file(vmid, "qmp")
    }

    /// The VNC socket.
    pub fn vnc(&self, vmid: u32) -> PathBuf {
        self.file(vmid, "vnc")
    }

    /// The socket of `serial<index>` (when configured as `socket`).
    pub fn serial(&self, vmid: u32, index: u32) -> PathBuf {
        self.file(vmid, &format!("serial{index}"))
    }

    /// The guest agent socket.
    pub fn qga(&self, vmid: u32) -> PathBuf {
        self.file(vmid, "qga")
    }

    /// The EFI vars copy of an OVMF VM without `efidisk0`.
    pub fn efivars(&self, vmid: u32) -> PathBuf {
        self.file(vmid, "efivars.fd")
    }

    /// Every run file a VM may have, for cleaning up after it.
    pub fn all_files(&self, vmid: u32) -> Vec<PathBuf> {
        let mut files = vec![
            self.pidfile(vmid),
            self.qmp(vmid),
            self.vnc(vmid),
            self.qga(vmid),
            self.efivars(vmid),
        ];
        files.extend((0..4).map(|i| self.serial(vmid, i)));
        files
    }

    /// Fails when the socket paths of `vmid` would not fit a unix socket address.
    pub fn check_socket_paths(&self, vmid: u32) -> Result<()> {
        for path in [self.qmp(vmid), self.serial(vmid, 3), self.vnc(vmid)] {
            let len = path.as_os_str().len();
            if len > MAX_SOCKET_PATH {
                return Err(QemuError::SocketPathTooLong {
                    path,
                    len,
                    max: MAX_SOCKET_PATH,
                });
            }
        }
        Ok(())
    }

    /// Removes every run file of `vmid` (missing files are fine).
    pub fn remove_all(&self, vmid: u32) -> Result<()> {
        for path in self.all_files(vmid) {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(QemuError::io(format!("remove {}", path.display()), e)),
            }
        }
        Ok(())
    }

    /// The run files of `vmid` that exist.
    pub fn existing_files(&self, vmid: u32) -> Vec<PathBuf> {
        self.all_files(vmid)
            .into_iter()
            .filter(|p| p.symlink_metadata().is_ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let p = RunPaths::new("/run/oxve");
        assert_eq!(p.qmp(100), Path::new("/run/oxve/qemu/100.qmp"));
        assert_eq!(p.pidfile(100), Path::new("/run/oxve/qemu/100.pid"));
        assert_eq!(p.vnc(100), Path::new("/run/oxve/qemu/100.vnc"));
        assert_eq!(p.serial(100, 0), Path::new("/run/oxve/qemu/100.serial0"));
        assert_eq!(p.qga(7), Path::new("/run/oxve/qemu/7.qga"));
        assert!(p.all_files(100).contains(&p.serial(100, 3)));
        assert!(p.check_socket_paths(999_999_999).is_ok());
        let long = RunPaths::new(format!("/{}", "x".repeat(100)));
        assert!(matches!(
            long.check_socket_paths(100),
            Err(QemuError::SocketPathTooLong { .. })
        ));
    }
}
