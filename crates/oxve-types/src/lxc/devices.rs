//! Typed views of the container's property-string values: NICs (`netN`), the root file
//! system and mount points (`rootfs`, `mpN`) and `features`.

use serde_json::Value;

use crate::property_string::{PsError, PsValues};
use crate::qemu::formats::parse_size;

use super::psformats;

fn text(v: &PsValues, key: &str) -> Option<String> {
    v.get(key).map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

fn flag(v: &PsValues, key: &str) -> Option<bool> {
    v.get(key).and_then(Value::as_bool)
}

/// One `netN` value.
#[derive(Debug, Clone, PartialEq)]
pub struct CtNet {
    values: PsValues,
}

impl CtNet {
    pub fn parse(value: &str) -> Result<Self, PsError> {
        Ok(CtNet {
            values: psformats::net_format().parse(value)?,
        })
    }

    /// The canonical text (`name=eth0,bridge=vmbr0,hwaddr=...`).
    pub fn print(&self) -> String {
        psformats::net_format().print(&self.values)
    }

    /// Interface name inside the container.
    pub fn name(&self) -> String {
        text(&self.values, "name").unwrap_or_default()
    }

    pub fn bridge(&self) -> Option<String> {
        text(&self.values, "bridge")
    }

    pub fn hwaddr(&self) -> Option<String> {
        text(&self.values, "hwaddr")
    }

    /// `dhcp`, `manual` or `ADDRESS/PREFIX`.
    pub fn ip(&self) -> Option<String> {
        text(&self.values, "ip")
    }

    pub fn gw(&self) -> Option<String> {
        text(&self.values, "gw")
    }

    pub fn ip6(&self) -> Option<String> {
        text(&self.values, "ip6")
    }

    pub fn gw6(&self) -> Option<String> {
        text(&self.values, "gw6")
    }

    pub fn tag(&self) -> Option<u16> {
        self.values
            .get("tag")
            .and_then(Value::as_u64)
            .map(|t| t as u16)
    }

    pub fn mtu(&self) -> Option<u32> {
        self.values
            .get("mtu")
            .and_then(Value::as_u64)
            .map(|t| t as u32)
    }

    pub fn rate(&self) -> Option<f64> {
        self.values.get("rate").and_then(Value::as_f64)
    }

    pub fn firewall(&self) -> bool {
        flag(&self.values, "firewall").unwrap_or(false)
    }

    pub fn link_down(&self) -> bool {
        flag(&self.values, "link_down").unwrap_or(false)
    }

    /// Replace the MAC address (a clone gets new ones).
    pub fn set_hwaddr(&mut self, mac: String) {
        self.values.insert("hwaddr".into(), Value::String(mac));
    }

    /// Give the NIC a MAC address if it has none, as Proxmox does whenever a NIC is written
    /// through the API. Returns true when one was added.
    pub fn ensure_hwaddr(&mut self, generate: impl FnOnce() -> String) -> bool {
        if self.values.contains_key("hwaddr") {
            return false;
        }
        self.values
            .insert("hwaddr".into(), Value::String(generate()));
        true
    }
}

/// Where a mount point's data comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum MountSource {
    /// A storage volume (`local:100/vm-100-disk-0.raw`).
    Volume(String),
    /// A new volume to allocate on create/update: `STORAGE:SIZE_GiB`.
    Alloc { storage: String, size_gib: f64 },
    /// A host directory (bind mount).
    Bind(String),
    /// A host block device.
    Device(String),
}

/// `rootfs` or one `mpN`.
#[derive(Debug, Clone, PartialEq)]
pub struct MountPoint {
    values: PsValues,
    /// True for `rootfs` (mounted at `/`).
    pub is_rootfs: bool,
}

impl MountPoint {
    /// Parse the value of `key` (`rootfs` or `mpN`).
    pub fn parse(key: &str, value: &str) -> Result<Self, PsError> {
        let is_rootfs = key == "rootfs";
        let fmt = if is_rootfs {
            psformats::rootfs_format()
        } else {
            psformats::mp_format()
        };
        Ok(MountPoint {
            values: fmt.parse(value)?,
            is_rootfs,
        })
    }

    pub fn print(&self) -> String {
        let fmt = if self.is_rootfs {
            psformats::rootfs_format()
        } else {
            psformats::mp_format()
        };
        fmt.print(&self.values)
    }

    /// The `volume` text as written.
    pub fn volume(&self) -> String {
        text(&self.values, "volume").unwrap_or_default()
    }

    /// What the volume text means; `STORAGE:SIZE` is a request for a new volume.
    pub fn source(&self) -> MountSource {
        let volume = self.volume();
        if volume.starts_with("/dev/") {
            return MountSource::Device(volume);
        }
        if volume.starts_with('/') {
            return MountSource::Bind(volume);
        }
        if let Some((storage, size)) = volume.split_once(':') {
            let numeric = !size.is_empty()
                && size.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && size.bytes().filter(|b| *b == b'.').count() <= 1;
            if numeric {
                if let Ok(size_gib) = size.parse::<f64>() {
                    return MountSource::Alloc {
                        storage: storage.to_string(),
                        size_gib,
                    };
                }
            }
        }
        MountSource::Volume(volume)
    }

    /// The path inside the container (`/` for rootfs).
    pub fn mp(&self) -> String {
        if self.is_rootfs {
            "/".into()
        } else {
            text(&self.values, "mp").unwrap_or_default()
        }
    }

    /// `size=` in bytes.
    pub fn size(&self) -> Option<u64> {
        text(&self.values, "size").and_then(|s| parse_size(&s))
    }

    pub fn read_only(&self) -> bool {
        flag(&self.values, "ro").unwrap_or(false)
    }

    /// Whether backups include it (rootfs always; volumes by default no, as Proxmox).
    pub fn backup(&self) -> bool {
        self.is_rootfs || flag(&self.values, "backup").unwrap_or(false)
    }

    pub fn acl(&self) -> Option<bool> {
        flag(&self.values, "acl")
    }

    pub fn quota(&self) -> bool {
        flag(&self.values, "quota").unwrap_or(false)
    }

    /// `mountoptions` split into single options.
    pub fn mount_options(&self) -> Vec<String> {
        text(&self.values, "mountoptions")
            .map(|o| o.split(';').map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// Point at a (new) volume and record its size.
    pub fn set_volume(&mut self, volid: &str, size: Option<u64>) {
        self.values
            .insert("volume".into(), Value::String(volid.to_string()));
        match size {
            Some(bytes) => {
                self.values.insert(
                    "size".into(),
                    Value::String(crate::qemu::formats::format_size(bytes)),
                );
            }
            None => {
                self.values.remove("size");
            }
        }
    }
}

/// `features`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    pub nesting: bool,
    pub keyctl: bool,
    pub fuse: bool,
    pub mknod: bool,
    pub force_rw_sys: bool,
    /// File system types the container may mount (`mount=nfs;cifs`).
    pub mount: Vec<String>,
}

impl Features {
    pub fn parse(value: &str) -> Result<Self, PsError> {
        let v = psformats::features_format().parse(value)?;
        let f = |k: &str| flag(&v, k).unwrap_or(false);
        Ok(Features {
            nesting: f("nesting"),
            keyctl: f("keyctl"),
            fuse: f("fuse"),
            mknod: f("mknod"),
            force_rw_sys: f("force_rw_sys"),
            mount: text(&v, "mount")
                .map(|m| {
                    m.split(';')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nets_get_a_mac_once() {
        let mut n = CtNet::parse("name=eth0,bridge=vmbr0,ip=dhcp").unwrap();
        assert!(n.ensure_hwaddr(|| "BC:24:11:00:00:01".into()));
        assert!(!n.ensure_hwaddr(|| "BC:24:11:00:00:02".into()));
        assert_eq!(
            n.print(),
            "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=dhcp"
        );
        assert_eq!(n.bridge().as_deref(), Some("vmbr0"));
    }

    #[test]
    fn mount_sources() {
        let m = MountPoint::parse("rootfs", "local:8").unwrap();
        assert_eq!(
            m.source(),
            MountSource::Alloc {
                storage: "local".into(),
                size_gib: 8.0
            }
        );
        let mut m = MountPoint::parse("rootfs", "local:0.5,mountoptions=noatime").unwrap();
        assert!(matches!(m.source(), MountSource::Alloc { size_gib, .. } if size_gib == 0.5));
        m.set_volume("local:100/vm-100-disk-0.raw", Some(512 << 20));
        assert_eq!(
            m.print(),
            "local:100/vm-100-disk-0.raw,mountoptions=noatime,size=512M"
        );
        assert_eq!(m.mp(), "/");
        let b = MountPoint::parse("mp0", "/srv/www,mp=/var/www,ro=1").unwrap();
        assert_eq!(b.source(), MountSource::Bind("/srv/www".into()));
        assert!(b.read_only() && !b.backup());
        assert_eq!(
            MountPoint::parse("mp1", "/dev/sdb1,mp=/mnt")
                .unwrap()
                .source(),
            MountSource::Device("/dev/sdb1".into())
        );
        assert_eq!(
            MountPoint::parse("mp1", "local:100/vm-100-disk-1.raw,mp=/mnt,size=1G")
                .unwrap()
                .size(),
            Some(1 << 30)
        );
    }

    #[test]
    fn features() {
        let f = Features::parse("nesting=1,mount=nfs;cifs").unwrap();
        assert!(f.nesting && !f.keyctl);
        assert_eq!(f.mount, ["nfs", "cifs"]);
    }
}
