//! The image operations of `dir` beyond allocation: templates (base images), linked clones
//! as qcow2 overlays, qcow2-internal snapshots, growing image files, and raw file creation
//! with each provisioning mode.

use std::fs::{self, File, OpenOptions};
use std::path::Path;

use crate::error::StorageError;
use crate::format::{Preallocation, VolumeFormat};
use crate::fsutil;
use crate::plugin::{AllocRequest, StoragePlugin};
use crate::plugins::common::{check_space, resolve_preallocation};
use crate::plugins::dir::DirPlugin;
use crate::plugins::dir_list::{dir_names, file_image_info};
use crate::qemu_img::{self, SnapshotOp};
use crate::revert::Revert;
use crate::volid::check_snapshot_name;

/// Create a raw image file with the given provisioning; a failure removes the file.
pub(crate) fn create_raw_file(
    path: &Path,
    size: u64,
    prealloc: Preallocation,
) -> Result<(), StorageError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| StorageError::io("create image", path, e))?;
    fill_raw_file(&mut file, path, size, prealloc).inspect_err(|_| {
        let _ = fs::remove_file(path);
    })
}

/// Give an open, empty raw file its size: sparse (`off`, `metadata`), reserved (`falloc`)
/// or written with zeroes (`full`).
pub(crate) fn fill_raw_file(
    file: &mut File,
    path: &Path,
    size: u64,
    prealloc: Preallocation,
) -> Result<(), StorageError> {
    match prealloc {
        Preallocation::Off | Preallocation::Metadata => {}
        Preallocation::Falloc => fsutil::fallocate(file, path, size)?,
        Preallocation::Full => {
            fsutil::fallocate(file, path, size)?;
            fsutil::write_zeros(file, path, size)?;
        }
    }
    file.set_len(size)
        .map_err(|e| StorageError::io("set size of", path, e))
}

impl DirPlugin {
    /// Turn an image into a read-only `base-` image (chmod 0444, `chattr +i`).
    pub(crate) fn make_base(&self, volname: &str) -> Result<String, StorageError> {
        let (v, vmid, format) = self.parse_image(volname)?;
        if v.is_base {
            return Err(StorageError::unsupported(
                &self.entry().id,
                "create_base on a base image",
            ));
        }
        if !self.capabilities().template_formats.contains(&format) {
            return Err(StorageError::unsupported(
                &self.entry().id,
                format!("templates of '{format}' volumes"),
            ));
        }
        let new_name = v
            .name
            .strip_prefix("vm-")
            .map(|r| format!("base-{r}"))
            .ok_or_else(|| {
                StorageError::unsupported(
                    &self.entry().id,
                    "base images of volumes not named 'vm-*'",
                )
            })?;
        let new_volname = match &v.base {
            Some(b) => format!("{}/{}/{vmid}/{new_name}", b.vmid, b.name),
            None => format!("{vmid}/{new_name}"),
        };
        let old_path = self.path(volname)?;
        let new_path = self.path(&new_volname)?;
        if new_path.exists() {
            return Err(StorageError::VolumeExists {
                volid: self.volid(&new_volname),
            });
        }
        fs::rename(&old_path, &new_path).map_err(|e| StorageError::io("rename", &old_path, e))?;
        if format != VolumeFormat::Subvol {
            use std::os::unix::fs::PermissionsExt;
            if let Err(e) = fs::set_permissions(&new_path, fs::Permissions::from_mode(0o444)) {
                let _ = fs::rename(&new_path, &old_path);
                return Err(StorageError::io("make read-only", &new_path, e));
            }
            self.run_chattr("+i", &new_path);
        }
        Ok(new_volname)
    }

    /// A qcow2 overlay of a base image, with a relative backing file.
    pub(crate) fn overlay_clone(
        &self,
        volname: &str,
        vmid: u32,
        snap: Option<&str>,
    ) -> Result<String, StorageError> {
        let (v, base_vmid, format) = self.parse_image(volname)?;
        if snap.is_some() {
            return Err(StorageError::unsupported(
                &self.entry().id,
                "linked clones of snapshots",
            ));
        }
        if !v.is_base {
            return Err(StorageError::unsupported(
                &self.entry().id,
                "linked clones of images that are not base images",
            ));
        }
        if !self.capabilities().supports_linked_clone(format) {
            return Err(StorageError::unsupported(
                &self.entry().id,
                format!("linked clones of '{format}' volumes"),
            ));
        }
        let req = AllocRequest {
            vmid,
            name: None,
            format: VolumeFormat::Qcow2,
            size: 0,
            preallocation: None,
        };
        let existing = dir_names(&self.image_dir(vmid)?);
        let (name, _, _) = self.prepare_alloc(&req, existing, true)?;
        let mut revert = Revert::new();
        let dir = self.make_image_dir(vmid, &mut revert)?;
        let path = dir.join(&name);
        let p = path.clone();
        revert.add(move || {
            let _ = fs::remove_file(&p);
        });
        let backing = format!("../{base_vmid}/{}", v.name);
        qemu_img::create_overlay(self.ctx().runner.as_ref(), &dir, &path, &backing, format)?;
        revert.commit();
        Ok(format!("{base_vmid}/{}/{vmid}/{name}", v.name))
    }

    /// Grow an image file to `size` bytes: refuses unsupported formats, shrinking, and thick
    /// growth that does not fit.
    pub(crate) fn resize_file_image(
        &self,
        volname: &str,
        path: &Path,
        format: VolumeFormat,
        size: u64,
    ) -> Result<(), StorageError> {
        let caps = self.capabilities();
        if !caps.resize_formats.contains(&format) {
            return Err(StorageError::unsupported(
                &self.entry().id,
                format!("resizing '{format}' volumes"),
            ));
        }
        if !path.exists() {
            return Err(StorageError::VolumeNotFound {
                volid: self.volid(volname),
            });
        }
        let current = file_image_info(self.ctx().runner.as_ref(), path, format)?.size;
        let Some(size) = super::common::grow_target(self.volid(volname), current, size)? else {
            return Ok(());
        };
        let prealloc = resolve_preallocation(self.entry(), &caps, format, None)?;
        if prealloc.is_some_and(Preallocation::is_thick) {
            check_space(&self.entry().id, size - current, self.avail()?)?;
        }
        qemu_img::resize(self.ctx().runner.as_ref(), path, format, size, prealloc)
    }

    pub(crate) fn qcow2_snapshot(
        &self,
        volname: &str,
        snap: &str,
        op: SnapshotOp,
    ) -> Result<(), StorageError> {
        let (_, _, format) = self.parse_image(volname)?;
        check_snapshot_name(snap)?;
        if format != VolumeFormat::Qcow2 {
            return Err(StorageError::unsupported(
                &self.entry().id,
                format!("snapshots of '{format}' volumes"),
            ));
        }
        let path = self.path(volname)?;
        if !path.exists() {
            return Err(StorageError::VolumeNotFound {
                volid: self.volid(volname),
            });
        }
        qemu_img::snapshot(self.ctx().runner.as_ref(), op, snap, &path)
    }
}
