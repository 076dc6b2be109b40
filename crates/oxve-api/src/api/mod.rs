//! The API tree: every method of every path, declared once.

mod access;
pub(crate) mod backup_jobs;
pub(crate) mod cluster;
pub(crate) mod common;
pub mod firewall;
mod lxc;
pub mod network;
mod nodes;
pub(crate) mod pools;
pub mod qemu;
mod rrd;
pub(crate) mod storage;
mod tasks;
mod test_hooks;
mod version;
pub(crate) mod vzdump;

use oxve_router::Router;

use crate::env::RpcEnv;

/// Build the router with every method oxve implements.
pub fn router() -> Router<RpcEnv> {
    let mut router = Router::new();
    router
        .extend(version::methods())
        .extend(access::methods())
        .extend(cluster::methods())
        .extend(backup_jobs::methods())
        .extend(nodes::methods())
        .extend(pools::methods())
        .extend(network::methods())
        .extend(firewall::methods())
        .extend(storage::methods())
        .extend(qemu::methods())
        .extend(lxc::methods())
        .extend(rrd::methods())
        .extend(tasks::methods())
        .extend(vzdump::methods());
    router
}

/// The router plus the test-only methods (`oxve serve --test-hooks`).
pub fn router_with_test_hooks() -> Router<RpcEnv> {
    let mut router = router();
    router.extend(test_hooks::methods());
    router
}
