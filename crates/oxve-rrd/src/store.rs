//! The series of a node: one [`Rrd`] per key (`node/pve1`, `qemu/100`, `storage/pve1/local`),
//! loaded from `<dir>/<key>.rrd` on first use and written back by [`RrdStore::flush`] (each
//! file replaced atomically, only those that changed).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::archive::{Cf, Fetched, Rrd, Timeframe};
use crate::{codec, RrdError};

struct Series {
    rrd: Rrd,
    dirty: bool,
}

/// Every series of the node, in memory, backed by files under one directory.
pub struct RrdStore {
    dir: PathBuf,
    series: Mutex<HashMap<String, Series>>,
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
}

impl RrdStore {
    /// Series under `dir` (created on the first flush).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        RrdStore {
            dir: dir.into(),
            series: Mutex::new(HashMap::new()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.rrd"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Series>> {
        self.series.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The stored series of `key`, if its file exists and has these sources.
    fn load(&self, key: &str, sources: Option<&[&str]>) -> Option<Rrd> {
        let data = std::fs::read(self.path(key)).ok()?;
        let rrd = codec::decode(&data)?;
        match sources {
            Some(s) if !rrd.has_sources(s) => None,
            _ => Some(rrd),
        }
    }

    /// Add a sample of `key`, whose data sources are `sources` (a series stored with other
    /// sources starts anew). `values` pairs with `sources`.
    pub fn update(
        &self,
        key: &str,
        sources: &[&str],
        time: u64,
        values: &[Option<f64>],
    ) -> Result<(), RrdError> {
        if !valid_key(key) {
            return Err(RrdError::Key(key.to_string()));
        }
        let mut map = self.lock();
        if !map.get(key).is_some_and(|s| s.rrd.has_sources(sources)) {
            let rrd = self
                .load(key, Some(sources))
                .unwrap_or_else(|| Rrd::new(sources));
            map.insert(key.to_string(), Series { rrd, dirty: false });
        }
        if let Some(series) = map.get_mut(key) {
            series.rrd.update(time, values);
            series.dirty = true;
        }
        Ok(())
    }

    /// The points of `key` for a timeframe; `None` when there is no such series.
    pub fn fetch(&self, key: &str, tf: Timeframe, cf: Cf, now: u64) -> Option<Fetched> {
        if !valid_key(key) {
            return None;
        }
        let mut map = self.lock();
        if !map.contains_key(key) {
            let rrd = self.load(key, None)?;
            map.insert(key.to_string(), Series { rrd, dirty: false });
        }
        map.get(key).map(|s| s.rrd.fetch(tf, cf, now))
    }

    /// Write every changed series to disk. Returns how many were written.
    pub fn flush(&self) -> Result<usize, RrdError> {
        let dirty: Vec<(String, Vec<u8>)> = {
            let mut map = self.lock();
            map.iter_mut()
                .filter(|(_, s)| s.dirty)
                .map(|(k, s)| {
                    s.dirty = false;
                    (k.clone(), codec::encode(&s.rrd))
                })
                .collect()
        };
        for (key, bytes) in &dirty {
            let path = self.path(key);
            let write_err = |source| RrdError::Write {
                path: path.display().to_string(),
                source,
            };
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(write_err)?;
            }
            let tmp = path.with_extension("rrd.tmp");
            std::fs::write(&tmp, bytes).map_err(write_err)?;
            std::fs::rename(&tmp, &path).map_err(write_err)?;
        }
        Ok(dirty.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let t = 1_700_000_000;
        {
            let store = RrdStore::new(dir.path());
            store
                .update("qemu/100", &["cpu", "mem"], t, &[Some(0.5), Some(1e9)])
                .unwrap();
            store
                .update("node/pve1", &["cpu"], t, &[Some(0.1)])
                .unwrap();
            assert_eq!(store.flush().unwrap(), 2);
            assert_eq!(store.flush().unwrap(), 0, "nothing changed since");
        }
        assert!(dir.path().join("qemu/100.rrd").is_file());
        let store = RrdStore::new(dir.path());
        let f = store
            .fetch("qemu/100", Timeframe::Hour, Cf::Average, t)
            .unwrap();
        assert_eq!(f.sources, ["cpu", "mem"]);
        assert_eq!(f.points.last().unwrap().1, [Some(0.5), Some(1e9)]);
        assert!(store
            .fetch("qemu/101", Timeframe::Hour, Cf::Average, t)
            .is_none());
        // New sources: the series starts anew.
        store
            .update("qemu/100", &["cpu"], t + 60, &[Some(0.7)])
            .unwrap();
        let f = store
            .fetch("qemu/100", Timeframe::Hour, Cf::Average, t + 60)
            .unwrap();
        assert_eq!(f.sources, ["cpu"]);
    }

    #[test]
    fn keys_stay_inside_the_directory() {
        let store = RrdStore::new("/nonexistent");
        for key in ["", "../etc/passwd", "qemu//1", "a/./b", "x y"] {
            assert!(store.update(key, &["x"], 1, &[None]).is_err(), "{key:?}");
            assert!(store.fetch(key, Timeframe::Hour, Cf::Max, 1).is_none());
        }
    }
}
