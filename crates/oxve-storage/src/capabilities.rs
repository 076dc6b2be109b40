//! What a storage backend can do. The API layer checks these before touching anything and
//! refuses the rest with [`StorageError::Unsupported`](crate::StorageError::Unsupported).

use std::collections::{BTreeMap, BTreeSet};

use crate::content::ContentType;
use crate::format::{Preallocation, VolumeFormat};

/// The abilities of one configured storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Image formats volumes can have.
    pub formats: BTreeSet<VolumeFormat>,
    /// Format used when a request names none.
    pub default_format: VolumeFormat,
    /// Content types the backend can hold.
    pub content: BTreeSet<ContentType>,
    /// Formats whose volumes can be snapshotted (create/delete/rollback).
    pub snapshot_formats: BTreeSet<VolumeFormat>,
    /// Formats of base images that linked clones can be made from.
    pub linked_clone_formats: BTreeSet<VolumeFormat>,
    /// Formats that can be turned into a template base image.
    pub template_formats: BTreeSet<VolumeFormat>,
    /// Formats that can be grown.
    pub resize_formats: BTreeSet<VolumeFormat>,
    /// Preallocation modes per format; a format missing here has no choice (always thick or
    /// always thin, see `thin_provisioning`).
    pub preallocation: BTreeMap<VolumeFormat, BTreeSet<Preallocation>>,
    /// The same content is reachable from every node.
    pub shared: bool,
    /// Volumes can be allocated thin, so the sum of volume sizes may exceed the capacity.
    pub thin_provisioning: bool,
    /// Newly allocated volumes read as zeroes (copies may skip writing zero areas).
    pub sparse_init: bool,
    /// Files can be uploaded and read by path (ISO, templates, snippets, backups).
    pub files: bool,
    /// Subvolumes can have a size, kept as a quota (btrfs qgroup limit, ZFS refquota): a
    /// container volume of any size is then a subvolume, as in Proxmox.
    pub subvol_quota: bool,
}

impl Capabilities {
    /// Whether volumes of `format` can be allocated.
    pub fn supports_format(&self, format: VolumeFormat) -> bool {
        self.formats.contains(&format)
    }

    /// Whether volumes of `format` can be snapshotted.
    pub fn supports_snapshots(&self, format: VolumeFormat) -> bool {
        self.snapshot_formats.contains(&format)
    }

    /// Whether linked clones can be made from base images of `format`.
    pub fn supports_linked_clone(&self, format: VolumeFormat) -> bool {
        self.linked_clone_formats.contains(&format)
    }

    /// The preallocation modes of `format` (empty when there is no choice).
    pub fn preallocation_modes(&self, format: VolumeFormat) -> BTreeSet<Preallocation> {
        self.preallocation.get(&format).cloned().unwrap_or_default()
    }
}

/// A set from a list.
pub(crate) fn set<T: Ord + Copy>(items: &[T]) -> BTreeSet<T> {
    items.iter().copied().collect()
}
