//! Backup volumes through the storage manager: their attributes (notes, protection, last
//! verification) and pruning a storage's backups by retention options.

use std::path::PathBuf;

use oxve_types::calendar::Zone;

use crate::backup::{self, archive_info, Verification};
use crate::config::PruneBackups;
use crate::content::ContentType;
use crate::error::StorageError;
use crate::manager::StorageManager;
use crate::plugin::VolumeFilter;
use crate::retention::{mark_backups, PruneEntry, PruneMark};
use crate::volid::VolumeId;

/// What `GET .../content/{volume}` adds for a backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupAttributes {
    pub path: PathBuf,
    pub size: u64,
    /// `oxar.zst`, `vma.zst`, ...
    pub format: String,
    /// `qemu`, `lxc`, `openvz` or `unknown`.
    pub subtype: String,
    /// All lines.
    pub notes: Option<String>,
    pub protected: bool,
    pub verification: Option<Verification>,
}

fn file_name(volid: &VolumeId) -> &str {
    volid.volname().rsplit('/').next().unwrap_or_default()
}

/// Which backups to prune, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneRequest {
    pub storage: String,
    /// The retention; the storage's `prune-backups` when `None`.
    pub keep: Option<PruneBackups>,
    /// Only this guest's backups.
    pub vmid: Option<u32>,
    /// Only backups of this guest type (`qemu`, `lxc`).
    pub guest_type: Option<String>,
    /// Only mark, remove nothing.
    pub dry_run: bool,
}

impl StorageManager {
    /// The archive file of a backup volume; other volumes are refused.
    pub fn backup_path(&self, volid: &VolumeId) -> Result<PathBuf, StorageError> {
        let plugin = self.open(volid.storage())?;
        let v = plugin.parse_volname(volid.volname())?;
        if v.content != ContentType::Backup {
            return Err(StorageError::InvalidVolumeId {
                volid: volid.to_string(),
                reason: format!("not a backup volume (content type '{}')", v.content),
            });
        }
        plugin.path(volid.volname())
    }

    /// Size, format, notes, protection and last verification of a backup.
    pub fn backup_attributes(&self, volid: &VolumeId) -> Result<BackupAttributes, StorageError> {
        let path = self.backup_path(volid)?;
        let meta = std::fs::metadata(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StorageError::VolumeNotFound {
                volid: volid.to_string(),
            },
            _ => StorageError::io("stat", &path, e),
        })?;
        let info = archive_info(file_name(volid));
        Ok(BackupAttributes {
            size: meta.len(),
            format: info.as_ref().map(|i| i.format.clone()).unwrap_or_else(|| {
                crate::volid::backup_format(file_name(volid)).unwrap_or_default()
            }),
            subtype: info.map_or_else(|| "unknown".into(), |i| i.guest_type),
            notes: backup::read_notes(&path),
            protected: backup::is_protected(&path),
            verification: backup::read_verification(&path),
            path,
        })
    }

    /// How many protected backups per guest the storage allows: its `max-protected-backups`,
    /// else unlimited for callers with Datastore.Allocate (`privileged`) and 5 for others
    /// (Proxmox's `get_max_protected_backups`); `None` is unlimited.
    pub fn max_protected_backups(
        &self,
        storage: &str,
        privileged: bool,
    ) -> Result<Option<u64>, StorageError> {
        let limit = self
            .config()
            .get(storage)?
            .props
            .max_protected_backups
            .unwrap_or(if privileged { -1 } else { 5 });
        Ok(u64::try_from(limit).ok())
    }

    /// Set the notes (`Some`) and/or the protection (`Some`) of a backup. Protecting one more
    /// backup of a guest than `protect_limit` allows (per guest and type, on this storage) is
    /// refused.
    pub fn update_backup_attributes(
        &self,
        volid: &VolumeId,
        notes: Option<&str>,
        protected: Option<bool>,
        protect_limit: Option<u64>,
    ) -> Result<(), StorageError> {
        let path = self.backup_path(volid)?;
        if !path.exists() {
            return Err(StorageError::VolumeNotFound {
                volid: volid.to_string(),
            });
        }
        if protected == Some(true) && !backup::is_protected(&path) {
            if let Some(limit) = protect_limit {
                self.check_protect_limit(volid, limit)?;
            }
        }
        if let Some(notes) = notes {
            backup::write_notes(&path, notes)?;
        }
        if let Some(protected) = protected {
            backup::set_protected(&path, protected)?;
        }
        Ok(())
    }

    fn check_protect_limit(&self, volid: &VolumeId, limit: u64) -> Result<(), StorageError> {
        let Some(info) = archive_info(file_name(volid)) else {
            return Ok(());
        };
        let Some(vmid) = info.vmid else {
            return Ok(());
        };
        let filter = VolumeFilter {
            vmid: Some(vmid),
            content: Some(ContentType::Backup),
            ..Default::default()
        };
        let protected = self
            .list(volid.storage(), &filter)?
            .iter()
            .filter(|e| e.protected && e.vmid == Some(vmid))
            .filter(|e| {
                let name = e.volid.rsplit('/').next().unwrap_or_default();
                archive_info(name).is_some_and(|i| i.guest_type == info.guest_type)
            })
            .count() as u64;
        if protected >= limit {
            return Err(StorageError::option(
                volid.storage(),
                "protected",
                format!(
                    "The number of protected backups per guest is limited to {limit} on storage '{}'",
                    volid.storage()
                ),
            ));
        }
        Ok(())
    }

    /// Mark (and unless `dry_run`, remove) the backups of a storage by the retention options,
    /// as Proxmox's `prune_backups`. Returns every considered backup with its mark; removals
    /// are logged through `log`. A failed removal does not stop the others; the call then
    /// fails at the end.
    pub fn prune_backups(
        &self,
        req: &PruneRequest,
        zone: &dyn Zone,
        log: &mut dyn FnMut(String),
    ) -> Result<Vec<PruneEntry>, StorageError> {
        let storage = req.storage.as_str();
        let (vmid, guest_type, dry_run) = (req.vmid, req.guest_type.as_deref(), req.dry_run);
        let entry = self.config().get(storage)?;
        if !entry.content().contains(&ContentType::Backup) {
            return Err(StorageError::ContentNotAllowed {
                storage: storage.to_string(),
                content: "backup".into(),
            });
        }
        let keep = match &req.keep {
            Some(k) => k.clone(),
            None => entry.props.effective_prune_backups().ok_or_else(|| {
                StorageError::option(
                    storage,
                    "prune-backups",
                    format!("no prune-backups options configured for storage '{storage}'"),
                )
            })?,
        };
        let filter = VolumeFilter {
            vmid,
            content: Some(ContentType::Backup),
            ..Default::default()
        };
        let mut entries: Vec<PruneEntry> = Vec::new();
        for item in self.list(storage, &filter)? {
            let name = item.volid.rsplit('/').next().unwrap_or_default();
            let info = archive_info(name);
            let backup_type = info
                .as_ref()
                .map_or_else(|| "unknown".to_string(), |i| i.guest_type.clone());
            if guest_type.is_some_and(|t| t != backup_type) {
                continue;
            }
            let standard = info.as_ref().is_some_and(|i| i.standard_name);
            let ctime = match info.as_ref().and_then(|i| i.time) {
                Some(t) => zone.to_epoch(oxve_types::calendar::Fields {
                    year: t[0] as i64,
                    month: t[1] as i64,
                    day: t[2] as i64,
                    hour: t[3] as i64,
                    minute: t[4] as i64,
                    second: t[5] as i64,
                }),
                None => item.ctime.unwrap_or_default(),
            };
            entries.push(PruneEntry {
                volid: item.volid.clone(),
                ctime,
                guest_type: backup_type,
                vmid: info.and_then(|i| i.vmid).or(item.vmid),
                standard_name: standard,
                protected: item.protected,
                mark: None,
            });
        }
        mark_backups(&mut entries, &keep, zone);
        if dry_run {
            return Ok(entries);
        }
        let mut failed = false;
        for e in entries.iter().filter(|e| e.mark == Some(PruneMark::Remove)) {
            log(format!("removing backup '{}'", e.volid));
            let removed = VolumeId::parse(&e.volid)
                .and_then(|id| self.backup_path(&id))
                .and_then(|path| backup::remove_archive(&path, &e.volid));
            if let Err(err) = removed {
                log(format!("error when removing backup '{}' - {err}", e.volid));
                failed = true;
            }
        }
        if failed {
            return Err(StorageError::PruneFailed {
                storage: storage.to_string(),
            });
        }
        Ok(entries)
    }
}
