//! Volume ids (`<storage>:<volname>`) and volume names, exactly as Proxmox spells them:
//!
//! - path-based storages (dir, btrfs, nfs, cifs): `100/vm-100-disk-0.qcow2`, a linked clone
//!   `100/base-100-disk-0.qcow2/101/vm-101-disk-0.qcow2`, `iso/x.iso`, `vztmpl/x.tar.zst`,
//!   `backup/vzdump-qemu-100-2024_01_01-00_00_00.vma.zst`, `snippets/x`, `import/x.ova`,
//!   `rootdir/100`;
//! - LVM and LVM-thin: `vm-100-disk-0` (thin templates `base-100-disk-0`);
//! - ZFS: `vm-100-disk-0`, `subvol-100-disk-0`, a linked clone `base-100-disk-0/vm-101-disk-0`.
//!
//! Every name is checked for path traversal first (`..`, absolute paths, NUL and other
//! control characters, empty path components), whatever the storage type.

use std::fmt;
use std::str::FromStr;

use crate::content::ContentType;
use crate::error::{escape, StorageError};
use crate::format::VolumeFormat;

/// A volume id: storage id plus volume name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VolumeId {
    storage: String,
    volname: String,
}

impl VolumeId {
    /// Build a volume id from its parts, checking both.
    pub fn new(storage: &str, volname: &str) -> Result<Self, StorageError> {
        let volid = format!("{storage}:{volname}");
        check_storage_id(storage).map_err(|reason| invalid(&volid, reason))?;
        check_volname_safe(volname).map_err(|reason| invalid(&volid, reason))?;
        Ok(Self {
            storage: storage.to_string(),
            volname: volname.to_string(),
        })
    }

    /// Parse `<storage>:<volname>`.
    pub fn parse(volid: &str) -> Result<Self, StorageError> {
        let (storage, volname) = volid
            .split_once(':')
            .ok_or_else(|| invalid(volid, "expected '<storage>:<volume name>'"))?;
        check_storage_id(storage).map_err(|reason| invalid(volid, reason))?;
        check_volname_safe(volname).map_err(|reason| invalid(volid, reason))?;
        Ok(Self {
            storage: storage.to_string(),
            volname: volname.to_string(),
        })
    }

    /// The storage id.
    pub fn storage(&self) -> &str {
        &self.storage
    }

    /// The volume name inside the storage.
    pub fn volname(&self) -> &str {
        &self.volname
    }
}

impl fmt::Display for VolumeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.storage, self.volname)
    }
}

impl FromStr for VolumeId {
    type Err = StorageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VolumeId::parse(s)
    }
}

fn invalid(volid: &str, reason: impl Into<String>) -> StorageError {
    StorageError::InvalidVolumeId {
        volid: escape(volid),
        reason: reason.into(),
    }
}

/// Check a storage id (`pve-storage-id`): a letter, then letters, digits, `-_.`, ending in a
/// letter or digit.
pub fn check_storage_id(id: &str) -> Result<(), String> {
    let bytes = id.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_alphabetic()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid storage ID '{}'", escape(id)))
    }
}

/// Reject names that could leave the storage: empty, absolute, `.`/`..` or empty path
/// components, NUL, control characters or backslashes.
pub fn check_volname_safe(volname: &str) -> Result<(), String> {
    if volname.is_empty() {
        return Err("empty volume name".into());
    }
    if volname.starts_with('/') {
        return Err("absolute paths are not allowed".into());
    }
    if volname.chars().any(|c| c.is_control()) {
        return Err("control characters (NUL, line breaks, ...) are not allowed".into());
    }
    if volname.contains('\\') {
        return Err("backslashes are not allowed".into());
    }
    for component in volname.split('/') {
        match component {
            "" => return Err("empty path components are not allowed".into()),
            "." | ".." => return Err("path traversal ('.' or '..') is not allowed".into()),
            _ => {}
        }
    }
    Ok(())
}

/// Check a single file name (no `/`): what the name part of every volume must satisfy.
pub fn check_file_name(name: &str) -> Result<(), String> {
    check_volname_safe(name)?;
    if name.contains('/') {
        return Err("'/' is not allowed in a file name".into());
    }
    if name.chars().any(char::is_whitespace) {
        return Err("whitespace is not allowed in a file name".into());
    }
    Ok(())
}

/// The base image a linked clone was created from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseImage {
    /// VMID of the template owning the base image.
    pub vmid: u32,
    /// Name of the base image (`base-100-disk-0.qcow2`, `base-100-disk-0` on ZFS).
    pub name: String,
}

/// What a volume name means (Proxmox's `parse_volname`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolName {
    /// The full volume name that was parsed.
    pub volname: String,
    /// Content type (`images` for every guest disk, also container ones).
    pub content: ContentType,
    /// The file, LV or dataset name (`vm-100-disk-0.qcow2`, `x.iso`).
    pub name: String,
    /// The owning guest, when the name carries one.
    pub vmid: Option<u32>,
    /// For a linked clone, the base image it depends on (when the name records it).
    pub base: Option<BaseImage>,
    /// Whether this is a template base image (`base-...`).
    pub is_base: bool,
    /// The image format (guest images only).
    pub format: Option<VolumeFormat>,
}

impl VolName {
    fn other(volname: &str, content: ContentType, name: &str, vmid: Option<u32>) -> Self {
        VolName {
            volname: volname.to_string(),
            content,
            name: name.to_string(),
            vmid,
            base: None,
            is_base: false,
            format: None,
        }
    }
}

/// Parse a decimal VMID (no sign, no leading zero).
pub fn parse_vmid(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.len() > 1 && text.starts_with('0') {
        return None;
    }
    text.parse().ok()
}

/// Split an image file name into format and base flag (Proxmox's `parse_name_dir`):
/// `[base-]<name>.<raw|qcow2|vmdk|subvol>`.
pub fn parse_image_file_name(name: &str) -> Option<(VolumeFormat, bool)> {
    check_file_name(name).ok()?;
    let (stem, ext) = name.rsplit_once('.')?;
    if stem.is_empty() {
        return None;
    }
    let format = VolumeFormat::from_str(ext).ok()?;
    Some((format, name.starts_with("base-")))
}

fn ends_with_ci(name: &str, suffix: &str) -> bool {
    name.len() > suffix.len() && name.to_ascii_lowercase().ends_with(suffix)
}

/// Whether a file name is an ISO image (`.iso`, `.img`, any case).
pub fn is_iso_name(name: &str) -> bool {
    ends_with_ci(name, ".iso") || ends_with_ci(name, ".img")
}

/// The compression of a container template name (`.tar.gz|xz|zst|bz2`), if it is one.
pub fn vztmpl_compression(name: &str) -> Option<&'static str> {
    ["gz", "xz", "zst", "bz2"]
        .into_iter()
        .find(|ext| ends_with_ci(name, &format!(".tar.{ext}")))
}

/// The archive format of a backup name (`tgz`, `vma`, `tar.zst`, `vma.lzo`, oxve's `oxar.zst`,
/// ...), if it is one.
pub fn backup_format(name: &str) -> Option<String> {
    if name.len() > 4 && name.ends_with(".tgz") {
        return Some("tgz".into());
    }
    for base in ["tar", "vma", "oxar"] {
        if name.len() > base.len() + 1 && name.ends_with(&format!(".{base}")) {
            return Some(base.into());
        }
        for comp in ["gz", "lzo", "zst", "bz2"] {
            let ext = format!("{base}.{comp}");
            if name.len() > ext.len() + 1 && name.ends_with(&format!(".{ext}")) {
                return Some(ext);
            }
        }
    }
    None
}

/// The file format of an importable file (`ova`, `ovf`, `qcow2`, `raw`, `vmdk`), if it is one.
pub fn import_format(name: &str) -> Option<&'static str> {
    ["ova", "ovf", "qcow2", "raw", "vmdk"]
        .into_iter()
        .find(|ext| name.len() > ext.len() + 1 && name.ends_with(&format!(".{ext}")))
}

/// A standard backup archive name: `vzdump-<qemu|lxc|openvz>-<vmid>-<YYYY_MM_DD-hh_mm_ss>.<ext>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupArchive {
    /// `qemu`, `lxc` or `openvz`.
    pub guest_type: String,
    /// The backed-up guest.
    pub vmid: u32,
    /// Local time of the backup: year, month, day, hour, minute, second.
    pub time: Option<[u32; 6]>,
}

impl BackupArchive {
    /// Parse a backup file name; `None` for names that do not follow the standard scheme.
    pub fn parse(name: &str) -> Option<Self> {
        let rest = name.strip_prefix("vzdump-")?;
        let (guest_type, rest) = rest.split_once('-')?;
        if !matches!(guest_type, "qemu" | "lxc" | "openvz") {
            return None;
        }
        let (vmid, rest) = rest.split_once('-')?;
        let vmid = parse_vmid(vmid)?;
        if rest.is_empty() {
            return None;
        }
        let time = rest.get(..19).and_then(parse_backup_time);
        Some(BackupArchive {
            guest_type: guest_type.to_string(),
            vmid,
            time,
        })
    }
}

fn parse_backup_time(text: &str) -> Option<[u32; 6]> {
    // YYYY_MM_DD-hh_mm_ss
    let b = text.as_bytes();
    if b.len() != 19
        || b[4] != b'_'
        || b[7] != b'_'
        || b[10] != b'-'
        || b[13] != b'_'
        || b[16] != b'_'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = &text[r];
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    Some([
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    ])
}

fn dir_err(volname: &str) -> StorageError {
    invalid(volname, "unable to parse directory volume name")
}

/// Parse a volume name of a path-based storage (dir, btrfs, nfs, cifs).
pub fn parse_dir_volname(volname: &str) -> Result<VolName, StorageError> {
    check_volname_safe(volname).map_err(|reason| invalid(volname, reason))?;
    let parts: Vec<&str> = volname.split('/').collect();
    if let Some(vmid) = parse_vmid(parts[0]) {
        return parse_dir_image(volname, vmid, &parts[1..]);
    }
    let (kind, name) = match parts.as_slice() {
        [kind, name] => (*kind, *name),
        _ => return Err(dir_err(volname)),
    };
    check_file_name(name).map_err(|reason| invalid(volname, reason))?;
    match kind {
        "iso" if is_iso_name(name) => Ok(VolName::other(volname, ContentType::Iso, name, None)),
        "vztmpl" if vztmpl_compression(name).is_some() => {
            Ok(VolName::other(volname, ContentType::Vztmpl, name, None))
        }
        "backup" if backup_format(name).is_some() => {
            let vmid = BackupArchive::parse(name).map(|a| a.vmid);
            Ok(VolName::other(volname, ContentType::Backup, name, vmid))
        }
        "snippets" => Ok(VolName::other(volname, ContentType::Snippets, name, None)),
        "import" if import_format(name).is_some() => {
            Ok(VolName::other(volname, ContentType::Import, name, None))
        }
        "rootdir" => {
            let vmid = parse_vmid(name).ok_or_else(|| dir_err(volname))?;
            Ok(VolName::other(
                volname,
                ContentType::Rootdir,
                name,
                Some(vmid),
            ))
        }
        _ => Err(dir_err(volname)),
    }
}

fn parse_dir_image(volname: &str, vmid: u32, rest: &[&str]) -> Result<VolName, StorageError> {
    let bad_name = |name: &str| {
        invalid(
            volname,
            format!("unable to parse volume filename '{}'", escape(name)),
        )
    };
    match rest {
        [name] => {
            let (format, is_base) = parse_image_file_name(name).ok_or_else(|| bad_name(name))?;
            Ok(VolName {
                volname: volname.to_string(),
                content: ContentType::Images,
                name: name.to_string(),
                vmid: Some(vmid),
                base: None,
                is_base,
                format: Some(format),
            })
        }
        [base_name, clone_vmid, name] => {
            parse_image_file_name(base_name).ok_or_else(|| bad_name(base_name))?;
            let clone_vmid = parse_vmid(clone_vmid).ok_or_else(|| dir_err(volname))?;
            let (format, is_base) = parse_image_file_name(name).ok_or_else(|| bad_name(name))?;
            Ok(VolName {
                volname: volname.to_string(),
                content: ContentType::Images,
                name: name.to_string(),
                vmid: Some(clone_vmid),
                base: Some(BaseImage {
                    vmid,
                    name: base_name.to_string(),
                }),
                is_base,
                format: Some(format),
            })
        }
        _ => Err(dir_err(volname)),
    }
}

/// Check an LVM VG/LV name (`pve-storage-vgname`).
pub fn check_lvm_name(name: &str) -> Result<(), String> {
    let b = name.as_bytes();
    let ok = b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "lvm name '{}' contains illegal characters",
            escape(name)
        ))
    }
}

/// Split `<prefix>-<vmid>-<rest>` for one of the given prefixes.
fn split_guest_name<'a>(name: &'a str, prefixes: &[&'a str]) -> Option<(&'a str, u32)> {
    let (prefix, rest) = name.split_once('-')?;
    let prefix = prefixes.iter().find(|p| **p == prefix)?;
    let (vmid, tail) = rest.split_once('-')?;
    if tail.is_empty() {
        return None;
    }
    Some((prefix, parse_vmid(vmid)?))
}

/// Parse an LVM (`allow_base == false`) or LVM-thin (`allow_base == true`) volume name.
pub fn parse_lvm_volname(volname: &str, allow_base: bool) -> Result<VolName, StorageError> {
    check_volname_safe(volname).map_err(|reason| invalid(volname, reason))?;
    check_lvm_name(volname).map_err(|reason| invalid(volname, reason))?;
    let prefixes: &[&str] = if allow_base { &["vm", "base"] } else { &["vm"] };
    let (prefix, vmid) = split_guest_name(volname, prefixes)
        .ok_or_else(|| invalid(volname, "unable to parse lvm volume name"))?;
    Ok(VolName {
        volname: volname.to_string(),
        content: ContentType::Images,
        name: volname.to_string(),
        vmid: Some(vmid),
        base: None,
        is_base: prefix == "base",
        format: Some(VolumeFormat::Raw),
    })
}

/// Parse a ZFS pool volume name: `[<base>/]<vm|base|subvol|basevol>-<vmid>-<name>`.
pub fn parse_zfs_volname(volname: &str) -> Result<VolName, StorageError> {
    check_volname_safe(volname).map_err(|reason| invalid(volname, reason))?;
    let err = || invalid(volname, "unable to parse zfs volume name");
    let (base, name) = match volname.split_once('/') {
        Some((base, name)) => (Some(base), name),
        None => (None, volname),
    };
    let zfs_chars = |s: &str| {
        s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':'))
    };
    if !zfs_chars(name) || base.is_some_and(|b| !zfs_chars(b)) {
        return Err(err());
    }
    let base = match base {
        Some(base) => {
            let (_, vmid) = split_guest_name(base, &["base", "basevol"]).ok_or_else(err)?;
            Some(BaseImage {
                vmid,
                name: base.to_string(),
            })
        }
        None => None,
    };
    let (prefix, vmid) =
        split_guest_name(name, &["vm", "base", "subvol", "basevol"]).ok_or_else(err)?;
    let format = if matches!(prefix, "subvol" | "basevol") {
        VolumeFormat::Subvol
    } else {
        VolumeFormat::Raw
    };
    Ok(VolName {
        volname: volname.to_string(),
        content: ContentType::Images,
        name: name.to_string(),
        vmid: Some(vmid),
        base,
        is_base: matches!(prefix, "base" | "basevol"),
        format: Some(format),
    })
}

/// Check a snapshot name (Proxmox `pve-configid`: a letter, then up to 39 letters, digits,
/// `-` or `_`).
pub fn check_snapshot_name(name: &str) -> Result<(), StorageError> {
    let b = name.as_bytes();
    let ok = (2..=40).contains(&b.len())
        && b[0].is_ascii_alphabetic()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(StorageError::InvalidSnapshotName { name: escape(name) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_volume_ids() {
        let v = VolumeId::parse("local:100/vm-100-disk-0.qcow2").unwrap();
        assert_eq!(v.storage(), "local");
        assert_eq!(v.volname(), "100/vm-100-disk-0.qcow2");
        assert_eq!(v.to_string(), "local:100/vm-100-disk-0.qcow2");
        let v = VolumeId::parse("local-lvm:vm-100-disk-0").unwrap();
        assert_eq!(v.storage(), "local-lvm");
        assert!(VolumeId::parse("nocolon").is_err());
        assert!(VolumeId::parse("1local:iso/x.iso").is_err());
        assert!(VolumeId::parse("local-:iso/x.iso").is_err());
        assert!(VolumeId::parse("local:").is_err());
    }

    #[test]
    fn rejects_traversal_everywhere() {
        for bad in [
            "local:../../etc/passwd",
            "local:iso/../../etc/passwd",
            "local:/etc/passwd",
            "local:iso/..",
            "local:snippets/..",
            "local:snippets/.",
            "local:iso//x.iso",
            "local:iso/x.iso/",
            "local:iso/x\0.iso",
            "local:iso/x\n.iso",
            "local:iso\\..\\x.iso",
            "local:100/../101/vm-101-disk-0.raw",
        ] {
            let err = VolumeId::parse(bad).unwrap_err();
            assert!(
                matches!(err, StorageError::InvalidVolumeId { .. }),
                "{bad:?}"
            );
            assert!(err.is_bad_request());
        }
        let err = VolumeId::parse("local:../../etc/passwd").unwrap_err();
        assert!(err.to_string().contains("path traversal"), "{err}");
        for bad in ["..", "../x", "snippets/../../x", "100/../vm-1-disk-0.raw"] {
            assert!(parse_dir_volname(bad).is_err(), "{bad:?}");
        }
        assert!(parse_lvm_volname("vm-100-disk-0/../x", false).is_err());
        assert!(parse_zfs_volname("../vm-100-disk-0").is_err());
    }

    #[test]
    fn parses_dir_images() {
        let v = parse_dir_volname("100/vm-100-disk-0.qcow2").unwrap();
        assert_eq!(v.content, ContentType::Images);
        assert_eq!(v.vmid, Some(100));
        assert_eq!(v.format, Some(VolumeFormat::Qcow2));
        assert!(!v.is_base);
        assert_eq!(v.base, None);

        let v = parse_dir_volname("100/base-100-disk-0.qcow2/101/vm-101-disk-0.qcow2").unwrap();
        assert_eq!(v.vmid, Some(101));
        assert_eq!(v.name, "vm-101-disk-0.qcow2");
        assert_eq!(
            v.base,
            Some(BaseImage {
                vmid: 100,
                name: "base-100-disk-0.qcow2".into()
            })
        );
        let v = parse_dir_volname("100/base-100-disk-1.raw").unwrap();
        assert!(v.is_base);
        assert_eq!(v.format, Some(VolumeFormat::Raw));
        assert!(parse_dir_volname("100/vm-100-disk-0.img").is_err());
        assert!(parse_dir_volname("100/vm 100.raw").is_err());
        assert!(parse_dir_volname("100/x/vm-100-disk-0.raw").is_err());
    }

    #[test]
    fn parses_dir_templates_backups_snippets() {
        let v = parse_dir_volname("iso/x.iso").unwrap();
        assert_eq!((v.content, v.name.as_str()), (ContentType::Iso, "x.iso"));
        assert!(parse_dir_volname("iso/X.IMG").is_ok());
        assert!(parse_dir_volname("iso/x.txt").is_err());
        let v = parse_dir_volname("vztmpl/debian-12.tar.zst").unwrap();
        assert_eq!(v.content, ContentType::Vztmpl);
        assert!(parse_dir_volname("vztmpl/x.tar").is_err());
        let v = parse_dir_volname("backup/vzdump-qemu-100-2024_01_01-00_00_00.vma.zst").unwrap();
        assert_eq!((v.content, v.vmid), (ContentType::Backup, Some(100)));
        let v = parse_dir_volname("backup/custom.tar.gz").unwrap();
        assert_eq!(v.vmid, None);
        let v = parse_dir_volname("snippets/hook.pl").unwrap();
        assert_eq!(v.content, ContentType::Snippets);
        assert!(parse_dir_volname("snippets/a/b").is_err());
        let v = parse_dir_volname("import/x.ova").unwrap();
        assert_eq!(v.content, ContentType::Import);
        let v = parse_dir_volname("rootdir/100").unwrap();
        assert_eq!(v.vmid, Some(100));
        assert!(parse_dir_volname("other/x").is_err());
    }

    #[test]
    fn parses_backup_archive_names() {
        let a = BackupArchive::parse("vzdump-lxc-101-2024_02_03-04_05_06.tar.zst").unwrap();
        assert_eq!(a.guest_type, "lxc");
        assert_eq!(a.vmid, 101);
        assert_eq!(a.time, Some([2024, 2, 3, 4, 5, 6]));
        assert!(BackupArchive::parse("vzdump-foo-101-x.tar").is_none());
        assert_eq!(backup_format("a.vma.zst").as_deref(), Some("vma.zst"));
        assert_eq!(backup_format("a.tgz").as_deref(), Some("tgz"));
        assert_eq!(backup_format("a.tar").as_deref(), Some("tar"));
        assert_eq!(backup_format("a.oxar.zst").as_deref(), Some("oxar.zst"));
        assert_eq!(backup_format("a.zip"), None);
    }

    #[test]
    fn parses_lvm_and_zfs_names() {
        let v = parse_lvm_volname("vm-100-disk-0", false).unwrap();
        assert_eq!((v.vmid, v.is_base), (Some(100), false));
        assert!(parse_lvm_volname("base-100-disk-0", false).is_err());
        assert!(parse_lvm_volname("base-100-disk-0", true).unwrap().is_base);
        assert!(parse_lvm_volname("vm-100-", false).is_err());
        assert!(parse_lvm_volname("data", true).is_err());

        let v = parse_zfs_volname("subvol-100-disk-0").unwrap();
        assert_eq!(v.format, Some(VolumeFormat::Subvol));
        let v = parse_zfs_volname("base-100-disk-0/vm-101-disk-0").unwrap();
        assert_eq!(v.vmid, Some(101));
        assert_eq!(v.base.unwrap().vmid, 100);
        assert!(parse_zfs_volname("vm-101-disk-0/vm-102-disk-0").is_err());
    }

    #[test]
    fn checks_snapshot_names() {
        assert!(check_snapshot_name("before-upgrade").is_ok());
        assert!(check_snapshot_name("s1").is_ok());
        assert!(check_snapshot_name("1abc").is_err());
        assert!(check_snapshot_name("a").is_err());
        assert!(check_snapshot_name("a/b").is_err());
        assert!(check_snapshot_name("a@b").is_err());
    }
}
