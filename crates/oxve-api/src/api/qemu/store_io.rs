//! A VM's config in the store: [`crate::guest_config`] for `VmConfig`.

use oxve_types::qemu::VmConfig;

use crate::env::RpcEnv;
use crate::guest_config::{self, Loaded};

pub use crate::guest_config::{check_digest, save, store_error};

/// A VM config as read, with what a compare-and-swap write needs.
pub type LoadedVm = Loaded<VmConfig>;

pub fn guest_ref(env: &RpcEnv, vmid: u32) -> oxve_store::GuestRef {
    guest_config::guest_ref::<VmConfig>(env, vmid)
}

pub async fn load(env: &RpcEnv, vmid: u32) -> Result<LoadedVm, oxve_router::ApiError> {
    guest_config::load(env, vmid).await
}
