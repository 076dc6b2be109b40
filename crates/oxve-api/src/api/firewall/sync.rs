//! Applying the firewall: every guest of this node whose firewall is on (datacenter `enable`
//! and guest `enable`) gets chains for its NICs with `firewall=1`.

use std::sync::OnceLock;

use oxve_net::firewall::nft::{self, GuestFirewall, NftSet};
use oxve_net::firewall::{FwConfig, Rule};
use oxve_net::NetError;

use super::store::{cluster_key, guest_key, load, node_key};
use crate::api::network::guest_nics::{guest_nics, GuestNic};
use crate::state::AppState;
use oxve_net::firewall::host::HostFirewall;

/// Turn on bridge netfilter, which stateful guest firewalls need; warns once without it.
fn stateful() -> bool {
    static WARNED: OnceLock<()> = OnceLock::new();
    let yes = nft::enable_bridge_netfilter();
    if !yes {
        WARNED.get_or_init(|| {
            tracing::warn!(
                "this kernel has no bridge netfilter: guest firewalls match packets without \
                 connection state, so replies need rules of their own"
            )
        });
    }
    yes
}

/// The IPv6 link-local address a NIC with `mac` forms (modified EUI-64).
fn link_local(mac: &str) -> Option<String> {
    let b: Vec<u8> = mac
        .split(':')
        .map(|p| u8::from_str_radix(p, 16).ok())
        .collect::<Option<_>>()?;
    let [a, b1, c, d, e, f] = <[u8; 6]>::try_from(b).ok()?;
    let w = |hi: u8, lo: u8| u16::from(hi) << 8 | u16::from(lo);
    let ip = std::net::Ipv6Addr::new(
        0xfe80,
        0,
        0,
        0,
        w(a ^ 2, b1),
        w(c, 0xff),
        w(0xfe, d),
        w(e, f),
    );
    Some(ip.to_string())
}

/// The nft name of a guest-level IP set.
fn guest_set(vmid: u32, name: &str) -> String {
    format!("g{vmid}-{name}")
}

/// Point a rule's `+name` at the guest's own IP set where it has one (`+guest/name` always,
/// `+dc/name` never), as Proxmox resolves names.
fn scope_sets(rule: &mut Rule, vmid: u32, guest: &FwConfig) {
    for spec in [&mut rule.source, &mut rule.dest].into_iter().flatten() {
        let Some(name) = spec.strip_prefix('+') else {
            continue;
        };
        if name.starts_with("dc/") {
            continue;
        }
        let bare = name.strip_prefix("guest/").unwrap_or(name);
        if guest.ipset(bare).is_some() {
            *spec = format!("+{}", guest_set(vmid, bare));
        }
    }
}

/// The guest firewalls of this node as configured now, with the guests' own IP sets (their
/// `ipfilter-netN` sets hold the containers' static addresses and the fixed DHCP addresses of
/// NAT bridges too).
pub async fn guest_firewalls(
    state: &AppState,
) -> Result<(Vec<GuestFirewall>, Vec<NftSet>), String> {
    let store = state.store.as_ref();
    let cluster = load(store, &cluster_key()).await.map_err(|e| e.message)?;
    if !cluster.config.flag("enable") {
        return Ok((Vec::new(), Vec::new()));
    }
    let nics = guest_nics(state).await;
    let mut vmids: Vec<u32> = nics.iter().filter(|n| n.firewall).map(|n| n.vmid).collect();
    vmids.sort_unstable();
    vmids.dedup();
    let mut out = Vec::new();
    let mut sets = Vec::new();
    for vmid in vmids {
        let fw = load(store, &guest_key(vmid))
            .await
            .map_err(|e| e.message)?
            .config;
        if !fw.flag("enable") {
            continue;
        }
        let own: Vec<&GuestNic> = nics
            .iter()
            .filter(|n| n.vmid == vmid && n.firewall)
            .collect();
        let mut guest_sets: Vec<NftSet> = oxve_net::firewall::nft_sets(&fw.ipsets)
            .into_iter()
            .map(|mut s| {
                s.name = guest_set(vmid, &s.name);
                s
            })
            .collect();
        let mut ipfilter = Vec::new();
        if fw.flag("ipfilter") {
            for nic in &own {
                let name = guest_set(vmid, &format!("ipfilter-net{}", nic.index));
                let pos = match guest_sets.iter().position(|s| s.name == name) {
                    Some(p) => p,
                    None => {
                        guest_sets.push(NftSet {
                            name: name.clone(),
                            ..Default::default()
                        });
                        guest_sets.len() - 1
                    }
                };
                guest_sets[pos].elements.extend(nic.ips.iter().cloned());
                // on a NAT bridge, the fixed address oxve's DHCP hands this NIC
                if let Some(mac) = &nic.mac {
                    let lease = state
                        .network
                        .leases(&nic.bridge)
                        .into_iter()
                        .find(|l| l.mac == *mac);
                    guest_sets[pos]
                        .elements
                        .extend(lease.map(|l| l.ip.to_string()));
                }
                // the link-local address derived from the MAC, as Proxmox allows it
                guest_sets[pos]
                    .elements
                    .extend(nic.mac.as_deref().and_then(link_local));
                ipfilter.push((nic.device.clone(), name));
            }
        }
        let mut rules = oxve_net::firewall::expand_groups(&fw.rules, &cluster.config.groups);
        for rule in &mut rules {
            scope_sets(rule, vmid, &fw);
        }
        // the guest's aliases first, then the datacenter's
        let aliases: Vec<_> = fw
            .aliases
            .iter()
            .chain(&cluster.config.aliases)
            .cloned()
            .collect();
        out.push(GuestFirewall {
            vmid,
            policy_in: fw.option("policy_in").unwrap_or("DROP").to_string(),
            policy_out: fw.option("policy_out").unwrap_or("ACCEPT").to_string(),
            dhcp: fw.flag("dhcp"),
            rules: oxve_net::firewall::resolve_aliases(&rules, &aliases),
            nics: own.iter().map(|n| (n.index, n.device.clone())).collect(),
            bridges: {
                let mut b: Vec<String> = own.iter().map(|n| n.bridge.clone()).collect();
                b.sort_unstable();
                b.dedup();
                b
            },
            // Proxmox filters source MACs unless `macfilter: 0`
            macs: if fw.option("macfilter").is_none_or(|v| v != "0") {
                own.iter()
                    .filter_map(|n| Some((n.device.clone(), n.mac.clone()?)))
                    .collect()
            } else {
                Vec::new()
            },
            ipfilter,
        });
        sets.extend(guest_sets);
    }
    Ok((out, sets))
}

/// The node's own networks (the subnets of its IPv4 addresses), whose hosts always reach the
/// management ports.
async fn local_networks() -> Vec<String> {
    let Ok(nl) = oxve_net::netlink::Netlink::connect() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for link in nl.links().await.unwrap_or_default() {
        if link.name == "lo" {
            continue;
        }
        for (ip, len) in nl.addresses(&link).await.unwrap_or_default() {
            if let std::net::IpAddr::V4(v4) = ip {
                if let Some(c) = oxve_net::cidr::Ipv4Cidr::new(v4, len) {
                    let net = c.subnet().to_string();
                    if !out.contains(&net) {
                        out.push(net);
                    }
                }
            }
        }
    }
    out
}

/// The host firewall as configured now, `None` when it is off.
async fn host_firewall(state: &AppState) -> Result<Option<HostFirewall>, String> {
    let store = state.store.as_ref();
    let cluster = load(store, &cluster_key())
        .await
        .map_err(|e| e.message)?
        .config;
    let node = load(store, &node_key(&state.node))
        .await
        .map_err(|e| e.message)?
        .config;
    if !cluster.flag("enable") || node.option("enable").is_some_and(|v| v == "0") {
        return Ok(None);
    }
    let rules: Vec<_> = cluster
        .rules
        .iter()
        .chain(node.rules.iter())
        .cloned()
        .collect();
    let rules = oxve_net::firewall::resolve_aliases(
        &oxve_net::firewall::expand_groups(&rules, &cluster.groups),
        &cluster.aliases,
    );
    let active = state.network.read_active().map_err(|e| e.to_string())?;
    let vpn = state.network.load_vpn().map_err(|e| e.to_string())?;
    Ok(Some(HostFirewall {
        policy_in: cluster.option("policy_in").unwrap_or("DROP").to_string(),
        policy_out: cluster.option("policy_out").unwrap_or("ACCEPT").to_string(),
        rules,
        management_ports: state.network.management_ports(),
        local_networks: local_networks().await,
        nat_bridges: oxve_net::nat_sync::nat_bridges(&active)
            .into_iter()
            .map(|n| n.bridge)
            .collect(),
        vpn_ports: vpn.endpoints.iter().map(|e| e.listen_port).collect(),
    }))
}

/// Apply the firewall of every guest of this node, and the node's own, each in one
/// transaction.
pub async fn sync_firewall(state: &AppState) -> Result<(), String> {
    let host = host_firewall(state).await?;
    let (guests, guest_sets) = guest_firewalls(state).await?;
    let stateful = !guests.is_empty() && stateful();
    let cluster = load(state.store.as_ref(), &cluster_key())
        .await
        .map_err(|e| e.message)?;
    let host_sets = oxve_net::firewall::nft_sets(&cluster.config.ipsets);
    let mut sets = host_sets.clone();
    sets.extend(guest_sets);
    let net = state.network.clone();
    tokio::task::spawn_blocking(move || {
        net.guest_firewall().apply(&guests, &sets, stateful)?;
        net.host_firewall()
            .apply(host.as_ref(), &host_sets)
            .map(|_| ())
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e: NetError| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn link_local_from_mac() {
        assert_eq!(
            super::link_local("BC:24:11:00:07:00").as_deref(),
            Some("fe80::be24:11ff:fe00:700")
        );
    }
}
