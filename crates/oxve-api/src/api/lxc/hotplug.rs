//! NICs and mount points added to or removed from a running container's config apply live
//! (as pct does); other device changes wait in `[pve:pending]` for the next start.

use oxve_lxc::{VolumePath, VolumeResolver};
use oxve_types::lxc::keys::split_indexed;
use oxve_types::lxc::{CtConfig, CtNet, MountPoint, MountSource};

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

/// Mounts the pending new `mpN` (directory volumes and bind mounts) into running container
/// `vmid` and unmounts the pending deleted ones; returns the keys that now apply. Mount
/// points on image volumes, and any that fail, stay pending.
pub async fn hotplug_mounts(env: &RpcEnv, vmid: u32, config: &CtConfig) -> Vec<String> {
    let is_mp = |key: &str| matches!(split_indexed(key), Some(("mp", _)));
    let mut applied = Vec::new();
    let Ok(resolver) = super::volumes::resolver(env).await else {
        return applied;
    };
    for (key, value) in &config.pending.values {
        if !is_mp(key) || config.contains(key) {
            continue;
        }
        let Ok(mp) = MountPoint::parse(key, value) else {
            continue;
        };
        let source = match mp.source() {
            MountSource::Volume(v) => match resolver.resolve(&v) {
                Ok(VolumePath::Dir(p)) => p,
                _ => continue,
            },
            MountSource::Bind(p) => p.into(),
            _ => continue,
        };
        let mounted = env
            .state
            .lxc
            .hotplug_mount(vmid, &source, &mp.mp(), mp.read_only())
            .await;
        match mounted {
            Ok(()) => applied.push(key.clone()),
            Err(e) => tracing::warn!("CT {vmid}: {key} stays pending: {e}"),
        }
    }
    for key in config.pending.pending_deletes().into_keys() {
        let Some(mp) = config
            .get(&key)
            .filter(|_| is_mp(&key))
            .and_then(|v| MountPoint::parse(&key, v).ok())
        else {
            continue;
        };
        match env.state.lxc.unplug_mount(vmid, &mp.mp()).await {
            Ok(()) => applied.push(key),
            Err(e) => tracing::warn!("CT {vmid}: removing {key} stays pending: {e}"),
        }
    }
    applied
}
