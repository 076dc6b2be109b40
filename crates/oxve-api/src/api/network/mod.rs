//! /nodes/{node}/network: the host's interfaces (Proxmox's paths and shapes), staged in
//! `interfaces.new` and applied by a reload task; plus oxve's port forwards on NAT bridges.

mod forwards;
mod guest_nics;
mod interfaces;
mod model;
mod reload;
mod schema;

use oxve_net::NetError;
use oxve_router::{ApiError, ApiMethod};

use crate::env::RpcEnv;

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    let mut out = interfaces::methods();
    out.extend(reload::methods());
    out.extend(forwards::methods());
    out
}

/// A network-layer failure as the API answers it: configuration conflicts name the parameter.
pub fn net_error(err: NetError) -> ApiError {
    match err {
        NetError::Config(c) => ApiError::param(c.param, format!("{}: {}", c.iface, c.message)),
        NetError::Invalid(m) => ApiError::bad_request(m),
        other => ApiError::internal(other.to_string()),
    }
}
