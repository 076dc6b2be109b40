//! Writing an interfaces file in ifupdown2 syntax, ordered as Proxmox orders it: loopback,
//! physical NICs, bonds, bridges, VLANs; within a type, by position in the original file.

use std::fmt::Write;

use super::{FamilyConfig, Iface, IfaceType, InterfacesFile};

const HEADER: &str = "\
# network interface settings; written by oxve
# Edit through the API (/nodes/{node}/network); lines and options oxve does not
# know are kept as they are.

";

/// Settings written by the type-specific part, not again as generic options.
const HANDLED: &[&str] = &[
    "bridge_ports",
    "bridge_stp",
    "bridge_fd",
    "bridge_vlan_aware",
    "bridge_vids",
    "slaves",
    "bond_miimon",
    "bond_mode",
    "bond_xmit_hash_policy",
    "bond-primary",
    "vxlan-id",
    "vxlan-svcnodeip",
    "vxlan-physdev",
    "vxlan-local-tunnelip",
    "mtu",
    "uplink-id",
];

/// Where an interface goes: by type (children one level after their parent's type, unknown
/// types last), then by position, then by name. A total order, so writing is stable.
fn sort_key(file: &InterfacesFile, name: &str) -> (u32, u32, String) {
    let iface = &file.ifaces[name];
    // `eth0.5` and `eth0:1` sort after their parent's type, one level further.
    let root = name.split(['.', ':']).next().unwrap_or(name);
    let level = name.matches(['.', ':']).count() as u32;
    let type_order = file
        .ifaces
        .get(root)
        .map(|r| r.iface_type(root))
        .unwrap_or_else(|| iface.iface_type(name))
        .order()
        .map(|o| o + level)
        .unwrap_or(u32::MAX);
    let pri = if iface.priority == 0 {
        50_000
    } else {
        iface.priority
    };
    (type_order, pri, name.to_string())
}

/// The file text for `file`.
pub fn render(file: &InterfacesFile) -> String {
    let mut out = String::from(HEADER);
    let mut names: Vec<&String> = file.ifaces.keys().collect();
    names.sort_by_cached_key(|n| sort_key(file, n));
    let mut others = file.other_lines.iter().peekable();
    for name in names {
        let iface = &file.ifaces[name];
        let mut wrote_other = false;
        while let Some((_, line)) = others.next_if(|(p, _)| *p < iface.priority) {
            out.push_str(line);
            out.push('\n');
            wrote_other = true;
        }
        if wrote_other {
            out.push('\n');
        }
        if iface.inet.is_none() && iface.inet6.is_none() {
            continue;
        }
        if iface.autostart {
            let _ = writeln!(out, "auto {name}");
        }
        let mut first = true;
        for (family, fam) in [("inet", &iface.inet), ("inet6", &iface.inet6)] {
            if let Some(fam) = fam {
                block(&mut out, name, iface, family, fam, first);
                first = false;
            }
        }
    }
    for (_, line) in others {
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn block(
    out: &mut String,
    name: &str,
    iface: &Iface,
    family: &str,
    fam: &FamilyConfig,
    first: bool,
) {
    let _ = writeln!(out, "iface {name} {family} {}", fam.method);
    if let Some(addr) = &fam.address {
        let mut addr = addr.clone();
        if !addr.contains('/') {
            let bits = fam.netmask.as_deref().and_then(|m| {
                if family == "inet" {
                    crate::cidr::netmask_bits(m).map(|b| b.to_string())
                } else {
                    m.parse::<u8>().ok().map(|b| b.to_string())
                }
            });
            if let Some(bits) = bits {
                addr = format!("{addr}/{bits}");
            }
        }
        let _ = writeln!(out, "\taddress {addr}");
    }
    if let Some(gw) = &fam.gateway {
        let _ = writeln!(out, "\tgateway {gw}");
    }
    if let Some(bc) = &fam.broadcast {
        let _ = writeln!(out, "\tbroadcast {bc}");
    }
    if first {
        type_options(out, name, iface);
        for (key, value) in &iface.settings {
            if HANDLED.contains(&key.as_str()) || value.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\t{key} {value}");
        }
    }
    for option in &fam.options {
        let _ = writeln!(out, "\t{option}");
    }
    for line in fam.comments.as_deref().unwrap_or_default().lines() {
        let _ = writeln!(out, "#{line}");
    }
    out.push('\n');
}

fn type_options(out: &mut String, name: &str, iface: &Iface) {
    let s = |k: &str| iface.setting(k);
    match iface.iface_type(name) {
        IfaceType::Bridge => {
            let ports = iface.bridge_ports();
            let ports = if ports.is_empty() {
                "none".to_string()
            } else {
                ports.join(" ")
            };
            let _ = writeln!(out, "\tbridge-ports {ports}");
            let _ = writeln!(out, "\tbridge-stp {}", s("bridge_stp").unwrap_or("off"));
            let _ = writeln!(out, "\tbridge-fd {}", s("bridge_fd").unwrap_or("0"));
            if iface.flag("bridge_vlan_aware") {
                let _ = writeln!(out, "\tbridge-vlan-aware yes");
                let _ = writeln!(
                    out,
                    "\tbridge-vids {}",
                    s("bridge_vids").unwrap_or("2-4094")
                );
            }
        }
        IfaceType::Bond => {
            let slaves = iface.slaves();
            let slaves = if slaves.is_empty() {
                "none".to_string()
            } else {
                slaves.join(" ")
            };
            let mode = s("bond_mode").unwrap_or("balance-rr");
            let _ = writeln!(out, "\tbond-slaves {slaves}");
            let _ = writeln!(out, "\tbond-miimon {}", s("bond_miimon").unwrap_or("100"));
            let _ = writeln!(out, "\tbond-mode {mode}");
            if let Some(policy) = s("bond_xmit_hash_policy") {
                if mode == "balance-xor" || mode == "802.3ad" {
                    let _ = writeln!(out, "\tbond-xmit-hash-policy {policy}");
                }
            }
            if let Some(primary) = s("bond-primary") {
                if mode == "active-backup" {
                    let _ = writeln!(out, "\tbond-primary {primary}");
                }
            }
        }
        IfaceType::Vxlan => {
            for k in [
                "vxlan-id",
                "vxlan-svcnodeip",
                "vxlan-physdev",
                "vxlan-local-tunnelip",
            ] {
                if let Some(v) = s(k) {
                    let _ = writeln!(out, "\t{k} {v}");
                }
            }
            for ip in &iface.vxlan_remoteip {
                let _ = writeln!(out, "\tvxlan-remoteip {ip}");
            }
        }
        _ => {}
    }
    if let Some(mtu) = s("mtu") {
        let _ = writeln!(out, "\tmtu {mtu}");
    }
}
