//! `dir`: a directory on a local (or externally mounted) file system. Guest images are files
//! under `images/<vmid>/` (raw, qcow2, vmdk; subvol as a plain directory), ISO images under
//! `template/iso/`, container templates under `template/cache/`, backups under `dump/`,
//! snippets under `snippets/`. Snapshots are qcow2-internal (`qemu-img snapshot`), linked
//! clones are qcow2 overlays with a relative backing file. NFS and CIFS storages reuse it.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::capabilities::{set, Capabilities};
use crate::command::Cmd;
use crate::config::{parse_bool, schema, StorageEntry};
use crate::content::ContentType;
use crate::error::{escape, StorageError};
use crate::format::{Preallocation, VolumeFormat};
use crate::fsutil;
use crate::plugin::{
    AllocRequest, CopyTarget, PluginContext, StoragePlugin, StorageStatus, VolumeEntry,
    VolumeFilter, VolumeInfo,
};
use crate::plugins::common::{
    check_alloc_name, check_space, next_disk_name, resolve_preallocation,
};
use crate::plugins::dir_images::create_raw_file;
use crate::plugins::dir_list::{self, dir_names, file_image_info};
use crate::qemu_img::{self, SnapshotOp};
use crate::revert::Revert;
use crate::size::round_up_kib;
use crate::volid::{
    backup_format, check_file_name, import_format, is_iso_name, parse_dir_volname,
    vztmpl_compression, VolName,
};

/// A directory storage (also the engine of `nfs` and `cifs`).
pub struct DirPlugin {
    entry: StorageEntry,
    ctx: PluginContext,
}

impl DirPlugin {
    /// A plugin for `entry`.
    pub fn new(entry: StorageEntry, ctx: PluginContext) -> Self {
        DirPlugin { entry, ctx }
    }

    /// The registry constructor.
    pub fn factory(
        entry: &StorageEntry,
        ctx: &PluginContext,
    ) -> Result<Box<dyn StoragePlugin>, StorageError> {
        Ok(Box::new(Self::new(entry.clone(), ctx.clone())))
    }

    pub(crate) fn ctx(&self) -> &PluginContext {
        &self.ctx
    }

    /// The storage's base directory.
    pub fn base_path(&self) -> Result<PathBuf, StorageError> {
        self.entry.path().ok_or_else(|| {
            StorageError::option(&self.entry.id, "path", "storage definition has no path")
        })
    }

    /// The directory of a content type.
    pub fn content_dir(&self, content: ContentType) -> Result<PathBuf, StorageError> {
        self.entry.content_dir(content).ok_or_else(|| {
            StorageError::option(&self.entry.id, "path", "storage definition has no path")
        })
    }

    /// `images/<vmid>`.
    pub fn image_dir(&self, vmid: u32) -> Result<PathBuf, StorageError> {
        Ok(self
            .content_dir(ContentType::Images)?
            .join(vmid.to_string()))
    }

    /// Parse and require a guest image volume name.
    pub(crate) fn parse_image(
        &self,
        volname: &str,
    ) -> Result<(VolName, u32, VolumeFormat), StorageError> {
        let v = parse_dir_volname(volname)?;
        match (v.content, v.vmid, v.format) {
            (ContentType::Images, Some(vmid), Some(format)) => Ok((v, vmid, format)),
            _ => Err(StorageError::InvalidVolumeId {
                volid: format!("{}:{}", self.entry.id, escape(volname)),
                reason: "not a guest image".into(),
            }),
        }
    }

    pub(crate) fn volid(&self, volname: &str) -> String {
        format!("{}:{}", self.entry.id, volname)
    }

    pub(crate) fn file_caps(&self) -> Capabilities {
        use Preallocation::*;
        use VolumeFormat::*;
        let (formats, default) = schema::type_formats(&self.entry.storage_type);
        let mut prealloc = std::collections::BTreeMap::new();
        prealloc.insert(Raw, set(&[Off, Falloc, Full]));
        prealloc.insert(Qcow2, set(&[Off, Metadata, Falloc, Full]));
        prealloc.insert(Vmdk, set(&[Off]));
        prealloc.retain(|f, _| formats.contains(f));
        Capabilities {
            default_format: self.entry.props.format.unwrap_or(default),
            content: schema::valid_content(&self.entry.storage_type),
            snapshot_formats: set(&[Qcow2]),
            linked_clone_formats: set(&[Raw, Qcow2, Vmdk]),
            template_formats: formats.clone(),
            resize_formats: set(&[Raw, Qcow2]),
            preallocation: prealloc,
            formats,
            shared: self.entry.is_shared(),
            thin_provisioning: true,
            sparse_init: true,
            files: true,
            subvol_quota: false,
        }
    }

    fn flag(&self, value: Option<bool>) -> bool {
        value != Some(false)
    }

    /// Whether the storage must be a mount point, and which path (`is_mountpoint`).
    pub(crate) fn mountpoint_required(&self) -> Option<PathBuf> {
        let v = self.entry.props.is_mountpoint.as_deref()?;
        match parse_bool(Some(v)) {
            Ok(true) => self.entry.path(),
            Ok(false) => None,
            Err(_) => Some(PathBuf::from(v)),
        }
    }

    pub(crate) fn is_mounted(&self, mp: &Path) -> Result<bool, StorageError> {
        let real = fs::canonicalize(mp).unwrap_or_else(|_| mp.to_path_buf());
        let mounts = fsutil::read_mounts(&self.ctx.mounts_file)?;
        Ok(mounts.iter().any(|m| Path::new(&m.target) == real))
    }

    /// Create the base directory and content subdirectories as `mkdir`, `create-base-path`
    /// and `create-subdirs` allow, and check that content directories are distinct.
    pub(crate) fn activate_dirs(&self) -> Result<(), StorageError> {
        let path = self.base_path()?;
        let props = &self.entry.props;
        if !path.is_dir() {
            if self.flag(props.mkdir) && self.flag(props.create_base_path) {
                fs::create_dir_all(&path)
                    .map_err(|e| StorageError::io("create directory", &path, e))?;
            } else {
                return Err(StorageError::Activate {
                    storage: self.entry.id.clone(),
                    reason: format!(
                        "directory '{}' does not exist or is unreachable",
                        path.display()
                    ),
                });
            }
        }
        let content = self.entry.content();
        if self.flag(props.mkdir) && self.flag(props.create_subdirs) {
            for ct in ContentType::ALL {
                let wanted = content.contains(&ct)
                    || (ct == ContentType::Backup && content.contains(&ContentType::Rootdir));
                if !wanted || ct == ContentType::None {
                    continue;
                }
                let dir = self.content_dir(ct)?;
                if dir != path {
                    fs::create_dir_all(&dir)
                        .map_err(|e| StorageError::io("create directory", &dir, e))?;
                }
            }
        }
        let mut seen = BTreeSet::new();
        for ct in &content {
            let Ok(real) = fs::canonicalize(self.content_dir(*ct)?) else {
                continue;
            };
            if !seen.insert(real.clone()) {
                return Err(StorageError::Activate {
                    storage: self.entry.id.clone(),
                    reason: format!(
                        "directory {} is used for multiple content types",
                        real.display()
                    ),
                });
            }
        }
        Ok(())
    }

    /// Status from `statvfs` plus provisioned bytes; inactive when the path is missing or
    /// not mounted although it must be.
    pub(crate) fn dir_status(
        &self,
        list: impl Fn() -> Result<Vec<VolumeEntry>, StorageError>,
    ) -> Result<StorageStatus, StorageError> {
        if let Some(mp) = self.mountpoint_required() {
            if !self.is_mounted(&mp)? {
                return Ok(StorageStatus::default());
            }
        }
        let path = self.base_path()?;
        if !path.is_dir() {
            return Ok(StorageStatus::default());
        }
        let space = fsutil::fs_space(&path)?;
        let provisioned = list()?.iter().map(|v| v.size).sum();
        Ok(StorageStatus {
            total: space.total,
            used: space.used,
            avail: space.avail,
            active: true,
            provisioned: Some(provisioned),
        })
    }

    /// Free bytes where images go.
    pub(crate) fn avail(&self) -> Result<u64, StorageError> {
        let images = self.content_dir(ContentType::Images)?;
        let probe = if images.exists() {
            images
        } else {
            self.base_path()?
        };
        Ok(fsutil::fs_space(&probe)?.avail)
    }

    /// Pick or check the image name, and refuse thick allocations that do not fit.
    pub(crate) fn prepare_alloc(
        &self,
        req: &AllocRequest,
        existing: Vec<String>,
        ext: bool,
    ) -> Result<(String, Option<Preallocation>, u64), StorageError> {
        let caps = self.capabilities();
        if !caps.supports_format(req.format) {
            return Err(StorageError::unsupported(
                &self.entry.id,
                format!("format '{}'", req.format),
            ));
        }
        let prealloc = resolve_preallocation(&self.entry, &caps, req.format, req.preallocation)?;
        let size = round_up_kib(req.size);
        let name = match &req.name {
            Some(n) => check_alloc_name(n, req.vmid, req.format, ext)?,
            None => {
                let suffix = if ext {
                    format!(".{}", req.format)
                } else {
                    String::new()
                };
                next_disk_name(
                    &self.entry.id,
                    existing.iter().map(String::as_str),
                    req.vmid,
                    req.format,
                    &suffix,
                )?
            }
        };
        if prealloc.is_some_and(Preallocation::is_thick) {
            check_space(&self.entry.id, size, self.avail()?)?;
        }
        Ok((name, prealloc, size))
    }

    /// Create `images/<vmid>` if needed, undoing that on failure.
    pub(crate) fn make_image_dir(
        &self,
        vmid: u32,
        revert: &mut Revert,
    ) -> Result<PathBuf, StorageError> {
        let dir = self.image_dir(vmid)?;
        if !dir.exists() {
            fs::create_dir_all(&dir).map_err(|e| StorageError::io("create directory", &dir, e))?;
            let d = dir.clone();
            revert.add(move || {
                let _ = fs::remove_dir(&d);
            });
        }
        Ok(dir)
    }

    pub(crate) fn run_chattr(&self, flag: &str, path: &Path) {
        // Best effort, as in Proxmox: not every file system supports the immutable flag.
        let _ = self.ctx.runner.run(&Cmd::new("chattr").arg(flag).arg(path));
    }

    fn linked_clones_of(&self, base: &VolName) -> Result<Vec<String>, StorageError> {
        let (formats, _) = schema::type_formats(&self.entry.storage_type);
        let wanted = format!("../{}/{}", base.vmid.unwrap_or(0), base.name);
        Ok(
            dir_list::list_dir_images(self.ctx.runner.as_ref(), &self.entry, &formats, None)?
                .into_iter()
                .filter(|v| v.parent.as_deref() == Some(wanted.as_str()))
                .map(|v| v.volid)
                .collect(),
        )
    }

    pub(crate) fn check_file_name_for(
        &self,
        content: ContentType,
        name: &str,
    ) -> Result<(), StorageError> {
        let bad = |reason: &str| StorageError::InvalidFilename {
            name: escape(name),
            reason: reason.into(),
        };
        check_file_name(name).map_err(|r| bad(&r))?;
        if name.starts_with('.') {
            return Err(bad("hidden files are not allowed"));
        }
        let ok = match content {
            ContentType::Iso => is_iso_name(name),
            ContentType::Vztmpl => vztmpl_compression(name).is_some(),
            ContentType::Backup => backup_format(name).is_some(),
            ContentType::Import => import_format(name).is_some(),
            ContentType::Snippets => true,
            _ => return Err(bad("not a file content type")),
        };
        if !ok {
            return Err(bad(match content {
                ContentType::Iso => "wrong file extension (expected .iso or .img)",
                ContentType::Vztmpl => {
                    "wrong file extension (expected .tar.gz, .tar.xz, .tar.zst or .tar.bz2)"
                }
                ContentType::Import => {
                    "wrong file extension (expected .ova, .ovf, .qcow2, .raw or .vmdk)"
                }
                _ => "wrong file extension",
            }));
        }
        Ok(())
    }
}

impl StoragePlugin for DirPlugin {
    fn entry(&self) -> &StorageEntry {
        &self.entry
    }

    fn capabilities(&self) -> Capabilities {
        self.file_caps()
    }

    fn activate(&self) -> Result<(), StorageError> {
        if let Some(mp) = self.mountpoint_required() {
            if !self.is_mounted(&mp)? {
                return Err(StorageError::Activate {
                    storage: self.entry.id.clone(),
                    reason: format!(
                        "directory is expected to be a mount point but is not mounted: '{}'",
                        mp.display()
                    ),
                });
            }
        }
        self.activate_dirs()
    }

    fn status(&self) -> Result<StorageStatus, StorageError> {
        self.dir_status(|| {
            self.list_volumes(&VolumeFilter {
                content: Some(ContentType::Images),
                ..Default::default()
            })
        })
    }

    fn parse_volname(&self, volname: &str) -> Result<VolName, StorageError> {
        parse_dir_volname(volname)
    }

    fn list_volumes(&self, filter: &VolumeFilter) -> Result<Vec<VolumeEntry>, StorageError> {
        let formats = self.file_caps().formats;
        dir_list::list_volumes_with(&self.entry, filter, |vmid| {
            dir_list::list_dir_images(self.ctx.runner.as_ref(), &self.entry, &formats, vmid)
        })
    }

    fn alloc_image(&self, req: &AllocRequest) -> Result<String, StorageError> {
        let existing = dir_names(&self.image_dir(req.vmid)?);
        let (name, prealloc, size) = self.prepare_alloc(req, existing, true)?;
        if req.format == VolumeFormat::Subvol && size != 0 {
            return Err(StorageError::unsupported(
                &self.entry.id,
                "subvolumes with a size limit (use size 0)",
            ));
        }
        let mut revert = Revert::new();
        let dir = self.make_image_dir(req.vmid, &mut revert)?;
        let path = dir.join(&name);
        let volname = format!("{}/{name}", req.vmid);
        if path.exists() {
            return Err(StorageError::VolumeExists {
                volid: self.volid(&volname),
            });
        }
        let created = match req.format {
            VolumeFormat::Subvol => {
                fs::create_dir(&path).map_err(|e| StorageError::io("create directory", &path, e))
            }
            VolumeFormat::Raw => {
                create_raw_file(&path, size, prealloc.unwrap_or(Preallocation::Off))
            }
            format => {
                let p = path.clone();
                revert.add(move || {
                    let _ = fs::remove_file(&p);
                });
                qemu_img::create(self.ctx.runner.as_ref(), &path, format, size, prealloc)
            }
        };
        created?;
        revert.commit();
        Ok(volname)
    }

    fn alloc_copy_target(&self, req: &AllocRequest) -> Result<(String, CopyTarget), StorageError> {
        if !matches!(req.format, VolumeFormat::Qcow2 | VolumeFormat::Vmdk) {
            return Ok((self.alloc_image(req)?, CopyTarget::Existing));
        }
        let existing = dir_names(&self.image_dir(req.vmid)?);
        let (name, preallocation, _) = self.prepare_alloc(req, existing, true)?;
        let mut revert = Revert::new();
        let dir = self.make_image_dir(req.vmid, &mut revert)?;
        let path = dir.join(&name);
        let volname = format!("{}/{name}", req.vmid);
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => StorageError::VolumeExists {
                    volid: self.volid(&volname),
                },
                _ => StorageError::io("create image", &path, e),
            })?;
        revert.commit();
        Ok((volname, CopyTarget::Create { preallocation }))
    }

    fn free_image(&self, volname: &str) -> Result<(), StorageError> {
        let (v, _, format) = self.parse_image(volname)?;
        let path = self.path(volname)?;
        if !path.exists() {
            return Err(StorageError::VolumeNotFound {
                volid: self.volid(volname),
            });
        }
        if v.is_base {
            let clones = self.linked_clones_of(&v)?;
            if !clones.is_empty() {
                return Err(StorageError::VolumeInUse {
                    volid: self.volid(volname),
                    reason: format!("base image is used by linked clones {}", clones.join(", ")),
                });
            }
            self.run_chattr("-i", &path);
        }
        if format == VolumeFormat::Subvol {
            fs::remove_dir_all(&path).map_err(|e| StorageError::io("remove", &path, e))?;
        } else {
            fs::remove_file(&path).map_err(|e| StorageError::io("remove", &path, e))?;
        }
        if let Some(parent) = path.parent() {
            let _ = fs::remove_dir(parent);
        }
        Ok(())
    }

    fn volume_info(&self, volname: &str) -> Result<VolumeInfo, StorageError> {
        let v = parse_dir_volname(volname)?;
        if !matches!(v.content, ContentType::Images | ContentType::Rootdir) {
            // ISOs, templates, backups, snippets: plain files (an ISO is a raw image to QEMU).
            let path = self.path(volname)?;
            let meta = std::fs::metadata(&path).map_err(|_| StorageError::VolumeNotFound {
                volid: self.volid(volname),
            })?;
            let ctime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs() as i64);
            return Ok(VolumeInfo {
                path,
                size: meta.len(),
                used: meta.len(),
                format: VolumeFormat::Raw,
                parent: None,
                ctime,
            });
        }
        let (_, _, format) = self.parse_image(volname)?;
        let path = self.path(volname)?;
        if !path.exists() {
            return Err(StorageError::VolumeNotFound {
                volid: self.volid(volname),
            });
        }
        let info = file_image_info(self.ctx.runner.as_ref(), &path, format)?;
        Ok(VolumeInfo {
            path,
            size: info.size,
            used: info.used,
            format,
            parent: info.parent,
            ctime: Some(info.ctime),
        })
    }

    fn resize(&self, volname: &str, size: u64) -> Result<(), StorageError> {
        let (_, _, format) = self.parse_image(volname)?;
        let path = self.path(volname)?;
        self.resize_file_image(volname, &path, format, size)
    }

    fn path(&self, volname: &str) -> Result<PathBuf, StorageError> {
        let v = parse_dir_volname(volname)?;
        match v.content {
            ContentType::Images => Ok(self.image_dir(v.vmid.unwrap_or(0))?.join(&v.name)),
            ContentType::Rootdir => Ok(self.content_dir(ContentType::Rootdir)?.join(&v.name)),
            ct => Ok(self.content_dir(ct)?.join(&v.name)),
        }
    }

    fn content_path(&self, content: ContentType, name: &str) -> Result<PathBuf, StorageError> {
        if !self.entry.content().contains(&content) {
            return Err(StorageError::ContentNotAllowed {
                storage: self.entry.id.clone(),
                content: content.to_string(),
            });
        }
        self.check_file_name_for(content, name)?;
        Ok(self.content_dir(content)?.join(name))
    }

    fn snapshot_create(&self, volname: &str, snap: &str) -> Result<(), StorageError> {
        self.qcow2_snapshot(volname, snap, SnapshotOp::Create)
    }

    fn snapshot_delete(&self, volname: &str, snap: &str) -> Result<(), StorageError> {
        self.qcow2_snapshot(volname, snap, SnapshotOp::Delete)
    }

    fn snapshot_rollback(&self, volname: &str, snap: &str) -> Result<(), StorageError> {
        self.qcow2_snapshot(volname, snap, SnapshotOp::Apply)
    }

    fn create_base(&self, volname: &str) -> Result<String, StorageError> {
        self.make_base(volname)
    }

    fn clone_image(
        &self,
        volname: &str,
        vmid: u32,
        snap: Option<&str>,
    ) -> Result<String, StorageError> {
        self.overlay_clone(volname, vmid, snap)
    }
}
