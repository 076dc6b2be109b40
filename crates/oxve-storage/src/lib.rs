//! The oxve storage layer (engine crate, no HTTP): `storage.cfg` in Proxmox's section-config
//! format, Proxmox volume ids, sizes, and a small plugin trait with capabilities, chosen at
//! run time from a registry by storage type.
//!
//! Built-in plugins: `dir`, `btrfs`, `lvm`, `lvmthin`, `zfspool`, `nfs`, `cifs`. They run
//! their real tools (`qemu-img`, `btrfs`, `lvcreate`, `zfs`, `mount`) through the
//! [`CommandRunner`](command::CommandRunner) seam, so unit tests can assert the exact
//! commands with [`RecordingRunner`](command::RecordingRunner).
//!
//! [`StorageManager`] is the entry point for the API layer: it
//! checks requests against capabilities and content types before touching anything, and
//! does the cross-storage work (copy, import, upload).

pub mod backup;
pub mod backup_ops;
pub mod bench;
pub mod capabilities;
pub mod checksum;
pub mod command;
pub mod config;
pub mod content;
pub mod error;
pub mod format;
pub mod fsutil;
pub mod image_header;
pub mod manager;
pub mod plugin;
pub mod plugins;
pub mod qemu_img;
pub mod registry;
pub mod retention;
pub mod revert;
pub mod size;
pub mod upload;
pub mod volid;

pub use capabilities::Capabilities;
pub use config::{StorageConfig, StorageEntry};
pub use content::ContentType;
pub use error::StorageError;
pub use format::{Preallocation, VolumeFormat};
pub use manager::{AllocOptions, StorageManager};
pub use plugin::{PluginContext, StoragePlugin};
pub use registry::PluginRegistry;
pub use volid::VolumeId;
