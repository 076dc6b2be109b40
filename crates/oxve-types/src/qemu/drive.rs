//! Drives: `ide0-3`, `sata0-5`, `scsi0-30`, `virtio0-15`, `efidisk0`, `tpmstate0`
//! (`local-lvm:vm-100-disk-0,iothread=1,size=32G`, `local:iso/debian.iso,media=cdrom`,
//! `none,media=cdrom`, and on create/update `local:8` or `local:0,import-from=...`).

use std::collections::BTreeMap;
use std::fmt;

use crate::property_string::{PsError, PsValues};

use super::formats::{format_size, parse_size};
use super::psformats;
use super::values::{Put, Take};

/// The bus (controller family) of a drive, in Proxmox's order (the order it searches for a
/// boot disk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DriveBus {
    Ide,
    Scsi,
    Virtio,
    Sata,
    Efidisk,
    TpmState,
}

impl DriveBus {
    pub const ALL: [DriveBus; 6] = [
        DriveBus::Ide,
        DriveBus::Scsi,
        DriveBus::Virtio,
        DriveBus::Sata,
        DriveBus::Efidisk,
        DriveBus::TpmState,
    ];

    /// The key prefix (`scsi` for `scsi0`).
    pub fn prefix(self) -> &'static str {
        match self {
            DriveBus::Ide => "ide",
            DriveBus::Scsi => "scsi",
            DriveBus::Virtio => "virtio",
            DriveBus::Sata => "sata",
            DriveBus::Efidisk => "efidisk",
            DriveBus::TpmState => "tpmstate",
        }
    }

    /// How many drives the bus takes (indexes `0..count`).
    pub fn count(self) -> u32 {
        match self {
            DriveBus::Ide => 4,
            DriveBus::Scsi => 31,
            DriveBus::Virtio => 16,
            DriveBus::Sata => 6,
            DriveBus::Efidisk | DriveBus::TpmState => 1,
        }
    }

    /// The bus and index of a drive key (`scsi3` -> `(Scsi, 3)`); `None` for other keys,
    /// including `unusedN`.
    pub fn from_key(key: &str) -> Option<(DriveBus, u32)> {
        let digits = key.trim_start_matches(|c: char| !c.is_ascii_digit());
        let prefix = &key[..key.len() - digits.len()];
        let bus = DriveBus::ALL.into_iter().find(|b| b.prefix() == prefix)?;
        let valid_digits = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        let index: u32 = digits.parse().ok().filter(|_| valid_digits)?;
        (index < bus.count()).then_some((bus, index))
    }

    /// Whether the guest can boot from drives on this bus.
    pub fn bootable(self) -> bool {
        !matches!(self, DriveBus::Efidisk | DriveBus::TpmState)
    }
}

impl fmt::Display for DriveBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix())
    }
}

/// `media=`: a disk or a CD-ROM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Disk,
    Cdrom,
}

impl Media {
    pub fn as_str(self) -> &'static str {
        match self {
            Media::Disk => "disk",
            Media::Cdrom => "cdrom",
        }
    }
}

/// What backs a drive.
#[derive(Debug, Clone, PartialEq)]
pub enum DriveVolume<'a> {
    /// `none`: an empty CD-ROM drive.
    None,
    /// `cdrom`: the host's physical CD-ROM.
    HostCdrom,
    /// An absolute path on the host (`/dev/sdb`).
    Path(&'a str),
    /// A storage volume `storage:name`.
    Volume { storage: &'a str, name: &'a str },
    /// `STORAGE:SIZE` in a create/update request: allocate a new volume of `size_gib` GiB
    /// (`0` together with `import-from` means import).
    Alloc { storage: &'a str, size_gib: f64 },
}

/// One drive: its slot and its options.
#[derive(Debug, Clone, PartialEq)]
pub struct Drive {
    pub bus: DriveBus,
    pub index: u32,
    /// Backing volume ID, path, `none` or `cdrom` (or `STORAGE:SIZE` in requests).
    pub file: String,
    pub media: Option<Media>,
    /// Size in bytes (informational, printed as `32G`).
    pub size: Option<u64>,
    pub format: Option<String>,
    pub cache: Option<String>,
    pub discard: Option<String>,
    pub aio: Option<String>,
    pub iothread: Option<bool>,
    pub ssd: Option<bool>,
    pub ro: Option<bool>,
    pub backup: Option<bool>,
    pub replicate: Option<bool>,
    /// URL-encoded serial number.
    pub serial: Option<String>,
    pub detect_zeroes: Option<bool>,
    pub snapshot: Option<bool>,
    pub werror: Option<String>,
    pub rerror: Option<String>,
    /// Source to import from (requests only).
    pub import_from: Option<String>,
    /// The other options (throttling, `wwn`, `model`, `efitype`, ...) as canonical text.
    pub other: BTreeMap<String, String>,
}

/// Option pairs where the first needs the second (burst settings need their base limit).
const REQUIRES: &[(&str, &str)] = &[
    ("mbps_max", "mbps"),
    ("mbps_rd_max", "mbps_rd"),
    ("mbps_wr_max", "mbps_wr"),
    ("bps_max_length", "mbps_max"),
    ("bps_rd_max_length", "mbps_rd_max"),
    ("bps_wr_max_length", "mbps_wr_max"),
    ("iops_max_length", "iops_max"),
    ("iops_rd_max_length", "iops_rd_max"),
    ("iops_wr_max_length", "iops_wr_max"),
];

fn conflict(key: &str, message: String) -> PsError {
    PsError {
        key: Some(key.to_string()),
        message,
    }
}

/// The checks Proxmox's `parse_drive` makes beyond the per-key types.
fn check_combination(bus: DriveBus, v: &PsValues) -> Result<(), PsError> {
    let set = |k: &str| {
        v.get(k).is_some_and(|x| match x {
            serde_json::Value::Bool(b) => *b,
            serde_json::Value::Number(n) => n.as_f64() != Some(0.0),
            serde_json::Value::String(s) => !s.is_empty() && s != "0",
            _ => false,
        })
    };
    for dir in ["", "_rd", "_wr"] {
        let (bps, mbps) = (format!("bps{dir}"), format!("mbps{dir}"));
        if v.contains_key(&bps) && v.contains_key(&mbps) {
            return Err(conflict(&bps, format!("both {bps} and {mbps} specified")));
        }
    }
    for (option, needs) in REQUIRES {
        // `bps*` limits count as their `mbps*` counterparts.
        let base_set = set(needs) || needs.strip_prefix('m').is_some_and(set);
        if set(option) && !base_set {
            return Err(conflict(option, format!("{option} requires {needs}")));
        }
    }
    let total = |k: &str| set(k) || set(&format!("m{k}"));
    for (part, whole) in [
        ("bps_rd", "bps"),
        ("bps_wr", "bps"),
        ("iops_rd", "iops"),
        ("iops_wr", "iops"),
    ] {
        let (part_set, whole_set) = if part.starts_with("bps") {
            (total(part), total(whole))
        } else {
            (set(part), set(whole))
        };
        if part_set && whole_set {
            return Err(conflict(
                part,
                format!("{part} cannot be combined with {whole}"),
            ));
        }
    }
    if v.get("media").and_then(|m| m.as_str()) == Some("cdrom") {
        for key in ["snapshot", "format"] {
            if set(key) {
                return Err(conflict(key, format!("{key} is not allowed for a CD-ROM")));
            }
        }
        if bus == DriveBus::Virtio {
            return Err(conflict("media", "virtio drives cannot be CD-ROMs".into()));
        }
    }
    Ok(())
}

impl Drive {
    /// Parse the value of a drive key as stored in a config.
    pub fn parse(key: &str, value: &str) -> Result<Drive, PsError> {
        Self::parse_impl(key, value, false)
    }

    /// Parse a drive from a create/update request (allows `import-from`).
    pub fn parse_with_alloc(key: &str, value: &str) -> Result<Drive, PsError> {
        Self::parse_impl(key, value, true)
    }

    fn parse_impl(key: &str, value: &str, alloc: bool) -> Result<Drive, PsError> {
        let (bus, index) = DriveBus::from_key(key).ok_or_else(|| PsError {
            key: None,
            message: format!("invalid drive key '{key}'"),
        })?;
        let values = psformats::drive_format(bus, alloc).parse(value)?;
        check_combination(bus, &values)?;
        let mut t = Take(values);
        let size = match t.string("size") {
            Some(s) => Some(parse_size(&s).ok_or_else(|| conflict("size", "invalid size".into()))?),
            None => None,
        };
        let media = t.string("media").map(|m| match m.as_str() {
            "cdrom" => Media::Cdrom,
            _ => Media::Disk,
        });
        Ok(Drive {
            bus,
            index,
            file: t.string("file").unwrap_or_default(),
            media,
            size,
            format: t.string("format"),
            cache: t.string("cache"),
            discard: t.string("discard"),
            aio: t.string("aio"),
            iothread: t.boolean("iothread"),
            ssd: t.boolean("ssd"),
            ro: t.boolean("ro"),
            backup: t.boolean("backup"),
            replicate: t.boolean("replicate"),
            serial: t.string("serial"),
            detect_zeroes: t.boolean("detect_zeroes"),
            snapshot: t.boolean("snapshot"),
            werror: t.string("werror"),
            rerror: t.string("rerror"),
            import_from: t.string("import-from"),
            other: t.rest(),
        })
    }

    /// A new drive on `bus`/`index` backed by `file`.
    pub fn new(bus: DriveBus, index: u32, file: &str) -> Drive {
        Drive {
            bus,
            index,
            file: file.into(),
            media: None,
            size: None,
            format: None,
            cache: None,
            discard: None,
            aio: None,
            iothread: None,
            ssd: None,
            ro: None,
            backup: None,
            replicate: None,
            serial: None,
            detect_zeroes: None,
            snapshot: None,
            werror: None,
            rerror: None,
            import_from: None,
            other: BTreeMap::new(),
        }
    }

    /// The config key (`scsi0`).
    pub fn key(&self) -> String {
        format!("{}{}", self.bus.prefix(), self.index)
    }

    /// Print in Proxmox's canonical form (`file` first, then the options sorted).
    pub fn print(&self) -> String {
        let mut p = Put::default();
        p.string("file", Some(&self.file))
            .string("media", self.media.map(Media::as_str))
            .string("size", self.size.map(format_size))
            .string("format", self.format.as_ref())
            .string("cache", self.cache.as_ref())
            .string("discard", self.discard.as_ref())
            .string("aio", self.aio.as_ref())
            .boolean("iothread", self.iothread)
            .boolean("ssd", self.ssd)
            .boolean("ro", self.ro)
            .boolean("backup", self.backup)
            .boolean("replicate", self.replicate)
            .string("serial", self.serial.as_ref())
            .boolean("detect_zeroes", self.detect_zeroes)
            .boolean("snapshot", self.snapshot)
            .string("werror", self.werror.as_ref())
            .string("rerror", self.rerror.as_ref())
            .string("import-from", self.import_from.as_ref())
            .extend(&self.other);
        psformats::drive_format(self.bus, true).print(&p.0)
    }

    /// True for a CD-ROM drive (`media=cdrom`).
    pub fn is_cdrom(&self) -> bool {
        self.media == Some(Media::Cdrom)
    }

    /// True for a cloud-init drive (`local:vm-100-cloudinit`, `.../vm-100-cloudinit.qcow2`).
    pub fn is_cloudinit(&self) -> bool {
        let Some(pos) = self.file.rfind([':', '/']) else {
            return false;
        };
        let name = &self.file[pos + 1..];
        let name = ["raw", "qcow", "qcow2", "qed", "vmdk", "cloop"]
            .iter()
            .find_map(|ext| name.strip_suffix(&format!(".{ext}")[..]))
            .unwrap_or(name);
        let name = name
            .strip_prefix("vm-")
            .and_then(|rest| {
                let digits = rest.find(|c: char| !c.is_ascii_digit())?;
                (digits > 0).then(|| &rest[digits..])
            })
            .and_then(|rest| rest.strip_prefix('-'))
            .unwrap_or(name);
        name == "cloudinit"
    }

    /// What backs the drive.
    pub fn volume(&self) -> DriveVolume<'_> {
        match self.file.as_str() {
            "none" => DriveVolume::None,
            "cdrom" => DriveVolume::HostCdrom,
            path if path.starts_with('/') => DriveVolume::Path(path),
            other => {
                let (storage, name) = other.split_once(':').unwrap_or(("", other));
                match alloc_size(name) {
                    Some(size_gib) if !storage.contains('/') && !storage.is_empty() => {
                        DriveVolume::Alloc { storage, size_gib }
                    }
                    _ => DriveVolume::Volume { storage, name },
                }
            }
        }
    }

    /// The storage volume ID, if the drive is backed by one (not `none`, a path or an
    /// allocation request).
    pub fn volume_id(&self) -> Option<&str> {
        matches!(self.volume(), DriveVolume::Volume { .. }).then_some(self.file.as_str())
    }

    /// `STORAGE:SIZE` allocation request: the storage and the size in GiB.
    pub fn alloc_request(&self) -> Option<(&str, f64)> {
        match self.volume() {
            DriveVolume::Alloc { storage, size_gib } => Some((storage, size_gib)),
            _ => None,
        }
    }

    /// The size in bytes, if known.
    pub fn size_bytes(&self) -> Option<u64> {
        self.size
    }
}

/// `8` or `0.5` (GiB) in `STORAGE:SIZE`.
fn alloc_size(name: &str) -> Option<f64> {
    let (int, frac) = name.split_once('.').unwrap_or((name, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(int) && digits(frac))
        .then(|| name.parse().ok())
        .flatten()
}

impl fmt::Display for Drive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.print())
    }
}

/// The VMID that owns a volume, from Proxmox's naming rules: `vm-<vmid>-...`/`base-<vmid>-...`
/// (LVM, ZFS, RBD) or `<vmid>/...` (directory storages). `None` for paths and foreign volumes.
pub fn volume_owner(volid: &str) -> Option<u32> {
    if volid.starts_with('/') {
        return None;
    }
    let (_, name) = volid.split_once(':')?;
    let number = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        // linked clone on a directory storage: <basevmid>/<base>/<vmid>/<name>
        [base, _, vmid, _] if number(base).is_some() => return number(vmid),
        [vmid, _] if number(vmid).is_some() => return number(vmid),
        _ => {}
    }
    let file = parts.last()?;
    let rest = file
        .strip_prefix("vm-")
        .or_else(|| file.strip_prefix("base-"))?;
    let (id, tail) = rest.split_once('-')?;
    (!tail.is_empty()).then(|| number(id)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(key: &str, text: &str, canonical: &str) -> Drive {
        let d = Drive::parse_with_alloc(key, text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(d.print(), canonical, "{text}");
        assert_eq!(Drive::parse_with_alloc(key, &d.print()).unwrap(), d);
        d
    }

    #[test]
    fn proxmox_examples() {
        let d = round_trip(
            "scsi0",
            "local-lvm:vm-100-disk-0,iothread=1,size=32G",
            "local-lvm:vm-100-disk-0,iothread=1,size=32G",
        );
        assert_eq!(d.size_bytes(), Some(32 << 30));
        assert_eq!(d.volume_id(), Some("local-lvm:vm-100-disk-0"));
        assert_eq!(d.key(), "scsi0");
        assert!(!d.is_cdrom());

        let d = round_trip(
            "ide2",
            "local:iso/debian.iso,media=cdrom",
            "local:iso/debian.iso,media=cdrom",
        );
        assert!(d.is_cdrom());
        let d = round_trip("ide2", "none,media=cdrom", "none,media=cdrom");
        assert_eq!(d.volume(), DriveVolume::None);
        round_trip(
            "virtio1",
            "volume=local:100/vm-100-disk-1.qcow2,cache=writeback,discard=on,size=34359738368",
            "local:100/vm-100-disk-1.qcow2,cache=writeback,discard=on,size=32G",
        );
        round_trip(
            "sata0",
            "local:100/vm-100-disk-0.raw,ssd=1,backup=0,replicate=no,serial=abc%20d,aio=io_uring",
            "local:100/vm-100-disk-0.raw,aio=io_uring,backup=0,replicate=0,serial=abc%20d,ssd=1",
        );
        round_trip(
            "scsi1",
            "rbd:vm-100-disk-1,mbps=100,mbps_max=200,iops_rd=500,iops_rd_max=1000,iops_rd_length=10,wwn=0x5000c500a1b2c3d4",
            "rbd:vm-100-disk-1,iops_rd=500,iops_rd_max=1000,iops_rd_max_length=10,mbps=100,mbps_max=200,wwn=0x5000c500a1b2c3d4",
        );
        round_trip(
            "efidisk0",
            "local-lvm:vm-100-disk-1,efitype=4m,pre-enrolled-keys=1,size=4M",
            "local-lvm:vm-100-disk-1,efitype=4m,pre-enrolled-keys=1,size=4M",
        );
        round_trip(
            "tpmstate0",
            "local-lvm:vm-100-disk-2,size=4M,version=v2.0",
            "local-lvm:vm-100-disk-2,size=4M,version=v2.0",
        );
        let d = round_trip("scsi0", "/dev/disk/by-id/ata-X", "/dev/disk/by-id/ata-X");
        assert_eq!(d.volume(), DriveVolume::Path("/dev/disk/by-id/ata-X"));
    }

    #[test]
    fn allocation_requests() {
        let d = round_trip("scsi0", "local-lvm:8,iothread=1", "local-lvm:8,iothread=1");
        assert_eq!(d.alloc_request(), Some(("local-lvm", 8.0)));
        assert_eq!(d.volume_id(), None);
        let d = round_trip(
            "virtio0",
            "local:0,import-from=local:import/disk.qcow2",
            "local:0,import-from=local:import/disk.qcow2",
        );
        assert_eq!(d.alloc_request(), Some(("local", 0.0)));
        assert_eq!(d.import_from.as_deref(), Some("local:import/disk.qcow2"));
        assert_eq!(
            Drive::parse("scsi0", "local:0.5").unwrap().alloc_request(),
            Some(("local", 0.5))
        );
        // a stored config does not take import-from
        let e = Drive::parse("scsi0", "local:0,import-from=local:x").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("import-from"));
    }

    #[test]
    fn bus_specific_options() {
        let e = Drive::parse("virtio0", "local:100/a.raw,ssd=1").unwrap_err();
        assert_eq!(e.to_string(), "invalid format - ssd: unknown key");
        let e = Drive::parse("ide0", "local:100/a.raw,iothread=1").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("iothread"));
        assert!(Drive::parse("sata0", "local:100/a.raw,ssd=1").is_ok());
        assert!(Drive::parse("scsi0", "local:100/a.raw,queues=4,ro=1").is_ok());
        assert!(Drive::parse("virtio0", "none,media=cdrom").is_err());
        assert!(Drive::parse("scsi31", "local:100/a.raw").is_err());
        assert!(Drive::parse("unused0", "local:100/a.raw").is_err());
    }

    #[test]
    fn invalid_values_name_the_sub_key() {
        for (text, key) in [
            ("local:100/a.raw,size=12Q", "size"),
            ("local:100/a.raw,cache=fast", "cache"),
            ("local:100/a.raw,bps_max_length=0", "bps_max_length"),
            ("debian.iso,media=cdrom", "file"),
            ("local:100/a.raw,mbps_max=10", "mbps_max"),
            ("local:100/a.raw,bps=1,mbps=1", "bps"),
            ("local:100/a.raw,iops=1,iops_rd=1", "iops_rd"),
            ("local:iso/x.iso,media=cdrom,snapshot=1", "snapshot"),
            ("size=1G", "file"),
        ] {
            let e = Drive::parse("scsi0", text).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key), "{text}: {e}");
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(DriveBus::from_key("scsi30"), Some((DriveBus::Scsi, 30)));
        assert_eq!(DriveBus::from_key("scsi01"), None);
        assert_eq!(DriveBus::from_key("efidisk0"), Some((DriveBus::Efidisk, 0)));
        assert_eq!(DriveBus::from_key("efidisk1"), None);
        assert_eq!(DriveBus::from_key("unused0"), None);
        assert!(Drive::parse("ide2", "local:vm-100-cloudinit,media=cdrom")
            .unwrap()
            .is_cloudinit());
        assert!(
            Drive::parse("ide2", "local:100/vm-100-cloudinit.qcow2,media=cdrom")
                .unwrap()
                .is_cloudinit()
        );
        assert!(
            !Drive::parse("ide2", "local:iso/cloudinit-x.iso,media=cdrom")
                .unwrap()
                .is_cloudinit()
        );
        assert_eq!(volume_owner("local-lvm:vm-100-disk-0"), Some(100));
        assert_eq!(volume_owner("local:100/vm-100-disk-0.qcow2"), Some(100));
        assert_eq!(
            volume_owner("local:100/base-100-disk-0.qcow2/101/vm-101-disk-0.qcow2"),
            Some(101)
        );
        assert_eq!(
            volume_owner("local-lvm:base-100-disk-0/vm-101-disk-0"),
            Some(101)
        );
        assert_eq!(volume_owner("local-lvm:base-105-disk-1"), Some(105));
        assert_eq!(volume_owner("local:iso/x.iso"), None);
        assert_eq!(volume_owner("local-lvm:vm-abc-disk-0"), None);
    }
}
