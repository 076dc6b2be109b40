//! Errors of the config store. Messages that clients see through the API follow Proxmox's
//! wording, because scripts match on them.

use std::path::PathBuf;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The caller's digest no longer matches the stored document (optimistic concurrency).
    #[error("detected modified configuration - file changed by other user? Try again.")]
    DigestMismatch,

    /// A create found the key already present.
    #[error("configuration file '{key}' already exists")]
    AlreadyExists {
        /// The key that exists.
        key: String,
    },

    /// The document does not exist.
    #[error("Configuration file '{key}' does not exist")]
    NotFound {
        /// The missing key.
        key: String,
    },

    /// Another guest (VM or CT, on any node) already uses this VMID.
    #[error("VM {vmid} already exists")]
    VmidInUse {
        /// The VMID in use.
        vmid: u32,
    },

    /// Every VMID from the requested start up to the maximum is taken.
    #[error("unable to get any free VMID in range [{start}, {max}]")]
    NoFreeVmid {
        /// First VMID that was considered.
        start: u32,
        /// Last VMID that was considered.
        max: u32,
    },

    /// A VMID outside the allowed range.
    #[error("invalid VMID {vmid}: must be between {min} and {max}")]
    InvalidVmid {
        /// The rejected VMID.
        vmid: u32,
        /// Lowest allowed VMID.
        min: u32,
        /// Highest allowed VMID.
        max: u32,
    },

    /// A key that is not a well-formed store path.
    #[error("invalid config key '{key}': {reason}")]
    InvalidKey {
        /// The rejected key (control characters escaped).
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The guest is locked by another operation.
    #[error("VM {vmid} is locked ({lock})")]
    Locked {
        /// The locked guest.
        vmid: u32,
        /// The lock type found in its config.
        lock: String,
    },

    /// Removing a lock that is not set.
    #[error("no lock found trying to remove '{expected}' lock")]
    NoLock {
        /// The lock the caller wanted to remove.
        expected: String,
    },

    /// Removing a lock while a different one is set.
    #[error("found lock '{found}' trying to remove '{expected}' lock")]
    LockMismatch {
        /// The lock the caller wanted to remove.
        expected: String,
        /// The lock actually set.
        found: String,
    },

    /// A compare-and-swap loop kept losing to concurrent writers.
    #[error("giving up on '{key}' after {attempts} attempts: concurrent modifications")]
    TooManyConflicts {
        /// The contended key.
        key: String,
        /// How many times the update was tried.
        attempts: u32,
    },

    /// The database refused or failed an operation.
    #[error("config store database error: {0}")]
    Database(#[from] rusqlite::Error),

    /// A filesystem operation around the database failed.
    #[error("config store I/O error on '{}': {source}", path.display())]
    Io {
        /// The path being worked on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The database content violates the store's own invariants.
    #[error("config store is corrupt: {0}")]
    Corrupt(String),

    /// The blocking worker running a database call panicked or was cancelled.
    #[error("config store worker failed: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

impl StoreError {
    /// An `InvalidKey` error for `key`, with control characters escaped so the message stays
    /// on one printable line.
    pub(crate) fn invalid_key(key: &str, reason: &'static str) -> Self {
        StoreError::InvalidKey {
            key: key.escape_debug().to_string(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_proxmox() {
        assert_eq!(
            StoreError::DigestMismatch.to_string(),
            "detected modified configuration - file changed by other user? Try again."
        );
        assert_eq!(
            StoreError::VmidInUse { vmid: 100 }.to_string(),
            "VM 100 already exists"
        );
        assert_eq!(
            StoreError::Locked {
                vmid: 100,
                lock: "backup".into()
            }
            .to_string(),
            "VM 100 is locked (backup)"
        );
        assert_eq!(
            StoreError::NotFound {
                key: "nodes/a/qemu-server/100.conf".into()
            }
            .to_string(),
            "Configuration file 'nodes/a/qemu-server/100.conf' does not exist"
        );
    }

    #[test]
    fn invalid_key_escapes_control_chars() {
        let e = StoreError::invalid_key("a\0b", "contains a control character");
        assert_eq!(
            e.to_string(),
            "invalid config key 'a\\0b': contains a control character"
        );
    }
}
