//! The engine object: options, run paths, the per-VM lock and QMP connection cache.
//!
//! Nothing the engine keeps in memory is needed to manage a VM: the pidfile, `/proc` and the
//! QMP socket say everything, so an engine created after a daemon restart adopts the VMs that
//! kept running. The cached QMP connection (one per running VM, QEMU serves one client at a
//! time) and the CPU samples are rebuilt on demand.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use oxve_qmp::{ConnectOptions, QmpClient};
use oxve_types::qemu::VmSettings;
use tokio::sync::OwnedMutexGuard;

use crate::cmdline::{build_command_line, QemuCommand};
use crate::error::{QemuError, Result};
use crate::host::{HostFacts, OvmfFirmware};
use crate::paths::RunPaths;
use crate::process;
use crate::resolver::VolumeResolver;
use crate::status::CpuSample;
use crate::wiring::TapWiring;

/// How an engine runs VMs.
#[derive(Clone)]
pub struct EngineOptions {
    /// The run dir; VM files go to `<run_dir>/qemu/`.
    pub run_dir: PathBuf,
    /// The QEMU binary (default `qemu-system-x86_64` from `PATH`).
    pub qemu_binary: PathBuf,
    /// KVM really runs guests on this host (see `oxve_host::kvm_usable`); when false every VM
    /// runs under TCG.
    pub kvm: bool,
    /// Plugs tap NICs into bridges; without it every NIC uses QEMU's user-mode network.
    pub tap_wiring: Option<Arc<dyn TapWiring>>,
    /// OVMF firmware; `None` looks for Debian's `ovmf` package.
    pub ovmf: Option<OvmfFirmware>,
    /// Time allowed for QEMU to daemonize (allocating large memory takes a while).
    pub start_timeout: Duration,
    /// Default time allowed for one QMP command.
    pub qmp_timeout: Duration,
    /// Where cgroups are mounted (`/sys/fs/cgroup`); `None` puts VMs in no cgroup of their own.
    pub cgroup_root: Option<PathBuf>,
}

impl std::fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineOptions")
            .field("run_dir", &self.run_dir)
            .field("qemu_binary", &self.qemu_binary)
            .field("kvm", &self.kvm)
            .field("tap_wiring", &self.tap_wiring.is_some())
            .field("ovmf", &self.ovmf)
            .field("start_timeout", &self.start_timeout)
            .field("qmp_timeout", &self.qmp_timeout)
            .field("cgroup_root", &self.cgroup_root)
            .finish()
    }
}

impl EngineOptions {
    /// Defaults for VMs run from `run_dir`, with KVM if `kvm`.
    pub fn new(run_dir: impl Into<PathBuf>, kvm: bool) -> Self {
        EngineOptions {
            run_dir: run_dir.into(),
            qemu_binary: PathBuf::from("qemu-system-x86_64"),
            kvm,
            tap_wiring: None,
            ovmf: None,
            start_timeout: Duration::from_secs(60),
            qmp_timeout: Duration::from_secs(30),
            cgroup_root: Some(PathBuf::from("/sys/fs/cgroup")),
        }
    }
}

/// A cached QMP connection to one QEMU process, with what never changes while it runs and
/// the last status facts QMP gave (see [`crate::status`]).
pub(crate) struct Conn {
    pub pid: u32,
    pub client: QmpClient,
    pub qemu_version: Option<String>,
    pub machine: Option<String>,
    pub facts: Option<crate::status::QmpFacts>,
}

/// The VM engine of one node (or one test).
pub struct QemuEngine {
    pub(crate) opts: EngineOptions,
    pub(crate) paths: RunPaths,
    ovmf: Option<OvmfFirmware>,
    conns: Mutex<HashMap<u32, Arc<tokio::sync::Mutex<Option<Conn>>>>>,
    locks: Mutex<HashMap<u32, Arc<tokio::sync::Mutex<()>>>>,
    pub(crate) samples: Mutex<HashMap<u32, CpuSample>>,
}

impl std::fmt::Debug for QemuEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QemuEngine")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl QemuEngine {
    /// An engine; creates nothing until a VM starts.
    pub fn new(opts: EngineOptions) -> Self {
        let ovmf = opts.ovmf.clone().or_else(OvmfFirmware::detect);
        QemuEngine {
            paths: RunPaths::new(&opts.run_dir),
            opts,
            ovmf,
            conns: Mutex::new(HashMap::new()),
            locks: Mutex::new(HashMap::new()),
            samples: Mutex::new(HashMap::new()),
        }
    }

    /// The engine's options.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Where the run files are.
    pub fn paths(&self) -> &RunPaths {
        &self.paths
    }

    /// The host facts a command line is built from now.
    pub fn host_facts(&self) -> HostFacts {
        let mut facts = HostFacts::detect(self.opts.kvm, self.opts.tap_wiring.is_some());
        facts.ovmf = self.ovmf.clone();
        facts
    }

    /// The command line `start` would run (`qm showcmd`).
    pub fn command_line(
        &self,
        vmid: u32,
        conf: &VmSettings,
        resolver: &dyn VolumeResolver,
    ) -> Result<QemuCommand> {
        build_command_line(vmid, conf, resolver, &self.host_facts(), &self.paths)
    }

    /// The pid of the VM's QEMU if it runs (pidfile + `/proc`, see [`process::is_qemu_of`]).
    pub fn is_running(&self, vmid: u32) -> Option<u32> {
        let pid = process::read_pidfile(&self.paths.pidfile(vmid))?;
        process::is_qemu_of(pid, &self.paths.qmp(vmid)).then_some(pid)
    }

    /// The serialization lock of one VM's lifecycle operations (within this engine).
    pub(crate) async fn lock_vm(&self, vmid: u32) -> OwnedMutexGuard<()> {
        let m = lock(&self.locks).entry(vmid).or_default().clone();
        m.lock_owned().await
    }

    /// The lock of a VM if nobody holds it.
    pub(crate) fn try_lock_vm(&self, vmid: u32) -> Option<OwnedMutexGuard<()>> {
        let m = lock(&self.locks).entry(vmid).or_default().clone();
        m.try_lock_owned().ok()
    }

    fn conn_slot(&self, vmid: u32) -> Arc<tokio::sync::Mutex<Option<Conn>>> {
        lock(&self.conns).entry(vmid).or_default().clone()
    }

    /// A QMP connection to the running VM (cached; shared by concurrent callers).
    pub async fn qmp(&self, vmid: u32) -> Result<QmpClient> {
        self.with_conn(vmid, |c| c.client.clone()).await
    }

    /// Runs `f` on the VM's cached connection, connecting first when needed.
    pub(crate) async fn with_conn<T>(
        &self,
        vmid: u32,
        f: impl FnOnce(&mut Conn) -> T,
    ) -> Result<T> {
        let pid = self
            .is_running(vmid)
            .ok_or(QemuError::NotRunning { vmid })?;
        let slot = self.conn_slot(vmid);
        let mut guard = slot.lock().await;
        let fresh = guard
            .as_ref()
            .is_some_and(|c| c.pid == pid && !c.client.is_closed());
        if !fresh {
            *guard = None;
            let opts = ConnectOptions {
                handshake_timeout: Duration::from_secs(5),
                command_timeout: self.opts.qmp_timeout,
                wait_for_socket: Duration::from_secs(2),
                ..ConnectOptions::default()
            };
            let client = QmpClient::connect_with(self.paths.qmp(vmid), opts)
                .await
                .map_err(|e| QemuError::qmp(vmid, "QMP connect", e))?;
            *guard = Some(Conn {
                pid,
                client,
                qemu_version: None,
                machine: None,
                facts: None,
            });
        }
        let conn = guard.as_mut().ok_or(QemuError::NotRunning { vmid })?;
        Ok(f(conn))
    }

    /// Drops what the engine remembers about a VM (its QMP connection, CPU sample).
    pub(crate) async fn forget(&self, vmid: u32) {
        let slot = lock(&self.conns).remove(&vmid);
        if let Some(slot) = slot {
            slot.lock().await.take();
        }
        lock(&self.samples).remove(&vmid);
    }

    /// Removes the run files of a VM that does not run (after it stopped or crashed).
    pub(crate) async fn cleanup(&self, vmid: u32) -> Result<()> {
        self.forget(vmid).await;
        if let Some(cg) = self.vm_cgroup(vmid) {
            cg.remove();
        }
        self.paths.remove_all(vmid)
    }

    /// Cleans the files a stopped VM left behind (guest powered off, QEMU crashed), unless a
    /// lifecycle operation is busy with the VM.
    pub(crate) async fn cleanup_if_stale(&self, vmid: u32) {
        if self.paths.existing_files(vmid).is_empty() {
            return;
        }
        if let Some(_guard) = self.try_lock_vm(vmid) {
            if self.is_running(vmid).is_none() {
                if let Err(e) = self.cleanup(vmid).await {
                    tracing::warn!(vmid, "cleaning up after a stopped VM: {e}");
                }
            }
        }
    }
}
