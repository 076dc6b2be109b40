//! Applying the firewall: every guest of this node whose firewall is on (datacenter `enable`
//! and guest `enable`) gets chains for its NICs with `firewall=1`.

use std::sync::OnceLock;

use oxve_net::firewall::nft::{self, GuestFirewall};
use oxve_net::NetError;

use super::store::{cluster_key, guest_key, load, node_key};
use crate::api::network::guest_nics::guest_nics;
use crate::state::AppState;
use oxve_net::firewall::host::HostFirewall;

/// Whether the kernel tracks bridged connections, probed once.
fn stateful() -> bool {
    static PROBE: OnceLock<bool> = OnceLock::new();
    *PROBE.get_or_init(|| {
        let yes = nft::kernel_has_bridge_conntrack();
        if !yes {
            tracing::warn!(
                "this kernel has no bridge connection tracking (nf_conntrack_bridge): guest \
                 firewalls match packets without state, so replies need rules of their own"
            );
        }
        yes
    })
}

/// The guest firewalls of this node as configured now.
pub async fn guest_firewalls(state: &AppState) -> Result<Vec<GuestFirewall>, String> {
    let store = state.store.as_ref();
    let cluster = load(store, &cluster_key()).await.map_err(|e| e.message)?;
    if !cluster.config.flag("enable") {
        return Ok(Vec::new());
    }
    let nics = guest_nics(state).await;
    let mut vmids: Vec<u32> = nics.iter().filter(|n| n.firewall).map(|n| n.vmid).collect();
    vmids.sort_unstable();
    vmids.dedup();
    let mut out = Vec::new();
    for vmid in vmids {
        let fw = load(store, &guest_key(vmid))
            .await
            .map_err(|e| e.message)?
            .config;
        if !fw.flag("enable") {
            continue;
        }
        out.push(GuestFirewall {
            vmid,
            policy_in: fw.option("policy_in").unwrap_or("DROP").to_string(),
            policy_out: fw.option("policy_out").unwrap_or("ACCEPT").to_string(),
            dhcp: fw.flag("dhcp"),
            rules: oxve_net::firewall::resolve_aliases(
                &oxve_net::firewall::expand_groups(&fw.rules, &cluster.config.groups),
                &cluster.config.aliases,
            ),
            nics: nics
                .iter()
                .filter(|n| n.vmid == vmid && n.firewall)
                .map(|n| (n.index, n.device.clone()))
                .collect(),
            // Proxmox filters source MACs unless `macfilter: 0`
            macs: if fw.option("macfilter").is_none_or(|v| v != "0") {
                nics.iter()
                    .filter(|n| n.vmid == vmid && n.firewall)
                    .filter_map(|n| Some((n.device.clone(), n.mac.clone()?)))
                    .collect()
            } else {
                Vec::new()
            },
        });
    }
    Ok(out)
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
    let guests = guest_firewalls(state).await?;
    let stateful = !guests.is_empty() && stateful();
    let cluster = load(state.store.as_ref(), &cluster_key())
        .await
        .map_err(|e| e.message)?;
    let sets = oxve_net::firewall::nft_sets(&cluster.config.ipsets);
    let net = state.network.clone();
    tokio::task::spawn_blocking(move || {
        net.guest_firewall().apply(&guests, &sets, stateful)?;
        oxve_net::firewall::host::apply(host.as_ref(), &sets)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e: NetError| e.to_string())
}
