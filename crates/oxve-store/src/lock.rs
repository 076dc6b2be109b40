//! Guest locks, kept as Proxmox does: a `lock: <type>` line in the main section of the
//! guest's config. Setting and clearing are compare-and-swap updates of the config document,
//! retried when another writer got in between, so two operations can never both take a lock.
//!
//! Only the `lock:` line is touched (no full config parse), which keeps this crate
//! independent of the config types and leaves every other byte of the config as it was.

use std::fmt;

use crate::{guest_config_key, ConfigStore, Expect, GuestRef, StoreError};

/// How many times a lock update is retried after losing a digest race. Every lost race
/// means another write committed, so hitting this needs sustained heavy contention.
const MAX_ATTEMPTS: u32 = 100;

const LOCK_KEY: &str = "lock";

/// The lock types Proxmox VE uses for VMs and containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GuestLock {
    /// A backup is running.
    Backup,
    /// The guest is being cloned.
    Clone,
    /// The guest is being created or restored.
    Create,
    /// A disk operation (move, resize) is running.
    Disk,
    /// fstrim is running in the container.
    Fstrim,
    /// The guest is migrating.
    Migrate,
    /// The container's file systems are mounted on the host.
    Mounted,
    /// A snapshot rollback is running.
    Rollback,
    /// A snapshot is being taken.
    Snapshot,
    /// A snapshot is being deleted.
    SnapshotDelete,
    /// The VM was suspended to disk.
    Suspended,
    /// The VM is being suspended to disk.
    Suspending,
}

impl GuestLock {
    /// Every lock type.
    pub const ALL: [GuestLock; 12] = [
        GuestLock::Backup,
        GuestLock::Clone,
        GuestLock::Create,
        GuestLock::Disk,
        GuestLock::Fstrim,
        GuestLock::Migrate,
        GuestLock::Mounted,
        GuestLock::Rollback,
        GuestLock::Snapshot,
        GuestLock::SnapshotDelete,
        GuestLock::Suspended,
        GuestLock::Suspending,
    ];

    /// The value written after `lock:` in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestLock::Backup => "backup",
            GuestLock::Clone => "clone",
            GuestLock::Create => "create",
            GuestLock::Disk => "disk",
            GuestLock::Fstrim => "fstrim",
            GuestLock::Migrate => "migrate",
            GuestLock::Mounted => "mounted",
            GuestLock::Rollback => "rollback",
            GuestLock::Snapshot => "snapshot",
            GuestLock::SnapshotDelete => "snapshot-delete",
            GuestLock::Suspended => "suspended",
            GuestLock::Suspending => "suspending",
        }
    }

    /// The lock type written as `s` in a config.
    pub fn from_config_str(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

impl fmt::Display for GuestLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Set `lock` on `guest`. Fails with [`StoreError::Locked`] if any lock (even the same type)
/// is already set, and with [`StoreError::NotFound`] if the guest has no config.
pub async fn set_guest_lock(
    store: &dyn ConfigStore,
    guest: &GuestRef,
    lock: GuestLock,
) -> Result<(), StoreError> {
    update_config(store, guest, |text| {
        let main = MainSection::of(text);
        if let Some(found) = main.lock_value(text) {
            return Err(StoreError::Locked {
                vmid: guest.vmid,
                lock: found.to_owned(),
            });
        }
        Ok(main.with_lock(text, lock.as_str()))
    })
    .await
}

/// Remove `expected` from `guest`. Fails with [`StoreError::NoLock`] if no lock is set and
/// [`StoreError::LockMismatch`] if a different one is.
pub async fn clear_guest_lock(
    store: &dyn ConfigStore,
    guest: &GuestRef,
    expected: GuestLock,
) -> Result<(), StoreError> {
    update_config(store, guest, |text| {
        let main = MainSection::of(text);
        match main.lock_value(text) {
            None => Err(StoreError::NoLock {
                expected: expected.as_str().to_owned(),
            }),
            Some(found) if found != expected.as_str() => Err(StoreError::LockMismatch {
                expected: expected.as_str().to_owned(),
                found: found.to_owned(),
            }),
            Some(_) => Ok(main.without_lock(text)),
        }
    })
    .await
}

/// The lock currently set on `guest`, as written in its config (possibly a type this build
/// does not know). [`StoreError::NotFound`] if the guest has no config.
pub async fn guest_lock(
    store: &dyn ConfigStore,
    guest: &GuestRef,
) -> Result<Option<String>, StoreError> {
    let key = guest_config_key(guest);
    let entry = store.get(&key).await?.ok_or(StoreError::NotFound { key })?;
    Ok(MainSection::of(&entry.text)
        .lock_value(&entry.text)
        .map(str::to_owned))
}

/// Read-modify-write of `guest`'s config, retried while other writers change it in between.
async fn update_config<F>(
    store: &dyn ConfigStore,
    guest: &GuestRef,
    edit: F,
) -> Result<(), StoreError>
where
    F: Fn(&str) -> Result<String, StoreError>,
{
    let key = guest_config_key(guest);
    for _ in 0..MAX_ATTEMPTS {
        let entry = store
            .get(&key)
            .await?
            .ok_or_else(|| StoreError::NotFound { key: key.clone() })?;
        let text = edit(&entry.text)?;
        match store.put(&key, &text, Expect::Digest(entry.digest)).await {
            Ok(_) => return Ok(()),
            Err(StoreError::DigestMismatch) => tokio::task::yield_now().await,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::TooManyConflicts {
        key,
        attempts: MAX_ATTEMPTS,
    })
}

/// One line of a config: byte range of its content (without the line break) and of the
/// whole line (with it).
#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    content_end: usize,
    end: usize,
}

/// The lines of a config's main section: everything before the first `[section]` header.
struct MainSection {
    lines: Vec<Line>,
}

impl MainSection {
    fn of(text: &str) -> Self {
        let mut lines = Vec::new();
        let mut start = 0;
        for raw in text.split_inclusive('\n') {
            let content = raw.trim_end_matches(['\n', '\r']);
            if content.starts_with('[') {
                break;
            }
            lines.push(Line {
                start,
                content_end: start + content.len(),
                end: start + raw.len(),
            });
            start += raw.len();
        }
        MainSection { lines }
    }

    /// Key of a `key: value` line; `None` for comments, blank and malformed lines.
    fn key<'t>(text: &'t str, line: &Line) -> Option<&'t str> {
        let content = &text[line.start..line.content_end];
        if content.starts_with('#') {
            return None;
        }
        let (key, _) = content.split_once(':')?;
        (!key.is_empty() && !key.contains(char::is_whitespace)).then_some(key)
    }

    /// Indexes of the `lock:` lines (Proxmox lets the last one win).
    fn lock_lines<'a>(&'a self, text: &'a str) -> impl Iterator<Item = usize> + 'a {
        (0..self.lines.len()).filter(move |&i| Self::key(text, &self.lines[i]) == Some(LOCK_KEY))
    }

    /// The value of the effective `lock:` line, if it has one.
    fn lock_value<'t>(&self, text: &'t str) -> Option<&'t str> {
        let i = self.lock_lines(text).last()?;
        let line = &self.lines[i];
        let value = text[line.start..line.content_end]
            .split_once(':')
            .map(|(_, v)| v.trim())?;
        (!value.is_empty()).then_some(value)
    }

    /// `text` with a `lock: <value>` line in sorted key position (replacing an empty one).
    fn with_lock(&self, text: &str, value: &str) -> String {
        let new_line = format!("{LOCK_KEY}: {value}\n");
        let stripped = self.without_lock(text);
        let main = MainSection::of(&stripped);
        // Keys are written sorted, so the lock goes before the first larger key, or else
        // after the last non-blank line of the main section.
        let at = main
            .lines
            .iter()
            .find(|l| Self::key(&stripped, l).is_some_and(|k| k > LOCK_KEY))
            .map(|l| l.start)
            .or_else(|| {
                main.lines
                    .iter()
                    .rev()
                    .find(|l| !stripped[l.start..l.content_end].trim().is_empty())
                    .map(|l| l.end)
            })
            .unwrap_or(0);
        let mut out = String::with_capacity(stripped.len() + new_line.len() + 1);
        out.push_str(&stripped[..at]);
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&new_line);
        out.push_str(&stripped[at..]);
        out
    }

    /// `text` without any `lock:` line in the main section.
    fn without_lock(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut from = 0;
        for i in self.lock_lines(text) {
            out.push_str(&text[from..self.lines[i].start]);
            from = self.lines[i].end;
        }
        out.push_str(&text[from..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = "#my vm\n#second line\nboot: order=scsi0\ncores: 2\nmemory: 2048\nname: web\nscsi0: local:100/vm-100-disk-0.qcow2,size=8G\n\n[PENDING]\ncores: 4\n\n[snap1]\ncores: 1\nlock: snapshot\nsnaptime: 1700000000\n";

    fn set(text: &str, v: &str) -> String {
        MainSection::of(text).with_lock(text, v)
    }

    fn clear(text: &str) -> String {
        MainSection::of(text).without_lock(text)
    }

    fn lock(text: &str) -> Option<&str> {
        MainSection::of(text).lock_value(text)
    }

    #[test]
    fn lock_types_round_trip() {
        for l in GuestLock::ALL {
            assert_eq!(GuestLock::from_config_str(l.as_str()), Some(l));
        }
        assert_eq!(GuestLock::SnapshotDelete.to_string(), "snapshot-delete");
        assert_eq!(GuestLock::from_config_str("bogus"), None);
    }

    #[test]
    fn lock_goes_in_sorted_position_of_main_section() {
        assert_eq!(lock(CONF), None, "snapshot locks do not count");
        let locked = set(CONF, "backup");
        assert!(
            locked.contains("cores: 2\nlock: backup\nmemory: 2048\n"),
            "{locked}"
        );
        assert_eq!(lock(&locked), Some("backup"));
        assert_eq!(clear(&locked), CONF);
    }

    #[test]
    fn lock_appended_when_it_sorts_last() {
        let text = "#descr\nboot: c\ncores: 1\n\n[snap]\nname: x\n";
        let locked = set(text, "migrate");
        assert_eq!(
            locked,
            "#descr\nboot: c\ncores: 1\nlock: migrate\n\n[snap]\nname: x\n"
        );
        assert_eq!(clear(&locked), text);
    }

    #[test]
    fn lock_in_edge_shapes() {
        assert_eq!(set("", "create"), "lock: create\n");
        assert_eq!(set("cores: 1", "disk"), "cores: 1\nlock: disk\n");
        assert_eq!(
            set("[snap]\ncores: 1\n", "disk"),
            "lock: disk\n[snap]\ncores: 1\n"
        );
        assert_eq!(
            set("#only a comment\n", "disk"),
            "#only a comment\nlock: disk\n"
        );
        // An empty lock line counts as no lock and is replaced.
        assert_eq!(lock("cores: 1\nlock:\n"), None);
        assert_eq!(set("cores: 1\nlock:\n", "clone"), "cores: 1\nlock: clone\n");
        // CRLF and surrounding spaces are tolerated when reading.
        assert_eq!(lock("lock:   backup  \r\ncores: 1\r\n"), Some("backup"));
        // A comment that mentions a lock is not one.
        assert_eq!(lock("#lock: backup\ncores: 1\n"), None);
    }
}
