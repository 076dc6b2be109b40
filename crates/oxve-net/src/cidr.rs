//! IPv4 addresses with a prefix length (`10.0.0.1/24`), and the checks Proxmox's `CIDRv4`,
//! `ipv4` and `ipv4mask` formats make.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An interface address with its prefix length (host bits may be set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Cidr {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Self> {
        (prefix <= 32).then_some(Ipv4Cidr { addr, prefix })
    }

    /// From an interfaces-file `address` (maybe `a/len`) and `netmask` (bits or dotted).
    pub fn from_parts(address: &str, netmask: Option<&str>) -> Option<Self> {
        if address.contains('/') {
            return address.parse().ok();
        }
        let addr: Ipv4Addr = address.parse().ok()?;
        let prefix = match netmask {
            None => 32,
            Some(m) => netmask_bits(m)?,
        };
        Ipv4Cidr::new(addr, prefix)
    }

    pub fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    /// The network address.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }

    /// The subnet as `network/len`.
    pub fn subnet(&self) -> Ipv4Cidr {
        Ipv4Cidr {
            addr: self.network(),
            prefix: self.prefix,
        }
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network())
    }

    /// Whether the two subnets share any address.
    pub fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        let prefix = self.prefix.min(other.prefix);
        let a = Ipv4Cidr::new(self.addr, prefix).map(|c| c.network());
        let b = Ipv4Cidr::new(other.addr, prefix).map(|c| c.network());
        a == b
    }

    /// The dotted netmask (`255.255.255.0`).
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.mask())
    }

    /// The `n`-th host address of the subnet (1 is the first usable one).
    pub fn host(&self, n: u32) -> Option<Ipv4Addr> {
        let size = 1u64 << (32 - u32::from(self.prefix));
        (u64::from(n) < size.saturating_sub(1))
            .then(|| Ipv4Addr::from(u32::from(self.network()) + n))
    }
}

impl FromStr for Ipv4Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, len) = s.split_once('/').ok_or_else(|| {
            format!("value '{s}' does not look like a valid IPv4 network configuration")
        })?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| {
            format!("value '{s}' does not look like a valid IPv4 network configuration")
        })?;
        let prefix: u8 = len
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("invalid prefix length in '{s}'"))?;
        Ok(Ipv4Cidr { addr, prefix })
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The prefix length of a netmask given as bits (`24`) or dotted (`255.255.255.0`).
pub fn netmask_bits(mask: &str) -> Option<u8> {
    if let Ok(bits) = mask.parse::<u8>() {
        return (bits <= 32).then_some(bits);
    }
    let m = u32::from(mask.parse::<Ipv4Addr>().ok()?);
    let bits = m.leading_ones();
    (m.checked_shl(bits).unwrap_or(0) == 0).then_some(bits as u8)
}

/// Proxmox's `CIDRv4` format check.
pub fn check_cidr_v4(value: &str) -> Result<(), String> {
    value.parse::<Ipv4Cidr>().map(|_| ())
}

/// Proxmox's `ipv4` format check.
pub fn check_ipv4(value: &str) -> Result<(), String> {
    value
        .parse::<Ipv4Addr>()
        .map(|_| ())
        .map_err(|_| format!("value '{value}' does not look like a valid IPv4 address"))
}

/// Proxmox's `ipv4mask` format check (dotted masks only).
pub fn check_ipv4_mask(value: &str) -> Result<(), String> {
    if value.contains('.') && netmask_bits(value).is_some() {
        Ok(())
    } else {
        Err(format!(
            "value '{value}' does not look like a valid IP netmask"
        ))
    }
}

/// Proxmox's `ipv6` format check.
pub fn check_ipv6(value: &str) -> Result<(), String> {
    value
        .parse::<std::net::Ipv6Addr>()
        .map(|_| ())
        .map_err(|_| format!("value '{value}' does not look like a valid IPv6 address"))
}

/// Proxmox's `CIDRv6` format check.
pub fn check_cidr_v6(value: &str) -> Result<(), String> {
    let bad = || format!("value '{value}' does not look like a valid IPv6 network configuration");
    let (addr, len) = value.split_once('/').ok_or_else(bad)?;
    addr.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
    len.parse::<u8>()
        .ok()
        .filter(|l| *l <= 128)
        .ok_or_else(bad)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_relates_subnets() {
        let c: Ipv4Cidr = "10.1.2.3/24".parse().unwrap();
        assert_eq!(c.network().to_string(), "10.1.2.0");
        assert_eq!(c.netmask().to_string(), "255.255.255.0");
        assert!(c.contains("10.1.2.200".parse().unwrap()));
        assert!(!c.contains("10.1.3.1".parse().unwrap()));
        assert!(c.overlaps(&"10.1.0.0/16".parse().unwrap()));
        assert!(!c.overlaps(&"10.1.3.0/24".parse().unwrap()));
        assert_eq!(c.host(1).unwrap().to_string(), "10.1.2.1");
        assert!(c.host(255).is_none());
        assert!("10.1.2.3".parse::<Ipv4Cidr>().is_err());
        assert!("10.1.2.3/33".parse::<Ipv4Cidr>().is_err());
    }

    #[test]
    fn netmasks() {
        assert_eq!(netmask_bits("255.255.255.0"), Some(24));
        assert_eq!(netmask_bits("24"), Some(24));
        assert_eq!(netmask_bits("255.0.255.0"), None);
        assert_eq!(
            Ipv4Cidr::from_parts("192.168.0.5", Some("255.255.0.0"))
                .unwrap()
                .to_string(),
            "192.168.0.5/16"
        );
        assert!(check_ipv4_mask("24").is_err());
        assert!(check_cidr_v6("fd00::1/64").is_ok());
    }
}
