//! The host's network configuration in ifupdown2's `/etc/network/interfaces` syntax, modelled
//! as Proxmox's `PVE::INotify` reads it: one entry per interface with its type derived from the
//! name and options, address settings per family, the options oxve understands by their
//! Proxmox names, and every other line kept as it was.

mod check;
mod parse;
mod write;

use std::collections::BTreeMap;

pub use check::check;
pub use parse::parse;
pub use write::render;

/// A parsed interfaces file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InterfacesFile {
    pub ifaces: BTreeMap<String, Iface>,
    /// Lines outside any `iface` block (`source`, `mapping`, ...) with their position.
    pub other_lines: Vec<(u32, String)>,
}

/// Settings of one address family (`iface X inet ...` or `iface X inet6 ...`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FamilyConfig {
    /// `static`, `manual`, `dhcp`, `loopback`, `auto`.
    pub method: String,
    /// The address as written (possibly `a.b.c.d/len`).
    pub address: Option<String>,
    pub netmask: Option<String>,
    pub gateway: Option<String>,
    pub broadcast: Option<String>,
    /// `#` lines of the block, one per line.
    pub comments: Option<String>,
    /// Option lines oxve does not interpret, kept verbatim.
    pub options: Vec<String>,
}

/// One interface.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Iface {
    pub autostart: bool,
    /// Order in the file (Proxmox's `priority`; `lo` is 1).
    pub priority: u32,
    pub inet: Option<FamilyConfig>,
    pub inet6: Option<FamilyConfig>,
    /// Interpreted options under their Proxmox names (`bridge_ports`, `bridge_stp`, `mtu`,
    /// `slaves`, `vlan-raw-device`, `oxve-nat`, ...).
    pub settings: BTreeMap<String, String>,
    /// `vxlan-remoteip` may repeat.
    pub vxlan_remoteip: Vec<String>,
    /// Whether a physical NIC of this name exists (set by discovery, not stored).
    pub exists: Option<bool>,
}

/// Interface types, as Proxmox names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IfaceType {
    Loopback,
    Eth,
    Bond,
    Bridge,
    Vlan,
    Vxlan,
    Alias,
    Unknown,
}

impl IfaceType {
    pub fn as_str(self) -> &'static str {
        match self {
            IfaceType::Loopback => "loopback",
            IfaceType::Eth => "eth",
            IfaceType::Bond => "bond",
            IfaceType::Bridge => "bridge",
            IfaceType::Vlan => "vlan",
            IfaceType::Vxlan => "vxlan",
            IfaceType::Alias => "alias",
            IfaceType::Unknown => "unknown",
        }
    }

    /// Where the writer puts interfaces of this type (lower first), as Proxmox orders them.
    fn order(self) -> Option<u32> {
        match self {
            IfaceType::Loopback => Some(100_000),
            IfaceType::Eth => Some(200_000),
            IfaceType::Bond => Some(400_000),
            IfaceType::Bridge => Some(500_000),
            IfaceType::Vlan | IfaceType::Vxlan => Some(600_000),
            IfaceType::Alias | IfaceType::Unknown => None,
        }
    }
}

/// Proxmox's pattern of physical NIC names.
pub fn is_physical_name(name: &str) -> bool {
    let rest = |p: &str| {
        name.strip_prefix(p)
            .is_some_and(|r| !r.is_empty() && !r.contains([':', '.']))
    };
    name.strip_prefix("eth")
        .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
        || rest("en")
        || rest("ib")
}

fn is_numbered(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
}

/// A VLAN interface name `parent.N`: the parent and the tag.
pub fn vlan_name_parts(name: &str) -> Option<(&str, u16)> {
    let (parent, tag) = name.rsplit_once('.')?;
    let tag = tag.parse().ok()?;
    (!parent.is_empty()).then_some((parent, tag))
}

impl Iface {
    /// The interface type, derived from its name and options as Proxmox does.
    pub fn iface_type(&self, name: &str) -> IfaceType {
        if name == "lo" {
            IfaceType::Loopback
        } else if is_numbered(name, "bond") || self.settings.contains_key("slaves") {
            IfaceType::Bond
        } else if is_numbered(name, "vmbr") || self.settings.contains_key("bridge_ports") {
            IfaceType::Bridge
        } else if name.contains(':') {
            IfaceType::Alias
        } else if vlan_name_parts(name).is_some() || self.settings.contains_key("vlan-raw-device") {
            IfaceType::Vlan
        } else if is_physical_name(name) {
            IfaceType::Eth
        } else if self.settings.contains_key("vxlan-id") {
            IfaceType::Vxlan
        } else {
            IfaceType::Unknown
        }
    }

    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings.get(key).map(String::as_str)
    }

    /// A yes/no/on/off/1/0 option as a boolean.
    pub fn flag(&self, key: &str) -> bool {
        self.setting(key).is_some_and(is_true)
    }

    /// The IPv4 address with its prefix length, if the interface has one.
    pub fn cidr(&self) -> Option<crate::cidr::Ipv4Cidr> {
        let f = self.inet.as_ref()?;
        crate::cidr::Ipv4Cidr::from_parts(f.address.as_deref()?, f.netmask.as_deref())
    }

    /// Ports of a bridge (`bridge_ports`, without `none`).
    pub fn bridge_ports(&self) -> Vec<String> {
        split_words(self.setting("bridge_ports"))
    }

    /// Slaves of a bond.
    pub fn slaves(&self) -> Vec<String> {
        split_words(self.setting("slaves"))
    }

    /// The MTU, if set.
    pub fn mtu(&self) -> Option<u32> {
        self.setting("mtu").and_then(|m| m.parse().ok())
    }

    /// Whether this bridge masquerades its subnet (oxve extension `oxve-nat`).
    pub fn is_nat(&self) -> bool {
        self.flag(NAT_OPTION)
    }
}

/// The interfaces-file option that makes a bridge a NAT bridge (an oxve extension).
pub const NAT_OPTION: &str = "oxve-nat";

pub(crate) fn is_true(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "yes" | "on" | "true"
    )
}

pub(crate) fn split_words(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|p| !p.is_empty() && *p != "none")
        .map(str::to_string)
        .collect()
}

impl InterfacesFile {
    /// The type of `name`, if configured.
    pub fn iface_type(&self, name: &str) -> Option<IfaceType> {
        self.ifaces.get(name).map(|i| i.iface_type(name))
    }

    /// Add the physical NICs found on the host that the file does not mention (`iface X inet
    /// manual`), and mark which configured ones exist, as Proxmox lists them.
    pub fn merge_discovered(&mut self, physical: &[String]) {
        for name in physical {
            let entry = self.ifaces.entry(name.clone()).or_insert_with(|| Iface {
                inet: Some(FamilyConfig {
                    method: "manual".into(),
                    ..Default::default()
                }),
                ..Default::default()
            });
            entry.exists = Some(true);
        }
        for (name, iface) in self.ifaces.iter_mut() {
            if iface.iface_type(name) == IfaceType::Eth && iface.exists.is_none() {
                iface.exists = Some(false);
            }
        }
    }

    /// The next free position for a new interface.
    pub fn next_priority(&self) -> u32 {
        let ifaces = self.ifaces.values().map(|i| i.priority);
        let others = self.other_lines.iter().map(|(p, _)| *p);
        ifaces.chain(others).max().unwrap_or(1) + 1
    }

    /// The bridge (or bond) that lists `port` among its ports.
    pub fn port_owner(&self, port: &str) -> Option<&str> {
        self.ifaces.iter().find_map(|(name, i)| {
            (i.bridge_ports().iter().any(|p| p == port) || i.slaves().iter().any(|p| p == port))
                .then_some(name.as_str())
        })
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod stability;
