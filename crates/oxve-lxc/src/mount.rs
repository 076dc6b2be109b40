//! Mounting a container volume on the host for setup work (create, pre-start), undone when
//! the guard drops so a failure never leaves a mount or a loop device behind.

use std::path::{Path, PathBuf};

use crate::cmd::run;
use crate::error::{io, Result};
use crate::lxcconf::VolumePath;

/// A volume mounted at a host directory; unmounted on drop. Loop devices come from
/// `mount -o loop`, which sets them to auto-clear on unmount.
pub struct HostMount {
    dir: PathBuf,
    mounted: bool,
}

impl HostMount {
    /// Mount `volume` at `dir` (created if missing). A directory volume is used in place.
    pub fn mount(volume: &VolumePath, dir: &Path) -> Result<HostMount> {
        Self::mount_with(volume, dir, false)
    }

    /// [`mount`](Self::mount), read-only (a backup reading a stopped container's files).
    pub fn mount_read_only(volume: &VolumePath, dir: &Path) -> Result<HostMount> {
        Self::mount_with(volume, dir, true)
    }

    fn mount_with(volume: &VolumePath, dir: &Path, read_only: bool) -> Result<HostMount> {
        match volume {
            VolumePath::Dir(p) => Ok(HostMount {
                dir: p.clone(),
                mounted: false,
            }),
            VolumePath::Image(p) | VolumePath::Block(p) => {
                std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
                let mut options = vec![];
                if matches!(volume, VolumePath::Image(_)) {
                    options.push("loop");
                }
                if read_only {
                    options.push("ro");
                }
                let options = options.join(",");
                let mut args = vec![];
                if !options.is_empty() {
                    args.extend(["-o", options.as_str()]);
                }
                let (src, dst) = (p.to_string_lossy(), dir.to_string_lossy());
                args.extend([src.as_ref(), "-t", "ext4", dst.as_ref()]);
                run("mount", &args)?;
                Ok(HostMount {
                    dir: dir.to_path_buf(),
                    mounted: true,
                })
            }
        }
    }

    /// Stop mount events from propagating between this mount and its copies (a container's
    /// bind of it survives the host-side unmount).
    pub fn make_private(&self) -> Result<()> {
        if self.mounted {
            run("mount", &["--make-private", &self.dir.to_string_lossy()])?;
        }
        Ok(())
    }

    /// Where the volume's files are.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Unmount now, reporting failure (drop only logs it).
    pub fn unmount(mut self) -> Result<()> {
        if !std::mem::replace(&mut self.mounted, false) {
            return Ok(());
        }
        run("umount", &[&self.dir.to_string_lossy()])?;
        let _ = std::fs::remove_dir(&self.dir);
        Ok(())
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        if self.mounted {
            let dir = self.dir.to_string_lossy().into_owned();
            if let Err(e) = run("umount", &[&dir]) {
                tracing::warn!("unmounting {dir}: {e}; detaching lazily");
                let _ = run("umount", &["-l", &dir]);
            }
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}
