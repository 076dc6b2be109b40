//! Restoring a directory tree of an archive (a container's subvolume) into a new volume, as
//! pve-container creates volumes on restore: a subvolume where the storage has them (with the
//! archived size as its limit where the storage can limit one), else a raw image of that
//! size with ext4, mounted while the tree is unpacked into it.

use std::io;
use std::path::Path;

use oxve_archive::{DiskTarget, TreeExtractor};
use oxve_lxc::{HostMount, VolumePath};
use oxve_storage::{AllocOptions, StorageManager, VolumeFormat, VolumeId};

use super::restore::DiskPlacement;

/// A volume allocated for a tree; unpacking into it starts with [`TreeVolume::open`].
pub struct TreeVolume {
    pub volid: VolumeId,
    /// The size for the restored config (0: none, a subvolume without a limit).
    pub size: u64,
    format: VolumeFormat,
    path: std::path::PathBuf,
}

/// The size of an image for a tree whose config gave none: what its files took, with room
/// to spare, in whole GiB (the image is sparse).
fn image_size(used: u64) -> u64 {
    const GIB: u64 = 1 << 30;
    (used.saturating_mul(2) + GIB).div_ceil(GIB) * GIB
}

/// Allocates the volume for a tree whose files took `used` bytes.
pub fn alloc_tree_volume(
    manager: &StorageManager,
    vmid: u32,
    place: &DiskPlacement,
    used: u64,
    log: &dyn Fn(String),
) -> Result<TreeVolume, String> {
    let caps = manager
        .capabilities(&place.storage)
        .map_err(|e| e.to_string())?;
    let alloc = |format: VolumeFormat, size: u64| {
        let volid = manager.alloc(
            &place.storage,
            &AllocOptions {
                vmid,
                name: None,
                format: Some(format),
                size,
                preallocation: None,
                content: place.content,
            },
        )?;
        let path = manager.path(&volid);
        match path {
            Ok(path) => Ok(TreeVolume {
                volid,
                size,
                format,
                path,
            }),
            Err(e) => {
                let _ = manager.free(&volid);
                Err(e)
            }
        }
    };
    if caps.supports_format(VolumeFormat::Subvol) {
        match alloc(VolumeFormat::Subvol, place.size) {
            Ok(v) => return Ok(v),
            // A storage that cannot limit a subvolume's size (dir) gets an image of that
            // size, as pve-container does.
            Err(e) if place.size > 0 && caps.supports_format(VolumeFormat::Raw) => {
                log(format!(
                    "no subvolume of {} bytes on '{}' ({e}); using an ext4 image",
                    place.size, place.storage
                ));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    if !caps.supports_format(VolumeFormat::Raw) {
        return Err(format!(
            "storage '{}' holds neither subvolumes nor raw images for a directory volume",
            place.storage
        ));
    }
    let size = if place.size > 0 {
        place.size
    } else {
        image_size(used)
    };
    alloc(VolumeFormat::Raw, size).map_err(|e| e.to_string())
}

impl TreeVolume {
    /// Prepares the volume (ext4 on an image, mounted under `work_dir`) and starts unpacking
    /// into it.
    pub fn open(&self, work_dir: &Path, name: &str) -> io::Result<Box<dyn DiskTarget>> {
        let mount = if self.format == VolumeFormat::Subvol {
            None
        } else {
            let volume = VolumePath::from_storage(self.path.clone(), self.format.as_str());
            oxve_lxc::make_ext4(volume.path(), (0, 0)).map_err(io::Error::other)?;
            let dir = work_dir.join(format!("mnt-{name}"));
            Some(HostMount::mount(&volume, &dir).map_err(io::Error::other)?)
        };
        let root = mount
            .as_ref()
            .map_or(self.path.as_path(), |m| m.path())
            .to_path_buf();
        if mount.is_some() {
            // Not part of the archived tree.
            let _ = std::fs::remove_dir(root.join("lost+found"));
        }
        Ok(Box::new(UnpackInto {
            extractor: TreeExtractor::start(&root)?,
            mount,
        }))
    }
}

/// Unpacking into a volume; an image stays mounted until the tree is complete. The
/// extractor drops (and so stops writing) before the mount is undone.
struct UnpackInto {
    extractor: TreeExtractor,
    mount: Option<HostMount>,
}

impl DiskTarget for UnpackInto {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.extractor.write_at(offset, data)
    }
    fn zero(&mut self, offset: u64, len: u64) -> io::Result<()> {
        self.extractor.zero(offset, len)
    }
    fn finish(&mut self) -> io::Result<()> {
        self.extractor.finish()?;
        if let Some(mount) = self.mount.take() {
            mount.unmount().map_err(io::Error::other)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::image_size;

    #[test]
    fn images_for_unsized_trees_have_room() {
        const GIB: u64 = 1 << 30;
        assert_eq!(image_size(0), GIB);
        assert_eq!(image_size(300 << 20), 2 * GIB);
        assert_eq!(image_size(GIB), 3 * GIB);
    }
}
