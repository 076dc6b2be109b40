//! The single-node store: one SQLite database in WAL mode with `synchronous=FULL`.
//!
//! All database calls run on tokio's blocking pool, one at a time behind a mutex: writes
//! are fsync'd and short, and serialising them keeps digest checks trivially correct for
//! any number of concurrent async callers.

mod ops;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use rusqlite::Connection;

use crate::{ConfigStore, Entry, Expect, GuestRef, StoreError};

/// Config store backed by an embedded SQLite database.
///
/// One process owns a database file: the cached [`ConfigStore::revision`] only sees writes
/// made through this handle (and its clones). Cloning is cheap and shares the connection.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Mirror of the `revision` meta row, updated after each commit while the connection
    /// lock is still held, so it never runs ahead of or behind the database.
    revision: AtomicU64,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .field("revision", &self.inner.revision.load(Ordering::Acquire))
            .finish()
    }
}

impl SqliteStore {
    /// Open the store at `path`, creating the file (and its parent directories) and the
    /// schema if missing. Blocks briefly; call it before serving requests.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let (conn, revision) = schema::open_connection(path)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                conn: Mutex::new(conn),
                revision: AtomicU64::new(revision),
            }),
        })
    }

    /// The database file this store uses.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The store-wide revision, without touching the database.
    pub fn current_revision(&self) -> u64 {
        self.inner.revision.load(Ordering::Acquire)
    }

    /// Run SQLite's `PRAGMA integrity_check`; `Err(Corrupt)` lists the problems found.
    pub async fn integrity_check(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare("PRAGMA integrity_check")?;
            let problems = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            if problems == ["ok"] {
                Ok(())
            } else {
                Err(StoreError::Corrupt(problems.join("; ")))
            }
        })
        .await
    }

    /// Run `f` on the connection in the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            // A panic mid-transaction rolled the transaction back when it unwound, so the
            // connection is still usable.
            let mut conn = inner.conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut conn)
        })
        .await?
    }

    /// Like [`Self::read`] for a write: publishes the committed revision before releasing
    /// the connection.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<ops::Committed<T>, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.conn.lock().unwrap_or_else(PoisonError::into_inner);
            let (value, revision) = f(&mut conn)?;
            if let Some(revision) = revision {
                inner.revision.fetch_max(revision, Ordering::AcqRel);
            }
            Ok(value)
        })
        .await?
    }
}

#[async_trait]
impl ConfigStore for SqliteStore {
    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        let key = key.to_owned();
        self.read(move |conn| ops::get(conn, &key)).await
    }

    async fn put(&self, key: &str, text: &str, expect: Expect) -> Result<String, StoreError> {
        let (key, text) = (key.to_owned(), text.to_owned());
        self.write(move |conn| ops::put(conn, &key, &text, &expect))
            .await
    }

    async fn delete(&self, key: &str, expect: Expect) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.write(move |conn| ops::delete(conn, &key, &expect))
            .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Entry>, StoreError> {
        let prefix = prefix.to_owned();
        self.read(move |conn| ops::list(conn, &prefix)).await
    }

    async fn revision(&self) -> Result<u64, StoreError> {
        Ok(self.current_revision())
    }

    async fn create_guest(&self, guest: &GuestRef, text: &str) -> Result<String, StoreError> {
        let (guest, text) = (guest.clone(), text.to_owned());
        self.write(move |conn| ops::create_guest(conn, &guest, &text))
            .await
    }

    async fn guests(&self) -> Result<Vec<GuestRef>, StoreError> {
        self.read(|conn| ops::guests(conn)).await
    }

    async fn next_free_vmid(&self, start: Option<u32>) -> Result<u32, StoreError> {
        self.read(move |conn| ops::next_free_vmid(conn, start))
            .await
    }
}
