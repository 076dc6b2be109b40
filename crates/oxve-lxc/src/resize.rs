//! Growing a container volume's file system after its storage volume grew: `resize2fs` on
//! the image (offline, after `e2fsck`), or online on the loop device LXC attached (after
//! `losetup -c` told the kernel the file grew). Directory volumes have no file system to grow.
//!
//! The container's mount lives in its own mount namespace, where resize2fs cannot see it; a
//! second mount of the same loop device on the host shares the file system, so resize2fs
//! finds it mounted there and resizes online.

use std::path::Path;

use crate::cmd::run_async;
use crate::error::Result;
use crate::lxcconf::VolumePath;
use crate::mount::HostMount;

/// The loop devices backing `file` (`losetup -j`).
async fn loop_devices(file: &str) -> Result<Vec<String>> {
    let out = run_async("losetup", &["-n", "-O", "NAME", "-j", file]).await?;
    Ok(out
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect())
}

/// Grow the ext4 on `volume` to fill it, using `work_dir` for a temporary host mount.
/// Returns a note of what was done.
pub async fn grow_filesystem(volume: &VolumePath, work_dir: &Path) -> Result<String> {
    match volume {
        VolumePath::Dir(p) => Ok(format!("{} is a directory: nothing to grow", p.display())),
        VolumePath::Block(p) => {
            let dev = p.to_string_lossy();
            run_async("resize2fs", &[&dev]).await?;
            Ok(format!("resized the file system on {dev}"))
        }
        VolumePath::Image(p) => {
            let file = p.to_string_lossy();
            let loops = loop_devices(&file).await?;
            match loops.first() {
                // in use by a running container: online resize through its loop device
                Some(dev) => {
                    run_async("losetup", &["-c", dev]).await?;
                    let (device, dir) = (VolumePath::Block(dev.into()), work_dir.to_path_buf());
                    let mount =
                        tokio::task::spawn_blocking(move || HostMount::mount(&device, &dir))
                            .await
                            .map_err(|e| crate::error::LxcError::Tool {
                                tool: "mount".into(),
                                message: e.to_string(),
                            })??;
                    let resized = run_async("resize2fs", &[dev]).await;
                    let unmounted = tokio::task::spawn_blocking(move || mount.unmount()).await;
                    resized?;
                    if let Ok(Err(e)) = unmounted {
                        tracing::warn!("unmounting after the resize: {e}");
                    }
                    Ok(format!("resized the file system online on {dev}"))
                }
                None => {
                    // -p repairs what is safe; exit codes 1/2 mean "fixed", so only the
                    // resize2fs result decides
                    let _ = run_async("e2fsck", &["-f", "-p", &file]).await;
                    run_async("resize2fs", &[&file]).await?;
                    Ok(format!("resized the file system in {file}"))
                }
            }
        }
    }
}
