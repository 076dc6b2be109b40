//! Errors of the VM engine: one variant per failed operation, with its source.

use std::path::PathBuf;
use std::time::Duration;

use oxve_qmp::QmpError;

/// An error from a volume resolver or a network wiring hook (their crates have their own types).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong building a command line or driving a VM.
#[derive(Debug, thiserror::Error)]
pub enum QemuError {
    /// The config cannot be turned into a QEMU command line (invalid value, or a feature this
    /// engine does not support); `key` names the config key.
    #[error("VM {vmid}: {key}: {message}")]
    Config {
        vmid: u32,
        key: String,
        message: String,
    },

    /// A drive's volume could not be resolved to a path.
    #[error("VM {vmid}: {key}: cannot resolve volume '{volid}': {source}")]
    Resolve {
        vmid: u32,
        key: String,
        volid: String,
        #[source]
        source: BoxError,
    },

    /// A socket path under the run dir is longer than a unix socket address allows.
    #[error("socket path {path} is too long ({len} bytes, at most {max}): use a shorter run dir")]
    SocketPathTooLong {
        path: PathBuf,
        len: usize,
        max: usize,
    },

    /// `start` on a VM whose QEMU already runs.
    #[error("VM {vmid} already running (pid {pid})")]
    AlreadyRunning { vmid: u32, pid: u32 },

    /// An operation that needs a running VM on a stopped one.
    #[error("VM {vmid} not running")]
    NotRunning { vmid: u32 },

    /// QEMU could not be started (its own error message is in `message`); nothing was left
    /// behind.
    #[error("VM {vmid}: start failed: {message}")]
    StartFailed { vmid: u32, message: String },

    /// A QMP command failed.
    #[error("VM {vmid}: {action} failed: {source}")]
    Qmp {
        vmid: u32,
        action: &'static str,
        #[source]
        source: QmpError,
    },

    /// `shutdown` of a paused VM without `force_stop` (the guest cannot react to ACPI).
    #[error("VM {vmid} is paused - cannot shutdown")]
    Paused { vmid: u32 },

    /// The guest did not power off within the timeout and `force_stop` was not set; the VM
    /// still runs.
    #[error(
        "VM {vmid}: shutdown timed out after {}s: the guest did not react to the ACPI power \
         button (VM still running; use force-stop to stop it)",
        timeout.as_secs_f64()
    )]
    ShutdownTimeout { vmid: u32, timeout: Duration },

    /// QEMU survived `quit`, SIGTERM and SIGKILL.
    #[error("VM {vmid}: QEMU process {pid} did not exit")]
    StopFailed { vmid: u32, pid: u32 },

    /// The network wiring hook failed to plug a tap device.
    #[error("VM {vmid}: cannot wire {tap} to bridge {bridge}: {source}")]
    Wiring {
        vmid: u32,
        tap: String,
        bridge: String,
        #[source]
        source: BoxError,
    },

    /// A hot-plug step failed on the running VM (what was added is removed again).
    #[error("VM {vmid}: hotplug problem - {key}: {message}")]
    Hotplug {
        vmid: u32,
        key: String,
        message: String,
    },

    /// A console (`serialN`, VNC) the running VM does not have.
    #[error("VM {vmid}: no {console} console (not configured as a socket)")]
    NoConsole { vmid: u32, console: String },

    /// A file operation in the run dir failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl QemuError {
    pub(crate) fn config(vmid: u32, key: &str, message: impl Into<String>) -> Self {
        QemuError::Config {
            vmid,
            key: key.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        QemuError::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn qmp(vmid: u32, action: &'static str, source: QmpError) -> Self {
        QemuError::Qmp {
            vmid,
            action,
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = QemuError> = std::result::Result<T, E>;
