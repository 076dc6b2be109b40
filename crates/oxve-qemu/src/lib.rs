//! The oxve VM engine (no HTTP): a Proxmox-style VM config becomes a QEMU command line, QEMU
//! runs daemonized with its pidfile and sockets in the run dir, and QMP drives it.
//!
//! ```no_run
//! # async fn demo(conf: &oxve_types::qemu::VmConfig) -> Result<(), oxve_qemu::QemuError> {
//! use std::time::Duration;
//! use oxve_qemu::{EngineOptions, MapResolver, QemuEngine, StartOptions};
//!
//! let engine = QemuEngine::new(EngineOptions::new("/run/oxve", false));
//! let volumes = MapResolver::new().with("local:100/vm-100-disk-0.qcow2", "/var/lib/vz/images/100/vm-100-disk-0.qcow2", Some("qcow2"));
//! let report = engine.start(100, conf, &volumes, StartOptions::default()).await?;
//! println!("pid {} under {}", report.pid, report.accel.as_str());
//! let status = engine.status(100, conf).await?;
//! engine.shutdown(100, Duration::from_secs(60), true).await?;
//! # Ok(()) }
//! ```
//!
//! - [`cmdline`]: [`build_command_line`], a pure function of config, [`VolumeResolver`] and
//!   [`HostFacts`] (KVM or TCG, bridges, firmware), unit-tested argument by argument.
//! - [`QemuEngine`]: start / stop / shutdown / reboot / reset / suspend / resume, status, console
//!   paths. It keeps no state a restarted daemon would miss: [`QemuEngine::is_running`] reads
//!   the pidfile and checks `/proc/<pid>/cmdline` names the VM's QMP socket.
//! - [`RunPaths`]: the files of a VM under `<run_dir>/qemu/`.

mod agent;
mod backup;
mod cgroup;
pub mod cmdline;
mod console;
mod engine;
mod error;
pub mod host;
mod hotplug;
mod lifecycle;
mod mirror;
pub mod paths;
pub mod process;
mod resolver;
mod snapshot;
mod status;
mod vmstate;
mod wiring;

pub use agent::{AgentError, AgentSession};
pub use backup::{BackupExport, CopiedDrive, ExportedDrive};
pub use cmdline::{
    build_command_line, device_args, Accel, DeviceArgs, EfiVarsCopy, QemuCommand, TapNic,
};
pub use engine::{EngineOptions, QemuEngine};
pub use error::{BoxError, QemuError, Result};
pub use host::{CpuVendor, HostFacts, OvmfFirmware};
pub use hotplug::HotplugOutcome;
pub use lifecycle::{StartOptions, StartReport};
pub use paths::RunPaths;
pub use resolver::{format_from_name, is_base_volume, MapResolver, ResolvedVolume, VolumeResolver};
pub use status::{BalloonStatus, NicCounters, RunStatus, VmStatus};
pub use wiring::TapWiring;
