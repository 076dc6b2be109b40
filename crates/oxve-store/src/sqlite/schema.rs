//! Opening the SQLite database: durability settings and the schema.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::StoreError;

/// Schema version kept in `PRAGMA user_version`; bump with a migration when the layout changes.
const SCHEMA_VERSION: i64 = 1;

/// How long a statement waits for a lock held by another connection before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA: &str = "
    CREATE TABLE meta (
        name  TEXT PRIMARY KEY NOT NULL,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO meta (name, value) VALUES ('revision', 0);

    CREATE TABLE documents (
        key      TEXT PRIMARY KEY NOT NULL,
        text     TEXT NOT NULL,
        digest   TEXT NOT NULL,
        revision INTEGER NOT NULL
    ) WITHOUT ROWID;

    -- One row per guest config document; the primary key makes VMIDs unique across nodes
    -- and kinds, and is written in the same transaction as the document.
    CREATE TABLE guests (
        vmid INTEGER PRIMARY KEY NOT NULL,
        node TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('qemu', 'lxc'))
    );
";

/// Open (creating if needed) the database at `path`, configured so that every committed
/// transaction is on disk before the commit returns. Returns the connection and the current
/// store-wide revision.
pub(super) fn open_connection(path: &Path) -> Result<(Connection, u64), StoreError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;

    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt(format!(
            "cannot switch '{}' to WAL mode (got '{mode}')",
            path.display()
        )));
    }
    // FULL: in WAL mode this fsyncs the WAL on every commit, so an acknowledged write
    // survives power loss, not only a process crash.
    conn.pragma_update(None, "synchronous", "FULL")?;

    init_schema(&mut conn)?;
    let revision = read_revision(&conn)?;
    tracing::debug!(path = %path.display(), revision, "opened config store");
    Ok((conn, revision))
}

fn init_schema(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    match version {
        0 => {
            tx.execute_batch(SCHEMA)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        }
        SCHEMA_VERSION => {}
        other => {
            return Err(StoreError::Corrupt(format!(
                "unsupported schema version {other} (this build knows {SCHEMA_VERSION})"
            )))
        }
    }
    tx.commit()?;
    Ok(())
}

/// The store-wide revision recorded in the database.
pub(super) fn read_revision(conn: &Connection) -> Result<u64, StoreError> {
    let value: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE name = 'revision'", [], |r| {
            r.get(0)
        })
        .optional()?;
    let value = value.ok_or_else(|| StoreError::Corrupt("missing revision row".into()))?;
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative revision {value}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durable_settings_and_idempotent_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/store.db");
        let (conn, rev) = open_connection(&path).unwrap();
        assert_eq!(rev, 0);
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        // 2 = FULL
        let sync: i64 = conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2);
        drop(conn);
        // Reopening finds the schema in place.
        let (_conn, rev) = open_connection(&path).unwrap();
        assert_eq!(rev, 0);
    }

    #[test]
    fn refuses_unknown_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(
            open_connection(&path),
            Err(StoreError::Corrupt(_))
        ));
    }
}
