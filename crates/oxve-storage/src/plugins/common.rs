//! Helpers shared by the plugins: disk names, preallocation defaults, space checks.

use std::collections::BTreeSet;

use crate::capabilities::Capabilities;
use crate::config::StorageEntry;
use crate::error::{escape, StorageError};
use crate::format::{Preallocation, VolumeFormat};
use crate::volid::check_file_name;

/// Most volumes one guest can have on one storage (Proxmox's `$MAX_VOLUMES_PER_GUEST`).
pub const MAX_VOLUMES_PER_GUEST: u32 = 1024;

/// The disk number of `name` if it is one of `vmid`'s disks (`vm|base|subvol|basevol-<vmid>-disk-<N>`,
/// any suffix).
pub fn disk_number(name: &str, vmid: u32) -> Option<u32> {
    for prefix in ["vm", "base", "subvol", "basevol"] {
        let head = format!("{prefix}-{vmid}-disk-");
        if let Some(rest) = name.strip_prefix(&head) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() {
                return digits.parse().ok();
            }
        }
    }
    None
}

/// The next free `<vm|subvol>-<vmid>-disk-<N><suffix>` among `existing` names (numbers are
/// shared by all formats).
pub fn next_disk_name<'a>(
    storage: &str,
    existing: impl IntoIterator<Item = &'a str>,
    vmid: u32,
    format: VolumeFormat,
    suffix: &str,
) -> Result<String, StorageError> {
    let used: BTreeSet<u32> = existing
        .into_iter()
        .filter_map(|n| disk_number(n, vmid))
        .collect();
    let prefix = if format == VolumeFormat::Subvol {
        "subvol"
    } else {
        "vm"
    };
    (0..MAX_VOLUMES_PER_GUEST)
        .find(|i| !used.contains(i))
        .map(|i| format!("{prefix}-{vmid}-disk-{i}{suffix}"))
        .ok_or_else(|| StorageError::NoFreeName {
            storage: storage.to_string(),
            vmid,
        })
}

/// Check a caller-chosen image name: a safe file name starting with `vm-<vmid>-` (or
/// `subvol-<vmid>-` for subvolumes), with the format's extension when `ext` is set (added
/// when missing).
pub fn check_alloc_name(
    name: &str,
    vmid: u32,
    format: VolumeFormat,
    ext: bool,
) -> Result<String, StorageError> {
    let bad = |reason: String| StorageError::InvalidFilename {
        name: escape(name),
        reason,
    };
    check_file_name(name).map_err(bad)?;
    let prefix = if format == VolumeFormat::Subvol {
        format!("subvol-{vmid}-")
    } else {
        format!("vm-{vmid}-")
    };
    if !name.starts_with(&prefix) || name.len() == prefix.len() {
        return Err(bad(format!("should be '{prefix}*'")));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+'))
    {
        return Err(bad("only letters, digits and '-_.+' are allowed".into()));
    }
    if !ext {
        if name.contains('.') {
            return Err(bad("no file extension expected".into()));
        }
        return Ok(name.to_string());
    }
    let wanted = format!(".{format}");
    let known = VolumeFormat::ALL
        .iter()
        .find(|f| name.ends_with(&format!(".{f}")));
    match known {
        Some(f) if *f == format => Ok(name.to_string()),
        Some(f) => Err(bad(format!(
            "wrong extension for format ('{f}' != '{format}')"
        ))),
        None => Ok(format!("{name}{wanted}")),
    }
}

/// The preallocation an allocation of `format` gets: the explicit request (which must be a
/// mode the backend offers for the format), else the storage's `preallocation` option, else
/// Proxmox's default (`metadata` for qcow2, `off` otherwise). A storage default the format
/// cannot do falls back to `off`, as in Proxmox. `None` when the format has no choice.
pub fn resolve_preallocation(
    entry: &StorageEntry,
    caps: &Capabilities,
    format: VolumeFormat,
    explicit: Option<Preallocation>,
) -> Result<Option<Preallocation>, StorageError> {
    let modes = caps.preallocation_modes(format);
    if modes.is_empty() {
        return match explicit {
            None => Ok(None),
            Some(p) => Err(StorageError::unsupported(
                &entry.id,
                format!("preallocation '{p}' for format '{format}'"),
            )),
        };
    }
    if let Some(p) = explicit {
        let p = if p == Preallocation::Metadata && format == VolumeFormat::Raw {
            Preallocation::Off
        } else {
            p
        };
        if !modes.contains(&p) {
            return Err(StorageError::unsupported(
                &entry.id,
                format!("preallocation '{p}' for format '{format}'"),
            ));
        }
        return Ok(Some(p));
    }
    let default = if format == VolumeFormat::Qcow2 {
        Preallocation::Metadata
    } else {
        Preallocation::Off
    };
    let wanted = entry.props.preallocation.unwrap_or(default);
    Ok(Some(if modes.contains(&wanted) {
        wanted
    } else {
        Preallocation::Off
    }))
}

/// Refuse a thick allocation of `size` bytes when only `avail` bytes are free.
pub fn check_space(storage: &str, size: u64, avail: u64) -> Result<(), StorageError> {
    if size > avail {
        return Err(StorageError::InsufficientSpace {
            storage: storage.to_string(),
            requested: size,
            available: avail,
        });
    }
    Ok(())
}

/// The size a grow-only resize of `volid` from `current` to `requested` bytes ends at
/// (rounded up to KiB): `None` when nothing changes, an error for a shrink.
pub fn grow_target(
    volid: String,
    current: u64,
    requested: u64,
) -> Result<Option<u64>, StorageError> {
    let size = crate::size::round_up_kib(requested);
    if size < current {
        return Err(StorageError::ShrinkRefused {
            volid,
            current,
            requested: size,
        });
    }
    Ok((size != current).then_some(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_next_free_disk_number() {
        let names = [
            "vm-100-disk-0.raw",
            "base-100-disk-1.qcow2",
            "vm-101-disk-2.raw",
            "vm-100-disk-3",
        ];
        let n = next_disk_name("s", names, 100, VolumeFormat::Qcow2, ".qcow2").unwrap();
        assert_eq!(n, "vm-100-disk-2.qcow2");
        let n = next_disk_name("s", [], 7, VolumeFormat::Subvol, ".subvol").unwrap();
        assert_eq!(n, "subvol-7-disk-0.subvol");
        assert_eq!(disk_number("vm-1000-disk-1", 100), None);
    }

    #[test]
    fn checks_names() {
        assert_eq!(
            check_alloc_name("vm-100-data", 100, VolumeFormat::Qcow2, true).unwrap(),
            "vm-100-data.qcow2"
        );
        assert!(check_alloc_name("vm-100-data.raw", 100, VolumeFormat::Qcow2, true).is_err());
        assert!(check_alloc_name("vm-101-data.raw", 100, VolumeFormat::Raw, true).is_err());
        assert!(check_alloc_name("../vm-100-x.raw", 100, VolumeFormat::Raw, true).is_err());
        assert!(check_alloc_name("vm-100-a b", 100, VolumeFormat::Raw, true).is_err());
        assert!(check_alloc_name("vm-100-x.raw", 100, VolumeFormat::Raw, false).is_err());
        assert!(check_alloc_name("vm-100-", 100, VolumeFormat::Raw, false).is_err());
    }
}
