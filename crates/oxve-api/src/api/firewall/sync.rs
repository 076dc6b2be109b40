//! Applying the firewall: every guest of this node whose firewall is on (datacenter `enable`
//! and guest `enable`) gets chains for its NICs with `firewall=1`.

use std::sync::OnceLock;

use oxve_net::firewall::nft::{self, GuestFirewall};
use oxve_net::NetError;

use super::store::{cluster_key, guest_key, load};
use crate::api::network::guest_nics::guest_nics;
use crate::state::AppState;

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

/// Apply the firewall of every guest of this node in one transaction.
pub async fn sync_firewall(state: &AppState) -> Result<(), String> {
    let guests = guest_firewalls(state).await?;
    let stateful = !guests.is_empty() && stateful();
    let cluster = load(state.store.as_ref(), &cluster_key())
        .await
        .map_err(|e| e.message)?;
    let sets = oxve_net::firewall::nft_sets(&cluster.config.ipsets);
    tokio::task::spawn_blocking(move || nft::apply_with_sets(&guests, &sets, stateful))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e: NetError| e.to_string())
}
