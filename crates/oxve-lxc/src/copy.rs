//! A full copy of a container volume at the file level, as Proxmox's `pct clone`/`move_volume`
//! do it: both volumes are mounted on the host and the files copied with their owners,
//! modes, links, ACLs and extended attributes. This is how a directory volume (a subvolume)
//! becomes an ext4 image or another subvolume.

use std::path::Path;

use crate::cmd::run;
use crate::error::Result;
use crate::lxcconf::VolumePath;
use crate::mount::HostMount;

/// Copy every file of `src` into `dst` (which holds a file system already), mounting image
/// volumes below `work_dir` meanwhile; the mounts are undone however it ends.
pub fn copy_volume_files(src: &VolumePath, dst: &VolumePath, work_dir: &Path) -> Result<()> {
    let from = HostMount::mount(src, &work_dir.join("src"))?;
    let to = HostMount::mount(dst, &work_dir.join("dst"))?;
    // `-T`: the source directory's content (and its owner) goes into the target directory.
    run(
        "cp",
        &[
            "-a",
            "-T",
            &from.path().to_string_lossy(),
            &to.path().to_string_lossy(),
        ],
    )?;
    to.unmount()?;
    from.unmount()?;
    let _ = std::fs::remove_dir(work_dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{lchown, MetadataExt};

    #[test]
    fn copies_directory_volumes_keeping_owners_and_links() {
        if !nix::unistd::Uid::effective().is_root() {
            return; // chown needs root
        }
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(src.join("etc")).unwrap();
        std::fs::create_dir(&dst).unwrap();
        std::fs::write(src.join("etc/hostname"), "ct\n").unwrap();
        std::os::unix::fs::symlink("hostname", src.join("etc/link")).unwrap();
        lchown(&src, Some(100_000), Some(100_000)).unwrap();
        lchown(src.join("etc/hostname"), Some(100_033), Some(100_044)).unwrap();
        copy_volume_files(
            &VolumePath::Dir(src),
            &VolumePath::Dir(dst.clone()),
            &dir.path().join("work"),
        )
        .unwrap();
        let m = std::fs::metadata(dst.join("etc/hostname")).unwrap();
        assert_eq!((m.uid(), m.gid()), (100_033, 100_044));
        assert_eq!(std::fs::metadata(&dst).unwrap().uid(), 100_000);
        assert_eq!(
            std::fs::read_link(dst.join("etc/link")).unwrap(),
            Path::new("hostname")
        );
    }
}
