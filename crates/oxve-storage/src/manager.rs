//! The storage layer as the API layer uses it: storage.cfg plus the plugin registry. Every
//! call resolves the storage, checks what the request needs against the backend's
//! capabilities and the storage's content types *before* touching anything, then calls the
//! plugin. Cross-storage work (copy, import) lives here, with undo on failure.

use std::path::{Path, PathBuf};

use crate::capabilities::Capabilities;
use crate::checksum::ChecksumAlgorithm;
use crate::config::{StorageConfig, StorageEntry};
use crate::content::{content_list_string, ContentType};
use crate::error::StorageError;
use crate::format::{Preallocation, VolumeFormat};
use crate::plugin::{
    AllocRequest, CopyTarget, PluginContext, StoragePlugin, StorageStatus, VolumeEntry,
    VolumeFilter, VolumeInfo,
};
use crate::qemu_img::{self, ConvertOptions, ConvertSource};
use crate::registry::PluginRegistry;
use crate::revert::Revert;
use crate::size::SizeSpec;
use crate::upload::UploadTarget;
use crate::volid::VolumeId;

/// One row of `GET /nodes/{node}/storage`.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageSummary {
    /// Storage id.
    pub storage: String,
    /// Storage type.
    pub storage_type: String,
    /// Content types, comma-separated.
    pub content: String,
    /// Whether the storage is enabled.
    pub enabled: bool,
    /// Whether the storage is shared.
    pub shared: bool,
    /// Usage (all zero and `active: false` when unreachable or disabled).
    pub status: StorageStatus,
    /// `used / total` (0 when the total is unknown).
    pub used_fraction: f64,
}

/// A request to allocate a volume through the manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocOptions {
    /// Owning guest.
    pub vmid: u32,
    /// Name; next free `vm-<vmid>-disk-N` when `None`.
    pub name: Option<String>,
    /// Format; the storage's default when `None`.
    pub format: Option<VolumeFormat>,
    /// Size in bytes.
    pub size: u64,
    /// Provisioning; the storage's default when `None`.
    pub preallocation: Option<Preallocation>,
    /// Content type the volume is for (`images` or `rootdir`).
    pub content: ContentType,
}

/// Storage configuration plus plugins.
pub struct StorageManager {
    config: StorageConfig,
    registry: PluginRegistry,
    ctx: PluginContext,
}

impl StorageManager {
    /// A manager over `config`.
    pub fn new(config: StorageConfig, registry: PluginRegistry, ctx: PluginContext) -> Self {
        StorageManager {
            config,
            registry,
            ctx,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &StorageConfig {
        &self.config
    }

    /// Replace the configuration (after a config change).
    pub fn set_config(&mut self, config: StorageConfig) {
        self.config = config;
    }

    /// The plugin of an enabled storage.
    pub fn open(&self, storage: &str) -> Result<Box<dyn StoragePlugin>, StorageError> {
        let entry = self.config.get(storage)?;
        if !entry.is_enabled() {
            return Err(StorageError::Disabled(storage.to_string()));
        }
        self.registry.open(entry, &self.ctx)
    }

    fn open_volume(&self, volid: &VolumeId) -> Result<Box<dyn StoragePlugin>, StorageError> {
        self.open(volid.storage())
    }

    /// The capabilities of a storage.
    pub fn capabilities(&self, storage: &str) -> Result<Capabilities, StorageError> {
        Ok(self.open(storage)?.capabilities())
    }

    /// Status of one storage.
    pub fn summary(&self, entry: &StorageEntry) -> StorageSummary {
        let status = if entry.is_enabled() {
            self.registry
                .open(entry, &self.ctx)
                .and_then(|p| p.status())
                .unwrap_or_default()
        } else {
            StorageStatus::default()
        };
        let used_fraction = if status.total > 0 {
            status.used as f64 / status.total as f64
        } else {
            0.0
        };
        StorageSummary {
            storage: entry.id.clone(),
            storage_type: entry.storage_type.clone(),
            content: content_list_string(&entry.content()),
            enabled: entry.is_enabled(),
            shared: entry.is_shared(),
            status,
            used_fraction,
        }
    }

    /// Status of every storage available on `node` (all when `None`).
    pub fn summaries(&self, node: Option<&str>) -> Vec<StorageSummary> {
        self.config
            .entries()
            .iter()
            .filter(|e| node.is_none_or(|n| e.available_on(n)))
            .map(|e| self.summary(e))
            .collect()
    }

    /// Activate a storage (create directories, mount, check the VG/pool).
    pub fn activate(&self, storage: &str) -> Result<(), StorageError> {
        self.open(storage)?.activate()
    }

    /// List the volumes of a storage.
    pub fn list(
        &self,
        storage: &str,
        filter: &VolumeFilter,
    ) -> Result<Vec<VolumeEntry>, StorageError> {
        self.open(storage)?.list_volumes(filter)
    }

    fn check_content(entry: &StorageEntry, content: ContentType) -> Result<(), StorageError> {
        if !entry.content().contains(&content) {
            return Err(StorageError::ContentNotAllowed {
                storage: entry.id.clone(),
                content: content.to_string(),
            });
        }
        Ok(())
    }

    /// Allocate a guest volume.
    pub fn alloc(&self, storage: &str, opts: &AllocOptions) -> Result<VolumeId, StorageError> {
        let plugin = self.open(storage)?;
        Self::check_content(plugin.entry(), opts.content)?;
        let caps = plugin.capabilities();
        let format = opts.format.unwrap_or(caps.default_format);
        if !caps.supports_format(format) {
            return Err(StorageError::unsupported(
                storage,
                format!("format '{format}'"),
            ));
        }
        let volname = plugin.alloc_image(&AllocRequest {
            vmid: opts.vmid,
            name: opts.name.clone(),
            format,
            size: opts.size,
            preallocation: opts.preallocation,
        })?;
        VolumeId::new(storage, &volname)
    }

    /// Refuse a volume that does not belong to `vmid`.
    pub fn check_owner(&self, volid: &VolumeId, vmid: u32) -> Result<(), StorageError> {
        let v = self.open_volume(volid)?.parse_volname(volid.volname())?;
        match v.vmid {
            Some(owner) if owner == vmid => Ok(()),
            owner => Err(StorageError::WrongOwner {
                volid: volid.to_string(),
                vmid,
                owner: owner.unwrap_or(0),
            }),
        }
    }

    /// Remove a volume: guest images through the plugin, files (ISO, templates, backups,
    /// snippets) from their directory.
    pub fn free(&self, volid: &VolumeId) -> Result<(), StorageError> {
        let plugin = self.open_volume(volid)?;
        let v = plugin.parse_volname(volid.volname())?;
        match v.content {
            ContentType::Images | ContentType::Rootdir => plugin.free_image(volid.volname()),
            // A backup goes with its notes, log and verification record; protected ones stay.
            ContentType::Backup => {
                let path = plugin.path(volid.volname())?;
                crate::backup::remove_archive(&path, &volid.to_string())
            }
            _ => {
                let path = plugin.path(volid.volname())?;
                std::fs::remove_file(&path).map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => StorageError::VolumeNotFound {
                        volid: volid.to_string(),
                    },
                    _ => StorageError::io("remove", &path, e),
                })
            }
        }
    }

    /// Size, usage, format and path of a guest volume.
    pub fn info(&self, volid: &VolumeId) -> Result<VolumeInfo, StorageError> {
        self.open_volume(volid)?.volume_info(volid.volname())
    }

    /// The file or device path of a volume.
    pub fn path(&self, volid: &VolumeId) -> Result<PathBuf, StorageError> {
        self.open_volume(volid)?.path(volid.volname())
    }

    /// Grow a volume (`+1G` or an absolute size); returns the new size in bytes.
    pub fn resize(&self, volid: &VolumeId, spec: SizeSpec) -> Result<u64, StorageError> {
        self.resize_checked(volid, spec, false)
    }

    /// Grow a volume a running VM holds open, as Proxmox does: an image file is grown by QEMU
    /// itself (QMP `block_resize`), so it is only checked here; a block device (LVM, ZFS)
    /// grows here first. Returns the size QEMU must resize the disk to.
    pub fn resize_online(&self, volid: &VolumeId, spec: SizeSpec) -> Result<u64, StorageError> {
        self.resize_checked(volid, spec, true)
    }

    fn resize_checked(
        &self,
        volid: &VolumeId,
        spec: SizeSpec,
        online: bool,
    ) -> Result<u64, StorageError> {
        let plugin = self.open_volume(volid)?;
        let v = plugin.parse_volname(volid.volname())?;
        let format = v.format.ok_or_else(|| {
            StorageError::unsupported(volid.storage(), "resizing non-image volumes")
        })?;
        if !plugin.capabilities().resize_formats.contains(&format) {
            return Err(StorageError::unsupported(
                volid.storage(),
                format!("resizing '{format}' volumes"),
            ));
        }
        let current = plugin.volume_info(volid.volname())?.size;
        let size = spec.resolve(current)?;
        if size < current {
            return Err(StorageError::ShrinkRefused {
                volid: volid.to_string(),
                current,
                requested: size,
            });
        }
        let file_backed = matches!(
            self.config.get(volid.storage())?.storage_type.as_str(),
            "dir" | "btrfs" | "nfs" | "cifs"
        );
        // (a subvolume's size is a quota, set here even while it is in use)
        if online && file_backed && format.is_image() {
            return Ok(size);
        }
        plugin.resize(volid.volname(), size)?;
        if online {
            return Ok(size);
        }
        Ok(plugin.volume_info(volid.volname())?.size)
    }

    fn image_format(
        &self,
        plugin: &dyn StoragePlugin,
        volid: &VolumeId,
    ) -> Result<VolumeFormat, StorageError> {
        plugin
            .parse_volname(volid.volname())?
            .format
            .ok_or_else(|| {
                StorageError::unsupported(volid.storage(), "this operation on non-image volumes")
            })
    }

    /// Take a snapshot.
    pub fn snapshot_create(&self, volid: &VolumeId, snap: &str) -> Result<(), StorageError> {
        let plugin = self.open_volume(volid)?;
        self.check_snapshots(plugin.as_ref(), volid)?;
        plugin.snapshot_create(volid.volname(), snap)
    }

    /// The file of a volume as it was at snapshot `snap`, for storages that keep snapshots
    /// as files of their own (btrfs); read-only.
    pub fn snapshot_path(&self, volid: &VolumeId, snap: &str) -> Result<PathBuf, StorageError> {
        self.open_volume(volid)?
            .snapshot_path(volid.volname(), snap)
    }

    /// Delete a snapshot.
    pub fn snapshot_delete(&self, volid: &VolumeId, snap: &str) -> Result<(), StorageError> {
        let plugin = self.open_volume(volid)?;
        self.check_snapshots(plugin.as_ref(), volid)?;
        plugin.snapshot_delete(volid.volname(), snap)
    }

    /// Roll back to a snapshot.
    pub fn snapshot_rollback(&self, volid: &VolumeId, snap: &str) -> Result<(), StorageError> {
        let plugin = self.open_volume(volid)?;
        self.check_snapshots(plugin.as_ref(), volid)?;
        plugin.snapshot_rollback(volid.volname(), snap)
    }

    fn check_snapshots(
        &self,
        plugin: &dyn StoragePlugin,
        volid: &VolumeId,
    ) -> Result<(), StorageError> {
        let format = self.image_format(plugin, volid)?;
        if !plugin.capabilities().supports_snapshots(format) {
            return Err(StorageError::unsupported(
                volid.storage(),
                format!("snapshots of '{format}' volumes"),
            ));
        }
        Ok(())
    }

    /// Turn a guest image into a template base image.
    pub fn create_base(&self, volid: &VolumeId) -> Result<VolumeId, StorageError> {
        let plugin = self.open_volume(volid)?;
        let format = self.image_format(plugin.as_ref(), volid)?;
        if !plugin.capabilities().template_formats.contains(&format) {
            return Err(StorageError::unsupported(
                volid.storage(),
                format!("templates of '{format}' volumes"),
            ));
        }
        let volname = plugin.create_base(volid.volname())?;
        VolumeId::new(volid.storage(), &volname)
    }

    /// Make a linked clone of a base image for `vmid`.
    pub fn clone_image(
        &self,
        volid: &VolumeId,
        vmid: u32,
        snap: Option<&str>,
    ) -> Result<VolumeId, StorageError> {
        let plugin = self.open_volume(volid)?;
        let format = self.image_format(plugin.as_ref(), volid)?;
        if !plugin.capabilities().supports_linked_clone(format) {
            return Err(StorageError::unsupported(
                volid.storage(),
                format!("linked clones of '{format}' volumes"),
            ));
        }
        let volname = plugin.clone_image(volid.volname(), vmid, snap)?;
        VolumeId::new(volid.storage(), &volname)
    }

    /// Write `src` (an image file readable by `qemu-img`) into a new volume of `target`:
    /// allocate, convert, and free the new volume again if anything fails.
    fn convert_into(
        &self,
        src: ConvertSource<'_>,
        size: u64,
        target: &str,
        opts: &AllocOptions,
        progress: &mut dyn FnMut(f64),
    ) -> Result<VolumeId, StorageError> {
        let plugin = self.open(target)?;
        Self::check_content(plugin.entry(), opts.content)?;
        let caps = plugin.capabilities();
        let format = opts.format.unwrap_or(caps.default_format);
        if !caps.supports_format(format) || !format.is_image() {
            return Err(StorageError::unsupported(
                target,
                format!("format '{format}'"),
            ));
        }
        let (volname, how) = plugin.alloc_copy_target(&AllocRequest {
            vmid: opts.vmid,
            name: opts.name.clone(),
            format,
            size,
            preallocation: opts.preallocation,
        })?;
        let volid = VolumeId::new(target, &volname)?;
        let mut revert = Revert::new();
        {
            let entry = plugin.entry().clone();
            let registry = self.registry.clone();
            let ctx = self.ctx.clone();
            let volname = volname.clone();
            revert.add(move || {
                if let Ok(p) = registry.open(&entry, &ctx) {
                    let _ = p.free_image(&volname);
                }
            });
        }
        plugin.activate_volume(&volname)?;
        let dst = plugin.path(&volname)?;
        let convert = match how {
            CopyTarget::Existing => ConvertOptions {
                target_exists: true,
                target_is_zero: caps.sparse_init,
                preallocation: None,
            },
            CopyTarget::Create { preallocation } => ConvertOptions {
                target_exists: false,
                target_is_zero: false,
                preallocation,
            },
        };
        qemu_img::convert(
            self.ctx.runner.as_ref(),
            src,
            &dst,
            format,
            convert,
            progress,
        )?;
        revert.commit();
        Ok(volid)
    }

    /// Full copy of a volume into a new volume on `target` (another storage and/or format,
    /// `format: None` keeps the source format when the target supports it). `progress` gets
    /// the percent done.
    pub fn copy_volume(
        &self,
        src: &VolumeId,
        target: &str,
        opts: &AllocOptions,
        progress: &mut dyn FnMut(f64),
    ) -> Result<VolumeId, StorageError> {
        self.copy_volume_at(src, None, target, opts, progress)
    }

    /// [`copy_volume`](Self::copy_volume) of the volume as it was at snapshot `snap` (qcow2
    /// internal snapshots; other formats are refused).
    pub fn copy_volume_at(
        &self,
        src: &VolumeId,
        snap: Option<&str>,
        target: &str,
        opts: &AllocOptions,
        progress: &mut dyn FnMut(f64),
    ) -> Result<VolumeId, StorageError> {
        let src_plugin = self.open_volume(src)?;
        let info = src_plugin.volume_info(src.volname())?;
        if !info.format.is_image() {
            return Err(StorageError::unsupported(
                src.storage(),
                "copying subvolumes",
            ));
        }
        let mut opts = opts.clone();
        if opts.format.is_none() {
            let caps = self.capabilities(target)?;
            opts.format = Some(if caps.supports_format(info.format) {
                info.format
            } else {
                caps.default_format
            });
        }
        src_plugin.activate_volume(src.volname())?;
        // qcow2 snapshots are inside the image; other formats' are files of their own.
        let (path, snapshot) = match snap {
            Some(s) if info.format != VolumeFormat::Qcow2 => {
                (src_plugin.snapshot_path(src.volname(), s)?, None)
            }
            _ => (src_plugin.path(src.volname())?, snap),
        };
        let source = ConvertSource {
            path: &path,
            format: info.format.as_str(),
            snapshot,
        };
        self.convert_into(source, info.size, target, &opts, progress)
    }

    /// Import an image file (like `qm disk import`): its format is probed, images that
    /// reference other files are refused, and it is converted into a new volume.
    pub fn import_image(
        &self,
        src: &Path,
        target: &str,
        opts: &AllocOptions,
        progress: &mut dyn FnMut(f64),
    ) -> Result<VolumeId, StorageError> {
        if !src.is_file() {
            return Err(StorageError::io(
                "open image",
                src,
                std::io::Error::new(std::io::ErrorKind::NotFound, "not a regular file"),
            ));
        }
        let info = qemu_img::info(self.ctx.runner.as_ref(), src, None)?;
        info.check_untrusted(src)?;
        let mut opts = opts.clone();
        if opts.format.is_none() {
            let caps = self.capabilities(target)?;
            let probed = info.format.parse::<VolumeFormat>().ok();
            opts.format = Some(match probed {
                Some(f) if caps.supports_format(f) && f.is_image() => f,
                _ => caps.default_format,
            });
        }
        let source = ConvertSource {
            path: src,
            format: &info.format,
            snapshot: None,
        };
        self.convert_into(source, info.virtual_size, target, &opts, progress)
    }

    /// Start an upload of an ISO image, container template or import file: returns where to
    /// write the data; see [`UploadTarget`].
    pub fn begin_upload(
        &self,
        storage: &str,
        content: ContentType,
        filename: &str,
        checksum: Option<(ChecksumAlgorithm, String)>,
    ) -> Result<UploadTarget, StorageError> {
        if !matches!(
            content,
            ContentType::Iso | ContentType::Vztmpl | ContentType::Import
        ) {
            return Err(StorageError::InvalidOption {
                storage: storage.to_string(),
                option: "content".into(),
                reason: format!(
                    "upload of content type '{content}' is not allowed (iso, vztmpl, import)"
                ),
            });
        }
        let plugin = self.open(storage)?;
        let path = plugin.content_path(content, filename)?;
        let prefix = match content {
            ContentType::Iso => "iso",
            ContentType::Vztmpl => "vztmpl",
            _ => "import",
        };
        let volid = VolumeId::new(storage, &format!("{prefix}/{filename}"))?;
        UploadTarget::create(volid, path, checksum)
    }
}
