//! Content types a storage can hold (`content` in storage.cfg) and their default directories.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// What a volume holds, as Proxmox names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContentType {
    /// VM disk images.
    Images,
    /// Container root/mount point volumes.
    Rootdir,
    /// ISO images (`template/iso`).
    Iso,
    /// Container templates (`template/cache`).
    Vztmpl,
    /// Backup archives (`dump`).
    Backup,
    /// Snippets: hook scripts, cloud-init files (`snippets`).
    Snippets,
    /// Importable guest images: OVA/OVF, disk images (`import`).
    Import,
    /// No content at all (only meaningful alone).
    None,
}

impl ContentType {
    /// Every content type, in Proxmox's documentation order.
    pub const ALL: [ContentType; 8] = [
        ContentType::Images,
        ContentType::Rootdir,
        ContentType::Iso,
        ContentType::Vztmpl,
        ContentType::Backup,
        ContentType::Snippets,
        ContentType::Import,
        ContentType::None,
    ];

    /// The name used in storage.cfg and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Images => "images",
            ContentType::Rootdir => "rootdir",
            ContentType::Iso => "iso",
            ContentType::Vztmpl => "vztmpl",
            ContentType::Backup => "backup",
            ContentType::Snippets => "snippets",
            ContentType::Import => "import",
            ContentType::None => "none",
        }
    }

    /// The default subdirectory of a path-based storage for this content (`content-dirs`
    /// overrides it); `None` for `none`.
    pub fn default_subdir(self) -> Option<&'static str> {
        match self {
            ContentType::Images => Some("images"),
            ContentType::Rootdir => Some("private"),
            ContentType::Iso => Some("template/iso"),
            ContentType::Vztmpl => Some("template/cache"),
            ContentType::Backup => Some("dump"),
            ContentType::Snippets => Some("snippets"),
            ContentType::Import => Some("import"),
            ContentType::None => None,
        }
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ContentType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ContentType::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("invalid content type '{s}'"))
    }
}

/// Print a content set as storage.cfg does (`none` when empty), in a stable order.
pub fn content_list_string(set: &BTreeSet<ContentType>) -> String {
    if set.is_empty() {
        return "none".into();
    }
    set.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(",")
}

/// Build a set from a fixed list.
pub fn content_set(items: &[ContentType]) -> BTreeSet<ContentType> {
    items.iter().copied().collect()
}
