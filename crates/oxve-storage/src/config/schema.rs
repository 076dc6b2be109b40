//! Which options each storage type accepts (Proxmox's per-plugin `options()`), which are
//! fixed after creation or required, and each type's content types and formats.

use std::collections::BTreeSet;

use crate::content::{content_set, ContentType};
use crate::format::VolumeFormat;

/// How an option may be used by a storage type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionSpec {
    /// Option name as in storage.cfg.
    pub name: &'static str,
    /// Must be given when the storage is created.
    pub required: bool,
    /// Cannot be changed after creation.
    pub fixed: bool,
}

const fn req(name: &'static str) -> OptionSpec {
    OptionSpec {
        name,
        required: true,
        fixed: true,
    }
}

const fn opt(name: &'static str) -> OptionSpec {
    OptionSpec {
        name,
        required: false,
        fixed: false,
    }
}

const fn fixed_opt(name: &'static str) -> OptionSpec {
    OptionSpec {
        name,
        required: false,
        fixed: true,
    }
}

const BACKUP_OPTS: [OptionSpec; 3] = [
    opt("maxfiles"),
    opt("prune-backups"),
    opt("max-protected-backups"),
];

const DIR: &[OptionSpec] = &[
    req("path"),
    opt("content-dirs"),
    opt("nodes"),
    opt("shared"),
    opt("disable"),
    BACKUP_OPTS[0],
    BACKUP_OPTS[1],
    BACKUP_OPTS[2],
    opt("content"),
    opt("format"),
    opt("mkdir"),
    opt("create-base-path"),
    opt("create-subdirs"),
    opt("is_mountpoint"),
    opt("bwlimit"),
    opt("preallocation"),
];

const BTRFS: &[OptionSpec] = &[
    req("path"),
    opt("nodes"),
    opt("shared"),
    opt("disable"),
    BACKUP_OPTS[0],
    BACKUP_OPTS[1],
    BACKUP_OPTS[2],
    opt("content"),
    opt("format"),
    opt("is_mountpoint"),
    opt("nocow"),
    opt("mkdir"),
    opt("create-base-path"),
    opt("create-subdirs"),
    opt("preallocation"),
];

const LVM: &[OptionSpec] = &[
    req("vgname"),
    opt("nodes"),
    opt("shared"),
    opt("disable"),
    opt("saferemove"),
    opt("saferemove_throughput"),
    opt("content"),
    fixed_opt("base"),
    opt("tagged_only"),
    opt("bwlimit"),
];

const LVMTHIN: &[OptionSpec] = &[
    req("thinpool"),
    req("vgname"),
    opt("nodes"),
    opt("disable"),
    opt("content"),
    opt("bwlimit"),
];

const ZFSPOOL: &[OptionSpec] = &[
    req("pool"),
    opt("blocksize"),
    opt("sparse"),
    opt("nodes"),
    opt("disable"),
    opt("content"),
    opt("bwlimit"),
    opt("mountpoint"),
];

const NFS: &[OptionSpec] = &[
    req("path"),
    opt("content-dirs"),
    req("server"),
    req("export"),
    opt("nodes"),
    opt("disable"),
    BACKUP_OPTS[0],
    BACKUP_OPTS[1],
    BACKUP_OPTS[2],
    opt("options"),
    opt("content"),
    opt("format"),
    opt("mkdir"),
    opt("create-base-path"),
    opt("create-subdirs"),
    opt("bwlimit"),
    opt("preallocation"),
];

const CIFS: &[OptionSpec] = &[
    req("path"),
    opt("content-dirs"),
    req("server"),
    req("share"),
    opt("subdir"),
    opt("nodes"),
    opt("disable"),
    BACKUP_OPTS[0],
    BACKUP_OPTS[1],
    BACKUP_OPTS[2],
    opt("content"),
    opt("format"),
    opt("username"),
    opt("domain"),
    opt("smbversion"),
    opt("mkdir"),
    opt("create-base-path"),
    opt("create-subdirs"),
    opt("bwlimit"),
    opt("preallocation"),
    opt("options"),
];

/// Storage types whose options are known (and so typed and validated). Other types found in
/// a storage.cfg are kept verbatim.
pub const KNOWN_TYPES: [&str; 7] = ["dir", "btrfs", "lvm", "lvmthin", "zfspool", "nfs", "cifs"];

/// The options of a known storage type.
pub fn type_options(storage_type: &str) -> Option<&'static [OptionSpec]> {
    Some(match storage_type {
        "dir" => DIR,
        "btrfs" => BTRFS,
        "lvm" => LVM,
        "lvmthin" => LVMTHIN,
        "zfspool" => ZFSPOOL,
        "nfs" => NFS,
        "cifs" => CIFS,
        _ => return None,
    })
}

/// The spec of one option of a type.
pub fn option_spec(storage_type: &str, option: &str) -> Option<OptionSpec> {
    type_options(storage_type)?
        .iter()
        .find(|o| o.name == option)
        .copied()
}

/// Types that are shared between nodes by nature (`shared` is forced on), as Proxmox's
/// `@SHARED_STORAGE`.
pub fn is_shared_type(storage_type: &str) -> bool {
    matches!(
        storage_type,
        "iscsi"
            | "nfs"
            | "cifs"
            | "rbd"
            | "cephfs"
            | "iscsidirect"
            | "glusterfs"
            | "zfs"
            | "drbd"
            | "pbs"
    )
}

/// Content types a type can hold.
pub fn valid_content(storage_type: &str) -> BTreeSet<ContentType> {
    use ContentType::*;
    match storage_type {
        "dir" | "btrfs" => {
            content_set(&[Images, Rootdir, Vztmpl, Iso, Backup, Snippets, None, Import])
        }
        "nfs" | "cifs" => content_set(&[Images, Rootdir, Vztmpl, Iso, Backup, Snippets, Import]),
        "lvm" | "lvmthin" | "zfspool" => content_set(&[Images, Rootdir]),
        _ => BTreeSet::new(),
    }
}

/// Content types a type gets when its config has no `content` line.
pub fn default_content(storage_type: &str) -> BTreeSet<ContentType> {
    use ContentType::*;
    match storage_type {
        "dir" | "btrfs" | "lvmthin" | "zfspool" => content_set(&[Images, Rootdir]),
        "lvm" | "nfs" | "cifs" => content_set(&[Images]),
        _ => BTreeSet::new(),
    }
}

/// Image formats of a type and its default format.
pub fn type_formats(storage_type: &str) -> (BTreeSet<VolumeFormat>, VolumeFormat) {
    use VolumeFormat::*;
    let set = |f: &[VolumeFormat]| f.iter().copied().collect::<BTreeSet<_>>();
    match storage_type {
        "dir" => (set(&[Raw, Qcow2, Vmdk, Subvol]), Raw),
        "nfs" | "cifs" => (set(&[Raw, Qcow2, Vmdk]), Raw),
        "btrfs" | "zfspool" => (set(&[Raw, Subvol]), Raw),
        _ => (set(&[Raw]), Raw),
    }
}
