//! Snapshot bookkeeping on a container config, as Proxmox's AbstractConfig does it: a
//! snapshot is a `[name]` section holding a copy of the settings plus `snaptime`, a
//! `snapstate: prepare` while its volumes are being snapshotted, and `parent` links that
//! form the snapshot tree; `lock` guards each operation. Pure: the caller snapshots volumes.

use serde::Serialize;

use crate::config_text::Section;
use crate::qemu::formats::check_snapshot_name;

use super::config::CtConfig;
use super::devices::MountSource;

/// Why a snapshot operation cannot proceed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("CT is locked ({0})")]
    Locked(String),
    #[error("snapshot name '{0}' already used")]
    Exists(String),
    #[error("snapshot '{0}' does not exist")]
    Missing(String),
    #[error("invalid snapshot name '{0}'")]
    BadName(String),
}

/// One entry of `GET .../snapshot`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotInfo {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snaptime: Option<i64>,
}

/// The storage volumes of a settings section (rootfs and `mpN` volumes, not bind mounts).
pub fn section_volumes(section: &Section) -> Vec<(String, String)> {
    let view = CtConfig {
        current: section.clone(),
        ..Default::default()
    };
    view.mount_points()
        .into_iter()
        .filter_map(|(key, mp)| match mp.source() {
            MountSource::Volume(v) => Some((key, v)),
            _ => None,
        })
        .collect()
}

impl CtConfig {
    fn check_unlocked(&self) -> Result<(), SnapshotError> {
        match self.lock() {
            Some(l) => Err(SnapshotError::Locked(l.to_string())),
            None => Ok(()),
        }
    }

    fn snapshot_exists(&self, name: &str) -> Result<&Section, SnapshotError> {
        self.snapshots
            .get(name)
            .ok_or_else(|| SnapshotError::Missing(name.to_string()))
    }

    /// Step 1 of taking a snapshot: lock the config and record the `[name]` section in
    /// `prepare` state. Returns the volumes to snapshot.
    pub fn snapshot_prepare(
        &mut self,
        name: &str,
        description: Option<&str>,
        now: i64,
    ) -> Result<Vec<(String, String)>, SnapshotError> {
        if check_snapshot_name(name).is_err() || name == "current" || name == "vzdump" {
            return Err(SnapshotError::BadName(name.to_string()));
        }
        self.check_unlocked()?;
        if self.snapshots.contains_key(name) {
            return Err(SnapshotError::Exists(name.to_string()));
        }
        let mut snap = Section {
            description: description
                .map(str::to_string)
                .or_else(|| self.current.description.clone()),
            values: self.current.values.clone(),
            lxc: self.current.lxc.clone(),
        };
        snap.values.remove("lock");
        snap.values.insert("snapstate".into(), "prepare".into());
        snap.values.insert("snaptime".into(), now.to_string());
        let volumes = section_volumes(&snap);
        self.snapshots.insert(name.to_string(), snap);
        self.current.values.insert("lock".into(), "snapshot".into());
        Ok(volumes)
    }

    /// Step 2: the volumes are snapshotted; the snapshot becomes the current parent.
    pub fn snapshot_commit(&mut self, name: &str) {
        if let Some(s) = self.snapshots.get_mut(name) {
            s.values.remove("snapstate");
        }
        self.current
            .values
            .insert("parent".into(), name.to_string());
        self.current.values.remove("lock");
    }

    /// Undo a failed snapshot.
    pub fn snapshot_abort(&mut self, name: &str) {
        self.snapshots.remove(name);
        self.current.values.remove("lock");
    }

    /// Lock for a rollback to `name`; returns the snapshot's volumes.
    pub fn rollback_prepare(&mut self, name: &str) -> Result<Vec<(String, String)>, SnapshotError> {
        self.check_unlocked()?;
        let volumes = section_volumes(self.snapshot_exists(name)?);
        self.current.values.insert("lock".into(), "rollback".into());
        Ok(volumes)
    }

    /// The volumes are rolled back: the settings become the snapshot's, `parent` points to it.
    pub fn rollback_commit(&mut self, name: &str) -> Result<(), SnapshotError> {
        let snap = self.snapshot_exists(name)?.clone();
        let mut values = snap.values;
        values.remove("snaptime");
        values.remove("snapstate");
        values.insert("parent".into(), name.to_string());
        self.current.values = values;
        self.current.lxc = snap.lxc;
        self.pending = Section::default();
        Ok(())
    }

    /// Lock for deleting snapshot `name`; returns its volumes.
    pub fn snapshot_delete_prepare(
        &mut self,
        name: &str,
    ) -> Result<Vec<(String, String)>, SnapshotError> {
        self.check_unlocked()?;
        let volumes = section_volumes(self.snapshot_exists(name)?);
        self.current
            .values
            .insert("lock".into(), "snapshot-delete".into());
        Ok(volumes)
    }

    /// Remove snapshot `name`; its children (and the current config) inherit its parent.
    pub fn snapshot_delete_commit(&mut self, name: &str) {
        let parent = self
            .snapshots
            .remove(name)
            .and_then(|s| s.values.get("parent").cloned());
        let sections = self
            .snapshots
            .values_mut()
            .chain(std::iter::once(&mut self.current));
        for section in sections {
            if section.values.get("parent").map(String::as_str) == Some(name) {
                match &parent {
                    Some(p) => section.values.insert("parent".into(), p.clone()),
                    None => section.values.remove("parent"),
                };
            }
        }
        self.current.values.remove("lock");
    }

    /// Release an operation's lock after a failure.
    pub fn unlock(&mut self) {
        self.current.values.remove("lock");
    }

    /// `GET .../snapshot`: every snapshot, then `current` ("You are here!").
    pub fn snapshot_list(&self) -> Vec<SnapshotInfo> {
        let mut out: Vec<SnapshotInfo> = self
            .snapshots
            .iter()
            .map(|(name, s)| SnapshotInfo {
                name: name.clone(),
                parent: s.values.get("parent").cloned(),
                description: s.description.clone().unwrap_or_default(),
                snaptime: s.values.get("snaptime").and_then(|t| t.parse().ok()),
            })
            .collect();
        out.push(SnapshotInfo {
            name: "current".into(),
            parent: self.current.values.get("parent").cloned(),
            description: "You are here!".into(),
            snaptime: None,
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_rollback_delete() {
        let mut c = CtConfig::parse(
            "hostname: a\nmemory: 512\nmp0: /srv,mp=/srv\nrootfs: btrfs:100/vm-100-disk-0.raw,size=1G\n",
        )
        .unwrap();
        let vols = c
            .snapshot_prepare("s1", Some("first"), 1_700_000_000)
            .unwrap();
        assert_eq!(
            vols,
            [(
                "rootfs".to_string(),
                "btrfs:100/vm-100-disk-0.raw".to_string()
            )]
        );
        assert_eq!(c.lock(), Some("snapshot"));
        assert!(c.to_text().unwrap().contains("[s1]\n#first\n"));
        assert_eq!(
            c.snapshot_prepare("s2", None, 0).unwrap_err(),
            SnapshotError::Locked("snapshot".into())
        );
        c.snapshot_commit("s1");
        assert_eq!(c.get("parent"), Some("s1"));
        // the text round-trips through the checked parser
        let c2 = CtConfig::parse(&c.to_text().unwrap()).unwrap();
        assert_eq!(c2, c);
        c.set("memory", "1024").unwrap();
        c.snapshot_prepare("s2", None, 1_700_000_100).unwrap();
        c.snapshot_commit("s2");
        assert_eq!(c.snapshots["s2"].values["parent"], "s1");
        assert_eq!(
            c.snapshot_prepare("s2", None, 0).unwrap_err(),
            SnapshotError::Exists("s2".into())
        );
        assert!(matches!(
            c.snapshot_prepare("bad name", None, 0),
            Err(SnapshotError::BadName(_))
        ));

        c.set("memory", "2048").unwrap();
        c.rollback_prepare("s1").unwrap();
        c.rollback_commit("s1").unwrap();
        c.unlock();
        assert_eq!(c.memory_mib(), 512);
        assert_eq!(c.get("parent"), Some("s1"));
        assert!(c.snapshots.contains_key("s2"));

        c.snapshot_delete_prepare("s1").unwrap();
        c.snapshot_delete_commit("s1");
        assert!(!c.snapshots.contains_key("s1"));
        assert_eq!(c.get("parent"), None);
        assert!(!c.snapshots["s2"].values.contains_key("parent"));
        let list = c.snapshot_list();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].name, "current");
        assert_eq!(
            c.snapshot_delete_prepare("nope").unwrap_err(),
            SnapshotError::Missing("nope".into())
        );
    }
}
