//! The `boot` option: `order=scsi0;ide2;net0`, or the deprecated `[acdn]{1,4}` letters.

use std::fmt;
use std::str::FromStr;

use crate::format::split_list;
use crate::property_string::PsError;

use super::psformats;
use super::values::{Put, Take};

/// Boot letters used when neither `boot` nor `order=` says otherwise: disk, CD-ROM, network.
pub const DEFAULT_LEGACY: &str = "cdn";

/// The parsed `boot` option.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootOrder {
    /// Deprecated letters: `a` floppy, `c` disk, `d` CD-ROM, `n` network.
    pub legacy: Option<String>,
    /// Devices to boot from, in order (`None` when `order=` is absent).
    pub order: Option<Vec<String>>,
}

impl BootOrder {
    /// An `order=` list.
    pub fn with_order<S: AsRef<str>>(devices: &[S]) -> Self {
        BootOrder {
            legacy: None,
            order: Some(devices.iter().map(|d| d.as_ref().to_string()).collect()),
        }
    }

    pub fn parse(text: &str) -> Result<Self, PsError> {
        let mut t = Take(psformats::boot_format().parse(text)?);
        Ok(BootOrder {
            legacy: t.string("legacy"),
            order: t
                .string("order")
                .map(|o| split_list(&o).map(str::to_string).collect()),
        })
    }

    /// Canonical form (`order=a;b`), as Proxmox's `print_bootorder`.
    pub fn print(&self) -> String {
        let mut p = Put::default();
        p.string("legacy", self.legacy.as_ref())
            .string("order", self.order.as_ref().map(|o| o.join(";")));
        psformats::boot_format().print(&p.0)
    }

    /// True when the deprecated letters decide (they win over `order=` in Proxmox).
    pub fn is_legacy(&self) -> bool {
        self.legacy.is_some() || self.order.is_none()
    }

    /// The listed devices, when an explicit `order=` decides.
    pub fn devices(&self) -> Option<&[String]> {
        match (&self.legacy, &self.order) {
            (None, Some(order)) => Some(order),
            _ => None,
        }
    }
}

impl FromStr for BootOrder {
    type Err = PsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BootOrder::parse(s)
    }
}

impl fmt::Display for BootOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.print())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let b = BootOrder::parse("order=scsi0;ide2;net0").unwrap();
        assert_eq!(b.devices().unwrap(), ["scsi0", "ide2", "net0"]);
        assert_eq!(b.print(), "order=scsi0;ide2;net0");
        assert_eq!(BootOrder::parse(&b.print()).unwrap(), b);
        let legacy = BootOrder::parse("dcn").unwrap();
        assert_eq!(legacy.legacy.as_deref(), Some("dcn"));
        assert!(legacy.is_legacy());
        assert_eq!(legacy.print(), "dcn");
        assert_eq!(BootOrder::parse("legacy=cd").unwrap().print(), "cd");
        assert_eq!(
            BootOrder::with_order(&["virtio0", "net1"]).print(),
            "order=virtio0;net1"
        );
        assert_eq!(BootOrder::with_order::<&str>(&[]).print(), "order=");
        assert_eq!(
            BootOrder::parse("order=").unwrap().devices().unwrap().len(),
            0
        );
    }

    #[test]
    fn invalid_devices_name_order() {
        let e = BootOrder::parse("order=scsi0;floppy").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("order"));
        assert!(e.message.contains("invalid boot device 'floppy'"));
        assert!(BootOrder::parse("order=efidisk0").is_err());
        assert!(BootOrder::parse("order=net32").is_err());
        let e = BootOrder::parse("xyz").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("legacy"));
    }
}
