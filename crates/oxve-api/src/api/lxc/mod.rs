//! /nodes/{node}/lxc: containers. Handlers stay thin: the config model lives in
//! `oxve_types::lxc`, volumes in `oxve-storage`, running containers in `oxve-lxc`.

mod aplinfo;
mod config;
mod console;
mod copy_volume;
mod create;
mod destroy;
mod feature;
mod guest_kind;
mod hotplug;
mod list;
mod move_volume;
mod resize;
pub(crate) mod status;
pub(crate) mod store_io;
mod volumes;

use oxve_router::ApiMethod;
use oxve_types::schema::{IntegerSchema, Schema};

use crate::env::RpcEnv;

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    let mut all = list::methods();
    all.extend(create::methods());
    all.extend(config::methods());
    all.extend(destroy::methods());
    all.extend(status::methods());
    all.extend(resize::methods());
    all.extend(aplinfo::methods());
    all.extend(crate::guest_snapshot::methods::<oxve_types::lxc::CtConfig>());
    all.extend(move_volume::methods());
    all.extend(feature::methods());
    all.extend(console::methods());
    all
}

pub fn vmid_param() -> IntegerSchema {
    Schema::integer("The (unique) ID of the VM.")
        .minimum(100)
        .maximum(999_999_999)
}

pub fn upid_schema() -> oxve_types::schema::StringSchema {
    Schema::string("The task's UPID.")
}
