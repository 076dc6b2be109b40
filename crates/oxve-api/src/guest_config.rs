//! Reading and writing a guest's config in the store with Proxmox's errors, the same for VMs
//! and containers: a [`Loaded`] config carries the digest its compare-and-swap write needs.

use oxve_router::ApiError;
use oxve_store::{guest_config_key, ConfigStore, Expect, GuestKind, GuestRef, StoreError};

use crate::env::RpcEnv;

/// A guest config type as kept in the store.
pub trait GuestConfigDoc: Sized {
    const KIND: GuestKind;
    /// How messages name the guest (`VM`, `CT`).
    const LABEL: &'static str;
    /// The directory of Proxmox's config files (`qemu-server`, `lxc`).
    const CONF_DIR: &'static str;
    fn parse_doc(text: &str) -> Result<Self, String>;
    fn to_doc(&self) -> Result<String, String>;
}

impl GuestConfigDoc for oxve_types::qemu::VmConfig {
    const KIND: GuestKind = GuestKind::Qemu;
    const LABEL: &'static str = "VM";
    const CONF_DIR: &'static str = "qemu-server";
    fn parse_doc(text: &str) -> Result<Self, String> {
        Self::parse(text).map_err(|e| e.to_string())
    }
    fn to_doc(&self) -> Result<String, String> {
        self.to_text().map_err(|e| e.to_string())
    }
}

impl GuestConfigDoc for oxve_types::lxc::CtConfig {
    const KIND: GuestKind = GuestKind::Lxc;
    const LABEL: &'static str = "CT";
    const CONF_DIR: &'static str = "lxc";
    fn parse_doc(text: &str) -> Result<Self, String> {
        Self::parse(text).map_err(|e| e.to_string())
    }
    fn to_doc(&self) -> Result<String, String> {
        self.to_text().map_err(|e| e.to_string())
    }
}

/// A config as read, with what a compare-and-swap write needs.
pub struct Loaded<C> {
    pub guest: GuestRef,
    pub config: C,
    pub digest: String,
}

/// The store reference of guest `vmid` of type `C` on this node.
pub fn guest_ref<C: GuestConfigDoc>(env: &RpcEnv, vmid: u32) -> GuestRef {
    GuestRef {
        node: env.state.node.clone(),
        kind: C::KIND,
        vmid,
    }
}

pub fn store_error(err: StoreError) -> ApiError {
    ApiError::internal(err.to_string())
}

/// Proxmox's message for a missing config (clients such as bpg match on "does not exist").
pub fn missing<C: GuestConfigDoc>(env: &RpcEnv, vmid: u32) -> ApiError {
    ApiError::internal(format!(
        "Configuration file 'nodes/{}/{}/{vmid}.conf' does not exist",
        env.state.node,
        C::CONF_DIR
    ))
}

pub async fn load<C: GuestConfigDoc>(env: &RpcEnv, vmid: u32) -> Result<Loaded<C>, ApiError> {
    let guest = guest_ref::<C>(env, vmid);
    let entry = env
        .state
        .store
        .get(&guest_config_key(&guest))
        .await
        .map_err(store_error)?
        .ok_or_else(|| missing::<C>(env, vmid))?;
    let config = C::parse_doc(&entry.text).map_err(|e| {
        ApiError::internal(format!(
            "unable to parse config of {} {vmid} - {e}",
            C::LABEL
        ))
    })?;
    Ok(Loaded {
        guest,
        config,
        digest: entry.digest,
    })
}

/// Writes back a loaded config; fails if somebody else changed it meanwhile.
pub async fn save<C: GuestConfigDoc>(
    store: &dyn ConfigStore,
    loaded: &Loaded<C>,
) -> Result<String, ApiError> {
    let text = loaded.config.to_doc().map_err(ApiError::internal)?;
    store
        .put(
            &guest_config_key(&loaded.guest),
            &text,
            Expect::Digest(loaded.digest.clone()),
        )
        .await
        .map_err(store_error)
}

/// Refuses a stale client digest as Proxmox does.
pub fn check_digest<C>(loaded: &Loaded<C>, digest: Option<&str>) -> Result<(), ApiError> {
    match digest {
        Some(d) if d != loaded.digest => {
            Err(ApiError::internal(StoreError::DigestMismatch.to_string()))
        }
        _ => Ok(()),
    }
}
