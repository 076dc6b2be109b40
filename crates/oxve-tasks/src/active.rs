//! The `active` file: UPIDs of the tasks running right now, one per line.
//!
//! It is rewritten atomically whenever a task starts or ends. A UPID found
//! in it when a task manager starts belongs to a daemon that died while the
//! task ran.

use std::io;
use std::path::{Path, PathBuf};

use crate::fsutil::write_atomic;
use crate::upid::Upid;

/// Path of the active list in `task_dir`.
pub(crate) fn active_path(task_dir: &Path) -> PathBuf {
    task_dir.join("active")
}

/// Reads the active list; a missing file is an empty list and unparsable
/// lines are skipped.
pub(crate) fn read_active(path: &Path) -> io::Result<Vec<Upid>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect())
}

/// Replaces the active list with `upids` (crash-safe).
pub(crate) fn write_active<'a>(
    path: &Path,
    upids: impl IntoIterator<Item = &'a Upid>,
) -> io::Result<()> {
    let mut text = String::new();
    for upid in upids {
        text.push_str(&upid.to_string());
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = active_path(dir.path());
        assert!(read_active(&path).unwrap().is_empty());
        let a = Upid::new("n", 1, 2, 3, "t", "1", "u@pve").unwrap();
        let b = Upid::new("n", 1, 2, 4, "t", "", "u@pve").unwrap();
        write_active(&path, [&a, &b]).unwrap();
        assert_eq!(read_active(&path).unwrap(), vec![a.clone(), b]);
        std::fs::write(&path, format!("junk\n{a}\n\n")).unwrap();
        assert_eq!(read_active(&path).unwrap(), vec![a]);
    }
}
