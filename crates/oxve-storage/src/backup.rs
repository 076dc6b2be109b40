//! Backup archive files and their companions, as Proxmox keeps them in a storage's `dump/`
//! directory: `<archive>.notes` (UTF-8 notes), `<archive>.protected` (present = protected),
//! the job log `vzdump-<type>-<vmid>-<time>.log`, and oxve's `<archive>.verify` (the result
//! of the last verification, JSON).

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::StorageError;
use crate::volid::{backup_format, parse_vmid};

/// What an archive's file name says (Proxmox's `archive_info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveInfo {
    /// `qemu`, `lxc` or `openvz`.
    pub guest_type: String,
    /// `vma.zst`, `tar.gz`, `oxar.zst`, `tgz`, ...
    pub format: String,
    /// Whether the name is `vzdump-<type>-<vmid>-<YYYY_MM_DD-HH_MM_SS>.<format>`.
    pub standard_name: bool,
    pub vmid: Option<u32>,
    /// Local time of the backup (standard names only).
    pub time: Option<[u32; 6]>,
    /// The job log's file name (standard names only).
    pub log_name: Option<String>,
}

/// Parse a backup archive file name; `None` when it is no `vzdump-<type>-...` archive.
pub fn archive_info(name: &str) -> Option<ArchiveInfo> {
    let rest = name.strip_prefix("vzdump-")?;
    let (guest_type, rest) = rest.split_once('-')?;
    if !matches!(guest_type, "qemu" | "lxc" | "openvz") || rest.is_empty() {
        return None;
    }
    let format = backup_format(name)?;
    let stem = &name[..name.len() - format.len() - 1];
    let mut info = ArchiveInfo {
        guest_type: guest_type.to_string(),
        format,
        standard_name: false,
        vmid: None,
        time: None,
        log_name: None,
    };
    // <vmid>-YYYY_MM_DD-HH_MM_SS, vmid of 3 to 9 digits without a leading zero
    let tail = &stem["vzdump-".len() + guest_type.len() + 1..];
    if let Some((vmid, time)) = tail.split_once('-') {
        let vmid = parse_vmid(vmid).filter(|v| (100..=999_999_999).contains(v));
        if let (Some(vmid), Some(time)) = (vmid, parse_time(time)) {
            info.standard_name = true;
            info.vmid = Some(vmid);
            info.time = Some(time);
            info.log_name = Some(format!("{stem}.log"));
        }
    }
    Some(info)
}

/// `YYYY_MM_DD-HH_MM_SS`.
fn parse_time(text: &str) -> Option<[u32; 6]> {
    let b = text.as_bytes();
    let shape_ok = b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 | 13 | 16 => *c == b'_',
            10 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    let n = |r: std::ops::Range<usize>| text[r].parse().ok();
    Some([
        n(0..4)?,
        n(5..7)?,
        n(8..10)?,
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
    ])
}

fn sidecar(archive: &Path, ext: &str) -> PathBuf {
    let mut p = archive.as_os_str().to_owned();
    p.push(ext);
    PathBuf::from(p)
}

/// `<archive>.notes`.
pub fn notes_path(archive: &Path) -> PathBuf {
    sidecar(archive, ".notes")
}

/// `<archive>.protected`.
pub fn protected_path(archive: &Path) -> PathBuf {
    sidecar(archive, ".protected")
}

/// `<archive>.verify` (oxve).
pub fn verify_path(archive: &Path) -> PathBuf {
    sidecar(archive, ".verify")
}

/// Whether the archive is protected.
pub fn is_protected(archive: &Path) -> bool {
    protected_path(archive).exists()
}

/// The notes of an archive (all lines), if any.
pub fn read_notes(archive: &Path) -> Option<String> {
    fs::read(notes_path(archive))
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StorageError {
    let path = path.to_path_buf();
    move |e| StorageError::io(action, &path, e)
}

/// Set (or with an empty text, remove) the notes of an archive.
pub fn write_notes(archive: &Path, notes: &str) -> Result<(), StorageError> {
    let path = notes_path(archive);
    if notes.is_empty() {
        return remove_if_exists(&path);
    }
    write_atomic(&path, notes.as_bytes()).map_err(io_err("write", &path))
}

/// Protect an archive or lift its protection.
pub fn set_protected(archive: &Path, protected: bool) -> Result<(), StorageError> {
    let path = protected_path(archive);
    if protected {
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map(|_| ())
            .map_err(io_err("create", &path))
    } else {
        remove_if_exists(&path)
    }
}

/// Write through a temp file and rename, so readers never see half a file.
fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = sidecar(path, ".tmp");
    fs::write(&tmp, data)?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

fn remove_if_exists(path: &Path) -> Result<(), StorageError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StorageError::io("remove", path, e)),
    }
}

/// The last verification of an archive (`<archive>.verify`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// `ok` or `failed`.
    pub state: String,
    /// The verify task.
    pub upid: String,
    /// When it ended (UNIX time).
    pub time: i64,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The recorded verification of an archive, if any (unreadable records count as none).
pub fn read_verification(archive: &Path) -> Option<Verification> {
    let text = fs::read(verify_path(archive)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Record the result of a verification.
pub fn write_verification(archive: &Path, v: &Verification) -> Result<(), StorageError> {
    let path = verify_path(archive);
    let text = serde_json::to_vec(v).map_err(|e| StorageError::io("encode", &path, e.into()))?;
    write_atomic(&path, &text).map_err(io_err("write", &path))
}

/// Remove an archive with its notes, log and verification record (Proxmox's
/// `archive_remove`); a protected archive is refused and left alone.
pub fn remove_archive(archive: &Path, volid: &str) -> Result<(), StorageError> {
    if is_protected(archive) {
        return Err(StorageError::Protected {
            volid: volid.to_string(),
        });
    }
    match fs::remove_file(archive) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(StorageError::VolumeNotFound {
                volid: volid.to_string(),
            })
        }
        Err(e) => return Err(StorageError::io("remove", archive, e)),
    }
    let _ = remove_if_exists(&notes_path(archive));
    let _ = remove_if_exists(&verify_path(archive));
    let _ = remove_if_exists(&protected_path(archive));
    let name = archive.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if let (Some(log), Some(dir)) = (
        archive_info(name).and_then(|i| i.log_name),
        archive.parent(),
    ) {
        let _ = remove_if_exists(&dir.join(log));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_archive_names() {
        let i = archive_info("vzdump-qemu-100-2024_01_02-03_04_05.oxar.zst").unwrap();
        assert_eq!(i.guest_type, "qemu");
        assert_eq!(i.format, "oxar.zst");
        assert!(i.standard_name);
        assert_eq!(i.vmid, Some(100));
        assert_eq!(i.time, Some([2024, 1, 2, 3, 4, 5]));
        assert_eq!(
            i.log_name.as_deref(),
            Some("vzdump-qemu-100-2024_01_02-03_04_05.log")
        );
        let i = archive_info("vzdump-lxc-12345-2024_01_02-03_04_05.tar.gz").unwrap();
        assert_eq!((i.guest_type.as_str(), i.vmid), ("lxc", Some(12345)));
        let i = archive_info("vzdump-lxc-100-renamed.oxar").unwrap();
        assert!(!i.standard_name);
        assert_eq!(i.vmid, None);
        assert!(
            !archive_info("vzdump-qemu-99-2024_01_02-03_04_05.vma")
                .unwrap()
                .standard_name
        );
        assert!(archive_info("vzdump-kvm-100-2024_01_02-03_04_05.vma").is_none());
        assert!(archive_info("other.vma").is_none());
        assert!(archive_info("vzdump-qemu-100-2024_01_02-03_04_05.log").is_none());
    }

    #[test]
    fn sidecars_follow_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir
            .path()
            .join("vzdump-qemu-100-2024_01_02-03_04_05.oxar.zst");
        fs::write(&archive, b"data").unwrap();
        let log = dir.path().join("vzdump-qemu-100-2024_01_02-03_04_05.log");
        fs::write(&log, b"log").unwrap();
        write_notes(&archive, "first line\nsecond line").unwrap();
        assert_eq!(read_notes(&archive).unwrap(), "first line\nsecond line");
        set_protected(&archive, true).unwrap();
        assert!(is_protected(&archive));
        write_verification(
            &archive,
            &Verification {
                state: "ok".into(),
                upid: "UPID:x".into(),
                time: 1,
                error: None,
            },
        )
        .unwrap();
        assert_eq!(read_verification(&archive).unwrap().state, "ok");

        assert!(remove_archive(&archive, "local:backup/x").is_err());
        assert!(archive.exists());
        set_protected(&archive, false).unwrap();
        remove_archive(&archive, "local:backup/x").unwrap();
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
        write_notes(&archive, "").unwrap();
    }
}
