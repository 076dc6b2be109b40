//! The typed options of one storage definition, with Proxmox's names, and their text form.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use oxve_types::format::{check_node, split_list};

use super::prune::PruneBackups;
use super::schema;
use crate::content::{content_list_string, ContentType};
use crate::format::{Preallocation, VolumeFormat};
use crate::volid::{check_lvm_name, VolumeId};

/// Every option a storage definition can carry (each type accepts a subset, see
/// [`schema::type_options`]). `None` means "not set".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageProps {
    /// `path`: the directory (dir, btrfs) or mount point (nfs, cifs).
    pub path: Option<String>,
    /// `content`: allowed content types (empty set = `none`).
    pub content: Option<BTreeSet<ContentType>>,
    /// `content-dirs`: per content type subdirectory overrides.
    pub content_dirs: Option<BTreeMap<ContentType, String>>,
    /// `nodes`: nodes the storage is available on (all when unset).
    pub nodes: Option<BTreeSet<String>>,
    /// `shared`: same content on all nodes.
    pub shared: Option<bool>,
    /// `disable`: storage disabled.
    pub disable: Option<bool>,
    /// `maxfiles`: deprecated backup retention (0 = unlimited).
    pub maxfiles: Option<u64>,
    /// `prune-backups`: backup retention.
    pub prune_backups: Option<PruneBackups>,
    /// `max-protected-backups`: -1 for unlimited.
    pub max_protected_backups: Option<i64>,
    /// `format`: default image format.
    pub format: Option<VolumeFormat>,
    /// `preallocation`: default preallocation mode for raw and qcow2 images.
    pub preallocation: Option<Preallocation>,
    /// `mkdir`: create the directory and its subdirectories (deprecated, default on).
    pub mkdir: Option<bool>,
    /// `create-base-path`: create the base directory (default on).
    pub create_base_path: Option<bool>,
    /// `create-subdirs`: create the default subdirectories (default on).
    pub create_subdirs: Option<bool>,
    /// `is_mountpoint`: `yes`/`no` or the path that must be a mount point.
    pub is_mountpoint: Option<String>,
    /// `bwlimit`: I/O bandwidth limits (property string, kept as text).
    pub bwlimit: Option<String>,
    /// `nocow` (btrfs): set the NOCOW flag on image files.
    pub nocow: Option<bool>,
    /// `vgname` (lvm, lvmthin): volume group.
    pub vgname: Option<String>,
    /// `base` (lvm): base volume the VG lives on.
    pub base: Option<String>,
    /// `saferemove` (lvm): zero out removed LVs.
    pub saferemove: Option<bool>,
    /// `saferemove_throughput` (lvm): wipe throughput for cstream.
    pub saferemove_throughput: Option<String>,
    /// `tagged_only` (lvm): only use LVs tagged `pve-vm-<vmid>`.
    pub tagged_only: Option<bool>,
    /// `thinpool` (lvmthin): thin pool LV.
    pub thinpool: Option<String>,
    /// `pool` (zfspool): the pool or dataset.
    pub pool: Option<String>,
    /// `blocksize` (zfspool): zvol block size.
    pub blocksize: Option<String>,
    /// `sparse` (zfspool): thin zvols.
    pub sparse: Option<bool>,
    /// `mountpoint` (zfspool): where the pool's datasets are mounted.
    pub mountpoint: Option<String>,
    /// `server` (nfs, cifs): server address or name.
    pub server: Option<String>,
    /// `export` (nfs): exported path.
    pub export: Option<String>,
    /// `share` (cifs): share name.
    pub share: Option<String>,
    /// `subdir` (cifs): subdirectory of the share to mount.
    pub subdir: Option<String>,
    /// `username` (cifs).
    pub username: Option<String>,
    /// `domain` (cifs).
    pub domain: Option<String>,
    /// `smbversion` (cifs): `default`, `2.0`, `2.1`, `3`, `3.0`, `3.11`.
    pub smbversion: Option<String>,
    /// `options` (nfs, cifs): mount options.
    pub options: Option<String>,
}

/// Parse a Proxmox boolean (`1/0/on/off/yes/no/true/false`); a flag without value is true.
pub fn parse_bool(value: Option<&str>) -> Result<bool, String> {
    let Some(value) = value else { return Ok(true) };
    match value.to_ascii_lowercase().as_str() {
        "1" | "on" | "yes" | "true" => Ok(true),
        "0" | "off" | "no" | "false" => Ok(false),
        _ => Err(format!("type check ('boolean') failed - got '{value}'")),
    }
}

fn bool_text(v: bool) -> String {
    if v { "1" } else { "0" }.to_string()
}

fn no_ctl(value: &str) -> Result<(), String> {
    if value.chars().any(char::is_control) {
        return Err("control characters are not allowed".into());
    }
    Ok(())
}

fn check_abs_path(value: &str) -> Result<(), String> {
    no_ctl(value)?;
    if !value.starts_with('/') || value.contains([';', '(', ')']) {
        return Err("value does not look like a valid absolute path".into());
    }
    if value.split('/').any(|c| c == "..") {
        return Err("path traversal ('..') is not allowed".into());
    }
    Ok(())
}

fn check_no_space(value: &str, what: &str) -> Result<(), String> {
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("invalid {what} '{value}'"));
    }
    Ok(())
}

fn check_server(value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.len() <= 255
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'_'));
    ok.then_some(())
        .ok_or_else(|| "value does not look like a valid server name or IP address".into())
}

fn check_zfs_blocksize(value: &str) -> Result<(), String> {
    let lower = value.to_ascii_lowercase();
    let (num, mult) = match lower.strip_suffix('k') {
        Some(n) => (n, 1024u64),
        None => match lower.strip_suffix('m') {
            Some(n) => (n, 1 << 20),
            None => (lower.as_str(), 1),
        },
    };
    let n = (!num.starts_with('0'))
        .then(|| num.parse::<u64>().ok())
        .flatten()
        .and_then(|n| n.checked_mul(mult));
    match n {
        Some(n) if (512..=16 << 20).contains(&n) && n.is_power_of_two() => Ok(()),
        _ => Err(format!(
            "value '{value}' is not a valid ZFS blocksize. Must be a power of 2 between 512B and 16MiB (e.g., 4k, 8k, 16k, 64k, 1m)."
        )),
    }
}

fn check_zfs_pool(value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && !value.starts_with('/')
        && !value.ends_with('/')
        && !value.contains("//")
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'));
    ok.then_some(())
        .ok_or_else(|| format!("invalid ZFS pool or dataset name '{value}'"))
}

fn parse_content(storage_type: &str, value: &str) -> Result<BTreeSet<ContentType>, String> {
    let valid = schema::valid_content(storage_type);
    let mut set = BTreeSet::new();
    for item in split_list(value) {
        let ct = ContentType::from_str(item)?;
        if !valid.contains(&ct) {
            return Err(format!("storage does not support content type '{item}'"));
        }
        set.insert(ct);
    }
    if set.contains(&ContentType::None) {
        if set.len() > 1 {
            return Err("unable to combine 'none' with other content types".into());
        }
        set.clear();
    }
    if set.is_empty() && !valid.contains(&ContentType::None) {
        return Err("storage does not support content type 'none'".into());
    }
    Ok(set)
}

fn parse_content_dirs(
    storage_type: &str,
    value: &str,
) -> Result<BTreeMap<ContentType, String>, String> {
    let valid = schema::valid_content(storage_type);
    let mut map = BTreeMap::new();
    for item in split_list(value) {
        let (ct, dir) = item
            .split_once('=')
            .ok_or_else(|| format!("invalid override '{item}'"))?;
        let ct = ContentType::from_str(ct)?;
        if !valid.contains(&ct) || ct == ContentType::None {
            return Err(format!("storage does not support content type '{ct}'"));
        }
        let traversal = dir.split('/').any(|c| c == "..");
        if dir.is_empty() || traversal || dir.len() >= 1023 || dir.chars().any(char::is_control) {
            return Err(format!("invalid override '{item}'"));
        }
        map.insert(ct, dir.to_string());
    }
    Ok(map)
}

fn parse_nodes(value: &str) -> Result<BTreeSet<String>, String> {
    split_list(value)
        .map(|n| check_node(n).map(|()| n.to_string()))
        .collect()
}

impl StorageProps {
    /// Set option `key` from its text form (`None` for a bare flag), validating the value for
    /// `storage_type`. The error is the reason only; the caller names the option.
    pub fn set(
        &mut self,
        storage_type: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), String> {
        let text = || value.ok_or_else(|| "missing value".to_string());
        let string = |check: fn(&str) -> Result<(), String>| -> Result<Option<String>, String> {
            let v = text()?;
            check(v)?;
            Ok(Some(v.to_string()))
        };
        match key {
            "path" | "export" | "mountpoint" | "subdir" => {
                let v = string(check_abs_path)?;
                match key {
                    "path" => self.path = v,
                    "export" => self.export = v,
                    "mountpoint" => self.mountpoint = v,
                    _ => self.subdir = v,
                }
            }
            "content" => self.content = Some(parse_content(storage_type, text()?)?),
            "content-dirs" => self.content_dirs = Some(parse_content_dirs(storage_type, text()?)?),
            "nodes" => self.nodes = Some(parse_nodes(text()?)?),
            "shared" => self.shared = Some(parse_bool(value)?),
            "disable" => self.disable = Some(parse_bool(value)?),
            "mkdir" => self.mkdir = Some(parse_bool(value)?),
            "create-base-path" => self.create_base_path = Some(parse_bool(value)?),
            "create-subdirs" => self.create_subdirs = Some(parse_bool(value)?),
            "nocow" => self.nocow = Some(parse_bool(value)?),
            "saferemove" => self.saferemove = Some(parse_bool(value)?),
            "tagged_only" => self.tagged_only = Some(parse_bool(value)?),
            "sparse" => self.sparse = Some(parse_bool(value)?),
            "maxfiles" => {
                let v = text()?;
                let n = v
                    .parse::<u64>()
                    .map_err(|_| format!("type check ('integer') failed - got '{v}'"))?;
                self.maxfiles = Some(n);
            }
            "max-protected-backups" => {
                let v = text()?;
                let n = v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= -1)
                    .ok_or_else(|| format!("value must be an integer >= -1, got '{v}'"))?;
                self.max_protected_backups = Some(n);
            }
            "prune-backups" => self.prune_backups = Some(PruneBackups::parse(text()?)?),
            "format" => {
                let f = VolumeFormat::from_str(text()?)?;
                if !schema::type_formats(storage_type).0.contains(&f) {
                    return Err(format!("storage does not support format '{f}'"));
                }
                self.format = Some(f);
            }
            "preallocation" => self.preallocation = Some(Preallocation::from_str(text()?)?),
            "is_mountpoint" => {
                let v = text()?;
                if parse_bool(Some(v)).is_err() {
                    check_abs_path(v)?;
                }
                self.is_mountpoint = Some(v.to_string());
            }
            "bwlimit" => self.bwlimit = string(|v| check_no_space(v, "bwlimit"))?,
            "options" => self.options = string(|v| check_no_space(v, "options"))?,
            "vgname" | "thinpool" => {
                let v = string(check_lvm_name)?;
                if key == "vgname" {
                    self.vgname = v;
                } else {
                    self.thinpool = v;
                }
            }
            "base" => {
                let v = text()?;
                VolumeId::parse(v).map_err(|e| e.to_string())?;
                self.base = Some(v.to_string());
            }
            "saferemove_throughput" => {
                self.saferemove_throughput = string(|v| {
                    let digits = v.strip_prefix('-').unwrap_or(v);
                    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                        .then_some(())
                        .ok_or_else(|| format!("invalid throughput '{v}'"))
                })?
            }
            "pool" => self.pool = string(check_zfs_pool)?,
            "blocksize" => self.blocksize = string(check_zfs_blocksize)?,
            "server" => self.server = string(check_server)?,
            "share" => self.share = string(|v| check_no_space(v, "share"))?,
            "username" | "domain" => {
                let v = string(|v| {
                    no_ctl(v)?;
                    (!v.is_empty() && v.len() <= 256)
                        .then_some(())
                        .ok_or_else(|| "value must be 1 to 256 characters".into())
                })?;
                if key == "username" {
                    self.username = v;
                } else {
                    self.domain = v;
                }
            }
            "smbversion" => {
                self.smbversion = string(|v| {
                    ["default", "2.0", "2.1", "3", "3.0", "3.11"]
                        .contains(&v)
                        .then_some(())
                        .ok_or_else(|| {
                            format!("value '{v}' does not have a value in the enumeration 'default, 2.0, 2.1, 3, 3.0, 3.11'")
                        })
                })?
            }
            _ => return Err("unknown option".into()),
        }
        Ok(())
    }

    /// The text form of option `key`, or `None` when unset (`disable` is handled by the
    /// writer as a bare flag).
    pub fn get(&self, key: &str) -> Option<String> {
        let s = |v: &Option<String>| v.clone();
        let b = |v: &Option<bool>| v.map(bool_text);
        match key {
            "path" => s(&self.path),
            "content" => self.content.as_ref().map(content_list_string),
            "content-dirs" => self.content_dirs.as_ref().map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            }),
            "nodes" => self
                .nodes
                .as_ref()
                .map(|n| n.iter().cloned().collect::<Vec<_>>().join(",")),
            "shared" => b(&self.shared),
            "disable" => b(&self.disable),
            "maxfiles" => self.maxfiles.map(|n| n.to_string()),
            "prune-backups" => self.prune_backups.as_ref().map(|p| p.to_string()),
            "max-protected-backups" => self.max_protected_backups.map(|n| n.to_string()),
            "format" => self.format.map(|f| f.to_string()),
            "preallocation" => self.preallocation.map(|p| p.to_string()),
            "mkdir" => b(&self.mkdir),
            "create-base-path" => b(&self.create_base_path),
            "create-subdirs" => b(&self.create_subdirs),
            "is_mountpoint" => s(&self.is_mountpoint),
            "bwlimit" => s(&self.bwlimit),
            "nocow" => b(&self.nocow),
            "vgname" => s(&self.vgname),
            "base" => s(&self.base),
            "saferemove" => b(&self.saferemove),
            "saferemove_throughput" => s(&self.saferemove_throughput),
            "tagged_only" => b(&self.tagged_only),
            "thinpool" => s(&self.thinpool),
            "pool" => s(&self.pool),
            "blocksize" => s(&self.blocksize),
            "sparse" => b(&self.sparse),
            "mountpoint" => s(&self.mountpoint),
            "server" => s(&self.server),
            "export" => s(&self.export),
            "share" => s(&self.share),
            "subdir" => s(&self.subdir),
            "username" => s(&self.username),
            "domain" => s(&self.domain),
            "smbversion" => s(&self.smbversion),
            "options" => s(&self.options),
            _ => None,
        }
    }

    /// Unset option `key`.
    pub fn clear(&mut self, key: &str) {
        match key {
            "path" => self.path = None,
            "content" => self.content = None,
            "content-dirs" => self.content_dirs = None,
            "nodes" => self.nodes = None,
            "shared" => self.shared = None,
            "disable" => self.disable = None,
            "maxfiles" => self.maxfiles = None,
            "prune-backups" => self.prune_backups = None,
            "max-protected-backups" => self.max_protected_backups = None,
            "format" => self.format = None,
            "preallocation" => self.preallocation = None,
            "mkdir" => self.mkdir = None,
            "create-base-path" => self.create_base_path = None,
            "create-subdirs" => self.create_subdirs = None,
            "is_mountpoint" => self.is_mountpoint = None,
            "bwlimit" => self.bwlimit = None,
            "nocow" => self.nocow = None,
            "vgname" => self.vgname = None,
            "base" => self.base = None,
            "saferemove" => self.saferemove = None,
            "saferemove_throughput" => self.saferemove_throughput = None,
            "tagged_only" => self.tagged_only = None,
            "thinpool" => self.thinpool = None,
            "pool" => self.pool = None,
            "blocksize" => self.blocksize = None,
            "sparse" => self.sparse = None,
            "mountpoint" => self.mountpoint = None,
            "server" => self.server = None,
            "export" => self.export = None,
            "share" => self.share = None,
            "subdir" => self.subdir = None,
            "username" => self.username = None,
            "domain" => self.domain = None,
            "smbversion" => self.smbversion = None,
            "options" => self.options = None,
            _ => {}
        }
    }

    /// The effective backup retention: `prune-backups`, else the legacy `maxfiles`
    /// converted as Proxmox does.
    pub fn effective_prune_backups(&self) -> Option<PruneBackups> {
        self.prune_backups
            .clone()
            .or_else(|| self.maxfiles.map(PruneBackups::from_maxfiles))
    }
}
