//! The storage plugin trait and the data it exchanges. Methods are synchronous (they run
//! external tools and touch files); the API layer calls them from blocking tasks.
//! Operations a backend cannot do have default implementations that return
//! [`StorageError::Unsupported`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::capabilities::Capabilities;
use crate::command::{CommandRunner, SystemRunner};
use crate::config::StorageEntry;
use crate::content::ContentType;
use crate::error::StorageError;
use crate::format::{Preallocation, VolumeFormat};
use crate::volid::VolName;

/// Usage of a storage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageStatus {
    /// Capacity in bytes.
    pub total: u64,
    /// Bytes in use.
    pub used: u64,
    /// Bytes available.
    pub avail: u64,
    /// Whether the storage is reachable/mounted.
    pub active: bool,
    /// Sum of the virtual sizes of all guest volumes, when known (thin overcommit shows as
    /// `provisioned > total`).
    pub provisioned: Option<u64>,
}

/// Which volumes to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeFilter {
    /// Only volumes owned by this guest.
    pub vmid: Option<u32>,
    /// Only this content type (default: every content type the storage is configured for).
    pub content: Option<ContentType>,
    /// VMIDs that are containers: their images are listed as `rootdir`, the others as
    /// `images` (the storage layer does not know guest types).
    pub containers: BTreeSet<u32>,
}

/// One listed volume (`GET .../content`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeEntry {
    /// `<storage>:<volname>`.
    pub volid: String,
    /// Content type.
    pub content: ContentType,
    /// Format as Proxmox lists it (`raw`, `qcow2`, `iso`, `tzst`, `vma.zst`, `snippet`, ...).
    pub format: String,
    /// Size in bytes (virtual size for images).
    pub size: u64,
    /// Bytes allocated, when known.
    pub used: Option<u64>,
    /// Owner, when known.
    pub vmid: Option<u32>,
    /// Creation time (seconds since the epoch), when known.
    pub ctime: Option<i64>,
    /// Backing file of a linked clone.
    pub parent: Option<String>,
    /// Backup notes.
    pub notes: Option<String>,
    /// Backup protection flag.
    pub protected: bool,
}

/// Details of one volume (`GET .../content/{volume}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    /// File or device path.
    pub path: PathBuf,
    /// Virtual size in bytes.
    pub size: u64,
    /// Bytes allocated.
    pub used: u64,
    /// Image format.
    pub format: VolumeFormat,
    /// Backing file of a linked clone.
    pub parent: Option<String>,
    /// Creation time, when known.
    pub ctime: Option<i64>,
}

/// A request to allocate a guest image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocRequest {
    /// Owning guest.
    pub vmid: u32,
    /// Name (`vm-<vmid>-...`); the next free `vm-<vmid>-disk-N` when `None`.
    pub name: Option<String>,
    /// Format (must be one of the backend's formats).
    pub format: VolumeFormat,
    /// Size in bytes (rounded up to KiB).
    pub size: u64,
    /// Provisioning; the storage's `preallocation` option or the format's default when `None`.
    pub preallocation: Option<Preallocation>,
}

/// How a volume allocated as a copy target is to be written by `qemu-img convert`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyTarget {
    /// The volume exists with its size: write into it (`-n`).
    Existing,
    /// Only the name is reserved (an empty file): qemu-img creates the image itself, with
    /// this preallocation, which saves one `qemu-img create` per copy.
    Create {
        /// The resolved preallocation mode.
        preallocation: Option<Preallocation>,
    },
}

/// What every plugin gets from its environment: how to run commands and where things are.
#[derive(Clone)]
pub struct PluginContext {
    /// Runs external tools.
    pub runner: Arc<dyn CommandRunner>,
    /// The mount table to read (`/proc/mounts`).
    pub mounts_file: PathBuf,
    /// Where secrets live (CIFS credentials go to `<priv_dir>/storage/<id>.pw`).
    pub priv_dir: PathBuf,
}

impl PluginContext {
    /// The real environment for a node whose data lives in `data_dir`.
    pub fn system(data_dir: &Path) -> Self {
        PluginContext {
            runner: Arc::new(SystemRunner),
            mounts_file: PathBuf::from("/proc/mounts"),
            priv_dir: data_dir.join("priv"),
        }
    }

    /// The same environment with another command runner (tests).
    pub fn with_runner(mut self, runner: Arc<dyn CommandRunner>) -> Self {
        self.runner = runner;
        self
    }
}

fn unsupported<T>(p: &(impl StoragePlugin + ?Sized), what: &str) -> Result<T, StorageError> {
    Err(StorageError::unsupported(p.id(), what))
}

/// One configured storage, backed by its type's plugin.
pub trait StoragePlugin: Send + Sync {
    /// The storage definition this plugin works on.
    fn entry(&self) -> &StorageEntry;

    /// The storage id.
    fn id(&self) -> &str {
        &self.entry().id
    }

    /// What this storage can do.
    fn capabilities(&self) -> Capabilities;

    /// Make the storage usable (mount, create directories, activate the VG/pool).
    fn activate(&self) -> Result<(), StorageError>;

    /// Undo `activate` where that means something (unmount).
    fn deactivate(&self) -> Result<(), StorageError> {
        Ok(())
    }

    /// Capacity and usage; an unreachable storage reports `active: false`.
    fn status(&self) -> Result<StorageStatus, StorageError>;

    /// Parse a volume name of this storage.
    fn parse_volname(&self, volname: &str) -> Result<VolName, StorageError>;

    /// List volumes.
    fn list_volumes(&self, filter: &VolumeFilter) -> Result<Vec<VolumeEntry>, StorageError>;

    /// Allocate a guest image; returns the new volume name. A failure leaves nothing behind.
    fn alloc_image(&self, req: &AllocRequest) -> Result<String, StorageError>;

    /// Allocate a volume that a copy will fill; see [`CopyTarget`]. A failure leaves nothing
    /// behind, and `free_image` removes the volume in either case.
    fn alloc_copy_target(&self, req: &AllocRequest) -> Result<(String, CopyTarget), StorageError> {
        Ok((self.alloc_image(req)?, CopyTarget::Existing))
    }

    /// Remove a guest image (and its snapshots).
    fn free_image(&self, volname: &str) -> Result<(), StorageError>;

    /// Size, usage, format and path of a volume.
    fn volume_info(&self, volname: &str) -> Result<VolumeInfo, StorageError>;

    /// Grow a volume to `size` bytes; shrinking is refused.
    fn resize(&self, volname: &str, size: u64) -> Result<(), StorageError>;

    /// The file or device path of a volume.
    fn path(&self, volname: &str) -> Result<PathBuf, StorageError>;

    /// The path QEMU opens (the file/device path unless the backend needs a URL).
    fn qemu_path(&self, volname: &str) -> Result<String, StorageError> {
        Ok(self.path(volname)?.to_string_lossy().into_owned())
    }

    /// Make a volume's device available before use (LVM activation).
    fn activate_volume(&self, _volname: &str) -> Result<(), StorageError> {
        Ok(())
    }

    /// Where a file of `content` named `name` lives (uploads, ISO, templates, snippets).
    fn content_path(&self, _content: ContentType, _name: &str) -> Result<PathBuf, StorageError> {
        unsupported(self, "files (iso, vztmpl, backup, snippets)")
    }

    /// The file of an image volume as it was at snapshot `snap`, for storages that keep
    /// snapshots as separate files (btrfs); qcow2 internal snapshots are read through
    /// qemu-img instead.
    fn snapshot_path(&self, _volname: &str, _snap: &str) -> Result<PathBuf, StorageError> {
        unsupported(self, "reading volumes at a snapshot")
    }

    /// Take a snapshot of a volume.
    fn snapshot_create(&self, _volname: &str, _snap: &str) -> Result<(), StorageError> {
        unsupported(self, "snapshots")
    }

    /// Delete a snapshot.
    fn snapshot_delete(&self, _volname: &str, _snap: &str) -> Result<(), StorageError> {
        unsupported(self, "snapshots")
    }

    /// Roll a volume back to a snapshot.
    fn snapshot_rollback(&self, _volname: &str, _snap: &str) -> Result<(), StorageError> {
        unsupported(self, "snapshots")
    }

    /// Turn a guest image into a read-only template base image (`vm-` → `base-`); returns
    /// the new volume name.
    fn create_base(&self, _volname: &str) -> Result<String, StorageError> {
        unsupported(self, "templates (base images)")
    }

    /// Make a linked clone of a base image (or of a snapshot, where supported) for `vmid`;
    /// returns the new volume name.
    fn clone_image(
        &self,
        _volname: &str,
        _vmid: u32,
        _snap: Option<&str>,
    ) -> Result<String, StorageError> {
        unsupported(self, "linked clones")
    }
}
