//! Reading and writing a VM's config in the store, with Proxmox's errors.

use oxve_router::ApiError;
use oxve_store::{guest_config_key, ConfigStore, Expect, GuestKind, GuestRef, StoreError};
use oxve_types::qemu::VmConfig;

use crate::env::RpcEnv;

/// A VM config as read, with what a compare-and-swap write needs.
pub struct LoadedVm {
    pub guest: GuestRef,
    pub config: VmConfig,
    pub digest: String,
}

pub fn guest_ref(env: &RpcEnv, vmid: u32) -> GuestRef {
    GuestRef {
        node: env.state.node.clone(),
        kind: GuestKind::Qemu,
        vmid,
    }
}

pub fn store_error(err: StoreError) -> ApiError {
    ApiError::internal(err.to_string())
}

/// Proxmox's message for a missing VM config (bpg matches on "does not exist").
pub fn missing(env: &RpcEnv, vmid: u32) -> ApiError {
    ApiError::internal(format!(
        "Configuration file 'nodes/{}/qemu-server/{vmid}.conf' does not exist",
        env.state.node
    ))
}

pub async fn load(env: &RpcEnv, vmid: u32) -> Result<LoadedVm, ApiError> {
    let guest = guest_ref(env, vmid);
    let entry = env
        .state
        .store
        .get(&guest_config_key(&guest))
        .await
        .map_err(store_error)?
        .ok_or_else(|| missing(env, vmid))?;
    let config = VmConfig::parse(&entry.text)
        .map_err(|e| ApiError::internal(format!("unable to parse config of VM {vmid} - {e}")))?;
    Ok(LoadedVm {
        guest,
        config,
        digest: entry.digest,
    })
}

/// Write back a loaded config; fails if somebody else changed it meanwhile.
pub async fn save(store: &dyn ConfigStore, vm: &LoadedVm) -> Result<String, ApiError> {
    let text = vm
        .config
        .to_text()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    store
        .put(
            &guest_config_key(&vm.guest),
            &text,
            Expect::Digest(vm.digest.clone()),
        )
        .await
        .map_err(store_error)
}

/// Refuse a stale client digest as Proxmox does.
pub fn check_digest(vm: &LoadedVm, digest: Option<&str>) -> Result<(), ApiError> {
    match digest {
        Some(d) if d != vm.digest => {
            Err(ApiError::internal(StoreError::DigestMismatch.to_string()))
        }
        _ => Ok(()),
    }
}
