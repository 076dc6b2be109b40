//! NICs (`net0: virtio=BC:24:11:2C:34:AE,bridge=vmbr0,firewall=1`) and their cloud-init
//! addresses (`ipconfig0: ip=10.0.0.5/24,gw=10.0.0.1`).

use std::fmt;
use std::str::FromStr;

use crate::property_string::PsError;

use super::formats::check_ipv6_cidr;
use super::mac;
use super::psformats;
use super::values::{Put, Take};

/// One `netN` value.
#[derive(Debug, Clone, PartialEq)]
pub struct NetDevice {
    /// NIC model (`virtio`, `e1000`, `rtl8139`, `vmxnet3`, ...).
    pub model: String,
    /// MAC address; Proxmox generates one when a NIC is added without it.
    pub macaddr: Option<String>,
    /// Bridge; without one the NIC uses QEMU's user-mode network.
    pub bridge: Option<String>,
    /// VLAN tag, 1..4094.
    pub tag: Option<u16>,
    /// VLAN trunks, `10;20-30`.
    pub trunks: Option<String>,
    pub firewall: Option<bool>,
    pub link_down: Option<bool>,
    /// Rate limit in MB/s.
    pub rate: Option<f64>,
    /// Packet queues, 0..64.
    pub queues: Option<u8>,
    /// MTU, 1..65520 (1: take the bridge's).
    pub mtu: Option<u32>,
}

impl NetDevice {
    /// A NIC of `model` on `bridge` without a MAC yet.
    pub fn new(model: &str, bridge: Option<&str>) -> Self {
        NetDevice {
            model: model.into(),
            macaddr: None,
            bridge: bridge.map(str::to_string),
            tag: None,
            trunks: None,
            firewall: None,
            link_down: None,
            rate: None,
            queues: None,
            mtu: None,
        }
    }

    pub fn parse(text: &str) -> Result<Self, PsError> {
        let mut t = Take(psformats::net_format().parse(text)?);
        Ok(NetDevice {
            model: t.string("model").unwrap_or_default(),
            macaddr: t.string("macaddr"),
            bridge: t.string("bridge"),
            tag: t.int("tag").and_then(|v| u16::try_from(v).ok()),
            trunks: t.string("trunks"),
            firewall: t.boolean("firewall"),
            link_down: t.boolean("link_down"),
            rate: t.number("rate"),
            queues: t.int("queues").and_then(|v| u8::try_from(v).ok()),
            mtu: t.int("mtu").and_then(|v| u32::try_from(v).ok()),
        })
    }

    /// Canonical form: `model=MAC` first, then the options sorted.
    pub fn print(&self) -> String {
        let mut p = Put::default();
        p.string("model", Some(&self.model))
            .string("macaddr", self.macaddr.as_ref())
            .string("bridge", self.bridge.as_ref())
            .string("tag", self.tag)
            .string("trunks", self.trunks.as_ref())
            .boolean("firewall", self.firewall)
            .boolean("link_down", self.link_down)
            .number("rate", self.rate)
            .string("queues", self.queues)
            .string("mtu", self.mtu);
        psformats::net_format().print(&p.0)
    }

    pub fn is_virtio(&self) -> bool {
        self.model == "virtio"
    }

    /// Give the NIC a MAC address if it has none (Proxmox does this whenever a NIC is
    /// written through the API). Returns true when one was added.
    pub fn ensure_mac(&mut self, generate: impl FnOnce() -> String) -> bool {
        if self.macaddr.is_some() {
            return false;
        }
        self.macaddr = Some(generate());
        true
    }

    /// [`ensure_mac`](Self::ensure_mac) with a random address under `prefix` (Proxmox's
    /// default is [`mac::DEFAULT_MAC_PREFIX`]).
    pub fn ensure_random_mac(&mut self, prefix: Option<&str>) -> bool {
        self.ensure_mac(|| mac::random_mac(prefix))
    }
}

impl FromStr for NetDevice {
    type Err = PsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NetDevice::parse(s)
    }
}

impl fmt::Display for NetDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.print())
    }
}

/// One `ipconfigN` value (cloud-init).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpConfig {
    /// `dhcp`, `manual` or `a.b.c.d/nn`.
    pub ip: Option<String>,
    pub gw: Option<String>,
    /// `dhcp`, `auto`, `manual` or an IPv6 CIDR.
    pub ip6: Option<String>,
    pub gw6: Option<String>,
}

impl IpConfig {
    pub fn parse(text: &str) -> Result<Self, PsError> {
        let mut t = Take(psformats::ipconfig_format().parse(text)?);
        let conf = IpConfig {
            ip: t.string("ip"),
            gw: t.string("gw"),
            ip6: t.string("ip6"),
            gw6: t.string("gw6"),
        };
        conf.check()?;
        Ok(conf)
    }

    /// The consistency rules Proxmox applies: a gateway needs an address of its family, and
    /// no gateway goes with DHCP/SLAAC.
    fn check(&self) -> Result<(), PsError> {
        let err = |key: &str, message: &str| PsError {
            key: Some(key.into()),
            message: message.into(),
        };
        if self.gw.is_some() && self.ip.is_none() {
            return Err(err(
                "gw",
                "gateway specified without specifying an IP address",
            ));
        }
        if self.gw6.is_some() && self.ip6.is_none() {
            return Err(err(
                "gw6",
                "IPv6 gateway specified without specifying an IPv6 address",
            ));
        }
        if self.gw.is_some() && self.ip.as_deref() == Some("dhcp") {
            return Err(err("gw", "gateway specified together with DHCP"));
        }
        if self.gw6.is_some() && !self.ip6.as_deref().is_some_and(check_ipv6_cidr) {
            return Err(err(
                "gw6",
                "IPv6 gateway specified together with a non-static IPv6 address",
            ));
        }
        Ok(())
    }

    pub fn print(&self) -> String {
        let mut p = Put::default();
        p.string("ip", self.ip.as_ref())
            .string("gw", self.gw.as_ref())
            .string("ip6", self.ip6.as_ref())
            .string("gw6", self.gw6.as_ref());
        psformats::ipconfig_format().print(&p.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxmox_examples_round_trip() {
        for (text, canonical) in [
            (
                "virtio=BC:24:11:2C:34:AE,bridge=vmbr0,firewall=1",
                "virtio=BC:24:11:2C:34:AE,bridge=vmbr0,firewall=1",
            ),
            (
                "model=virtio,bridge=vmbr0,macaddr=bc:24:11:2c:34:ae,firewall=1",
                "virtio=bc:24:11:2c:34:ae,bridge=vmbr0,firewall=1",
            ),
            (
                "e1000=BC:24:11:00:00:01,bridge=vmbr1,tag=100,rate=12.5,link_down=1",
                "e1000=BC:24:11:00:00:01,bridge=vmbr1,link_down=1,rate=12.5,tag=100",
            ),
            (
                "rtl8139,bridge=vmbr0,trunks=10;20-30",
                "rtl8139,bridge=vmbr0,trunks=10;20-30",
            ),
            (
                "vmxnet3=BC:24:11:AA:BB:CC,queues=4,mtu=9000,rate=10",
                "vmxnet3=BC:24:11:AA:BB:CC,mtu=9000,queues=4,rate=10",
            ),
            ("e1000e", "e1000e"),
        ] {
            let nic = NetDevice::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(nic.print(), canonical, "{text}");
            assert_eq!(NetDevice::parse(&nic.print()).unwrap(), nic);
        }
        let nic =
            NetDevice::parse("virtio=BC:24:11:2C:34:AE,bridge=vmbr0,firewall=1,tag=5").unwrap();
        assert_eq!(nic.model, "virtio");
        assert_eq!(nic.macaddr.as_deref(), Some("BC:24:11:2C:34:AE"));
        assert_eq!(nic.bridge.as_deref(), Some("vmbr0"));
        assert_eq!(nic.firewall, Some(true));
        assert_eq!(nic.tag, Some(5));
        assert!(nic.is_virtio());
    }

    #[test]
    fn errors_name_the_sub_key() {
        for (text, key) in [
            ("virtio=BC:24:11:2C:34", "macaddr"),
            ("virtio=01:24:11:2C:34:AE", "macaddr"),
            ("virtio,tag=5000", "tag"),
            ("virtio,tag=0", "tag"),
            ("virtio,bridge=vm br0", "bridge"),
            ("virtio,queues=65", "queues"),
            ("virtio,rate=-1", "rate"),
            ("virtio,trunks=a", "trunks"),
            ("ne2000", "model"),
            ("bridge=vmbr0", "model"),
            ("virtio,speed=10", "speed"),
        ] {
            let e = NetDevice::parse(text).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key), "{text}: {e}");
        }
    }

    #[test]
    fn mac_is_added_once() {
        let mut nic = NetDevice::parse("virtio,bridge=vmbr0").unwrap();
        assert!(nic.ensure_mac(|| mac::mac_from_seed(1, Some(mac::DEFAULT_MAC_PREFIX))));
        let printed = nic.print();
        assert!(printed.starts_with("virtio=BC:24:11:"), "{printed}");
        assert!(!nic.ensure_random_mac(None));
        assert_eq!(nic.print(), printed);
    }

    #[test]
    fn ipconfig() {
        for text in [
            "ip=dhcp",
            "ip=10.0.0.5/24,gw=10.0.0.1",
            "ip6=auto",
            "gw6=fd00::1,ip6=fd00::5/64",
            "gw=192.168.1.1,ip=192.168.1.10/24,ip6=dhcp",
        ] {
            let c = IpConfig::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(IpConfig::parse(&c.print()).unwrap(), c);
        }
        assert_eq!(
            IpConfig::parse("ip=10.0.0.5/24,gw=10.0.0.1")
                .unwrap()
                .print(),
            "gw=10.0.0.1,ip=10.0.0.5/24"
        );
        for (text, key) in [
            ("ip=10.0.0.5", "ip"),
            ("gw=10.0.0.1", "gw"),
            ("ip=dhcp,gw=10.0.0.1", "gw"),
            ("ip6=auto,gw6=fd00::1", "gw6"),
            ("ip=10.0.0.5/33", "ip"),
        ] {
            assert_eq!(
                IpConfig::parse(text).unwrap_err().key.as_deref(),
                Some(key),
                "{text}"
            );
        }
    }
}
