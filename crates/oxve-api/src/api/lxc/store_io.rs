//! A container's config in the store: [`crate::guest_config`] for `CtConfig`.

use oxve_types::lxc::CtConfig;

use crate::env::RpcEnv;
use crate::guest_config::{self, Loaded};

pub use crate::guest_config::{check_digest, save, store_error};

/// A container config as read, with what a compare-and-swap write needs.
pub type LoadedCt = Loaded<CtConfig>;

pub fn guest_ref(env: &RpcEnv, vmid: u32) -> oxve_store::GuestRef {
    guest_config::guest_ref::<CtConfig>(env, vmid)
}

pub async fn load(env: &RpcEnv, vmid: u32) -> Result<LoadedCt, oxve_router::ApiError> {
    guest_config::load(env, vmid).await
}
