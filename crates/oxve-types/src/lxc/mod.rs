//! The LXC container config model, compatible with Proxmox VE's `pve-container`:
//!
//! - [`keys`]: every config key with its schema, declared once and reused by the config file,
//!   the create/update API parameters and `GET .../config`;
//! - [`psformats`]: the property-string formats (`netN`, `rootfs`, `mpN`, `features`);
//! - [`devices`]: typed views of those values ([`CtNet`], [`MountPoint`], [`Features`]);
//! - [`CtConfig`]: a checked `<vmid>.conf` with accessors, snapshot sections, raw `lxc.*` keys;
//! - [`update`]: config updates staged in `[pve:pending]` and applied.

pub mod config;
pub mod devices;
pub mod keys;
pub mod psformats;
pub mod snapshot;
pub mod update;

pub use config::{api_value, CtConfig, CtConfigError};
pub use devices::{CtNet, Features, MountPoint, MountSource};
pub use keys::{check_params, check_value, config_file_schema, create_schema, update_schema};
pub use snapshot::section_volumes;
pub use update::{CtUpdate, CtUpdateError, CGROUP_KEYS, FASTPLUG_KEYS};
