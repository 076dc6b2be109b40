//! Full copies of container volumes (clone, move_volume). Images are copied block by block;
//! a subvolume is copied file by file into a new volume chosen as for a new container of
//! its size (a subvolume with the same quota on btrfs/ZFS, a raw ext4 image on a dir
//! storage, a plain subvolume for size 0). A failed copy frees the new volume.

use std::sync::Arc;

use oxve_lxc::VolumePath;
use oxve_storage::{AllocOptions, VolumeFormat, VolumeId};

use super::volumes::{container_format, make_fs};
use crate::env::RpcEnv;
use crate::guest_snapshot::{copy_image, Log, VolumeCopy};

/// Copy `c.volid` (at `c.snap`) into a new volume of `c.newid` on `c.target`.
pub async fn copy_volume(env: RpcEnv, c: VolumeCopy, log: Log) -> Result<VolumeId, String> {
    let (m, volid, key) = (Arc::clone(&c.manager), c.volid.clone(), c.key.clone());
    let info = tokio::task::spawn_blocking(move || m.info(&volid))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("{key}: {e}"))?;
    if info.format != VolumeFormat::Subvol {
        return copy_image(c, log).await;
    }
    let work_dir = env
        .state
        .lxc
        .paths()
        .mount_point(c.newid, &format!("copy-{}", c.key));
    tokio::task::spawn_blocking(move || copy_files(c, info.size, &work_dir, log))
        .await
        .map_err(|e| e.to_string())?
}

fn copy_files(
    c: VolumeCopy,
    size: u64,
    work_dir: &std::path::Path,
    log: Log,
) -> Result<VolumeId, String> {
    let (m, key) = (&c.manager, &c.key);
    let err = |e: &dyn std::fmt::Display| format!("{key}: {e}");
    let quota = m
        .capabilities(&c.target)
        .is_ok_and(|caps| caps.subvol_quota);
    let format = container_format(quota, size);
    let opts = AllocOptions {
        vmid: c.newid,
        name: None,
        format: Some(format),
        size,
        preallocation: None,
        content: c.content,
    };
    let new = m.alloc(&c.target, &opts).map_err(|e| err(&e))?;
    log(format!("{key}: copying files into {new}"));
    let copied = (|| {
        let src = match &c.snap {
            Some(s) => m.snapshot_path(&c.volid, s),
            None => m.path(&c.volid),
        }
        .map_err(|e| err(&e))?;
        let dst = VolumePath::from_storage(m.path(&new).map_err(|e| err(&e))?, format.as_str());
        // The copy brings the owner of the root directory along.
        make_fs(&dst, 0).map_err(|e| err(&e))?;
        oxve_lxc::copy_volume_files(&VolumePath::Dir(src), &dst, work_dir).map_err(|e| err(&e))
    })();
    match copied {
        Ok(()) => Ok(new),
        Err(e) => {
            if let Err(f) = m.free(&new) {
                log(format!("unable to remove volume '{new}' - {f}"));
            }
            Err(e)
        }
    }
}
