//! The oxve container engine (no HTTP): a Proxmox-style container config becomes an LXC
//! config, and liblxc's tools (`lxc-start`, `lxc-stop`, `lxc-info`, `lxc-attach`,
//! `lxc-freeze`, `lxc-cgroup`) run the container.
//!
//! - [`build_lxc_config`]: the LXC config, a pure function of the config, the resolved
//!   volumes and the host, unit-tested key by key (idmap `0 100000 65536` for unprivileged
//!   containers, cgroup v1 limits, veths, mount entries, raw `lxc.*` keys last).
//! - [`create_rootfs`]: ext4 on a raw volume, the template unpacked, ids shifted, hostname,
//!   DNS, root password and SSH keys written.
//! - [`LxcEngine`]: lifecycle and status. It keeps no state a restarted daemon would miss:
//!   the LXC monitor's pidfile and `/proc` say whether a container runs.
//! - [`LxcPaths`]: the files of a container under `<run_dir>/lxc/<vmid>/`.

mod acl;
pub mod appliance;
mod cmd;
pub mod console;
mod copy;
mod engine;
mod error;
pub mod hotplug;
pub mod lxcconf;
mod mount;
pub mod paths;
pub mod process;
mod resize;
mod rootfs;
pub mod setup;
mod status;

pub use copy::copy_volume_files;
pub use engine::{ExecOutput, LxcEngine, StartReport};
pub use error::{LxcError, Result};
pub use lxcconf::{
    build_lxc_config, HostFacts, VolumePath, VolumeResolver, IDMAP_BASE, IDMAP_SIZE,
};
pub use mount::HostMount;
pub use paths::LxcPaths;
pub use resize::grow_filesystem;
pub use rootfs::{create_rootfs, detect_ostype, make_ext4, shift_ids, RootfsSpec};
pub use status::CtStatus;
