//! /nodes/{node}/qemu: virtual machines. Handlers stay thin: config logic lives in
//! `oxve_types::qemu`, volumes in `oxve-storage`, the running VMs in the engine.

pub(crate) mod agent;
pub mod bulk;
mod config;
pub(crate) mod console;
pub(crate) mod create;
mod destroy;
mod disk_ops;
mod disks;
mod guest_kind;
mod hibernate;
mod list;
mod monitor;
pub(crate) mod status;
pub(crate) mod store_io;

use oxve_router::ApiMethod;
use oxve_types::schema::{IntegerSchema, Schema};

use crate::env::RpcEnv;

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    let mut all = list::methods();
    all.extend(create::methods());
    all.extend(config::methods());
    all.extend(destroy::methods());
    all.extend(disk_ops::methods());
    all.extend(status::methods());
    all.extend(console::methods());
    all.extend(monitor::methods());
    all.extend(bulk::methods());
    all.extend(agent::methods());
    all.extend(crate::guest_snapshot::methods::<oxve_types::qemu::VmConfig>());
    all
}

pub fn vmid_param() -> IntegerSchema {
    Schema::integer("The (unique) ID of the VM.")
        .minimum(100)
        .maximum(999_999_999)
}
