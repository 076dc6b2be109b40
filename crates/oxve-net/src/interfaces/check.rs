//! Whole-file consistency checks, made before a change is written (Proxmox makes the same
//! ones when it writes the file): ports used once and known, bridged ports without an
//! address, VLAN parents present, NAT subnets that do not overlap.

use std::collections::BTreeMap;

use super::{vlan_name_parts, IfaceType, InterfacesFile};
use crate::error::ConfigError;

fn err(iface: &str, param: &str, message: String) -> ConfigError {
    ConfigError {
        iface: iface.to_string(),
        param: param.to_string(),
        message,
    }
}

/// Check the file as a whole.
pub fn check(file: &InterfacesFile) -> Result<(), ConfigError> {
    let mut used: BTreeMap<String, &str> = BTreeMap::new();
    for (name, iface) in &file.ifaces {
        let ty = iface.iface_type(name);
        let (ports, param) = match ty {
            IfaceType::Bridge => (iface.bridge_ports(), "bridge_ports"),
            IfaceType::Bond => (iface.slaves(), "slaves"),
            _ => continue,
        };
        for port in ports {
            if port == *name {
                return Err(err(
                    name,
                    param,
                    format!("interface '{name}' cannot be its own port"),
                ));
            }
            if let Some(owner) = used.get(&port) {
                return Err(err(
                    name,
                    param,
                    format!("port '{port}' is already used on interface '{owner}'"),
                ));
            }
            let Some(p) = file.ifaces.get(&port) else {
                // `eth0.5` in bridge-ports makes the VLAN device implicitly.
                if ty == IfaceType::Bridge && vlan_name_parts(&port).is_some() {
                    used.insert(port, name);
                    continue;
                }
                return Err(err(name, param, format!("unable to find port '{port}'")));
            };
            let pty = p.iface_type(&port);
            if ty == IfaceType::Bond && !matches!(pty, IfaceType::Eth | IfaceType::Bond) {
                return Err(err(
                    name,
                    param,
                    format!(
                        "wrong interface type on slave '{port}' ('{}' != 'eth or bond')",
                        pty.as_str()
                    ),
                ));
            }
            let static_v4 = p
                .inet
                .as_ref()
                .is_some_and(|f| f.method == "static" && f.address.as_deref() != Some("0.0.0.0"));
            let static_v6 = p
                .inet6
                .as_ref()
                .is_some_and(|f| f.method == "static" && f.address.as_deref() != Some("::"));
            if static_v4 || static_v6 {
                return Err(err(
                    name,
                    param,
                    format!(
                        "iface {port} - ip address can't be set on interface if bridged in {name}"
                    ),
                ));
            }
            used.insert(port, name);
        }
    }
    for (name, iface) in &file.ifaces {
        if iface.iface_type(name) == IfaceType::Vlan {
            let (parent, tag) = match vlan_name_parts(name) {
                Some((p, t)) => (p.to_string(), u32::from(t)),
                None => {
                    let parent = iface
                        .setting("vlan-raw-device")
                        .unwrap_or_default()
                        .to_string();
                    let tag = match name.strip_prefix("vlan").and_then(|t| t.parse().ok()) {
                        Some(t) => t,
                        None => iface
                            .setting("vlan-id")
                            .and_then(|t| t.parse().ok())
                            .ok_or_else(|| err(name, "vlan-id", "missing vlan-id option".into()))?,
                    };
                    (parent, tag)
                }
            };
            if !(1..=4094).contains(&tag) {
                return Err(err(
                    name,
                    "vlan-id",
                    format!("vlan-id {tag} should be between 1 and 4094"),
                ));
            }
            if !file.ifaces.contains_key(&parent) {
                return Err(err(
                    name,
                    "vlan-raw-device",
                    format!("unable to find parent '{parent}'"),
                ));
            }
        }
    }
    check_subnets(file)?;
    check_gateways(file)
}

/// A NAT bridge needs its own subnet: no other interface may sit in it.
fn check_subnets(file: &InterfacesFile) -> Result<(), ConfigError> {
    let nets: Vec<(&String, crate::cidr::Ipv4Cidr, bool)> = file
        .ifaces
        .iter()
        .filter_map(|(n, i)| i.cidr().map(|c| (n, c, i.is_nat())))
        .collect();
    for (name, iface) in &file.ifaces {
        if iface.is_nat() {
            if iface.iface_type(name) != IfaceType::Bridge {
                return Err(err(name, "nat", "NAT is only available on bridges".into()));
            }
            if iface.cidr().is_none() {
                return Err(err(
                    name,
                    "cidr",
                    "a NAT bridge needs an IPv4 address (cidr)".into(),
                ));
            }
        }
    }
    for (i, (a, ca, nat_a)) in nets.iter().enumerate() {
        for (b, cb, nat_b) in &nets[i + 1..] {
            if (*nat_a || *nat_b) && ca.overlaps(cb) {
                let (nat, other, other_cidr) = if *nat_a { (a, b, cb) } else { (b, a, ca) };
                return Err(err(
                    nat,
                    "cidr",
                    format!(
                        "NAT subnet {} of '{nat}' overlaps {} of '{other}'",
                        if *nat_a { ca.subnet() } else { cb.subnet() },
                        other_cidr.subnet()
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_gateways(file: &InterfacesFile) -> Result<(), ConfigError> {
    for (family, param, pick) in [
        ("Default gateway", "gateway", 4),
        ("Default ipv6 gateway", "gateway6", 6),
    ] {
        let with: Vec<&String> = file
            .ifaces
            .iter()
            .filter(|(_, i)| {
                let f = if pick == 4 { &i.inet } else { &i.inet6 };
                f.as_ref().is_some_and(|f| f.gateway.is_some())
            })
            .map(|(n, _)| n)
            .collect();
        if let [first, second, ..] = with[..] {
            return Err(err(
                second,
                param,
                format!("{family} already exists on interface '{first}'."),
            ));
        }
    }
    Ok(())
}
