//! NICs added to or removed from a running container's config apply live (as pct does);
//! other device changes wait in `[pve:pending]` for the next start.

use oxve_types::lxc::keys::split_indexed;
use oxve_types::lxc::{CtConfig, CtNet};

use crate::env::RpcEnv;

/// Plugs the pending new `netN` of running container `vmid` in and the pending deleted ones
/// out; returns the keys that now apply. A NIC that fails stays pending (and is logged).
pub async fn hotplug_nics(env: &RpcEnv, vmid: u32, config: &CtConfig) -> Vec<String> {
    let index = |key: &str| match split_indexed(key) {
        Some(("net", i)) => Some(i),
        _ => None,
    };
    let mut applied = Vec::new();
    for (key, value) in &config.pending.values {
        let Some(i) = index(key) else { continue };
        if config.contains(key) {
            continue; // a changed NIC waits for the next start
        }
        let Ok(net) = CtNet::parse(value) else {
            continue;
        };
        match env.state.lxc.hotplug_nic(vmid, i, &net).await {
            Ok(()) => applied.push(key.clone()),
            Err(e) => tracing::warn!("CT {vmid}: {key} stays pending: {e}"),
        }
    }
    for key in config.pending.pending_deletes().into_keys() {
        let Some(i) = index(&key) else { continue };
        if !config.contains(&key) {
            continue;
        }
        match env.state.lxc.unplug_nic(vmid, i).await {
            Ok(()) => applied.push(key),
            Err(e) => tracing::warn!("CT {vmid}: removing {key} stays pending: {e}"),
        }
    }
    applied
}
