//! The store's operations as short synchronous SQLite transactions. Writes run in
//! `BEGIN IMMEDIATE` transactions, so the digest check and the write cannot interleave with
//! another writer, even one in a different connection.

use rusqlite::{
    params, Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior,
};

use crate::keys::{check_vmid, checked_guest_key, validate_key};
use crate::{digest, Entry, Expect, GuestKind, GuestRef, StoreError, VMID_MAX, VMID_MIN};

/// A write's result plus the store revision it committed at (`None`: nothing changed).
pub(super) type Committed<T> = (T, Option<u64>);

pub(super) fn get(conn: &Connection, key: &str) -> Result<Option<Entry>, StoreError> {
    validate_key(key)?;
    let entry = conn
        .query_row(
            "SELECT key, text, digest, revision FROM documents WHERE key = ?1",
            [key],
            row_to_entry,
        )
        .optional()?;
    Ok(entry)
}

pub(super) fn list(conn: &Connection, prefix: &str) -> Result<Vec<Entry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT key, text, digest, revision FROM documents WHERE key >= ?1 ORDER BY key",
    )?;
    let mut rows = stmt.query([prefix])?;
    let mut out = Vec::new();
    // Keys compare bytewise (BINARY collation), so all matches form one run starting at
    // `prefix`; stop at the first key past it.
    while let Some(row) = rows.next()? {
        let entry = row_to_entry(row)?;
        if !entry.key.starts_with(prefix) {
            break;
        }
        out.push(entry);
    }
    Ok(out)
}

pub(super) fn put(
    conn: &mut Connection,
    key: &str,
    text: &str,
    expect: &Expect,
) -> Result<Committed<String>, StoreError> {
    let guest = validate_key(key)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current = current_digest(&tx, key)?;
    check_expect(key, current.as_deref(), expect)?;
    if let Some(guest) = &guest {
        register_guest(&tx, guest)?;
    }
    let (digest, revision) = write_document(&tx, key, text)?;
    tx.commit()?;
    Ok((digest, Some(revision)))
}

pub(super) fn create_guest(
    conn: &mut Connection,
    guest: &GuestRef,
    text: &str,
) -> Result<Committed<String>, StoreError> {
    let key = checked_guest_key(guest)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if guest_row(&tx, guest.vmid)?.is_some() {
        return Err(StoreError::VmidInUse { vmid: guest.vmid });
    }
    if current_digest(&tx, &key)?.is_some() {
        return Err(StoreError::AlreadyExists { key });
    }
    register_guest(&tx, guest)?;
    let (digest, revision) = write_document(&tx, &key, text)?;
    tx.commit()?;
    Ok((digest, Some(revision)))
}

pub(super) fn delete(
    conn: &mut Connection,
    key: &str,
    expect: &Expect,
) -> Result<Committed<()>, StoreError> {
    let guest = validate_key(key)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current = current_digest(&tx, key)?;
    check_expect(key, current.as_deref(), expect)?;
    if current.is_none() {
        return Ok(((), None));
    }
    tx.execute("DELETE FROM documents WHERE key = ?1", [key])?;
    if let Some(guest) = guest {
        tx.execute(
            "DELETE FROM guests WHERE vmid = ?1 AND node = ?2 AND kind = ?3",
            params![guest.vmid, guest.node, guest.kind.as_str()],
        )?;
    }
    let revision = bump_revision(&tx)?;
    tx.commit()?;
    Ok(((), Some(revision)))
}

pub(super) fn guests(conn: &Connection) -> Result<Vec<GuestRef>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT vmid, node, kind FROM guests ORDER BY vmid")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, u32>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (vmid, node, kind) = row?;
        out.push(GuestRef::new(node, parse_kind(&kind)?, vmid));
    }
    Ok(out)
}

pub(super) fn next_free_vmid(conn: &Connection, start: Option<u32>) -> Result<u32, StoreError> {
    // A start below the range means "anywhere in the range".
    let start = start.unwrap_or(VMID_MIN).max(VMID_MIN);
    let no_free = StoreError::NoFreeVmid {
        start,
        max: VMID_MAX,
    };
    if start > VMID_MAX {
        return Err(no_free);
    }
    // Either `start` itself is free, or the first used id >= start whose successor is free
    // ends the run of used ids beginning at `start`.
    let candidate: i64 = conn.query_row(
        "SELECT CASE
             WHEN NOT EXISTS (SELECT 1 FROM guests WHERE vmid = ?1) THEN ?1
             ELSE (SELECT g.vmid + 1 FROM guests g
                   WHERE g.vmid >= ?1
                     AND NOT EXISTS (SELECT 1 FROM guests h WHERE h.vmid = g.vmid + 1)
                   ORDER BY g.vmid LIMIT 1)
         END",
        [start],
        |r| r.get(0),
    )?;
    match u32::try_from(candidate) {
        Ok(vmid) if check_vmid(vmid).is_ok() => Ok(vmid),
        _ => Err(no_free),
    }
}

fn row_to_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        key: row.get(0)?,
        text: row.get(1)?,
        digest: row.get(2)?,
        revision: row.get(3)?,
    })
}

fn current_digest(tx: &Transaction<'_>, key: &str) -> Result<Option<String>, StoreError> {
    let d = tx
        .query_row("SELECT digest FROM documents WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(d)
}

fn check_expect(key: &str, current: Option<&str>, expect: &Expect) -> Result<(), StoreError> {
    match (expect, current) {
        (Expect::Any, _) | (Expect::Absent, None) => Ok(()),
        (Expect::Absent, Some(_)) => Err(StoreError::AlreadyExists { key: key.into() }),
        (Expect::Digest(_), None) => Err(StoreError::NotFound { key: key.into() }),
        (Expect::Digest(want), Some(have)) if want.eq_ignore_ascii_case(have) => Ok(()),
        (Expect::Digest(_), Some(_)) => Err(StoreError::DigestMismatch),
    }
}

/// The (node, kind) currently holding `vmid`, if any.
fn guest_row(tx: &Transaction<'_>, vmid: u32) -> Result<Option<(String, String)>, StoreError> {
    let row = tx
        .query_row(
            "SELECT node, kind FROM guests WHERE vmid = ?1",
            [vmid],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(row)
}

/// Claim `guest.vmid` for `guest`'s config; fine if the guest already holds it, refused if
/// any other guest does.
fn register_guest(tx: &Transaction<'_>, guest: &GuestRef) -> Result<(), StoreError> {
    match guest_row(tx, guest.vmid)? {
        Some((node, kind)) if node == guest.node && kind == guest.kind.as_str() => Ok(()),
        Some(_) => Err(StoreError::VmidInUse { vmid: guest.vmid }),
        None => {
            let inserted = tx.execute(
                "INSERT INTO guests (vmid, node, kind) VALUES (?1, ?2, ?3)",
                params![guest.vmid, guest.node, guest.kind.as_str()],
            );
            match inserted {
                Ok(_) => Ok(()),
                // The primary key is the final word on uniqueness.
                Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
                    Err(StoreError::VmidInUse { vmid: guest.vmid })
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

fn write_document(
    tx: &Transaction<'_>,
    key: &str,
    text: &str,
) -> Result<(String, u64), StoreError> {
    let digest = digest(text);
    let revision = bump_revision(tx)?;
    tx.execute(
        "INSERT INTO documents (key, text, digest, revision) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET
             text = excluded.text, digest = excluded.digest, revision = excluded.revision",
        params![key, text, digest, to_sql_int(revision)?],
    )?;
    Ok((digest, revision))
}

fn to_sql_int(revision: u64) -> Result<i64, StoreError> {
    i64::try_from(revision)
        .map_err(|_| StoreError::Corrupt(format!("revision {revision} overflows")))
}

fn bump_revision(tx: &Transaction<'_>) -> Result<u64, StoreError> {
    let value: i64 = tx.query_row(
        "UPDATE meta SET value = value + 1 WHERE name = 'revision' RETURNING value",
        [],
        |r| r.get(0),
    )?;
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative revision {value}")))
}

fn parse_kind(s: &str) -> Result<GuestKind, StoreError> {
    GuestKind::from_type_str(s)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown guest kind '{s}' in guests table")))
}
