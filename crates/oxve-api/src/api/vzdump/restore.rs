//! Restoring an archive: finding it, reading its config first, and writing its disks into new
//! volumes (directory trees through `restore_tree.rs`), verifying every block as it reads. Whatever was allocated is freed again when the
//! restore fails, so a failed restore leaves nothing behind.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oxve_archive::{ArchiveReader, DiskTarget, FileTarget};
use oxve_nbd::{NbdTarget, QemuNbd};
use oxve_router::{ApiError, PermissionChecker};
use oxve_storage::volid::{parse_image_file_name, BackupArchive};
use oxve_storage::{AllocOptions, ContentType, StorageManager, VolumeFormat, VolumeId};

use super::restore_tree::alloc_tree_volume;
use crate::env::RpcEnv;
use crate::storage_service::storage_error;

/// An archive to restore: its file, and the guest type its name says.
pub struct ArchiveRef {
    pub path: PathBuf,
    pub guest_type: String,
}

/// Resolves `archive` (a backup volume id, or an absolute path for root) after checking the
/// caller may read it: `Datastore.AllocateSpace` on its storage, and `VM.Backup` on the guest
/// it was taken of, as Proxmox checks volume access.
pub async fn resolve_archive(
    env: &RpcEnv,
    param: &str,
    archive: &str,
) -> Result<ArchiveRef, ApiError> {
    let caller = env.caller()?;
    let (path, name) = if archive.starts_with('/') {
        if caller.is_token() || !caller.user().is_root() {
            return Err(ApiError::param(param, "only root may restore from a path"));
        }
        let path = PathBuf::from(archive);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        (path, name)
    } else {
        let volid = VolumeId::parse(archive).map_err(|e| ApiError::param(param, e.to_string()))?;
        let perms = env.permissions().await?;
        let storage_path = format!("/storage/{}", volid.storage());
        if !perms.has_privs(&storage_path, &["Datastore.AllocateSpace"], false) {
            return Err(ApiError::permission_check_failed(
                &storage_path,
                "Datastore.AllocateSpace",
            ));
        }
        let name = volid
            .volname()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        if let Some(owner) = BackupArchive::parse(&name).map(|a| a.vmid) {
            let vm_path = format!("/vms/{owner}");
            if !perms.has_privs(&vm_path, &["VM.Backup"], false) {
                return Err(ApiError::permission_check_failed(&vm_path, "VM.Backup"));
            }
        }
        let manager = env.state.storage.manager(env.state.store.as_ref()).await?;
        (manager.path(&volid).map_err(storage_error)?, name)
    };
    if !path.is_file() {
        return Err(ApiError::param(
            param,
            format!("archive '{archive}' does not exist"),
        ));
    }
    let guest_type = BackupArchive::parse(&name)
        .map(|a| a.guest_type)
        .ok_or_else(|| ApiError::param(param, format!("'{name}' is not a vzdump archive name")))?;
    Ok(ArchiveRef { path, guest_type })
}

/// The config files at the start of the archive.
pub fn peek_configs(path: &Path) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let file = File::open(path).map_err(|e| format!("open {}: {e}", path.display()))?;
    let mut reader = ArchiveReader::new(file).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(reader.configs().map_err(|e| e.to_string())?.clone())
}

/// Where one disk of the archive goes.
#[derive(Debug, Clone)]
pub struct DiskPlacement {
    pub storage: String,
    /// The wanted format, used when the storage supports it.
    pub format: Option<VolumeFormat>,
    pub content: ContentType,
    /// The size the config gave the disk (0: none, e.g. a subvolume without a limit).
    pub size: u64,
}

/// A disk written by [`extract`].
#[derive(Debug, Clone)]
pub struct RestoredDisk {
    pub volid: VolumeId,
    pub size: u64,
}

/// The format a volume id's file name carries (`vm-100-disk-0.qcow2` → qcow2).
pub fn format_of(volid: &str) -> Option<VolumeFormat> {
    let name = volid.rsplit('/').next()?;
    parse_image_file_name(name).map(|(format, _)| format)
}

/// Reads the whole archive, writing disk `name` into a new volume of `vmid` placed as
/// `placements[name]` says (other disks are only verified). Blocking. On failure every volume
/// it allocated is freed.
pub fn extract(
    manager: &Arc<StorageManager>,
    archive: &Path,
    vmid: u32,
    placements: &BTreeMap<String, DiskPlacement>,
    work_dir: &Path,
    bwlimit: Option<u64>,
    log: &(dyn Fn(String) + Sync),
) -> Result<BTreeMap<String, RestoredDisk>, String> {
    let created: RefCell<BTreeMap<String, RestoredDisk>> = RefCell::default();
    let servers: RefCell<Vec<QemuNbd>> = RefCell::default();
    let result = (|| -> Result<(), String> {
        let file = File::open(archive).map_err(|e| format!("open {}: {e}", archive.display()))?;
        let input = ThrottledRead {
            inner: std::io::BufReader::with_capacity(4 << 20, file),
            limit: bwlimit.filter(|l| *l > 0),
            started: std::time::Instant::now(),
            read: 0,
        };
        let reader = ArchiveReader::new(input).map_err(|e| e.to_string())?;
        let extracted = reader
            .extract(&mut |head| {
                let Some(place) = placements.get(&head.name) else {
                    log(format!("{}: not restored (only verified)", head.name));
                    return Ok(None);
                };
                if head.tree {
                    let volume =
                        alloc_tree_volume(manager, vmid, place, head.size, log).map_err(|e| {
                            oxve_archive::ArchiveError::Disk(head.name.clone(), e.to_string())
                        })?;
                    log(format!(
                        "{}: restoring the directory tree into '{}'",
                        head.name, volume.volid
                    ));
                    created.borrow_mut().insert(
                        head.name.clone(),
                        RestoredDisk {
                            volid: volume.volid.clone(),
                            size: volume.size,
                        },
                    );
                    let target = volume.open(work_dir, &head.name).map_err(|e| {
                        oxve_archive::ArchiveError::Disk(head.name.clone(), e.to_string())
                    })?;
                    return Ok(Some(target));
                }
                let target = new_volume(manager, vmid, place, head.size)
                    .map_err(oxve_archive::ArchiveError::Corrupt)?;
                log(format!(
                    "{}: restoring into '{}' ({} bytes)",
                    head.name, target.volid, head.size
                ));
                created.borrow_mut().insert(
                    head.name.clone(),
                    RestoredDisk {
                        volid: target.volid.clone(),
                        size: head.size,
                    },
                );
                let writer: Box<dyn DiskTarget> = match target.format {
                    VolumeFormat::Raw => Box::new(FileTarget::open(&target.path)?),
                    other => {
                        let socket =
                            work_dir.join(format!("restore-{}.sock", servers.borrow().len()));
                        let server =
                            QemuNbd::serve(&target.path, &other.to_string(), &socket, true)
                                .map_err(|e| oxve_archive::ArchiveError::Corrupt(e.to_string()))?;
                        let nbd = NbdTarget::open(&socket, oxve_nbd::process_export())
                            .map_err(|e| oxve_archive::ArchiveError::Corrupt(e.to_string()))?;
                        servers.borrow_mut().push(server);
                        Box::new(nbd)
                    }
                };
                Ok(Some(writer))
            })
            .map_err(|e| format!("restore failed: {e}"))?;
        for disk in &extracted.manifest.disks {
            if disk.tree {
                log(format!(
                    "{}: directory tree of {} bytes in {} blocks, checksums verified",
                    disk.name, disk.size, disk.blocks
                ));
                continue;
            }
            log(format!(
                "{}: {} bytes of data, {} bytes of zeros, checksums verified",
                disk.name, disk.data_bytes, disk.zero_bytes
            ));
        }
        // Stopping each qemu-nbd cleanly writes out the image's metadata.
        for server in servers.borrow_mut().drain(..) {
            server.stop().map_err(|e| e.to_string())?;
        }
        for disk in created.borrow().values() {
            if let Ok(path) = manager.path(&disk.volid) {
                if let Ok(f) = File::open(&path) {
                    f.sync_all()
                        .map_err(|e| format!("fsync {}: {e}", path.display()))?;
                }
            }
        }
        Ok(())
    })();
    servers.borrow_mut().clear();
    match result {
        Ok(()) => Ok(created.into_inner()),
        Err(e) => {
            for disk in created.into_inner().into_values() {
                match manager.free(&disk.volid) {
                    Ok(()) => log(format!("removed volume '{}'", disk.volid)),
                    Err(free) => log(format!("unable to remove volume '{}' - {free}", disk.volid)),
                }
            }
            Err(e)
        }
    }
}

/// Reads at no more than `limit` bytes per second (restore `bwlimit`).
struct ThrottledRead<R> {
    inner: R,
    limit: Option<u64>,
    started: std::time::Instant,
    read: u64,
}

impl<R: std::io::Read> std::io::Read for ThrottledRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if let Some(limit) = self.limit {
            let due = std::time::Duration::from_secs_f64(self.read as f64 / limit as f64);
            if let Some(wait) = due.checked_sub(self.started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        Ok(n)
    }
}

struct NewVolume {
    volid: VolumeId,
    path: PathBuf,
    format: VolumeFormat,
}

fn new_volume(
    manager: &StorageManager,
    vmid: u32,
    place: &DiskPlacement,
    size: u64,
) -> Result<NewVolume, String> {
    let caps = manager
        .capabilities(&place.storage)
        .map_err(|e| e.to_string())?;
    let format = place
        .format
        .filter(|f| caps.supports_format(*f) && *f != VolumeFormat::Subvol)
        .unwrap_or(if caps.supports_format(VolumeFormat::Raw) {
            VolumeFormat::Raw
        } else {
            caps.default_format
        });
    let volid = manager
        .alloc(
            &place.storage,
            &AllocOptions {
                vmid,
                name: None,
                format: Some(format),
                size,
                preallocation: None,
                content: place.content,
            },
        )
        .map_err(|e| e.to_string())?;
    let path = manager.path(&volid).map_err(|e| e.to_string())?;
    Ok(NewVolume {
        volid,
        path,
        format,
    })
}

/// Where each archived disk goes: archive disk name → (config key, placement).
pub type Placements = BTreeMap<String, (String, DiskPlacement)>;

/// What differs between restoring a VM and a container.
pub trait RestoreKind: crate::guest_config::GuestConfigDoc + Send + 'static {
    /// `qemu` or `lxc`, as archive names say.
    const ARCHIVE_TYPE: &'static str;
    /// The config file in the archive.
    const CONF_NAME: &'static str;
    /// The task type (`qmrestore`, `vzrestore`).
    const TASK: &'static str;
    /// Parses the archived config and says where each archived disk goes (archive disk name →
    /// (config key, placement)); `storage` overrides the original storages.
    fn plan(
        text: &str,
        storage: Option<&str>,
        manager: &StorageManager,
    ) -> Result<(Self, Placements), String>;
    /// Points the config at the restored volumes and drops the disks that were not in the
    /// archive; with `unique`, new MAC addresses.
    fn finish(
        &mut self,
        restored: &BTreeMap<String, (String, RestoredDisk)>,
        unique: bool,
        log: &dyn Fn(String),
    ) -> Result<(), String>;
    /// The volumes a config owns (freed when a restore replaces it).
    fn owned_volumes(&self) -> Vec<String>;
}

/// What a restore request asks for.
pub struct RestoreRequest {
    pub vmid: u32,
    /// The parameter naming the archive (`archive`, or `ostemplate` for containers).
    pub archive_param: &'static str,
    pub archive: String,
    pub storage: Option<String>,
    pub force: bool,
    pub unique: bool,
    /// Whether the target guest runs now (refused).
    pub running: bool,
    /// Bytes per second the archive is read at, at most.
    pub bwlimit: Option<u64>,
    /// The pool the restored guest joins.
    pub pool: Option<String>,
}

/// Restores `archive` as guest `vmid` of type `K`: checks, then a task. `force` allows
/// replacing an existing stopped guest of the same type; its old volumes are freed only
/// after the restored config is in place.
pub async fn start_restore<K: RestoreKind>(
    env: &RpcEnv,
    req: RestoreRequest,
) -> Result<String, ApiError> {
    use oxve_store::{guest_config_key, set_guest_lock, Expect, GuestLock, StoreError};
    let RestoreRequest {
        vmid,
        archive_param,
        archive,
        storage,
        force,
        unique,
        running,
        bwlimit,
        pool,
    } = req;
    let archive = archive.as_str();
    crate::api::pools::check_new_guest(env, vmid, pool.as_deref()).await?;
    let found = resolve_archive(env, archive_param, archive).await?;
    if found.guest_type != K::ARCHIVE_TYPE {
        return Err(ApiError::param(
            archive_param,
            format!(
                "'{archive}' is a {} backup, not a {} one",
                found.guest_type,
                K::ARCHIVE_TYPE
            ),
        ));
    }
    if let Some(s) = &storage {
        let path = format!("/storage/{s}");
        if !env
            .has_privs(&path, &["Datastore.AllocateSpace"], false)
            .await
        {
            return Err(ApiError::permission_check_failed(
                &path,
                "Datastore.AllocateSpace",
            ));
        }
    }
    let path = found.path.clone();
    let configs = tokio::task::spawn_blocking(move || peek_configs(&path))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::param(archive_param, e))?;
    let text = configs
        .get(K::CONF_NAME)
        .map(|d| String::from_utf8_lossy(d).into_owned())
        .ok_or_else(|| {
            ApiError::param(archive_param, format!("archive has no {}", K::CONF_NAME))
        })?;
    let manager = env.state.storage.manager(env.state.store.as_ref()).await?;
    let (mut config, placements) =
        K::plan(&text, storage.as_deref(), &manager).map_err(|e| ApiError::param("storage", e))?;

    // Reserve the VMID, or take the existing guest (same type, stopped, unlocked).
    let guest = crate::guest_config::guest_ref::<K>(env, vmid);
    let existing = env
        .state
        .store
        .guests()
        .await
        .map_err(crate::guest_config::store_error)?
        .into_iter()
        .find(|g| g.vmid == vmid);
    let old: Option<K> = match existing {
        None => {
            env.state
                .store
                .create_guest(&guest, "lock: create\n")
                .await
                .map_err(|e| match e {
                    StoreError::VmidInUse { .. } => {
                        ApiError::internal(format!("{} {vmid} already exists", K::LABEL))
                    }
                    other => crate::guest_config::store_error(other),
                })?;
            None
        }
        Some(g) if g.kind != guest.kind || g.node != guest.node => {
            return Err(ApiError::bad_request(format!(
                "unable to restore {} {vmid} - VMID {vmid} is in use by another guest type or node",
                K::LABEL
            )))
        }
        Some(_) if !force => {
            return Err(ApiError::bad_request(format!(
                "unable to restore {} {vmid} - {} {vmid} already exists (use force to overwrite)",
                K::LABEL,
                K::LABEL
            )))
        }
        Some(_) if running => {
            return Err(ApiError::bad_request(format!(
                "unable to restore {} {vmid} - it is running",
                K::LABEL
            )))
        }
        Some(_) => {
            let loaded = crate::guest_config::load::<K>(env, vmid).await?;
            set_guest_lock(env.state.store.as_ref(), &guest, GuestLock::Create)
                .await
                .map_err(|e| {
                    ApiError::bad_request(format!("unable to restore {} {vmid} - {e}", K::LABEL))
                })?;
            Some(loaded.config)
        }
    };
    let task_env = env.clone();
    let archive_path = found.path;
    let upid = env
        .state
        .tasks
        .spawn(
            K::TASK,
            Some(&vmid.to_string()),
            &env.caller_string(),
            move |ctx| async move {
                let env = task_env;
                let log = ctx.clone();
                let work_dir = env
                    .state
                    .data_dir
                    .join("tmp")
                    .join(format!("restore-{vmid}-{}", std::process::id()));
                let _ = std::fs::create_dir_all(&work_dir);
                let m = Arc::clone(&manager);
                let by_name: BTreeMap<String, DiskPlacement> = placements
                    .iter()
                    .map(|(n, (_, p))| (n.clone(), p.clone()))
                    .collect();
                let wd = work_dir.clone();
                ctx.log(format!(
                    "restore vzdump archive '{}'",
                    archive_path.display()
                ));
                let extracted = tokio::task::spawn_blocking(move || {
                    extract(&m, &archive_path, vmid, &by_name, &wd, bwlimit, &|line| {
                        log.log(line)
                    })
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
                let _ = std::fs::remove_dir_all(&work_dir);
                let outcome: Result<Vec<VolumeId>, String> = async {
                    let disks = extracted?;
                    let restored: BTreeMap<String, (String, RestoredDisk)> = placements
                        .iter()
                        .filter_map(|(name, (key, _))| {
                            disks
                                .get(name)
                                .map(|d| (name.clone(), (key.clone(), d.clone())))
                        })
                        .collect();
                    let written: Result<(), String> = async {
                        config.finish(&restored, unique, &|m| ctx.log(m))?;
                        let text = config.to_doc()?;
                        env.state
                            .store
                            .put(&guest_config_key(&guest), &text, Expect::Any)
                            .await
                            .map_err(|e| e.to_string())?;
                        crate::api::pools::join_pool(&env, pool.as_deref(), vmid).await
                    }
                    .await;
                    if let Err(e) = written {
                        for d in disks.values() {
                            let _ = manager.free(&d.volid);
                        }
                        return Err(e);
                    }
                    Ok(disks.values().map(|d| d.volid.clone()).collect())
                }
                .await;
                match outcome {
                    Ok(new) => {
                        if let Some(old) = &old {
                            for volid in old.owned_volumes() {
                                let Ok(v) = VolumeId::parse(&volid) else {
                                    continue;
                                };
                                if new.contains(&v) || manager.check_owner(&v, vmid).is_err() {
                                    continue;
                                }
                                match manager.free(&v) {
                                    Ok(()) => ctx.log(format!("removed old volume '{v}'")),
                                    Err(e) => {
                                        ctx.log(format!("unable to remove old volume '{v}' - {e}"))
                                    }
                                }
                            }
                        }
                        ctx.log(format!("restore of {} {vmid} finished", K::LABEL));
                        Ok(())
                    }
                    Err(e) => {
                        match &old {
                            None => {
                                let _ = env
                                    .state
                                    .store
                                    .delete(&guest_config_key(&guest), Expect::Any)
                                    .await;
                            }
                            Some(_) => {
                                let _ = oxve_store::clear_guest_lock(
                                    env.state.store.as_ref(),
                                    &guest,
                                    GuestLock::Create,
                                )
                                .await;
                            }
                        }
                        Err(format!("unable to restore {} {vmid} - {e}", K::LABEL))
                    }
                }
            },
        )
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(upid.to_string())
}
