//! Errors of the network layer.

use std::path::PathBuf;

/// An inconsistency in the interfaces configuration, tied to the API parameter to blame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{iface}: {message}")]
pub struct ConfigError {
    pub iface: String,
    pub param: String,
    pub message: String,
}

/// A failed network operation.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("opening a netlink socket: {0}")]
    Connect(#[source] std::io::Error),
    #[error("{op}: {message}")]
    Netlink {
        op: String,
        message: String,
        errno: Option<i32>,
    },
    /// The kernel lacks what the configuration needs.
    #[error("{iface}: {feature} not available in this kernel ({detail})")]
    Unsupported {
        iface: String,
        feature: &'static str,
        detail: String,
    },
    #[error("interface '{0}' does not exist")]
    NoSuchLink(String),
    #[error("{command}: {message}")]
    Command { command: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl NetError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        NetError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// The errno of a failed netlink request, if the kernel sent one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetError::Netlink { errno, .. } => *errno,
            _ => None,
        }
    }
}

pub type Result<T, E = NetError> = std::result::Result<T, E>;
