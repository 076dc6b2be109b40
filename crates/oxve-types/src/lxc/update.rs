//! Config updates as pve-container's `PUT .../config` performs them: changes and deletions
//! are written to `[pve:pending]`; a stopped container applies them all at once, a running
//! one applies what can change live and keeps the rest until its next start.
//!
//! Pure bookkeeping on [`CtConfig`]; the caller frees volumes and changes cgroups.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::format::split_list;
use crate::qemu::pending::VolumeChanges;
use crate::schema::ParamErrors;

use super::config::{next_unused_key, CtConfig};
use super::devices::{CtNet, MountPoint, MountSource};
use super::keys::{self, check_value, is_mount_key, split_indexed};

/// Keys that change nothing in a running container and apply at once (Proxmox's fast-plug
/// options).
pub const FASTPLUG_KEYS: &[&str] = &[
    "description",
    "onboot",
    "startup",
    "protection",
    "tags",
    "hookscript",
    "lock",
    "cmode",
];

/// Keys a running container applies live through its cgroups.
pub const CGROUP_KEYS: &[&str] = &["memory", "swap", "cores", "cpulimit", "cpuunits"];

/// A config change request: `PUT .../config` minus node, vmid, digest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CtUpdate {
    pub set: BTreeMap<String, String>,
    pub delete: Vec<String>,
    pub revert: Vec<String>,
}

/// Why an update cannot be staged or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CtUpdateError {
    #[error("CT is locked ({0})")]
    Locked(String),
    #[error("Parameter verification failed.")]
    Param(ParamErrors),
    #[error("{0}")]
    Failed(String),
}

const CONTROL_PARAMS: &[&str] = &["node", "vmid", "digest", "delete", "revert", "lxc"];

fn param_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(b) => u8::from(*b).to_string(),
        other => other.to_string(),
    }
}

fn param_error(key: &str, message: impl Into<String>) -> CtUpdateError {
    CtUpdateError::Param(ParamErrors::from([(key.to_string(), message.into())]))
}

impl CtUpdate {
    /// Build from validated parameters, with Proxmox's consistency checks.
    pub fn from_params(params: &Map<String, Value>) -> Result<Self, CtUpdateError> {
        let mut errors = ParamErrors::new();
        let mut update = CtUpdate::default();
        for (key, value) in params {
            if !CONTROL_PARAMS.contains(&key.as_str()) {
                update.set.insert(key.clone(), param_text(value));
            }
        }
        let list = |name: &str| -> Vec<String> {
            params
                .get(name)
                .map(|v| split_list(&param_text(v)).map(str::to_string).collect())
                .unwrap_or_default()
        };
        for opt in list("revert") {
            if !keys::is_known_key(&opt) {
                errors.insert("revert".into(), format!("unknown option '{opt}'"));
            } else if update.set.contains_key(&opt) {
                errors.insert(
                    "revert".into(),
                    format!("you can't use '-{opt}' and '-revert {opt}' at the same time"),
                );
            }
            update.revert.push(opt);
        }
        // `delete=lxc` (all raw keys) is handled by the caller
        for opt in list("delete").into_iter().filter(|o| o != "lxc") {
            if update.set.contains_key(&opt) {
                errors.insert(
                    "delete".into(),
                    format!("you can't use '-{opt}' and -delete {opt}' at the same time"),
                );
            } else if update.revert.contains(&opt) {
                errors.insert(
                    "revert".into(),
                    format!("you can't use '-delete {opt}' and '-revert {opt}' at the same time"),
                );
            } else if opt == "rootfs" {
                errors.insert(
                    "delete".into(),
                    format!("unable to delete required option '{opt}'"),
                );
            } else if !keys::is_known_key(&opt) {
                errors.insert("delete".into(), format!("unknown option '{opt}'"));
            }
            update.delete.push(opt);
        }
        if !errors.is_empty() {
            return Err(CtUpdateError::Param(errors));
        }
        let raw_lxc = params.contains_key("lxc") || list("delete").iter().any(|o| o == "lxc");
        if update.set.is_empty() && update.delete.is_empty() && update.revert.is_empty() && !raw_lxc
        {
            return Err(CtUpdateError::Failed("no options specified".into()));
        }
        Ok(update)
    }

    /// Give every NIC being set a MAC address if it has none.
    pub fn fill_missing_macs(&mut self, mut generate: impl FnMut() -> String) {
        for (key, value) in self.set.iter_mut() {
            if !matches!(split_indexed(key), Some(("net", _))) {
                continue;
            }
            if let Ok(mut nic) = CtNet::parse(value) {
                if nic.ensure_hwaddr(&mut generate) {
                    *value = nic.print();
                }
            }
        }
    }
}

impl CtConfig {
    /// Fail if the container is locked.
    pub fn check_lock(&self) -> Result<(), CtUpdateError> {
        match self.lock() {
            Some(lock) => Err(CtUpdateError::Locked(lock.to_string())),
            None => Ok(()),
        }
    }

    /// Write an update into `[pve:pending]`; returns non-fatal warnings.
    pub fn stage_update(&mut self, update: &CtUpdate) -> Result<Vec<String>, CtUpdateError> {
        let mut warnings = Vec::new();
        let mut deletes = self.pending.pending_deletes();
        for key in &update.revert {
            self.pending.values.remove(key);
            if key == "description" {
                self.pending.description = None;
            }
            deletes.remove(key);
        }
        for key in &update.delete {
            if self.protection() && is_mount_key(key) {
                return Err(CtUpdateError::Failed(format!(
                    "can't remove CT {key} - protection mode enabled"
                )));
            }
            let present = self.contains(key)
                || self.pending.values.contains_key(key)
                || (key == "description" && self.pending.description.is_some());
            if !present {
                warnings.push(format!(
                    "cannot delete '{key}' - not set in current configuration!"
                ));
                continue;
            }
            self.pending.values.remove(key);
            if key == "description" {
                self.pending.description = None;
            }
            deletes.insert(key.clone(), false);
        }
        for (key, value) in &update.set {
            if key == "rootfs" && self.contains("rootfs") {
                let same = MountPoint::parse(key, value).ok().map(|m| m.volume())
                    == self.rootfs().map(|r| r.volume());
                if !same {
                    return Err(param_error(
                        key,
                        "changing the root file system volume is not supported",
                    ));
                }
            }
            let value = check_value(key, value).map_err(|m| param_error(key, m))?;
            if key == "description" {
                self.pending.description = Some(value);
            } else {
                self.pending.values.insert(key.clone(), value);
            }
            deletes.remove(key);
        }
        self.pending.set_pending_deletes(&deletes);
        Ok(warnings)
    }

    /// Apply the pending changes whose key `select` accepts (all of them for a stopped
    /// container). A replaced or deleted volume mount point becomes `unusedN`; a deleted
    /// `unusedN` volume is returned to be freed.
    pub fn apply_pending(&mut self, select: impl Fn(&str) -> bool) -> VolumeChanges {
        let mut changes = VolumeChanges::default();
        let mut deletes = self.pending.pending_deletes();
        let to_delete: Vec<String> = deletes.keys().filter(|k| select(k)).cloned().collect();
        for key in to_delete {
            deletes.remove(&key);
            let old = self.remove(&key);
            if let Some(old) = old {
                self.detach_volume(&key, &old, &mut changes);
            }
        }
        self.pending.set_pending_deletes(&deletes);
        if self.pending.description.is_some() && select("description") {
            self.current.description = self.pending.description.take();
        }
        let keys: Vec<String> = self
            .pending
            .values
            .keys()
            .filter(|k| *k != "delete" && select(k))
            .cloned()
            .collect();
        for key in keys {
            let Some(value) = self.pending.values.remove(&key) else {
                continue;
            };
            if let Some(old) = self.current.values.insert(key.clone(), value.clone()) {
                let old_vol = MountPoint::parse(&key, &old).ok().map(|m| m.volume());
                let new_vol = MountPoint::parse(&key, &value).ok().map(|m| m.volume());
                if is_mount_key(&key) && old_vol != new_vol {
                    self.detach_volume(&key, &old, &mut changes);
                }
            }
        }
        changes
    }

    /// Keep a removed mount point's volume as `unusedN`, or free a removed `unusedN`.
    fn detach_volume(&mut self, key: &str, old: &str, changes: &mut VolumeChanges) {
        if matches!(split_indexed(key), Some(("unused", _))) {
            if let Ok(v) = crate::qemu::psformats::unused_format().parse(old) {
                if let Some(volid) = v.get("file").and_then(Value::as_str) {
                    changes.to_free.push(volid.to_string());
                }
            }
            return;
        }
        if !is_mount_key(key) {
            return;
        }
        if let Ok(mp) = MountPoint::parse(key, old) {
            if let MountSource::Volume(volid) = mp.source() {
                if let Some(unused) = next_unused_key(&self.current) {
                    self.current.values.insert(unused.clone(), volid.clone());
                    changes.unused_added.push((unused, volid));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn from_params_checks_conflicts() {
        let e =
            CtUpdate::from_params(&params(json!({"memory": 256, "delete": "memory"}))).unwrap_err();
        assert!(matches!(e, CtUpdateError::Param(ref p) if p.contains_key("delete")));
        let e = CtUpdate::from_params(&params(json!({"delete": "rootfs"}))).unwrap_err();
        assert!(matches!(e, CtUpdateError::Param(ref p) if p["delete"].contains("rootfs")));
        let e = CtUpdate::from_params(&params(json!({"node": "n", "vmid": 100}))).unwrap_err();
        assert_eq!(e.to_string(), "no options specified");
        let mut u =
            CtUpdate::from_params(&params(json!({"net0": "name=eth0,bridge=vmbr0"}))).unwrap();
        u.fill_missing_macs(|| "BC:24:11:01:02:03".into());
        assert_eq!(
            u.set["net0"],
            "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:01:02:03"
        );
    }

    #[test]
    fn stage_and_apply() {
        let mut c = CtConfig::parse(
            "hostname: a\nmemory: 512\nmp0: local:100/vm-100-disk-1.raw,mp=/srv\nrootfs: local:100/vm-100-disk-0.raw,size=1G\nunused0: local:100/vm-100-disk-5.raw\n",
        )
        .unwrap();
        let u = CtUpdate::from_params(&params(json!({
            "memory": 1024, "hostname": "b", "description": "hi", "delete": "mp0,unused0,swap"
        })))
        .unwrap();
        let warnings = c.stage_update(&u).unwrap();
        assert_eq!(
            warnings,
            ["cannot delete 'swap' - not set in current configuration!"]
        );
        assert!(c
            .to_text()
            .unwrap()
            .contains("[pve:pending]\n#hi\ndelete: mp0,unused0\n"));
        // a running container: only cgroup and fast-plug keys now
        let changes = c.apply_pending(|k| CGROUP_KEYS.contains(&k) || FASTPLUG_KEYS.contains(&k));
        assert!(changes.to_free.is_empty());
        assert_eq!(c.memory_mib(), 1024);
        assert_eq!(c.get("description"), Some("hi"));
        assert_eq!(c.hostname(), Some("a"));
        let changes = c.apply_pending(|_| true);
        assert_eq!(c.hostname(), Some("b"));
        assert_eq!(changes.to_free, ["local:100/vm-100-disk-5.raw"]);
        assert_eq!(
            changes.unused_added,
            [(
                "unused1".to_string(),
                "local:100/vm-100-disk-1.raw".to_string()
            )]
        );
        assert!(c.pending.is_empty());
        assert!(!c.contains("mp0"));
    }

    #[test]
    fn protection_and_rootfs_rules() {
        let mut c = CtConfig::parse("protection: 1\nmp0: local:100/vm-100-disk-1.raw,mp=/srv\nrootfs: local:100/vm-100-disk-0.raw\n").unwrap();
        let u = CtUpdate::from_params(&params(json!({"delete": "mp0"}))).unwrap();
        assert!(c
            .stage_update(&u)
            .unwrap_err()
            .to_string()
            .contains("protection mode enabled"));
        let u = CtUpdate::from_params(&params(
            json!({"rootfs": "local:100/vm-100-disk-0.raw,size=2G"}),
        ))
        .unwrap();
        c.stage_update(&u).unwrap();
        let u = CtUpdate::from_params(&params(json!({"rootfs": "local:100/other.raw"}))).unwrap();
        assert!(matches!(c.stage_update(&u), Err(CtUpdateError::Param(_))));
        let u = CtUpdate::from_params(&params(json!({"memory": 1}))).unwrap();
        assert!(matches!(c.stage_update(&u), Err(CtUpdateError::Param(_))));
    }
}
