//! Turning volume ids (`local:100/vm-100-disk-0.qcow2`) into what QEMU opens. The engine does
//! not depend on the storage layer: the caller passes a [`VolumeResolver`].

use std::collections::BTreeMap;

use crate::error::BoxError;

/// A volume as QEMU opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedVolume {
    /// A file or device path, or a URL QEMU understands (`rbd:pool/img`, `iscsi://...`).
    pub path: String,
    /// The image format (`raw`, `qcow2`, `vmdk`, ...), when the storage knows it.
    pub format: Option<String>,
}

impl ResolvedVolume {
    /// A volume at `path` in `format`.
    pub fn new(path: impl Into<String>, format: Option<&str>) -> Self {
        ResolvedVolume {
            path: path.into(),
            format: format.map(str::to_string),
        }
    }
}

/// Resolves a storage volume id to what QEMU opens.
pub trait VolumeResolver: Send + Sync {
    /// The path (or QEMU URL) and format of `volid`; an error for unknown storages or volumes.
    fn path(&self, volid: &str) -> Result<ResolvedVolume, BoxError>;
}

/// A fixed table of volumes, for tests and tools.
#[derive(Debug, Clone, Default)]
pub struct MapResolver {
    volumes: BTreeMap<String, ResolvedVolume>,
}

impl MapResolver {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `volid` at `path` in `format`.
    pub fn with(mut self, volid: &str, path: impl Into<String>, format: Option<&str>) -> Self {
        self.insert(volid, path, format);
        self
    }

    /// Adds `volid` at `path` in `format`.
    pub fn insert(&mut self, volid: &str, path: impl Into<String>, format: Option<&str>) {
        self.volumes
            .insert(volid.to_string(), ResolvedVolume::new(path, format));
    }
}

impl VolumeResolver for MapResolver {
    fn path(&self, volid: &str) -> Result<ResolvedVolume, BoxError> {
        self.volumes
            .get(volid)
            .cloned()
            .ok_or_else(|| format!("no such volume '{volid}'").into())
    }
}

/// The format of an image from its file name, when the resolver did not say.
pub fn format_from_name(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.')?.1;
    ["qcow2", "raw", "vmdk", "qed", "qcow", "cloop"]
        .into_iter()
        .find(|f| *f == ext)
        .or((ext == "iso" || ext == "img").then_some("raw"))
}

/// True for a template's base volume (`base-100-disk-0`, `100/base-100-disk-0.qcow2`): QEMU
/// must open it read-only, linked clones depend on it.
pub fn is_base_volume(volid: &str) -> bool {
    let name = volid.split_once(':').map_or(volid, |(_, n)| n);
    name.rsplit('/')
        .next()
        .is_some_and(|last| last.starts_with("base-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(format_from_name("/x/vm-1-disk-0.qcow2"), Some("qcow2"));
        assert_eq!(format_from_name("/x/debian.iso"), Some("raw"));
        assert_eq!(format_from_name("rbd:pool/vm-1-disk-0"), None);
        assert!(is_base_volume("local:100/base-100-disk-0.qcow2"));
        assert!(is_base_volume("local-lvm:base-100-disk-0"));
        assert!(!is_base_volume(
            "local:100/base-100-disk-0.qcow2/101/vm-101-disk-0.qcow2"
        ));
        assert!(!is_base_volume("local:100/vm-100-disk-0.qcow2"));
        let r = MapResolver::new().with("a:1", "/a", Some("raw"));
        assert_eq!(r.path("a:1").unwrap().path, "/a");
        assert!(r.path("a:2").unwrap_err().to_string().contains("a:2"));
    }
}
