//! The archive index of finished tasks: `<task_dir>/index` (newest at the
//! end) and the rotated `<task_dir>/index.1`, in Proxmox' line format
//! `<UPID> <endtime 8 hex> <exit status>`.
//!
//! Crash safety: the index is append-only. Each append is one `write` of
//! whole lines followed by `fsync`. A crash during an append can leave a
//! torn last line without newline; opening the index cuts it off (the task
//! is then still in the `active` list and is recovered from its log).
//! Rotation is a `rename` of `index` to `index.1` (replacing the previous
//! `index.1`), which is atomic.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::fsutil::sync_dir;
use crate::upid::Upid;

/// One finished task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    /// The task.
    pub upid: Upid,
    /// When it ended (epoch seconds).
    pub endtime: i64,
    /// Its exit status (one line).
    pub status: String,
}

impl IndexEntry {
    /// The entry as an index line, newline included.
    fn to_line(&self) -> String {
        let endtime = self.endtime.clamp(0, i64::from(u32::MAX));
        format!("{} {:08X} {}\n", self.upid, endtime, self.status)
    }

    /// Parses an index line (without newline).
    fn parse(line: &str) -> Option<Self> {
        let mut parts = line.splitn(3, ' ');
        let upid = parts.next()?.parse().ok()?;
        let endtime = parts.next()?;
        if endtime.len() != 8 {
            return None;
        }
        let endtime = i64::from_str_radix(endtime, 16).ok()?;
        let status = parts.next().filter(|s| !s.is_empty())?.to_string();
        Some(IndexEntry {
            upid,
            endtime,
            status,
        })
    }
}

/// Entries loaded from disk when the index is opened.
#[derive(Debug, Default)]
pub(crate) struct LoadedIndex {
    /// Entries of `index.1`, oldest first.
    pub rotated: Vec<IndexEntry>,
    /// Entries of `index`, oldest first.
    pub current: Vec<IndexEntry>,
}

/// Appender of the index file.
#[derive(Debug)]
pub(crate) struct IndexFile {
    path: PathBuf,
    file: File,
    size: u64,
    rotate_bytes: u64,
}

impl IndexFile {
    /// Opens (creating it if needed) the index in `task_dir`, repairs a torn
    /// last line and loads all entries. The index is rotated once it grows
    /// beyond `rotate_bytes`.
    pub(crate) fn open(task_dir: &Path, rotate_bytes: u64) -> io::Result<(Self, LoadedIndex)> {
        let path = task_dir.join("index");
        let rotated = read_entries(&task_dir.join("index.1"))?;
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let mut raw = Vec::new();
        file.read_to_end(&mut raw)?;
        let keep = raw.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if keep < raw.len() {
            file.set_len(keep as u64)?;
            file.sync_all()?;
            raw.truncate(keep);
        }
        let current = parse_entries(&raw);
        let index = IndexFile {
            path,
            file,
            size: keep as u64,
            rotate_bytes,
        };
        Ok((index, LoadedIndex { rotated, current }))
    }

    /// Appends entries durably. Returns `true` when the index was rotated
    /// afterwards (the entries so far now live in `index.1`).
    pub(crate) fn append(&mut self, entries: &[IndexEntry]) -> io::Result<bool> {
        if entries.is_empty() {
            return Ok(false);
        }
        let text: String = entries.iter().map(IndexEntry::to_line).collect();
        self.file.write_all(text.as_bytes())?;
        self.file.sync_data()?;
        self.size += text.len() as u64;
        if self.size <= self.rotate_bytes {
            return Ok(false);
        }
        let rotated = self.path.with_file_name("index.1");
        std::fs::rename(&self.path, &rotated)?;
        self.file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.path)?;
        self.size = 0;
        sync_dir(self.path.parent().unwrap_or(Path::new(".")))?;
        Ok(true)
    }
}

fn read_entries(path: &Path) -> io::Result<Vec<IndexEntry>> {
    match std::fs::read(path) {
        Ok(raw) => Ok(parse_entries(&raw)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Parses complete lines, skipping malformed ones.
fn parse_entries(raw: &[u8]) -> Vec<IndexEntry> {
    raw.split(|b| *b == b'\n')
        .filter_map(|line| std::str::from_utf8(line).ok())
        .filter_map(IndexEntry::parse)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(start: i64, status: &str) -> IndexEntry {
        IndexEntry {
            upid: Upid::new("n", 1, 2, start, "t", "1", "u@pve").unwrap(),
            endtime: start + 1,
            status: status.to_string(),
        }
    }

    #[test]
    fn line_format_is_proxmox() {
        let e = entry(0x10, "WARNINGS: 2");
        assert_eq!(e.to_line(), format!("{} 00000011 WARNINGS: 2\n", e.upid));
        assert_eq!(IndexEntry::parse(e.to_line().trim_end()), Some(e));
        assert_eq!(IndexEntry::parse("UPID:x 00000001 OK"), None);
        assert_eq!(
            IndexEntry::parse(&format!("{} 1 OK", entry(1, "OK").upid)),
            None
        );
    }

    #[test]
    fn append_reload_and_repair_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let (mut idx, loaded) = IndexFile::open(dir.path(), 1 << 20).unwrap();
        assert!(loaded.current.is_empty());
        idx.append(&[entry(1, "OK"), entry(2, "failed: x y")])
            .unwrap();
        drop(idx);
        let path = dir.path().join("index");
        let mut raw = std::fs::read(&path).unwrap();
        raw.extend_from_slice(b"UPID:n:0000");
        std::fs::write(&path, &raw).unwrap();

        let (mut idx, loaded) = IndexFile::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(
            loaded.current,
            vec![entry(1, "OK"), entry(2, "failed: x y")]
        );
        idx.append(&[entry(3, "OK")]).unwrap();
        let (_, loaded) = IndexFile::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(loaded.current.len(), 3);
    }

    #[test]
    fn rotation_keeps_one_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let (mut idx, _) = IndexFile::open(dir.path(), 100).unwrap();
        assert!(!idx.append(&[entry(1, "OK")]).unwrap());
        assert!(idx.append(&[entry(2, "OK")]).unwrap());
        idx.append(&[entry(3, "OK")]).unwrap();
        let (_, loaded) = IndexFile::open(dir.path(), 100).unwrap();
        assert_eq!(loaded.rotated.len(), 2);
        assert_eq!(loaded.current, vec![entry(3, "OK")]);
    }
}
