//! The firewall API, Proxmox's paths and shapes: datacenter options and rules
//! (`/cluster/firewall/...`, with security groups, IP sets and aliases), node rules and options
//! (`/nodes/{node}/firewall/...`) and per-guest rules and options
//! (`/nodes/{node}/{qemu,lxc}/{vmid}/firewall/...`). Every change is applied at once, in one
//! nftables transaction; if that fails the previous file comes back.

mod cluster;
mod groups;
mod guest;
mod host;
mod ipsets;
mod scopes;
pub(crate) mod store;
mod sync;

use oxve_router::ApiMethod;

use crate::env::RpcEnv;

pub use sync::sync_firewall;

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    let mut out = cluster::methods();
    out.extend(guest::methods());
    out.extend(groups::methods());
    out.extend(host::methods());
    out.extend(ipsets::methods());
    out
}
