//! Container volumes named in a create or update request: `rootfs`/`mpN` given as
//! `STORAGE:SIZE` become new volumes (subvolumes with a quota where the storage has them,
//! e.g. btrfs; else raw images with ext4, or subvolumes for size 0), host paths are root's
//! privilege, and templates resolve to archive paths. A failure frees every volume
//! allocated so far.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use oxve_lxc::{VolumePath, VolumeResolver};
use oxve_router::{ApiError, PermissionChecker};
use oxve_storage::{AllocOptions, ContentType, StorageManager, VolumeFormat, VolumeId};
use oxve_types::lxc::keys::is_mount_key;
use oxve_types::lxc::{MountPoint, MountSource};

use crate::env::RpcEnv;
use crate::http::permissions::CallerPermissions;
use crate::storage_service::storage_error;

/// Resolves container volumes through the storages.
pub struct StorageVolumes(pub Arc<StorageManager>);

impl VolumeResolver for StorageVolumes {
    fn resolve(&self, volid: &str) -> Result<VolumePath, String> {
        let id = VolumeId::parse(volid).map_err(|e| e.to_string())?;
        let info = self.0.info(&id).map_err(|e| e.to_string())?;
        let path = self.0.path(&id).map_err(|e| e.to_string())?;
        Ok(VolumePath::from_storage(path, info.format.as_str()))
    }
}

pub async fn resolver(env: &RpcEnv) -> Result<StorageVolumes, ApiError> {
    Ok(StorageVolumes(
        env.state.storage.manager(env.state.store.as_ref()).await?,
    ))
}

fn mount_points(set: &BTreeMap<String, String>) -> Result<Vec<(String, MountPoint)>, ApiError> {
    set.iter()
        .filter(|(k, _)| is_mount_key(k))
        .map(|(k, v)| {
            MountPoint::parse(k, v)
                .map(|m| (k.clone(), m))
                .map_err(|e| ApiError::param(k.as_str(), e.to_string()))
        })
        .collect()
}

/// Check the caller may do what the mount points ask (before any work): allocate on the
/// named storages, and only root may pass host paths.
pub fn check_permissions(
    perms: &CallerPermissions,
    set: &BTreeMap<String, String>,
) -> Result<(), ApiError> {
    for (key, mp) in mount_points(set)? {
        let storage = match mp.source() {
            MountSource::Alloc { storage, .. } => storage,
            MountSource::Volume(volid) => VolumeId::parse(&volid)
                .map_err(|e| ApiError::param(key.as_str(), e.to_string()))?
                .storage()
                .to_string(),
            MountSource::Bind(_) | MountSource::Device(_) => {
                if !perms.is_root() {
                    return Err(ApiError::param(
                        key.as_str(),
                        "Only root can pass arbitrary filesystem paths.",
                    ));
                }
                continue;
            }
        };
        let path = format!("/storage/{storage}");
        if !perms.has_privs(&path, &["Datastore.AllocateSpace"], false) {
            return Err(ApiError::permission_check_failed(
                &path,
                "Datastore.AllocateSpace",
            ));
        }
    }
    Ok(())
}

/// Existing volumes a request names must exist and belong to this container (a new
/// container only gets new volumes: its rootfs is formatted); bind-mount sources must be
/// directories.
pub async fn check_volumes(
    env: &RpcEnv,
    vmid: u32,
    creating: bool,
    set: &BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let mut named = Vec::new();
    let manager = env.state.storage.manager(env.state.store.as_ref()).await?;
    for (key, mp) in mount_points(set)? {
        match mp.source() {
            MountSource::Alloc { storage, .. } => match manager.config().get(&storage).ok() {
                None => {
                    return Err(ApiError::param(
                        key,
                        format!("storage '{storage}' does not exist"),
                    ))
                }
                Some(entry) if !entry.content().contains(&ContentType::Rootdir) => {
                    return Err(ApiError::param(
                        key,
                        format!("storage '{storage}' does not support container directories"),
                    ))
                }
                Some(_) => {}
            },
            MountSource::Volume(volid) => {
                let id = VolumeId::parse(&volid)
                    .map_err(|e| ApiError::param(key.as_str(), e.to_string()))?;
                if creating {
                    return Err(ApiError::param(
                        key,
                        "a new container gets new volumes: use STORAGE:SIZE",
                    ));
                }
                match oxve_types::qemu::volume_owner(&volid) {
                    Some(owner) if owner == vmid => {}
                    Some(owner) => {
                        return Err(ApiError::param(
                            key,
                            format!("volume '{volid}' belongs to guest {owner}"),
                        ))
                    }
                    None => {
                        return Err(ApiError::param(
                            key,
                            format!("volume '{volid}' is not a guest volume"),
                        ))
                    }
                }
                named.push((key, id));
            }
            MountSource::Bind(path) if !std::path::Path::new(&path).is_dir() => {
                return Err(ApiError::param(
                    key,
                    format!("bind mount source '{path}' is not a directory"),
                ));
            }
            _ => {}
        }
    }
    if named.is_empty() {
        return Ok(());
    }
    let missing = tokio::task::spawn_blocking(move || {
        named
            .into_iter()
            .find(|(_, id)| manager.info(id).is_err())
            .map(|(key, id)| (key, id.to_string()))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?;
    match missing {
        Some((key, volid)) => Err(ApiError::param(
            key,
            format!("volume '{volid}' does not exist"),
        )),
        None => Ok(()),
    }
}

/// A newly allocated container volume.
pub struct NewVolume {
    pub key: String,
    pub volid: VolumeId,
    pub path: VolumePath,
}

/// Allocate every `STORAGE:SIZE` mount point, replacing the request values in `set` with
/// the new volumes (and their sizes). Image volumes of `mpN` get their ext4 here (owned by
/// the container's root `root_uid`); the rootfs gets it with the template. On error, frees
/// what was allocated.
pub async fn allocate(
    env: &RpcEnv,
    vmid: u32,
    set: &mut BTreeMap<String, String>,
    root_uid: u32,
    log: impl Fn(String) + Send + Sync + 'static,
) -> Result<Vec<NewVolume>, ApiError> {
    let mut wanted = Vec::new();
    for (key, mp) in mount_points(set)? {
        if let MountSource::Alloc { storage, size_gib } = mp.source() {
            wanted.push((key, mp, storage, (size_gib * (1u64 << 30) as f64) as u64));
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    // rootfs first, so it gets disk-0 as in Proxmox
    wanted.sort_by_key(|(key, ..)| key != "rootfs");
    let manager = env.state.storage.manager(env.state.store.as_ref()).await?;
    let done = tokio::task::spawn_blocking(move || {
        let mut done: Vec<(NewVolume, MountPoint, u64)> = Vec::new();
        let undo = |done: &[(NewVolume, MountPoint, u64)]| {
            for (v, _, _) in done {
                let _ = manager.free(&v.volid);
            }
        };
        for (key, mp, storage, bytes) in wanted {
            let quota = manager.capabilities(&storage).is_ok_and(|c| c.subvol_quota);
            let format = container_format(quota, bytes);
            let opts = AllocOptions {
                vmid,
                name: None,
                format: Some(format),
                size: bytes,
                preallocation: None,
                content: ContentType::Rootdir,
            };
            let allocated = manager.alloc(&storage, &opts).and_then(|volid| {
                let info = manager.info(&volid)?;
                let path = manager.path(&volid)?;
                Ok((volid, info, path))
            });
            let (volid, info, path) = match allocated {
                Ok(v) => v,
                Err(e) => {
                    undo(&done);
                    return Err(alloc_error(&key, e));
                }
            };
            log(format!("{key}: created volume '{volid}'"));
            let path = VolumePath::from_storage(path, info.format.as_str());
            let new = NewVolume {
                key: key.clone(),
                volid,
                path,
            };
            if key != "rootfs" {
                if let Err(e) = make_fs(&new.path, root_uid) {
                    done.push((new, mp, info.size));
                    undo(&done);
                    return Err(ApiError::internal(format!("{key}: {e}")));
                }
            }
            done.push((new, mp, info.size));
        }
        Ok(done)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    let mut out = Vec::new();
    for (new, mut mp, size) in done {
        mp.set_volume(&new.volid.to_string(), (size > 0).then_some(size));
        set.insert(new.key.clone(), mp.print());
        out.push(new);
    }
    Ok(out)
}

/// The format of a new container volume of `bytes` bytes, as Proxmox picks it: a subvolume
/// on storages whose subvolumes take a size (`quota`: btrfs, ZFS) and for size 0 (no
/// limit), else a raw image (formatted with ext4).
pub(crate) fn container_format(quota: bool, bytes: u64) -> VolumeFormat {
    if quota || bytes == 0 {
        VolumeFormat::Subvol
    } else {
        VolumeFormat::Raw
    }
}

/// A storage error keyed by the parameter that asked for the volume.
fn alloc_error(key: &str, err: oxve_storage::StorageError) -> ApiError {
    let api = storage_error(err);
    if api.status == 400 && api.errors.is_none() {
        ApiError::param(key, api.message)
    } else {
        api
    }
}

/// ext4 on a new image volume (a directory volume only gets its owner).
pub(crate) fn make_fs(path: &VolumePath, root_uid: u32) -> Result<(), String> {
    match path {
        VolumePath::Dir(p) => std::os::unix::fs::lchown(p, Some(root_uid), Some(root_uid))
            .map_err(|e| format!("chown {}: {e}", p.display())),
        VolumePath::Image(p) | VolumePath::Block(p) => {
            let owner = format!("root_owner={root_uid}:{root_uid}");
            let out = std::process::Command::new("mkfs.ext4")
                .args(["-q", "-F", "-E", &owner])
                .arg(p)
                .output()
                .map_err(|e| format!("mkfs.ext4: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "mkfs.ext4 failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        }
    }
}

pub use crate::guest_snapshot::free_volumes;

/// The archive of an `ostemplate` volume (`local:vztmpl/x.tar.zst`), checked to exist; the
/// caller needs Datastore.Audit or Datastore.AllocateSpace on its storage.
pub async fn template_path(
    env: &RpcEnv,
    perms: &CallerPermissions,
    ostemplate: &str,
) -> Result<PathBuf, ApiError> {
    let id =
        VolumeId::parse(ostemplate).map_err(|e| ApiError::param("ostemplate", e.to_string()))?;
    if !id.volname().starts_with("vztmpl/") {
        return Err(ApiError::param(
            "ostemplate",
            format!("volume '{ostemplate}' is not a container template (vztmpl)"),
        ));
    }
    let path = format!("/storage/{}", id.storage());
    if !perms.has_privs(&path, &["Datastore.Audit", "Datastore.AllocateSpace"], true) {
        return Err(ApiError::permission_check_failed(&path, "Datastore.Audit"));
    }
    let manager = env.state.storage.manager(env.state.store.as_ref()).await?;
    let file = manager
        .path(&id)
        .map_err(|e| ApiError::param("ostemplate", e.to_string()))?;
    if !file.is_file() {
        return Err(ApiError::param(
            "ostemplate",
            format!("template '{ostemplate}' does not exist"),
        ));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_volume_formats() {
        // btrfs, ZFS: always a subvolume, its size a quota
        assert_eq!(container_format(true, 8 << 30), VolumeFormat::Subvol);
        assert_eq!(container_format(true, 0), VolumeFormat::Subvol);
        // dir and others: an ext4 image, or an unlimited directory for size 0
        assert_eq!(container_format(false, 8 << 30), VolumeFormat::Raw);
        assert_eq!(container_format(false, 0), VolumeFormat::Subvol);
    }
}
