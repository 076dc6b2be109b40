//! The config store: a small key/value tree of text documents, laid out like Proxmox's
//! pmxcfs (`nodes/<node>/qemu-server/<vmid>.conf`, `user.cfg`, `storage.cfg`, `priv/...`).
//!
//! Every document carries a digest (SHA-1 hex of its text, as Proxmox) for optimistic
//! concurrency: a write that names a stale digest is refused. One trait, two implementations:
//! embedded SQLite on a single node (this crate) and etcd once clustered.

mod error;
mod keys;
mod lock;
mod sqlite;

pub use error::StoreError;
pub use keys::{
    check_vmid, guest_config_key, parse_guest_config_key, validate_key, GuestKind, GuestRef,
    VMID_MAX, VMID_MIN,
};
pub use lock::{clear_guest_lock, guest_lock, set_guest_lock, GuestLock};
pub use sqlite::SqliteStore;

use async_trait::async_trait;

/// SHA-1 hex digest of a document's text, as Proxmox computes config digests.
pub fn digest(text: &str) -> String {
    use sha1::{Digest, Sha1};
    hex::encode(Sha1::digest(text.as_bytes()))
}

/// One stored document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path-like key, e.g. `nodes/pve1/qemu-server/100.conf`.
    pub key: String,
    /// The document's full text.
    pub text: String,
    /// SHA-1 hex of `text`.
    pub digest: String,
    /// Store-wide revision at which this document was last written.
    pub revision: u64,
}

/// What a write expects to find, for optimistic concurrency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Write whatever is there.
    Any,
    /// The key must not exist yet (create).
    Absent,
    /// The key must exist with this digest.
    Digest(String),
}

/// The config store. All methods are atomic; a successful write is durable (fsync'd) before
/// it returns, so an acknowledged change survives SIGKILL or power loss.
#[async_trait]
pub trait ConfigStore: Send + Sync + 'static {
    /// Read one document.
    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError>;

    /// Write one document if `expect` holds; returns the new digest.
    async fn put(&self, key: &str, text: &str, expect: Expect) -> Result<String, StoreError>;

    /// Delete one document if `expect` holds. Deleting a missing key with `Expect::Any` is Ok.
    async fn delete(&self, key: &str, expect: Expect) -> Result<(), StoreError>;

    /// All documents whose key starts with `prefix`, sorted by key.
    async fn list(&self, prefix: &str) -> Result<Vec<Entry>, StoreError>;

    /// Store-wide revision: grows with every successful write or delete. Lets callers cache
    /// derived views (resource lists, parsed user config) and rebuild them only on change.
    async fn revision(&self) -> Result<u64, StoreError>;

    /// Create a guest config for `vmid` on `node`, atomically refusing if any guest (VM or CT,
    /// on any node) already uses that VMID. Returns the digest.
    async fn create_guest(&self, guest: &GuestRef, text: &str) -> Result<String, StoreError>;

    /// Every guest in the store (any node, VMs and CTs), sorted by VMID.
    async fn guests(&self) -> Result<Vec<GuestRef>, StoreError>;

    /// The lowest free VMID >= `start` (default 100), never one in use.
    async fn next_free_vmid(&self, start: Option<u32>) -> Result<u32, StoreError>;
}
