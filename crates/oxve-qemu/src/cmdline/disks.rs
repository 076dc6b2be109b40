//! Disk controllers and drives: `-drive if=none,...` (the backend: file or URL, format, cache,
//! aio, discard, read-only, throttling) plus `-device` (the guest-visible disk on its bus).
//!
//! | bus | controller | device |
//! |---|---|---|
//! | `ide0-3` | built-in (PIIX `ide.0`/`ide.1` on `pc`, ICH9 AHCI `ide.N` on `q35`) | `ide-hd`/`ide-cd` |
//! | `sata0-5` | one `ahci` (`ahci0`) | `ide-hd`/`ide-cd` on `ahci0.N` |
//! | `scsi0-30` | `scsihw`: `lsi` (default), `lsi53c810`, `megasas`, `pvscsi`, `virtio-scsi-pci` (`scsihw0`, ...), or `virtio-scsi-single` (one `virtioscsiN` per disk, with its iothread) | `scsi-hd`/`scsi-cd`/`scsi-block` |
//! | `virtio0-15` | - | `virtio-blk-pci` (with its iothread) |
//!
//! Defaults as Proxmox: `cache=none` and `aio=io_uring` for disks on local paths,
//! `detect-zeroes=unmap` with `discard=on` (`on` otherwise). Disks of templates and base
//! volumes are opened read-only.

use std::collections::BTreeSet;

use oxve_types::qemu::{Drive, DriveBus, DriveVolume};

use super::args::Opts;
use super::Builder;
use crate::error::{QemuError, Result};
use crate::resolver::{format_from_name, is_base_volume};

/// Throttling options: config key, QEMU option, and whether the value is in MB/s.
const THROTTLING: &[(&str, &str, bool)] = &[
    ("mbps", "bps-total", true),
    ("mbps_rd", "bps-read", true),
    ("mbps_wr", "bps-write", true),
    ("mbps_max", "bps-total-max", true),
    ("mbps_rd_max", "bps-read-max", true),
    ("mbps_wr_max", "bps-write-max", true),
    ("bps", "bps-total", false),
    ("bps_rd", "bps-read", false),
    ("bps_wr", "bps-write", false),
    ("iops", "iops-total", false),
    ("iops_rd", "iops-read", false),
    ("iops_wr", "iops-write", false),
    ("iops_max", "iops-total-max", false),
    ("iops_rd_max", "iops-read-max", false),
    ("iops_wr_max", "iops-write-max", false),
    ("bps_max_length", "bps-total-max-length", false),
    ("bps_rd_max_length", "bps-read-max-length", false),
    ("bps_wr_max_length", "bps-write-max-length", false),
    ("iops_max_length", "iops-total-max-length", false),
    ("iops_rd_max_length", "iops-read-max-length", false),
    ("iops_wr_max_length", "iops-write-max-length", false),
];

/// The SCSI controller model of `scsihw`: QEMU device, disks per controller.
fn scsi_controller(scsihw: &str) -> Option<(&'static str, u32)> {
    Some(match scsihw {
        "lsi" => ("lsi", 7),
        "lsi53c810" => ("lsi53c810", 7),
        "megasas" => ("megasas", 256),
        "pvscsi" => ("pvscsi", 256),
        "virtio-scsi-pci" => ("virtio-scsi-pci", 256),
        "virtio-scsi-single" => ("virtio-scsi-pci", 1),
        _ => return None,
    })
}

/// Decodes the URL-encoded `serial` of a drive.
fn url_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Builder<'_> {
    /// The path (or URL) and format of a drive; `None` for an empty CD-ROM drive.
    pub(crate) fn resolve_drive(&self, drive: &Drive) -> Result<Option<(String, String)>> {
        let key = drive.key();
        let (path, format) = match drive.volume() {
            DriveVolume::None => return Ok(None),
            DriveVolume::HostCdrom => ("/dev/cdrom".to_string(), None),
            DriveVolume::Path(path) => (path.to_string(), None),
            DriveVolume::Volume { .. } => {
                let resolved =
                    self.resolver
                        .path(&drive.file)
                        .map_err(|source| QemuError::Resolve {
                            vmid: self.vmid,
                            key: key.clone(),
                            volid: drive.file.clone(),
                            source,
                        })?;
                (resolved.path, resolved.format)
            }
            DriveVolume::Alloc { .. } => {
                return Err(self.err(
                    &key,
                    format!("'{}' is an allocation request, not a volume", drive.file),
                ))
            }
        };
        let format = drive
            .format
            .clone()
            .or(format)
            .or_else(|| format_from_name(&path).map(str::to_string))
            .unwrap_or_else(|| "raw".to_string());
        Ok(Some((path, format)))
    }

    /// Controllers, then every drive with its backend and device.
    pub(crate) fn disks(&mut self) -> Result<()> {
        let drives: Vec<Drive> = self
            .conf
            .drives()
            .into_iter()
            .filter(|d| {
                matches!(
                    d.bus,
                    DriveBus::Ide | DriveBus::Sata | DriveBus::Scsi | DriveBus::Virtio
                )
            })
            .collect();
        if self.conf.contains("efidisk0") && self.conf.bios() != "ovmf" {
            self.note("efidisk0 is only used with bios: ovmf");
        }
        if self.conf.template() && !drives.is_empty() {
            self.note("template: disks are opened read-only");
        }
        self.controllers(&drives)?;
        for drive in &drives {
            self.drive(drive)?;
        }
        Ok(())
    }

    fn scsihw(&self) -> &str {
        self.conf.get("scsihw").unwrap_or("lsi")
    }

    pub(crate) fn controllers(&mut self, drives: &[Drive]) -> Result<()> {
        if drives.iter().any(|d| d.bus == DriveBus::Sata) {
            self.push("-device", "ahci,id=ahci0,multifunction=on");
        }
        let scsi: Vec<&Drive> = drives.iter().filter(|d| d.bus == DriveBus::Scsi).collect();
        if scsi.is_empty() {
            return Ok(());
        }
        let scsihw = self.scsihw().to_string();
        let (model, per_controller) = scsi_controller(&scsihw)
            .ok_or_else(|| self.err("scsihw", format!("unknown SCSI controller '{scsihw}'")))?;
        if scsihw == "virtio-scsi-single" {
            for drive in scsi {
                let id = format!("virtioscsi{}", drive.index);
                let mut opts = Opts::new(model).kv("id", &id);
                if drive.iothread == Some(true) {
                    let thread = format!("iothread-{id}");
                    self.push("-object", Opts::new("iothread").kv("id", &thread).build());
                    opts = opts.kv("iothread", thread);
                }
                opts = opts.opt("num_queues", drive.other.get("queues"));
                self.push("-device", opts.build());
            }
            return Ok(());
        }
        let controllers: BTreeSet<u32> = scsi.iter().map(|d| d.index / per_controller).collect();
        for c in controllers {
            self.push(
                "-device",
                Opts::new(model).kv("id", format!("scsihw{c}")).build(),
            );
        }
        for drive in scsi {
            if drive.iothread == Some(true) {
                self.note(format!(
                    "{}: iothread is only used with scsihw virtio-scsi-single",
                    drive.key()
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn drive(&mut self, drive: &Drive) -> Result<()> {
        let key = drive.key();
        let cdrom = drive.is_cdrom();
        let resolved = self.resolve_drive(drive)?;
        if resolved.is_none() && !cdrom {
            return Err(self.err(&key, "only a CD-ROM drive can be empty ('none')"));
        }
        let local = resolved.as_ref().is_some_and(|(p, _)| p.starts_with('/'));
        let read_only = drive.ro == Some(true)
            || (!cdrom && self.conf.template())
            || drive.volume_id().is_some_and(is_base_volume);
        let detect_zeroes = (!cdrom && drive.detect_zeroes != Some(false)).then(|| {
            if drive.discard.as_deref() == Some("on") {
                "unmap"
            } else {
                "on"
            }
        });
        let (path, format) = resolved.unzip();
        let mut opts = Opts::empty()
            .opt("file", path)
            .kv("if", "none")
            .kv("id", format!("drive-{key}"))
            .kv_if(cdrom, "media", "cdrom")
            .opt("format", format)
            .opt(
                "cache",
                drive.cache.as_deref().or((!cdrom).then_some("none")),
            )
            .opt(
                "aio",
                drive
                    .aio
                    .as_deref()
                    .or((!cdrom && local).then_some("io_uring")),
            )
            .opt("discard", drive.discard.as_ref())
            .opt("detect-zeroes", detect_zeroes)
            .kv_if(read_only, "readonly", "on")
            .kv_if(drive.snapshot == Some(true), "snapshot", "on")
            .opt("werror", drive.werror.as_ref())
            .opt("rerror", drive.rerror.as_ref());
        for (config_key, option, mb) in THROTTLING {
            let Some(value) = drive.other.get(*config_key) else {
                continue;
            };
            let value: f64 = value
                .parse()
                .map_err(|_| self.err(&key, format!("invalid {config_key} '{value}'")))?;
            let value = if *mb { value * 1024.0 * 1024.0 } else { value };
            opts = opts.kv(&format!("throttling.{option}"), value as u64);
        }
        self.push("-drive", opts.build());
        let device = self.drive_device(drive)?;
        self.push("-device", device);
        Ok(())
    }

    /// The `-device` of a drive on its bus.
    fn drive_device(&mut self, drive: &Drive) -> Result<String> {
        let key = drive.key();
        let cdrom = drive.is_cdrom();
        let i = drive.index;
        let mut opts = match drive.bus {
            DriveBus::Ide => {
                let device = Opts::new(if cdrom { "ide-cd" } else { "ide-hd" });
                if self.q35 {
                    device.kv("bus", format!("ide.{i}")).kv("unit", 0)
                } else {
                    device.kv("bus", format!("ide.{}", i / 2)).kv("unit", i % 2)
                }
            }
            DriveBus::Sata => {
                Opts::new(if cdrom { "ide-cd" } else { "ide-hd" }).kv("bus", format!("ahci0.{i}"))
            }
            DriveBus::Scsi => {
                let scsiblock = drive.other.get("scsiblock").is_some_and(|v| v == "1");
                let model = match (cdrom, scsiblock) {
                    (true, _) => "scsi-cd",
                    (false, true) => "scsi-block",
                    (false, false) => "scsi-hd",
                };
                let scsihw = self.scsihw().to_string();
                let (_, per_controller) = scsi_controller(&scsihw).unwrap_or(("lsi", 7));
                let opts = Opts::new(model);
                if scsihw == "virtio-scsi-single" {
                    opts.kv("bus", format!("virtioscsi{i}.0"))
                        .kv("channel", 0)
                        .kv("scsi-id", 0)
                        .kv("lun", i)
                } else if scsihw.starts_with("lsi") || scsihw == "pvscsi" {
                    opts.kv("bus", format!("scsihw{}.0", i / per_controller))
                        .kv("scsi-id", i % per_controller)
                } else {
                    opts.kv("bus", format!("scsihw{}.0", i / per_controller))
                        .kv("channel", 0)
                        .kv("scsi-id", 0)
                        .kv("lun", i)
                }
            }
            DriveBus::Virtio => {
                let opts = Opts::new("virtio-blk-pci");
                if drive.iothread == Some(true) {
                    let thread = format!("iothread-{key}");
                    self.push("-object", Opts::new("iothread").kv("id", &thread).build());
                    opts.kv("iothread", thread)
                } else {
                    opts
                }
            }
            DriveBus::Efidisk | DriveBus::TpmState => {
                return Err(self.err(&key, "not a guest disk"));
            }
        };
        opts = opts
            .kv("drive", format!("drive-{key}"))
            .kv("id", &key)
            .opt("bootindex", self.boot.get(&key));
        if drive.ssd == Some(true) && !cdrom {
            opts = opts.kv("rotation_rate", 1);
        }
        opts = opts
            .opt("serial", drive.serial.as_deref().map(url_decode))
            .opt("wwn", drive.other.get("wwn"));
        if drive.bus == DriveBus::Ide {
            opts = opts.opt("model", drive.other.get("model").map(|m| url_decode(m)));
        }
        if drive.bus == DriveBus::Scsi && !cdrom {
            opts = opts
                .opt("vendor", drive.other.get("vendor"))
                .opt("product", drive.other.get("product"));
        }
        Ok(opts.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(url_decode("abc%20d%2Cx"), "abc d,x");
        assert_eq!(url_decode("100%"), "100%");
        assert_eq!(
            scsi_controller("virtio-scsi-single"),
            Some(("virtio-scsi-pci", 1))
        );
        assert_eq!(scsi_controller("foo"), None);
    }
}
