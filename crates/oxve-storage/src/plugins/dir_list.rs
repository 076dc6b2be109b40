//! Listing the content of path-based storages: guest images under `images/<vmid>/` and the
//! files of the other content types (ISO, templates, backups, snippets, import).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::command::CommandRunner;
use crate::config::StorageEntry;
use crate::content::ContentType;
use crate::error::StorageError;
use crate::format::VolumeFormat;
use crate::image_header::read_qcow2_header;
use crate::plugin::{VolumeEntry, VolumeFilter};
use crate::qemu_img;
use crate::volid::{
    backup_format, import_format, is_iso_name, parse_image_file_name, parse_vmid,
    vztmpl_compression, BackupArchive,
};

/// Size facts of an image file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileImageInfo {
    pub size: u64,
    pub used: u64,
    pub parent: Option<String>,
    pub ctime: i64,
}

/// Virtual size, allocation, backing file and ctime of an image file: from the file itself
/// for raw and qcow2, through `qemu-img info` for other formats.
pub(crate) fn file_image_info(
    runner: &dyn CommandRunner,
    path: &Path,
    format: VolumeFormat,
) -> Result<FileImageInfo, StorageError> {
    let meta = fs::metadata(path).map_err(|e| StorageError::io("stat", path, e))?;
    let used = meta.blocks() * 512;
    let ctime = meta.ctime();
    if meta.is_dir() || format == VolumeFormat::Subvol {
        return Ok(FileImageInfo {
            size: 0,
            used: 0,
            parent: None,
            ctime,
        });
    }
    if format == VolumeFormat::Raw {
        return Ok(FileImageInfo {
            size: meta.len(),
            used,
            parent: None,
            ctime,
        });
    }
    if format == VolumeFormat::Qcow2 {
        if let Some(h) = read_qcow2_header(path) {
            return Ok(FileImageInfo {
                size: h.virtual_size,
                used,
                parent: h.backing_file,
                ctime,
            });
        }
    }
    let info = qemu_img::info(runner, path, Some(format.as_str()))?;
    Ok(FileImageInfo {
        size: info.virtual_size,
        used: info.actual_size,
        parent: info.backing_filename,
        ctime,
    })
}

/// The volume name of an image, recording the base image of a linked clone
/// (`<basevmid>/<basename>/<vmid>/<name>`) when the backing file is `../<basevmid>/<basename>`.
pub(crate) fn image_volname(owner: u32, name: &str, parent: Option<&str>) -> String {
    if let Some(rest) = parent.and_then(|p| p.strip_prefix("../")) {
        if let Some((base_vmid, base_name)) = rest.split_once('/') {
            if parse_vmid(base_vmid).is_some() && parse_image_file_name(base_name).is_some() {
                return format!("{base_vmid}/{base_name}/{owner}/{name}");
            }
        }
    }
    format!("{owner}/{name}")
}

/// The numeric guest directories under `images/`, optionally only one.
pub(crate) fn guest_dirs(images: &Path, vmid: Option<u32>) -> Vec<(u32, std::path::PathBuf)> {
    let Ok(rd) = fs::read_dir(images) else {
        return Vec::new();
    };
    let mut dirs: Vec<_> = rd
        .flatten()
        .filter_map(|e| {
            let owner = parse_vmid(e.file_name().to_str()?)?;
            (vmid.is_none_or(|v| v == owner) && e.path().is_dir()).then(|| (owner, e.path()))
        })
        .collect();
    dirs.sort();
    dirs
}

/// Sorted file names in a directory (missing directory: none).
pub(crate) fn dir_names(dir: &Path) -> Vec<String> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// Image entries of a dir-layout storage (`images/<vmid>/<name>.<fmt>`).
pub(crate) fn list_dir_images(
    runner: &dyn CommandRunner,
    entry: &StorageEntry,
    formats: &std::collections::BTreeSet<VolumeFormat>,
    vmid: Option<u32>,
) -> Result<Vec<VolumeEntry>, StorageError> {
    let Some(images) = entry.content_dir(ContentType::Images) else {
        return Ok(Vec::new());
    };
    let mut res = Vec::new();
    for (owner, dir) in guest_dirs(&images, vmid) {
        for name in dir_names(&dir) {
            let Some((format, _)) = parse_image_file_name(&name) else {
                continue;
            };
            if !formats.contains(&format) {
                continue;
            }
            let Ok(info) = file_image_info(runner, &dir.join(&name), format) else {
                continue;
            };
            res.push(image_entry(&entry.id, owner, &name, format, info));
        }
    }
    Ok(res)
}

pub(crate) fn image_entry(
    storage: &str,
    owner: u32,
    name: &str,
    format: VolumeFormat,
    info: FileImageInfo,
) -> VolumeEntry {
    let volname = image_volname(owner, name, info.parent.as_deref());
    VolumeEntry {
        volid: format!("{storage}:{volname}"),
        content: ContentType::Images,
        format: format.to_string(),
        size: info.size,
        used: Some(info.used),
        vmid: Some(owner),
        ctime: Some(info.ctime),
        parent: info.parent,
        notes: None,
        protected: false,
    }
}

/// Seconds since the epoch of a local date and time (as Proxmox's `timelocal`).
fn local_time(t: [u32; 6]) -> Option<i64> {
    // SAFETY: `tm` is plain old data; mktime only reads and normalises it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = t[0] as i32 - 1900;
    tm.tm_mon = t[1] as i32 - 1;
    tm.tm_mday = t[2] as i32;
    tm.tm_hour = t[3] as i32;
    tm.tm_min = t[4] as i32;
    tm.tm_sec = t[5] as i32;
    tm.tm_isdst = -1;
    // SAFETY: `tm` is a valid, initialised struct.
    let secs = unsafe { libc::mktime(&mut tm) };
    (secs != -1).then_some(secs)
}

/// Files of one non-image content type.
pub(crate) fn list_files(
    entry: &StorageEntry,
    content: ContentType,
    vmid: Option<u32>,
) -> Result<Vec<VolumeEntry>, StorageError> {
    let Some(dir) = entry.content_dir(content) else {
        return Ok(Vec::new());
    };
    let prefix = match content {
        ContentType::Iso => "iso",
        ContentType::Vztmpl => "vztmpl",
        ContentType::Backup => "backup",
        ContentType::Snippets => "snippets",
        ContentType::Import => "import",
        _ => return Ok(Vec::new()),
    };
    let mut res = Vec::new();
    for name in dir_names(&dir) {
        let path = dir.join(&name);
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() || name.starts_with('.') {
            continue;
        }
        let mut item = VolumeEntry {
            volid: format!("{}:{prefix}/{name}", entry.id),
            content,
            format: String::new(),
            size: meta.len(),
            used: None,
            vmid: None,
            ctime: Some(meta.ctime()),
            parent: None,
            notes: None,
            protected: false,
        };
        match content {
            ContentType::Iso if is_iso_name(&name) => item.format = "iso".into(),
            ContentType::Vztmpl => match vztmpl_compression(&name) {
                Some(c) => item.format = format!("t{c}"),
                None => continue,
            },
            ContentType::Backup => {
                let Some(fmt) = backup_format(&name) else {
                    continue;
                };
                if let Some(v) = vmid {
                    if !name.contains(&format!("-{v}-")) {
                        continue;
                    }
                }
                item.format = fmt;
                if let Some(archive) = BackupArchive::parse(&name) {
                    item.vmid = Some(archive.vmid);
                    if let Some(t) = archive.time.and_then(local_time) {
                        item.ctime = Some(t);
                    }
                }
                let notes = dir.join(format!("{name}.notes"));
                item.notes = fs::read_to_string(notes)
                    .ok()
                    .and_then(|n| n.lines().next().map(str::to_string));
                item.protected = dir.join(format!("{name}.protected")).exists();
            }
            ContentType::Snippets => item.format = "snippet".into(),
            ContentType::Import => match import_format(&name) {
                Some(f) => item.format = f.into(),
                None => continue,
            },
            _ => continue,
        }
        res.push(item);
    }
    Ok(res)
}

/// List volumes of a path-based storage: images through `list_images`, the other content
/// types from their directories. Images of VMIDs in `filter.containers` (and subvolumes)
/// count as `rootdir`.
pub(crate) fn list_volumes_with(
    entry: &StorageEntry,
    filter: &VolumeFilter,
    list_images: impl Fn(Option<u32>) -> Result<Vec<VolumeEntry>, StorageError>,
) -> Result<Vec<VolumeEntry>, StorageError> {
    let types: Vec<ContentType> = match filter.content {
        Some(c) => vec![c],
        None => entry.content().into_iter().collect(),
    };
    let wants = |c: ContentType| types.contains(&c);
    let mut res = Vec::new();
    if wants(ContentType::Images) || wants(ContentType::Rootdir) {
        for mut item in list_images(filter.vmid)? {
            let is_ct = item.format == "subvol"
                || item.vmid.is_some_and(|v| filter.containers.contains(&v));
            item.content = if is_ct {
                ContentType::Rootdir
            } else {
                ContentType::Images
            };
            if wants(item.content) {
                res.push(item);
            }
        }
    }
    for ct in types {
        match ct {
            ContentType::Iso | ContentType::Vztmpl if filter.vmid.is_some() => {}
            ContentType::Iso
            | ContentType::Vztmpl
            | ContentType::Backup
            | ContentType::Snippets
            | ContentType::Import => res.extend(list_files(entry, ct, filter.vmid)?),
            _ => {}
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volnames_record_base_images() {
        assert_eq!(
            image_volname(
                101,
                "vm-101-disk-0.qcow2",
                Some("../100/base-100-disk-0.qcow2")
            ),
            "100/base-100-disk-0.qcow2/101/vm-101-disk-0.qcow2"
        );
        assert_eq!(
            image_volname(101, "vm-101-disk-0.qcow2", Some("/abs/x.qcow2")),
            "101/vm-101-disk-0.qcow2"
        );
        assert_eq!(
            image_volname(5, "vm-5-disk-0.raw", None),
            "5/vm-5-disk-0.raw"
        );
    }

    #[test]
    fn converts_backup_times() {
        let t = local_time([2024, 1, 1, 0, 0, 0]).unwrap();
        assert!(t > 1_700_000_000 && t < 1_710_000_000);
    }
}
