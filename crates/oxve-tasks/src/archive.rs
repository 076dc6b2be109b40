//! In-memory view of the finished tasks in `index` and `index.1`, for
//! status look-ups and listing without reading files.

use std::collections::HashMap;

use crate::index::{IndexEntry, LoadedIndex};
use crate::upid::Upid;

/// Finished tasks, mirroring the index files.
#[derive(Debug, Default)]
pub(crate) struct Archive {
    rotated: Vec<IndexEntry>,
    current: Vec<IndexEntry>,
    by_upid: HashMap<Upid, (i64, String)>,
}

impl Archive {
    /// Builds the archive from the loaded index files.
    pub(crate) fn new(loaded: LoadedIndex) -> Self {
        let mut archive = Archive {
            rotated: loaded.rotated,
            current: loaded.current,
            by_upid: HashMap::new(),
        };
        for e in archive.rotated.iter().chain(&archive.current) {
            archive
                .by_upid
                .insert(e.upid.clone(), (e.endtime, e.status.clone()));
        }
        archive
    }

    /// Adds an entry that was just appended to `index`.
    pub(crate) fn push(&mut self, entry: IndexEntry) {
        self.by_upid
            .insert(entry.upid.clone(), (entry.endtime, entry.status.clone()));
        self.current.push(entry);
    }

    /// Mirrors a rotation: `index` became `index.1`, the old `index.1` is gone.
    pub(crate) fn rotate(&mut self) {
        let dropped = std::mem::replace(&mut self.rotated, std::mem::take(&mut self.current));
        for e in dropped {
            self.by_upid.remove(&e.upid);
        }
        // An entry dropped here may also be in the surviving file (recorded
        // twice); put those back.
        for e in &self.rotated {
            self.by_upid
                .entry(e.upid.clone())
                .or_insert_with(|| (e.endtime, e.status.clone()));
        }
    }

    /// End time and exit status of a finished task.
    pub(crate) fn get(&self, upid: &Upid) -> Option<(i64, &str)> {
        self.by_upid.get(upid).map(|(t, s)| (*t, s.as_str()))
    }

    /// Finished tasks, most recently finished first (Proxmox reads the
    /// index backwards).
    pub(crate) fn newest_first(&self) -> impl Iterator<Item = &IndexEntry> {
        self.current.iter().rev().chain(self.rotated.iter().rev())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(start: i64) -> IndexEntry {
        IndexEntry {
            upid: Upid::new("n", 1, 2, start, "t", "", "u@pve").unwrap(),
            endtime: start,
            status: "OK".into(),
        }
    }

    #[test]
    fn push_rotate_and_order() {
        let mut a = Archive::new(LoadedIndex {
            rotated: vec![entry(1)],
            current: vec![entry(2)],
        });
        a.push(entry(3));
        let order: Vec<i64> = a.newest_first().map(|e| e.endtime).collect();
        assert_eq!(order, vec![3, 2, 1]);
        a.rotate();
        assert!(a.get(&entry(1).upid).is_none());
        assert_eq!(a.get(&entry(3).upid), Some((3, "OK")));
        assert_eq!(a.newest_first().count(), 2);
    }
}
