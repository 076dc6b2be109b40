//! Reading and writing a container's config in the store, with Proxmox's errors.

use oxve_router::ApiError;
use oxve_store::{guest_config_key, ConfigStore, Expect, GuestKind, GuestRef, StoreError};
use oxve_types::lxc::CtConfig;

use crate::env::RpcEnv;

/// A container config as read, with what a compare-and-swap write needs.
pub struct LoadedCt {
    pub guest: GuestRef,
    pub config: CtConfig,
    pub digest: String,
}

pub fn guest_ref(env: &RpcEnv, vmid: u32) -> GuestRef {
    GuestRef {
        node: env.state.node.clone(),
        kind: GuestKind::Lxc,
        vmid,
    }
}

pub fn store_error(err: StoreError) -> ApiError {
    ApiError::internal(err.to_string())
}

/// Proxmox's message for a missing container config.
pub fn missing(env: &RpcEnv, vmid: u32) -> ApiError {
    ApiError::internal(format!(
        "Configuration file 'nodes/{}/lxc/{vmid}.conf' does not exist",
        env.state.node
    ))
}

pub async fn load(env: &RpcEnv, vmid: u32) -> Result<LoadedCt, ApiError> {
    let guest = guest_ref(env, vmid);
    let entry = env
        .state
        .store
        .get(&guest_config_key(&guest))
        .await
        .map_err(store_error)?
        .ok_or_else(|| missing(env, vmid))?;
    let config = CtConfig::parse(&entry.text)
        .map_err(|e| ApiError::internal(format!("unable to parse config of CT {vmid} - {e}")))?;
    Ok(LoadedCt {
        guest,
        config,
        digest: entry.digest,
    })
}

/// Write back a loaded config; fails if somebody else changed it meanwhile.
pub async fn save(store: &dyn ConfigStore, ct: &LoadedCt) -> Result<String, ApiError> {
    let text = ct
        .config
        .to_text()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    store
        .put(
            &guest_config_key(&ct.guest),
            &text,
            Expect::Digest(ct.digest.clone()),
        )
        .await
        .map_err(store_error)
}

/// Refuse a stale client digest as Proxmox does.
pub fn check_digest(ct: &LoadedCt, digest: Option<&str>) -> Result<(), ApiError> {
    match digest {
        Some(d) if d != ct.digest => {
            Err(ApiError::internal(StoreError::DigestMismatch.to_string()))
        }
        _ => Ok(()),
    }
}
