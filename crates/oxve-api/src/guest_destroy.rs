//! What destroying a guest does besides freeing its volumes, the same for VMs and
//! containers: `destroy-unreferenced-disks` finds the volumes of its VMID that the config
//! does not name, and the clean-up afterwards removes its ACL entries, pool membership and
//! firewall rules and, with `purge`, takes it out of the backup jobs.

use oxve_storage::plugin::VolumeFilter;
use oxve_storage::VolumeId;
use oxve_store::Expect;

use crate::env::RpcEnv;
use crate::guest_snapshot::manager;

/// Every volume of `vmid` on every storage (for `destroy-unreferenced-disks`).
pub async fn volumes_of(env: &RpcEnv, vmid: u32) -> Result<Vec<VolumeId>, String> {
    let manager = manager(env).await?;
    tokio::task::spawn_blocking(move || {
        let mut found = Vec::new();
        for entry in manager.config().entries() {
            let filter = VolumeFilter {
                vmid: Some(vmid),
                ..Default::default()
            };
            if let Ok(list) = manager.list(&entry.id, &filter) {
                found.extend(
                    list.into_iter()
                        .filter_map(|v| VolumeId::parse(&v.volid).ok()),
                );
            }
        }
        found
    })
    .await
    .map_err(|e| e.to_string())
}

/// Adds to `volumes` the ones of `vmid` no config names.
pub async fn add_unreferenced(
    env: &RpcEnv,
    vmid: u32,
    volumes: &mut Vec<VolumeId>,
) -> Result<(), String> {
    for v in volumes_of(env, vmid).await? {
        if !volumes.contains(&v) {
            volumes.push(v);
        }
    }
    Ok(())
}

/// After the config is gone, as Proxmox's `remove_vm_access`: the guest's ACL entries and its
/// pool membership go (a later guest with the same VMID must not inherit its rights), and
/// its firewall rules; with `purge` it also leaves the backup jobs that name it.
pub async fn clean_up(env: &RpcEnv, vmid: u32, purge: bool, log: impl Fn(String)) {
    if let Err(e) = env.state.access.remove_vm_from_pools(vmid).await {
        log(format!("unable to remove {vmid} from its pool: {e}"));
    }
    match env
        .state
        .access
        .remove_acl_path(&format!("/vms/{vmid}"))
        .await
    {
        Ok(true) => log(format!("removed the ACL entries of /vms/{vmid}")),
        Ok(false) => {}
        Err(e) => log(format!("unable to remove the ACL entries: {e}")),
    }
    let fw = crate::api::firewall::store::guest_key(vmid);
    if let Ok(Some(_)) = env.state.store.get(&fw).await {
        match env.state.store.delete(&fw, Expect::Any).await {
            Ok(_) => log(format!("removed the firewall rules of {vmid}")),
            Err(e) => log(format!("unable to remove the firewall rules: {e}")),
        }
    }
    if purge {
        log(format!("purging {vmid} from related configurations.."));
        let store = env.state.store.as_ref();
        match crate::api::backup_jobs::store::remove_vmid_from_jobs(store, vmid).await {
            Ok(removed) if !removed.is_empty() => log(format!(
                "removed the backup jobs that named only {vmid}: {}",
                removed.join(", ")
            )),
            Ok(_) => {}
            Err(e) => log(format!("unable to update the backup jobs: {e}")),
        }
    }
}
