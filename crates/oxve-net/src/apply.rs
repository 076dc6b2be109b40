//! Bringing the kernel in line with an interfaces file, through netlink, as `ifreload -a` does:
//! devices the old file created and the new one drops are removed, virtual devices of `auto`
//! interfaces are created, ports attached, addresses, MTU and default route set, links up.
//!
//! Only what a file declares is touched: guest taps on a bridge, addresses and devices nobody
//! declared stay. The caller rolls back by applying the old file again when this fails.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use crate::error::{NetError, Result};
use crate::interfaces::{vlan_name_parts, Iface, IfaceType, InterfacesFile};
use crate::netlink::{is_virtual_kind, Link, Netlink, NewLink};

/// Linux limits interface names to 15 bytes.
pub const IFNAMSIZ: usize = 15;

/// Which interfaces are brought up, in creation order.
fn wanted(file: &InterfacesFile) -> Vec<(&String, &Iface, IfaceType)> {
    let mut out: Vec<_> = file
        .ifaces
        .iter()
        .filter(|(_, i)| i.autostart)
        .map(|(n, i)| (n, i, i.iface_type(n)))
        .filter(|(_, _, t)| {
            matches!(
                t,
                IfaceType::Eth
                    | IfaceType::Bond
                    | IfaceType::Vlan
                    | IfaceType::Vxlan
                    | IfaceType::Bridge
            )
        })
        .collect();
    let rank = |name: &str, t: IfaceType| match t {
        IfaceType::Eth => 0,
        IfaceType::Bond => 1,
        IfaceType::Vlan => {
            // a VLAN on a bridge comes after the bridge
            if vlan_parent(file, name)
                .is_some_and(|p| file.iface_type(&p) == Some(IfaceType::Bridge))
            {
                5
            } else {
                2
            }
        }
        IfaceType::Vxlan => 3,
        _ => 4,
    };
    out.sort_by_key(|(n, i, t)| (rank(n, *t), i.priority, (*n).clone()));
    out
}

/// The parent device and tag of a VLAN interface.
fn vlan_parent(file: &InterfacesFile, name: &str) -> Option<String> {
    if let Some((parent, _)) = vlan_name_parts(name) {
        return Some(parent.to_string());
    }
    file.ifaces
        .get(name)?
        .setting("vlan-raw-device")
        .map(str::to_string)
}

fn vlan_id(iface: Option<&Iface>, name: &str) -> Option<u16> {
    if let Some((_, tag)) = vlan_name_parts(name) {
        return Some(tag);
    }
    if let Some(t) = name.strip_prefix("vlan").and_then(|t| t.parse().ok()) {
        return Some(t);
    }
    iface?.setting("vlan-id")?.parse().ok()
}

/// The addresses an interface declares.
fn declared_addresses(iface: Option<&Iface>) -> BTreeSet<(IpAddr, u8)> {
    let mut out = BTreeSet::new();
    let Some(iface) = iface else { return out };
    if let Some(c) = iface.cidr() {
        out.insert((IpAddr::V4(c.addr), c.prefix));
    }
    if let Some(f) = &iface.inet6 {
        if let Some(addr) = &f.address {
            let (a, len) = match addr.split_once('/') {
                Some((a, l)) => (a.to_string(), l.parse().ok()),
                None => (
                    addr.clone(),
                    f.netmask.as_deref().and_then(|m| m.parse().ok()),
                ),
            };
            if let (Ok(ip), Some(len)) = (a.parse::<IpAddr>(), len) {
                out.insert((ip, len));
            }
        }
    }
    out
}

fn gateway(iface: Option<&Iface>) -> Option<Ipv4Addr> {
    iface?.inet.as_ref()?.gateway.as_deref()?.parse().ok()
}

/// Apply `new`, knowing `old` is what was applied before. Returns a log of what changed.
pub async fn apply(
    nl: &Netlink,
    old: &InterfacesFile,
    new: &InterfacesFile,
) -> Result<Vec<String>> {
    let mut log = Vec::new();
    for (name, _, _) in wanted(new) {
        if name.len() > IFNAMSIZ {
            return Err(NetError::Invalid(format!(
                "interface name '{name}' is longer than the kernel's limit of {IFNAMSIZ} characters"
            )));
        }
    }
    remove_dropped(nl, old, new, &mut log).await?;
    for (name, iface, ty) in wanted(new) {
        create(nl, new, name, iface, ty, &mut log).await?;
    }
    for (name, iface, ty) in wanted(new) {
        configure(nl, old, name, iface, ty, &mut log).await?;
    }
    Ok(log)
}

/// Bring up as much of `file` as possible, as a boot does: an interface that fails (a port
/// that vanished, a missing kernel feature) is reported in the log and the others still
/// come up.
pub async fn apply_best_effort(nl: &Netlink, file: &InterfacesFile) -> Vec<String> {
    let mut log = Vec::new();
    let mut failed = BTreeSet::new();
    for (name, iface, ty) in wanted(file) {
        if let Err(e) = create(nl, file, name, iface, ty, &mut log).await {
            log.push(format!("{name}: FAILED: {e}"));
            failed.insert(name.clone());
        }
    }
    let none = InterfacesFile::default();
    for (name, iface, ty) in wanted(file) {
        if failed.contains(name) {
            continue;
        }
        if let Err(e) = configure(nl, &none, name, iface, ty, &mut log).await {
            log.push(format!("{name}: FAILED: {e}"));
        }
    }
    log
}

/// Remove devices the old file created that the new one no longer brings up.
async fn remove_dropped(
    nl: &Netlink,
    old: &InterfacesFile,
    new: &InterfacesFile,
    log: &mut Vec<String>,
) -> Result<()> {
    let still: BTreeSet<&String> = wanted(new).into_iter().map(|(n, _, _)| n).collect();
    for (name, iface, ty) in wanted(old) {
        if still.contains(name) {
            continue;
        }
        let Some(link) = nl.link(name).await? else {
            continue;
        };
        if matches!(
            ty,
            IfaceType::Bridge | IfaceType::Bond | IfaceType::Vlan | IfaceType::Vxlan
        ) && is_virtual_kind(link.kind.as_deref())
        {
            nl.delete(&link).await?;
            log.push(format!("{name}: removed"));
        } else {
            for (ip, len) in declared_addresses(Some(iface)) {
                nl.del_address(&link, ip, len).await?;
            }
            if let Some(gw) = gateway(Some(iface)) {
                nl.del_default_route(gw).await?;
            }
            log.push(format!("{name}: no longer configured"));
        }
    }
    Ok(())
}

fn expected_kind(ty: IfaceType) -> Option<&'static str> {
    match ty {
        IfaceType::Bridge => Some("bridge"),
        IfaceType::Bond => Some("bond"),
        IfaceType::Vlan => Some("vlan"),
        IfaceType::Vxlan => Some("vxlan"),
        _ => None,
    }
}

async fn create(
    nl: &Netlink,
    file: &InterfacesFile,
    name: &str,
    iface: &Iface,
    ty: IfaceType,
    log: &mut Vec<String>,
) -> Result<()> {
    let Some(kind) = expected_kind(ty) else {
        if ty == IfaceType::Eth && nl.link(name).await?.is_none() {
            return Err(NetError::NoSuchLink(name.to_string()));
        }
        return Ok(());
    };
    if let Some(link) = nl.link(name).await? {
        if link.kind.as_deref() != Some(kind) {
            return Err(NetError::Invalid(format!(
                "interface '{name}' exists but is a {}, not a {kind}",
                link.kind.as_deref().unwrap_or("physical device")
            )));
        }
        return Ok(());
    }
    let what = match ty {
        IfaceType::Bridge => {
            // VLAN ports named in bridge-ports (`eno1.20`) are made on the fly, as ifupdown2 does.
            for port in iface.bridge_ports() {
                if !file.ifaces.contains_key(&port)
                    && vlan_name_parts(&port).is_some()
                    && nl.link(&port).await?.is_none()
                {
                    create_vlan(nl, file, &port, log).await?;
                }
            }
            NewLink::Bridge
        }
        IfaceType::Bond => NewLink::Bond {
            mode: iface.setting("bond_mode").map(str::to_string),
        },
        IfaceType::Vlan => return create_vlan(nl, file, name, log).await,
        _ => {
            let id = iface
                .setting("vxlan-id")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| NetError::Invalid(format!("{name}: vxlan-id missing or invalid")))?;
            let dev = match iface.setting("vxlan-physdev") {
                Some(d) => Some(nl.require(d).await?.index),
                None => None,
            };
            NewLink::Vxlan {
                id,
                local: iface
                    .setting("vxlan-local-tunnelip")
                    .and_then(|v| v.parse().ok()),
                remote: iface.vxlan_remoteip.first().and_then(|v| v.parse().ok()),
                dev,
            }
        }
    };
    nl.add(name, &what).await?;
    log.push(format!("{name}: created {kind}"));
    Ok(())
}

async fn create_vlan(
    nl: &Netlink,
    file: &InterfacesFile,
    name: &str,
    log: &mut Vec<String>,
) -> Result<()> {
    let parent = vlan_parent(file, name)
        .ok_or_else(|| NetError::Invalid(format!("{name}: missing vlan-raw-device")))?;
    let id = vlan_id(file.ifaces.get(name), name)
        .ok_or_else(|| NetError::Invalid(format!("{name}: missing vlan-id")))?;
    let parent = nl.require(&parent).await?;
    nl.add(
        name,
        &NewLink::Vlan {
            parent: parent.index,
            id,
        },
    )
    .await?;
    log.push(format!("{name}: created vlan {id} on {}", parent.name));
    Ok(())
}

async fn configure(
    nl: &Netlink,
    old: &InterfacesFile,
    name: &str,
    iface: &Iface,
    ty: IfaceType,
    log: &mut Vec<String>,
) -> Result<()> {
    let link = nl.require(name).await?;
    if let Some(mtu) = iface.mtu() {
        if link.mtu != Some(mtu) {
            nl.set_mtu(&link, mtu).await?;
            log.push(format!("{name}: mtu {mtu}"));
        }
    }
    let old_iface = old.ifaces.get(name);
    match ty {
        IfaceType::Bridge => {
            let fd = iface
                .setting("bridge_fd")
                .and_then(|v| v.parse::<f64>().ok())
                .map(|v| v as u32);
            nl.set_bridge(
                &link,
                fd,
                iface.flag("bridge_stp"),
                iface.flag("bridge_vlan_aware"),
            )
            .await?;
            let ports = iface.bridge_ports();
            attach_ports(nl, &link, &ports, old_iface.map(Iface::bridge_ports), log).await?;
        }
        IfaceType::Bond => {
            let slaves = iface.slaves();
            attach_ports(nl, &link, &slaves, old_iface.map(Iface::slaves), log).await?;
        }
        _ => {}
    }
    let want = declared_addresses(Some(iface));
    let had = declared_addresses(old_iface);
    let current: BTreeSet<(IpAddr, u8)> = nl.addresses(&link).await?.into_iter().collect();
    for (ip, len) in had.difference(&want) {
        if current.contains(&(*ip, *len)) {
            nl.del_address(&link, *ip, *len).await?;
            log.push(format!("{name}: removed address {ip}/{len}"));
        }
    }
    if !link.up {
        nl.set_up(&link, true).await?;
        log.push(format!("{name}: up"));
    }
    for (ip, len) in want.difference(&current) {
        nl.add_address(&link, *ip, *len).await?;
        log.push(format!("{name}: address {ip}/{len}"));
    }
    let (old_gw, new_gw) = (gateway(old_iface), gateway(Some(iface)));
    if let Some(gw) = old_gw.filter(|g| Some(*g) != new_gw) {
        nl.del_default_route(gw).await?;
        log.push(format!("{name}: removed default route via {gw}"));
    }
    if let Some(gw) = new_gw {
        nl.set_default_route(&link, gw).await?;
        log.push(format!("{name}: default route via {gw}"));
    }
    Ok(())
}

/// Make `ports` the declared ports of `master`; ports the old file declared and the new one
/// does not are detached. Other ports (guest taps) stay.
async fn attach_ports(
    nl: &Netlink,
    master: &Link,
    ports: &[String],
    old_ports: Option<Vec<String>>,
    log: &mut Vec<String>,
) -> Result<()> {
    for port in ports {
        let link = nl.link(port).await?.ok_or_else(|| {
            NetError::Invalid(format!("{}: port '{port}' does not exist", master.name))
        })?;
        if link.master != Some(master.index) {
            if master.kind.as_deref() == Some("bond") && link.up {
                // the kernel only enslaves a device that is down
                nl.set_up(&link, false).await?;
            }
            nl.set_master(&link, Some(master)).await?;
            log.push(format!("{}: port {port} attached", master.name));
        }
        if !link.up || master.kind.as_deref() == Some("bond") {
            nl.set_up(&link, true).await?;
        }
    }
    for port in old_ports.unwrap_or_default() {
        if ports.contains(&port) {
            continue;
        }
        if let Some(link) = nl.link(&port).await? {
            if link.master == Some(master.index) {
                nl.set_master(&link, None).await?;
                log.push(format!("{}: port {port} detached", master.name));
            }
        }
    }
    Ok(())
}

/// Physical NICs in this namespace (by Proxmox's naming rule), for listing.
pub async fn physical_nics(nl: &Netlink) -> Result<Vec<String>> {
    Ok(nl
        .links()
        .await?
        .into_iter()
        .map(|l| l.name)
        .filter(|n| crate::interfaces::is_physical_name(n))
        .collect())
}
