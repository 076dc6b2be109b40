//! Errors of the container engine: one variant per failed operation, with its cause.

use std::path::PathBuf;

/// What went wrong creating or driving a container.
#[derive(Debug, thiserror::Error)]
pub enum LxcError {
    /// The config cannot be turned into an LXC config; `key` names the config key.
    #[error("CT {vmid}: {key}: {message}")]
    Config {
        vmid: u32,
        key: String,
        message: String,
    },
    /// A volume could not be resolved to a path.
    #[error("CT {vmid}: {key}: cannot resolve volume '{volid}': {message}")]
    Resolve {
        vmid: u32,
        key: String,
        volid: String,
        message: String,
    },
    /// A `netN` names a bridge that does not exist on this node.
    #[error("CT {vmid}: {key}: bridge '{bridge}' does not exist")]
    NoBridge {
        vmid: u32,
        key: String,
        bridge: String,
    },
    #[error("CT {vmid} already running")]
    AlreadyRunning { vmid: u32 },
    #[error("CT {vmid} not running")]
    NotRunning { vmid: u32 },
    /// `lxc-start` failed; `message` holds what LXC logged.
    #[error("CT {vmid}: startup for container '{vmid}' failed: {message}")]
    StartFailed { vmid: u32, message: String },
    /// An external tool failed.
    #[error("{tool} failed: {message}")]
    Tool { tool: String, message: String },
    /// A template that cannot be used.
    #[error("template '{path}': {message}")]
    Template { path: PathBuf, message: String },
    /// Reading or writing a file.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The container did not reach the wanted state in time.
    #[error("CT {vmid}: {action} timed out")]
    Timeout { vmid: u32, action: &'static str },
}

pub type Result<T> = std::result::Result<T, LxcError>;

pub(crate) fn io(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> LxcError {
    let path = path.into();
    move |source| LxcError::Io {
        action,
        path,
        source,
    }
}
