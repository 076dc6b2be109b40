//! The QEMU VM config model, compatible with Proxmox VE's `qemu-server`:
//!
//! - [`keys`]: every config key with its schema, declared once and reused by the config file,
//!   the create/update API parameters and the `GET .../config` return;
//! - typed views of the property-string values: [`Drive`], [`NetDevice`], [`CpuConfig`],
//!   [`Memory`], [`BootOrder`], [`IpConfig`], each parsing and printing Proxmox's canonical form;
//! - [`VmConfig`]: a checked `<vmid>.conf` with accessors, snapshots and pending changes;
//! - [`pending`]: config updates staged in `[PENDING]` and applied to a stopped VM;
//! - [`hotplug`]: which pending changes a running VM can apply now, and how;
//! - [`mac`]: MAC addresses for new NICs.

pub mod boot;
pub mod config;
pub mod cpu;
pub mod drive;
pub mod formats;
pub mod hotplug;
pub mod keys;
pub mod mac;
pub mod memory;
pub mod net;
pub mod pending;
pub mod psformats;
mod values;

#[cfg(test)]
mod tests;

pub use boot::BootOrder;
pub use config::{PendingItem, Startup, VmConfig, VmConfigError, VmSettings};
pub use cpu::{CpuConfig, CpuFlag};
pub use drive::{volume_owner, Drive, DriveBus, DriveVolume, Media};
pub use hotplug::{HotplugContext, HotplugFeatures, HotplugPlan, HotplugStep, LiveAction};
pub use keys::{
    check_params, check_value, config_file_schema, config_properties, config_return_schema,
    create_schema, update_schema,
};
pub use mac::{mac_from_seed, random_mac, DEFAULT_MAC_PREFIX};
pub use memory::Memory;
pub use net::{IpConfig, NetDevice};
pub use pending::{ConfigUpdate, StageOutcome, UpdateError, VolumeChanges};
