//! Where aliases and IP sets live (the datacenter, or a VM's or container's own `.fw`): the
//! paths, permissions and parameters of each, and the file a request addresses.

use oxve_router::{ApiError, Permission};
use oxve_store::GuestKind;
use oxve_types::params::Params;
use oxve_types::schema::{ObjectSchema, Schema};

use super::store::cluster_key;
use crate::env::RpcEnv;

const AUDIT: Permission = Permission::Privs {
    path: "/",
    privs: &["Sys.Audit"],
    any: false,
};
const MODIFY: Permission = Permission::Privs {
    path: "/",
    privs: &["Sys.Modify"],
    any: false,
};

/// Where aliases and IP sets live: the datacenter, or a VM's or container's file.
pub(super) struct Scope {
    /// `None`: the datacenter.
    pub kind: Option<GuestKind>,
    pub aliases: &'static str,
    pub alias: &'static str,
    pub ipsets: &'static str,
    pub ipset: &'static str,
    pub entry: &'static str,
    pub audit: Permission,
    pub modify: Permission,
    pub base: fn() -> ObjectSchema,
}

pub(super) static CLUSTER: Scope = Scope {
    kind: None,
    aliases: "/cluster/firewall/aliases",
    alias: "/cluster/firewall/aliases/{name}",
    ipsets: "/cluster/firewall/ipset",
    ipset: "/cluster/firewall/ipset/{name}",
    entry: "/cluster/firewall/ipset/{name}/{cidr}",
    audit: AUDIT,
    modify: MODIFY,
    base: || Schema::object(""),
};

pub(super) static QEMU: Scope = Scope {
    kind: Some(GuestKind::Qemu),
    aliases: "/nodes/{node}/qemu/{vmid}/firewall/aliases",
    alias: "/nodes/{node}/qemu/{vmid}/firewall/aliases/{name}",
    ipsets: "/nodes/{node}/qemu/{vmid}/firewall/ipset",
    ipset: "/nodes/{node}/qemu/{vmid}/firewall/ipset/{name}",
    entry: "/nodes/{node}/qemu/{vmid}/firewall/ipset/{name}/{cidr}",
    audit: super::guest::GUEST_AUDIT_PERM,
    modify: super::guest::GUEST_MODIFY_PERM,
    base: super::guest::guest_base,
};

pub(super) static LXC: Scope = Scope {
    kind: Some(GuestKind::Lxc),
    aliases: "/nodes/{node}/lxc/{vmid}/firewall/aliases",
    alias: "/nodes/{node}/lxc/{vmid}/firewall/aliases/{name}",
    ipsets: "/nodes/{node}/lxc/{vmid}/firewall/ipset",
    ipset: "/nodes/{node}/lxc/{vmid}/firewall/ipset/{name}",
    entry: "/nodes/{node}/lxc/{vmid}/firewall/ipset/{name}/{cidr}",
    audit: super::guest::GUEST_AUDIT_PERM,
    modify: super::guest::GUEST_MODIFY_PERM,
    base: super::guest::guest_base,
};

/// The `.fw` file a request addresses.
pub(super) async fn scope_key(
    env: &RpcEnv,
    s: &Scope,
    params: &Params,
) -> Result<String, ApiError> {
    match s.kind {
        None => Ok(cluster_key()),
        Some(kind) => super::guest::guest_file(env, kind, params).await,
    }
}
