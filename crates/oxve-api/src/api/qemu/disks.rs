//! Disks named in a create or update request: `STORAGE:SIZE` allocates a new volume and
//! `STORAGE:0,import-from=SOURCE` imports an image; both become the new volume id. A failure
//! frees every volume allocated so far.

use std::collections::BTreeMap;

use oxve_router::{ApiError, PermissionChecker};
use oxve_storage::{AllocOptions, ContentType, StorageManager, VolumeId};
use oxve_types::qemu::keys::is_drive_key;
use oxve_types::qemu::{Drive, DriveVolume};

use crate::env::RpcEnv;
use crate::http::permissions::CallerPermissions;
use crate::storage_service::storage_error;

/// One allocation or import found in a request.
struct DiskRequest {
    key: String,
    drive: Drive,
    storage: String,
    bytes: u64,
    import_from: Option<String>,
}

fn requests(set: &BTreeMap<String, String>) -> Result<Vec<DiskRequest>, ApiError> {
    let mut out = Vec::new();
    for (key, value) in set {
        if !is_drive_key(key) || key.starts_with("unused") {
            continue;
        }
        let drive = Drive::parse_with_alloc(key, value)
            .map_err(|e| ApiError::param(key.as_str(), e.to_string()))?;
        if let DriveVolume::Alloc { storage, size_gib } = drive.volume() {
            let storage = storage.to_string();
            let bytes = (size_gib * (1u64 << 30) as f64) as u64;
            let import_from = drive.import_from.clone();
            if import_from.is_none() && bytes == 0 {
                return Err(ApiError::param(
                    key.as_str(),
                    "size must be greater than 0 (or use import-from)",
                ));
            }
            out.push(DiskRequest {
                key: key.clone(),
                drive,
                storage,
                bytes,
                import_from,
            });
        }
    }
    Ok(out)
}

/// Check the caller may allocate on every storage the request names (before any work).
pub fn check_permissions(
    perms: &CallerPermissions,
    set: &BTreeMap<String, String>,
) -> Result<(), ApiError> {
    for req in requests(set)? {
        let path = format!("/storage/{}", req.storage);
        if !perms.has_privs(&path, &["Datastore.AllocateSpace"], false) {
            return Err(ApiError::permission_check_failed(
                &path,
                "Datastore.AllocateSpace",
            ));
        }
        if let Some(src) = &req.import_from {
            if src.starts_with('/') && !perms.is_root() {
                return Err(ApiError::param(
                    req.key.as_str(),
                    "only root may import from an absolute path",
                ));
            }
        }
    }
    Ok(())
}

fn allocate_one(
    manager: &StorageManager,
    vmid: u32,
    req: &DiskRequest,
    log: &dyn Fn(String),
) -> Result<VolumeId, oxve_storage::StorageError> {
    let format = match &req.drive.format {
        Some(f) => {
            Some(
                f.parse()
                    .map_err(|e: String| oxve_storage::StorageError::InvalidOption {
                        storage: req.storage.clone(),
                        option: "format".into(),
                        reason: e,
                    })?,
            )
        }
        None => None,
    };
    let opts = AllocOptions {
        vmid,
        name: None,
        format,
        size: req.bytes,
        preallocation: None,
        content: ContentType::Images,
    };
    match &req.import_from {
        Some(src) => {
            let path = if src.starts_with('/') {
                std::path::PathBuf::from(src)
            } else {
                manager.path(&VolumeId::parse(src)?)?
            };
            log(format!("importing {src} to {}", req.storage));
            let mut last = -10.0;
            manager.import_image(&path, &req.storage, &opts, &mut |p| {
                if p - last >= 10.0 {
                    last = p;
                    log(format!("transferred {p:.0}%"));
                }
            })
        }
        None => manager.alloc(&req.storage, &opts),
    }
}

/// Allocate or import every requested disk, replacing the request values in `set` with the
/// new volumes. On error, frees what was allocated and returns the error.
pub async fn allocate(
    env: &RpcEnv,
    vmid: u32,
    set: &mut BTreeMap<String, String>,
    log: impl Fn(String) + Send + Sync + 'static,
) -> Result<Vec<VolumeId>, ApiError> {
    let reqs = requests(set)?;
    if reqs.is_empty() {
        return Ok(Vec::new());
    }
    let manager = env.state.storage.manager(env.state.store.as_ref()).await?;
    let (done, result) = tokio::task::spawn_blocking(move || {
        let mut done: Vec<(String, Drive, VolumeId)> = Vec::new();
        for req in &reqs {
            match allocate_one(&manager, vmid, req, &log) {
                Ok(volid) => {
                    log(format!("{}: created volume '{volid}'", req.key));
                    done.push((req.key.clone(), req.drive.clone(), volid));
                }
                Err(e) => {
                    for (_, _, volid) in &done {
                        let _ = manager.free(volid);
                    }
                    return (Vec::new(), Err(storage_error(e)));
                }
            }
        }
        let mut with_sizes = Vec::new();
        for (key, mut drive, volid) in done {
            let size = manager.info(&volid).map(|i| i.size).ok();
            drive.file = volid.to_string();
            drive.size = size;
            drive.import_from = None;
            drive.format = None;
            with_sizes.push((key, drive, volid));
        }
        (with_sizes, Ok(()))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?;
    result?;
    let mut volids = Vec::new();
    for (key, drive, volid) in done {
        set.insert(key, drive.print());
        volids.push(volid);
    }
    Ok(volids)
}

pub use crate::guest_snapshot::free_volumes;

/// Every existing volume a request names must be a valid volume id that exists (Proxmox
/// checks this before writing the config); path tricks are refused here.
pub async fn check_volumes(env: &RpcEnv, set: &BTreeMap<String, String>) -> Result<(), ApiError> {
    let mut named = Vec::new();
    for (key, value) in set {
        if !is_drive_key(key) {
            continue;
        }
        let drive = Drive::parse_with_alloc(key, value)
            .map_err(|e| ApiError::param(key.as_str(), e.to_string()))?;
        if let DriveVolume::Volume { .. } = drive.volume() {
            let volid = VolumeId::parse(&drive.file)
                .map_err(|e| ApiError::param(key.as_str(), e.to_string()))?;
            named.push((key.clone(), volid));
        }
    }
    if named.is_empty() {
        return Ok(());
    }
    let manager = env.state.storage.manager(env.state.store.as_ref()).await?;
    let missing = tokio::task::spawn_blocking(move || {
        named
            .into_iter()
            // ISO images and other files have no image info: their file must exist.
            .find(|(_, volid)| {
                manager.info(volid).is_err() && !manager.path(volid).is_ok_and(|p| p.exists())
            })
            .map(|(key, volid)| (key, volid.to_string()))
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
