//! The node's shared state, built once by the daemon.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use oxve_auth::AccessControl;
use oxve_host::{CpuInfo, CpuSampler, KvmStatus};
use oxve_store::ConfigStore;
use oxve_tasks::TaskManager;

use crate::cache::Caches;

/// Facts about the host, gathered once at start (the CPU sampler keeps running).
pub struct HostInfo {
    pub cpuinfo: CpuInfo,
    pub cpu: CpuSampler,
    pub kvm: KvmStatus,
    /// SHA-256 fingerprint of the node's TLS certificate, `AA:BB:...`.
    pub ssl_fingerprint: String,
}

/// Everything the handlers share.
pub struct AppState {
    /// This node's name.
    pub node: String,
    pub data_dir: PathBuf,
    pub store: Arc<dyn ConfigStore>,
    pub access: Arc<AccessControl>,
    pub tasks: Arc<TaskManager>,
    pub host: HostInfo,
    pub storage: crate::storage_service::StorageService,
    /// Running VMs.
    pub qemu: oxve_qemu::QemuEngine,
    /// Running containers.
    pub lxc: oxve_lxc::LxcEngine,
    /// Host network configuration (interfaces file, NAT, forwards).
    pub network: Arc<oxve_net::service::NetworkService>,
    pub started: Instant,
    pub caches: Caches,
    /// Console sessions prepared by vncproxy/termproxy.
    pub consoles: crate::consoles::ConsoleSessions,
    /// Metrics history (`.../rrddata`), filled by [`crate::rrd_sampler`].
    pub rrd: Arc<oxve_rrd::RrdStore>,
}

impl AppState {
    /// Whether `node` names this node (clusters will proxy the others).
    pub fn is_local_node(&self, node: &str) -> bool {
        node == self.node || node == "localhost"
    }
}
