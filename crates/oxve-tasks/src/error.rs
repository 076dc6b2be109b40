//! Error types of the task subsystem.

use std::path::PathBuf;

/// Errors returned by [`crate::TaskManager`] and by UPID parsing.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// A string is not a well-formed UPID (the text follows Proxmox' wording).
    #[error("unable to parse worker upid '{upid}' - {reason}")]
    InvalidUpid {
        /// The rejected input (truncated when very long).
        upid: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A value given to build a UPID (node, worker type, auth id, ...) is not allowed.
    #[error("invalid task {field} '{value}' - {reason}")]
    InvalidField {
        /// Name of the UPID field.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The task is not known on this node (no log file, not running).
    #[error("no such task '{upid}'")]
    NoSuchTask {
        /// The UPID that was looked up.
        upid: String,
    },
    /// Another task manager (in this or another process) holds the task directory.
    #[error("task directory '{path}' is in use by another task manager")]
    DirLocked {
        /// The lock file.
        path: PathBuf,
    },
    /// The process start time could not be read from `/proc/self/stat`.
    #[error("unable to read process start time - {reason}")]
    ProcStat {
        /// Why parsing failed.
        reason: String,
    },
    /// `spawn` was called outside of a tokio runtime.
    #[error("unable to start worker task - no tokio runtime")]
    NoRuntime,
    /// A file system operation failed.
    #[error("{op} '{path}' failed - {source}")]
    Io {
        /// The operation, e.g. "create task log".
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl TaskError {
    /// Builds an [`TaskError::Io`] error; handy with `map_err`.
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| TaskError::Io { op, path, source }
    }
}

/// The error a worker returns when it stops because the task was aborted.
///
/// Its text is Proxmox' exit status for a task stopped by a signal
/// (`die "received interrupt\n"` in the worker's SIGTERM handler of
/// pve-common `RESTEnvironment::fork_worker`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("received interrupt")]
pub struct Interrupted;

/// Exit status of an aborted task, as Proxmox reports it.
pub const INTERRUPTED_STATUS: &str = "received interrupt";
