//! Errors of the QMP client.

use std::path::PathBuf;
use std::time::Duration;

/// What went wrong talking to QEMU over QMP.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    /// The unix socket could not be connected (QEMU not running, wrong path, permissions).
    #[error("cannot connect to QMP socket {path}")]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// Why connecting failed.
        #[source]
        source: std::io::Error,
    },

    /// Connecting, reading the greeting and negotiating capabilities took too long.
    #[error("QMP handshake on {path} timed out after {timeout:?}")]
    ConnectTimeout {
        /// The socket path.
        path: PathBuf,
        /// The time allowed.
        timeout: Duration,
    },

    /// The peer did not speak QMP: no greeting, or a greeting we could not read.
    #[error("QMP handshake on {path} failed: {reason}")]
    Handshake {
        /// The socket path.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },

    /// QEMU answered a command with an error.
    #[error("QMP command {command} failed: {class}: {desc}")]
    Command {
        /// The command that failed.
        command: String,
        /// QEMU's error class (`GenericError`, `CommandNotFound`, `DeviceNotFound`, ...).
        class: String,
        /// QEMU's human-readable description.
        desc: String,
    },

    /// No reply arrived in time; a late reply is discarded.
    #[error("QMP command {command} timed out after {timeout:?}")]
    Timeout {
        /// The command that timed out.
        command: String,
        /// The time allowed.
        timeout: Duration,
    },

    /// The connection closed before the command's reply arrived (or before it was sent).
    #[error("QMP connection closed while running {command}")]
    Disconnected {
        /// The command that was running.
        command: String,
    },

    /// The arguments of a command could not be encoded as JSON.
    #[error("cannot encode the arguments of QMP command {command}")]
    Encode {
        /// The command.
        command: String,
        /// The encoding error.
        #[source]
        source: serde_json::Error,
    },

    /// QEMU's reply did not have the expected shape.
    #[error("unexpected reply to QMP command {command}")]
    Decode {
        /// The command.
        command: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },

    /// An event stream fell behind and lost events (its buffer overflowed).
    #[error("QMP event stream lagged behind and lost {0} events")]
    EventsLagged(u64),

    /// The connection closed while waiting for an event.
    #[error("QMP connection closed while waiting for {waiting_for}")]
    EventsClosed {
        /// What was being waited for.
        waiting_for: String,
    },

    /// An expected event did not arrive in time.
    #[error("timed out after {timeout:?} waiting for {waiting_for}")]
    EventTimeout {
        /// What was being waited for.
        waiting_for: String,
        /// The time allowed.
        timeout: Duration,
    },

    /// A background job (snapshot, mirror, ...) ended with an error.
    #[error("QMP job {job} failed: {error}")]
    JobFailed {
        /// The job id.
        job: String,
        /// QEMU's error message.
        error: String,
    },
}

impl QmpError {
    /// QEMU's error class when QEMU answered with an error.
    pub fn class(&self) -> Option<&str> {
        match self {
            QmpError::Command { class, .. } => Some(class),
            _ => None,
        }
    }

    /// True when the connection is gone (QEMU exited or closed the socket).
    pub fn is_disconnected(&self) -> bool {
        matches!(
            self,
            QmpError::Disconnected { .. } | QmpError::EventsClosed { .. }
        )
    }
}

/// Result alias of this crate.
pub type Result<T, E = QmpError> = std::result::Result<T, E>;
