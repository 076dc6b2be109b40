//! The one error type of the storage layer. Each variant names the operation that failed and
//! carries its cause; [`StorageError::is_bad_request`] and [`StorageError::param`] tell the API
//! layer which failures are the caller's (HTTP 400) and which parameter they concern.

use std::path::PathBuf;

use oxve_types::section_config::SectionConfigError;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A volume id that is not `<storage>:<volname>`, or a volume name that is unsafe or
    /// does not match the storage's naming scheme.
    #[error("unable to parse volume ID '{volid}' - {reason}")]
    InvalidVolumeId {
        /// The rejected id or name, control characters escaped.
        volid: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A file name (upload, allocation) that is unsafe or has the wrong extension.
    #[error("invalid filename '{name}' - {reason}")]
    InvalidFilename {
        /// The rejected name, control characters escaped.
        name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A size that is not a size (`10G`, `+1G`, `512M`, bytes).
    #[error("unable to parse size '{value}' - {reason}")]
    InvalidSize {
        /// The rejected text.
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A snapshot name that is not a valid config id.
    #[error("invalid snapshot name '{name}'")]
    InvalidSnapshotName {
        /// The rejected name.
        name: String,
    },

    /// An option of a storage definition (or a parameter of a storage call) that is invalid.
    #[error("{}{option}: {reason}", storage_prefix(.storage))]
    InvalidOption {
        /// The storage id the option belongs to (may be empty for a new storage).
        storage: String,
        /// The option name, as Proxmox spells it.
        option: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The storage.cfg text itself is malformed.
    #[error("unable to parse storage config: {0}")]
    ConfigSyntax(#[source] SectionConfigError),

    /// No storage with this id is configured.
    #[error("storage '{0}' does not exist")]
    UnknownStorage(String),

    /// A storage with this id already exists.
    #[error("storage ID '{0}' already defined")]
    StorageExists(String),

    /// A storage type without a registered plugin.
    #[error("storage type '{0}' is not supported")]
    UnknownType(String),

    /// The storage is disabled in its config.
    #[error("storage '{0}' is disabled")]
    Disabled(String),

    /// The backend cannot do this (format, content type, snapshot, clone, ...).
    #[error("storage '{storage}' does not support {what}")]
    Unsupported {
        /// The storage id.
        storage: String,
        /// What was asked for, e.g. `snapshots of 'raw' volumes`.
        what: String,
    },

    /// The storage is not configured for this content type.
    #[error("storage '{storage}' does not support content type '{content}'")]
    ContentNotAllowed {
        /// The storage id.
        storage: String,
        /// The content type.
        content: String,
    },

    /// The volume belongs to another guest than the one named in the request.
    #[error("volume '{volid}' is owned by VM {owner}, not by VM {vmid}")]
    WrongOwner {
        /// The volume id.
        volid: String,
        /// The VMID of the request.
        vmid: u32,
        /// The VMID that owns the volume (`None` prints as 0).
        owner: u32,
    },

    /// A resize that would make the volume smaller.
    #[error(
        "shrinking disks is not supported (volume '{volid}': {current} bytes -> {requested} bytes)"
    )]
    ShrinkRefused {
        /// The volume id.
        volid: String,
        /// Current size in bytes.
        current: u64,
        /// Requested size in bytes.
        requested: u64,
    },

    /// A thick allocation (or resize) that does not fit in the free space.
    #[error("not enough free space on storage '{storage}': need {requested} bytes, {available} available")]
    InsufficientSpace {
        /// The storage id.
        storage: String,
        /// Bytes asked for.
        requested: u64,
        /// Bytes free.
        available: u64,
    },

    /// The volume (or file) to be created exists already.
    #[error("volume '{volid}' already exists")]
    VolumeExists {
        /// The volume id.
        volid: String,
    },

    /// The volume does not exist.
    #[error("volume '{volid}' does not exist")]
    VolumeNotFound {
        /// The volume id.
        volid: String,
    },

    /// The volume cannot be removed or changed while something depends on it.
    #[error("volume '{volid}' is in use: {reason}")]
    VolumeInUse {
        /// The volume id.
        volid: String,
        /// What uses it.
        reason: String,
    },

    /// A protected backup cannot be removed (Proxmox's wording).
    #[error("cannot remove protected volume '{volid}'")]
    Protected {
        /// The volume id.
        volid: String,
    },

    /// Some backups selected by pruning could not be removed (each one is logged).
    #[error("error pruning backups of storage '{storage}' - check log")]
    PruneFailed {
        /// The storage id.
        storage: String,
    },

    /// No free `vm-<vmid>-disk-N` name is left.
    #[error("unable to allocate an image name for VM {vmid} in storage '{storage}'")]
    NoFreeName {
        /// The storage id.
        storage: String,
        /// The VMID.
        vmid: u32,
    },

    /// An uploaded file did not match its checksum; the file was deleted.
    #[error(
        "checksum verification failed for '{name}': {algorithm} expected {expected}, got {actual}"
    )]
    ChecksumMismatch {
        /// The file name.
        name: String,
        /// The algorithm (`sha256`, ...).
        algorithm: String,
        /// The checksum the caller gave.
        expected: String,
        /// The checksum of the data received.
        actual: String,
    },

    /// A storage that could not be activated (missing directory, not mounted, wrong fs, ...).
    #[error("unable to activate storage '{storage}' - {reason}")]
    Activate {
        /// The storage id.
        storage: String,
        /// Why.
        reason: String,
    },

    /// A file system operation failed.
    #[error("{action} '{path}' failed: {source}")]
    Io {
        /// What was being done (`create directory`, `remove file`, `allocate`, ...).
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// An external command could not be started.
    #[error("unable to run '{command}': {source}")]
    CommandSpawn {
        /// The command line.
        command: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// An external command exited with an error.
    #[error("command '{command}' failed: exit code {status}{}", stderr_suffix(.stderr))]
    CommandFailed {
        /// The command line.
        command: String,
        /// Exit status (-1 when killed by a signal).
        status: i32,
        /// What it wrote to stderr, trimmed.
        stderr: String,
    },

    /// An external command printed something that could not be understood.
    #[error("unexpected output of '{command}': {reason}")]
    CommandOutput {
        /// The command line.
        command: String,
        /// What was wrong.
        reason: String,
    },
}

fn storage_prefix(storage: &str) -> String {
    if storage.is_empty() {
        String::new()
    } else {
        format!("storage '{storage}': ")
    }
}

fn stderr_suffix(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}

impl StorageError {
    /// Whether the caller is at fault (HTTP 400): bad input or a request the storage refuses.
    pub fn is_bad_request(&self) -> bool {
        !matches!(
            self,
            StorageError::Io { .. }
                | StorageError::CommandSpawn { .. }
                | StorageError::CommandFailed { .. }
                | StorageError::CommandOutput { .. }
                | StorageError::Activate { .. }
                | StorageError::PruneFailed { .. }
        )
    }

    /// The request parameter the error is about, when there is one (for `errors` in the API).
    pub fn param(&self) -> Option<&str> {
        match self {
            StorageError::InvalidOption { option, .. } => Some(option),
            StorageError::InvalidSize { .. } | StorageError::ShrinkRefused { .. } => Some("size"),
            StorageError::InvalidFilename { .. } => Some("filename"),
            StorageError::InvalidSnapshotName { .. } => Some("snapname"),
            StorageError::ChecksumMismatch { .. } => Some("checksum"),
            StorageError::UnknownStorage(_) | StorageError::Disabled(_) => Some("storage"),
            StorageError::UnknownType(_) => Some("type"),
            StorageError::InvalidVolumeId { .. } => Some("volume"),
            _ => None,
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        StorageError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn option(storage: &str, option: &str, reason: impl Into<String>) -> Self {
        StorageError::InvalidOption {
            storage: storage.to_string(),
            option: option.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn unsupported(storage: &str, what: impl Into<String>) -> Self {
        StorageError::Unsupported {
            storage: storage.to_string(),
            what: what.into(),
        }
    }
}

/// Escape control characters for messages.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Result of storage operations.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
