//! Config updates as Proxmox VE's `PUT/POST .../config` performs them: changes and deletions
//! are first written to `[PENDING]`; a stopped VM then applies them all, a running VM applies
//! what it can hot-plug (per the `hotplug` option, default `network,disk,usb`) and keeps the
//! rest pending until the next start.
//!
//! Everything here is pure bookkeeping on [`VmConfig`]; the caller performs the actions that
//! touch QEMU or storage (plug a device, free a volume) and reports back.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::format::split_list;
use crate::schema::ParamErrors;

use super::boot::BootOrder;
use super::config::VmConfig;
use super::drive::{volume_owner, Drive};
use super::formats::unique_tags;
use super::keys::{self, check_value, split_indexed};
use super::memory::Memory;
use super::net::NetDevice;
use super::psformats;

/// A config change request: `PUT/POST .../config` minus node, vmid, digest, skiplock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigUpdate {
    /// Keys to set, values as text.
    pub set: BTreeMap<String, String>,
    /// Keys to remove.
    pub delete: Vec<String>,
    /// Pending changes to drop.
    pub revert: Vec<String>,
    /// Free removed disks instead of keeping them as `unusedN`.
    pub force: bool,
}

/// Parameters of the update call that are not config keys.
const CONTROL_PARAMS: &[&str] = &[
    "node",
    "vmid",
    "digest",
    "skiplock",
    "background_delay",
    "import-working-storage",
    "delete",
    "revert",
    "force",
];

fn param_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(b) => u8::from(*b).to_string(),
        other => other.to_string(),
    }
}

impl ConfigUpdate {
    /// Build from validated request parameters, with Proxmox's consistency checks (a key may
    /// not be set and deleted, or deleted and reverted, at once).
    pub fn from_params(params: &Map<String, Value>) -> Result<Self, UpdateError> {
        let mut errors = ParamErrors::new();
        let mut update = ConfigUpdate {
            force: params.get("force").is_some_and(|v| param_text(v) == "1"),
            ..Default::default()
        };
        for (key, value) in params {
            if CONTROL_PARAMS.contains(&key.as_str()) {
                continue;
            }
            let mut text = param_text(value);
            let mut key = key.clone();
            if key == "cdrom" {
                key = "ide2".into();
                if !text.contains("media=") {
                    text.push_str(",media=cdrom");
                }
            }
            update.set.insert(key, text);
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
                    "delete".into(),
                    format!("you can't use '-{opt}' and -revert {opt}' at the same time"),
                );
            }
            update.revert.push(opt);
        }
        for opt in list("delete") {
            let opt = if opt == "cdrom" {
                "ide2".to_string()
            } else {
                opt
            };
            if update.set.contains_key(&opt) {
                errors.insert(
                    "delete".into(),
                    format!("you can't use '-{opt}' and -delete {opt}' at the same time"),
                );
            } else if update.revert.contains(&opt) {
                errors.insert(
                    "revert".into(),
                    format!("you can't use '-delete {opt}' and -revert {opt}' at the same time"),
                );
            } else if !keys::is_known_key(&opt) {
                errors.insert("delete".into(), format!("unknown option '{opt}'"));
            }
            update.delete.push(opt);
        }
        if !errors.is_empty() {
            return Err(UpdateError::Param(errors));
        }
        if update.set.is_empty() && update.delete.is_empty() && update.revert.is_empty() {
            return Err(UpdateError::Failed("no options specified".into()));
        }
        Ok(update)
    }

    /// Give every NIC being set a MAC address if it has none (Proxmox does this on every
    /// update), using `generate` for new addresses.
    pub fn fill_missing_macs(&mut self, mut generate: impl FnMut() -> String) {
        for (key, value) in self.set.iter_mut() {
            if !matches!(split_indexed(key), Some(("net", _))) {
                continue;
            }
            if let Ok(mut nic) = NetDevice::parse(value) {
                if nic.ensure_mac(&mut generate) {
                    *value = nic.print();
                }
            }
        }
    }
}

/// Why an update cannot be staged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// The VM is locked by another operation.
    #[error("VM is locked ({0})")]
    Locked(String),
    /// `protection` forbids removing something.
    #[error("{0} - protection mode enabled")]
    Protected(String),
    /// A parameter is invalid (keyed like schema errors).
    #[error("Parameter verification failed.")]
    Param(ParamErrors),
    /// Another failed precondition.
    #[error("{0}")]
    Failed(String),
}

fn param_error(key: &str, message: impl Into<String>) -> UpdateError {
    UpdateError::Param(ParamErrors::from([(key.to_string(), message.into())]))
}

/// Volumes affected by applying changes: the caller frees `to_free` on storage;
/// `unused_added` were detached into `unusedN` keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeChanges {
    pub to_free: Vec<String>,
    pub unused_added: Vec<(String, String)>,
}

impl VolumeChanges {
    pub(super) fn merge(&mut self, other: VolumeChanges) {
        self.to_free.extend(other.to_free);
        self.unused_added.extend(other.unused_added);
    }
}

/// What staging an update did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageOutcome {
    /// Keys the request touched (Proxmox's `$modified`), for selective hot-plugging.
    pub modified: BTreeSet<String>,
    /// Volumes removed right away (`unusedN`, `vmstate`) or detached.
    pub volumes: VolumeChanges,
    /// Non-fatal notes ("cannot delete 'x' - not set in current configuration!").
    pub warnings: Vec<String>,
}

impl VmConfig {
    /// Fail if the VM is locked (unless `skiplock`).
    pub fn check_lock(&self) -> Result<(), UpdateError> {
        match self.lock() {
            Some(lock) => Err(UpdateError::Locked(lock.to_string())),
            None => Ok(()),
        }
    }

    /// Fail with `what` if `protection` is set.
    pub fn check_protection(&self, what: &str) -> Result<(), UpdateError> {
        if self.protection() {
            Err(UpdateError::Protected(what.to_string()))
        } else {
            Ok(())
        }
    }

    /// Record `volid` as `unusedN` (lowest free N) unless it is already there.
    pub fn add_unused_volume(&mut self, volid: &str) -> Result<Option<String>, UpdateError> {
        let mut free = None;
        for i in (0..256).rev() {
            let key = format!("unused{i}");
            match self.current.get(&key) {
                Some(v) if v == volid => return Ok(None),
                Some(_) => {}
                None => free = Some(key),
            }
        }
        let key = free.ok_or_else(|| {
            UpdateError::Failed("Too many unused volumes - please delete them first.".into())
        })?;
        self.current.insert_checked(&key, volid.to_string());
        Ok(Some(key))
    }

    /// A drive that leaves the config: cloud-init drives are freed, owned disks kept as
    /// `unusedN`, CD-ROMs and foreign volumes just dropped.
    pub(super) fn register_unused(
        &mut self,
        vmid: u32,
        drive: &Drive,
    ) -> Result<VolumeChanges, UpdateError> {
        let mut changes = VolumeChanges::default();
        let Some(volid) = drive.volume_id() else {
            return Ok(changes);
        };
        if drive.is_cloudinit() {
            changes.to_free.push(volid.to_string());
        } else if !drive.is_cdrom() && volume_owner(volid) == Some(vmid) {
            if let Some(key) = self.add_unused_volume(volid)? {
                changes.unused_added.push((key, volid.to_string()));
            }
        }
        Ok(changes)
    }

    /// Detach a drive being deleted: freed with `force`, else kept as unused.
    pub(super) fn delete_or_detach(
        &mut self,
        vmid: u32,
        key: &str,
        force: bool,
    ) -> Result<VolumeChanges, UpdateError> {
        let Some(drive) = self.current.drive(key) else {
            return Ok(VolumeChanges::default());
        };
        if force {
            let mut changes = VolumeChanges::default();
            if let Some(volid) = drive.volume_id() {
                let cdrom = drive.is_cdrom() && !drive.is_cloudinit();
                if !cdrom && volume_owner(volid) == Some(vmid) {
                    self.check_volume_unused(key, volid)?;
                    changes.to_free.push(volid.to_string());
                }
            }
            Ok(changes)
        } else {
            self.register_unused(vmid, &drive)
        }
    }

    /// Fail if `volid` is still used by another drive or a snapshot.
    fn check_volume_unused(&self, skip_key: &str, volid: &str) -> Result<(), UpdateError> {
        let used = |s: &super::config::VmSettings, skip: Option<&str>| {
            s.drives()
                .iter()
                .any(|d| Some(d.key().as_str()) != skip && !d.is_cdrom() && d.file == volid)
        };
        if used(&self.current, Some(skip_key)) || self.snapshots.values().any(|s| used(s, None)) {
            return Err(UpdateError::Failed(format!(
                "unable to delete '{volid}' - volume is still in use (snapshot?)"
            )));
        }
        Ok(())
    }

    fn pending_boot_list(&self) -> Vec<String> {
        self.current
            .get("boot")
            .and_then(|b| BootOrder::parse(b).ok())
            .and_then(|b| b.order)
            .unwrap_or_default()
    }

    fn add_pending_delete(&mut self, key: &str, force: bool) {
        let mut d = self.pending.pending_deletes();
        d.insert(key.to_string(), force);
        self.pending.set_pending_deletes(&d);
    }

    pub(super) fn remove_pending_delete(&mut self, key: &str) {
        let mut d = self.pending.pending_deletes();
        if d.remove(key).is_some() {
            self.pending.set_pending_deletes(&d);
        }
    }

    pub(super) fn pending_value(&self, key: &str) -> Option<&str> {
        if key == "description" {
            self.pending.description.as_deref()
        } else {
            self.pending.values.get(key).map(String::as_str)
        }
    }

    pub(super) fn take_pending_value(&mut self, key: &str) -> Option<String> {
        if key == "description" {
            self.pending.description.take()
        } else {
            self.pending.values.remove(key)
        }
    }

    /// Write an update into `[PENDING]` as Proxmox does before applying anything: deletions
    /// go to the delete list (`unusedN`, `vmstate` and `tags` are removed at once), values to
    /// pending, the boot order follows removed and added devices, and pending entries equal
    /// to the current value are dropped.
    ///
    /// Values must be storable as they are: `STORAGE:SIZE` requests and `import-from` must
    /// already be replaced by the allocated volume, and NICs should have a MAC
    /// ([`ConfigUpdate::fill_missing_macs`]).
    pub fn stage_update(
        &mut self,
        vmid: u32,
        update: &ConfigUpdate,
    ) -> Result<StageOutcome, UpdateError> {
        let mut out = StageOutcome::default();
        let mut set = update.set.clone();
        let mut delete = update.delete.clone();
        for (key, value) in set.iter_mut() {
            if key == "description" {
                continue;
            }
            if keys::is_drive_key(key) {
                let drive = Drive::parse_with_alloc(key, value)
                    .map_err(|e| param_error(key, e.to_string()))?;
                if drive.alloc_request().is_some() || drive.import_from.is_some() {
                    return Err(param_error(
                        key,
                        "disk allocation or import must be resolved before staging",
                    ));
                }
            }
            *value = check_value(key, value, false).map_err(|e| param_error(key, e))?;
        }
        if delete.iter().any(|k| k == "vmstate") && self.lock() == Some("suspended") {
            delete.push("lock".into());
            for key in ["runningmachine", "runningcpu", "running-nets-host-mtu"] {
                if self.current.contains(key) {
                    delete.push(key.into());
                }
            }
        }
        for key in &update.revert {
            if let Some(v) = self.current.get_any(key) {
                set.insert(key.clone(), v.to_string());
            } else if self.pending_value(key).is_some() {
                delete.push(key.clone());
            }
        }
        if set.contains_key("memory") || set.contains_key("balloon") {
            let memory = set
                .get("memory")
                .map(String::as_str)
                .or(self.pending_value("memory"))
                .or(self.current.get("memory"))
                .and_then(|m| Memory::parse(m).ok())
                .unwrap_or_default();
            let balloon: u64 = set
                .get("balloon")
                .map(String::as_str)
                .or(self.pending_value("balloon"))
                .or(self.current.get("balloon"))
                .and_then(|b| b.parse().ok())
                .unwrap_or(0);
            if balloon > memory.current {
                return Err(UpdateError::Failed(
                    "balloon value too large (must be smaller than assigned memory)".into(),
                ));
            }
        }

        let mut bootorder = self.pending_boot_list();
        let bootorder_deleted = delete.iter().any(|k| k == "boot");

        for key in &delete {
            out.modified.insert(key.clone());
            let Some(value) = self
                .current
                .get_any(key)
                .or(self.pending_value(key))
                .map(str::to_string)
            else {
                out.warnings.push(format!(
                    "cannot delete '{key}' - not set in current configuration!"
                ));
                out.modified.remove(key);
                continue;
            };
            let pending_old = self.take_pending_value(key);
            if !bootorder_deleted && bootorder.contains(key) {
                bootorder.retain(|d| d != key);
                self.pending
                    .values
                    .insert("boot".into(), BootOrder::with_order(&bootorder).print());
                out.modified.insert("boot".into());
            }
            match split_indexed(key) {
                Some(("unused", _)) => {
                    let volid = psformats::unused_format()
                        .parse(&value)
                        .ok()
                        .and_then(|v| v.get("file").and_then(Value::as_str).map(str::to_string))
                        .unwrap_or(value.clone());
                    self.check_protection(&format!("can't remove unused disk '{volid}'"))?;
                    if volume_owner(&volid) == Some(vmid) {
                        self.check_volume_unused(key, &volid)?;
                        out.volumes.to_free.push(volid);
                    }
                    self.current.remove(key);
                    continue;
                }
                _ if key == "vmstate" => {
                    self.check_protection(&format!("can't remove vmstate '{value}'"))?;
                    if volume_owner(&value) == Some(vmid) {
                        out.volumes.to_free.push(value.clone());
                    }
                    self.current.remove(key);
                    continue;
                }
                _ if keys::is_drive_key(key) => {
                    self.check_protection(&format!("can't remove drive '{key}'"))?;
                    if let Some(old) = pending_old.and_then(|v| Drive::parse(key, &v).ok()) {
                        let changes = self.register_unused(vmid, &old)?;
                        out.volumes.merge(changes);
                    }
                }
                _ if key == "tags" => {
                    self.current.remove(key);
                    continue;
                }
                _ => {}
            }
            if self.current.get_any(key).is_some() {
                self.add_pending_delete(key, update.force);
            }
        }

        for (key, value) in &set {
            out.modified.insert(key.clone());
            if self.pending_value(key) == Some(value.as_str()) {
                continue;
            }
            if keys::is_drive_key(key) {
                if let Some(old) = self
                    .pending_value(key)
                    .and_then(|v| Drive::parse(key, v).ok())
                {
                    let changes = self.register_unused(vmid, &old)?;
                    out.volumes.merge(changes);
                }
                if !bootorder.is_empty() {
                    let cdrom = Drive::parse(key, value)
                        .map(|d| d.is_cdrom() && !d.is_cloudinit())
                        .unwrap_or(false);
                    if cdrom && !bootorder.contains(key) {
                        bootorder.push(key.clone());
                        self.pending
                            .values
                            .insert("boot".into(), BootOrder::with_order(&bootorder).print());
                        out.modified.insert("boot".into());
                    }
                }
                self.pending.values.insert(key.clone(), value.clone());
            } else if key == "tags" {
                self.pending.values.insert(key.clone(), unique_tags(value));
            } else if key == "cipassword" {
                self.current.insert_checked(key, value.clone());
            } else if key == "description" {
                self.pending.description = Some(value.clone());
            } else if key == "boot" {
                let boot = BootOrder::parse(value).map_err(|e| param_error(key, e.to_string()))?;
                if let Some(order) = &boot.order {
                    for dev in order {
                        let exists = self.current.contains(dev)
                            || self.pending.values.contains_key(dev)
                            || set.contains_key(dev);
                        if !exists || delete.contains(dev) {
                            return Err(UpdateError::Failed(format!(
                                "invalid bootorder: device '{dev}' does not exist'"
                            )));
                        }
                    }
                    self.pending
                        .values
                        .insert(key.clone(), BootOrder::with_order(order).print());
                    if self.current.contains("bootdisk") {
                        self.add_pending_delete("bootdisk", false);
                    }
                } else {
                    self.pending.values.insert(key.clone(), value.clone());
                }
            } else {
                self.pending.values.insert(key.clone(), value.clone());
            }
            self.remove_pending_delete(key);
        }
        self.cleanup_pending();
        Ok(out)
    }

    /// Drop pending values equal to the current ones and deletions of absent keys.
    /// Returns true if anything changed.
    pub fn cleanup_pending(&mut self) -> bool {
        let mut changed = false;
        let same: Vec<String> = self
            .pending
            .values
            .iter()
            .filter(|(k, v)| *k != "delete" && self.current.get(k) == Some(v.as_str()))
            .map(|(k, _)| k.clone())
            .collect();
        for key in same {
            self.pending.values.remove(&key);
            changed = true;
        }
        if self.pending.description.is_some()
            && self.pending.description.as_deref() == self.current.description()
        {
            self.pending.description = None;
            changed = true;
        }
        let deletes = self.pending.pending_deletes();
        let kept: BTreeMap<String, bool> = deletes
            .iter()
            .filter(|(k, _)| self.current.get_any(k).is_some())
            .map(|(k, f)| (k.clone(), *f))
            .collect();
        if kept.len() != deletes.len() {
            changed = true;
        }
        self.pending.set_pending_deletes(&kept);
        changed
    }

    /// Apply every pending change, as for a VM that is not running. Replaced or deleted
    /// disks owned by `vmid` become `unusedN` (or are listed to free when deleted with
    /// force); errors are keyed by config key and leave that change pending.
    pub fn apply_pending(&mut self, vmid: u32) -> (VolumeChanges, BTreeMap<String, String>) {
        self.apply_pending_keys(vmid, |_| true)
    }

    /// [`apply_pending`](Self::apply_pending) for the keys `select` accepts only (the ones a
    /// running VM took live); the others stay pending.
    pub fn apply_pending_keys(
        &mut self,
        vmid: u32,
        select: impl Fn(&str) -> bool,
    ) -> (VolumeChanges, BTreeMap<String, String>) {
        let mut changes = VolumeChanges::default();
        let mut errors = BTreeMap::new();
        for (key, force) in self.pending.pending_deletes() {
            if !select(&key) {
                continue;
            }
            let result = if keys::is_drive_key(&key) {
                self.delete_or_detach(vmid, &key, force)
            } else {
                Ok(VolumeChanges::default())
            };
            match result {
                Ok(c) => {
                    changes.merge(c);
                    self.current.remove(&key);
                    self.remove_pending_delete(&key);
                }
                Err(e) => {
                    errors.insert(
                        key.clone(),
                        format!("unable to apply pending change {key} : {e}"),
                    );
                }
            }
        }
        self.cleanup_pending();
        let pending: Vec<(String, String)> = self
            .pending
            .values
            .iter()
            .filter(|(k, _)| *k != "delete" && select(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (key, value) in pending {
            if keys::is_drive_key(&key) {
                if let Some(old) = self.current.drive(&key) {
                    match self.register_unused(vmid, &old) {
                        Ok(c) => changes.merge(c),
                        Err(e) => {
                            errors.insert(
                                key.clone(),
                                format!("unable to apply pending change {key} : {e}"),
                            );
                            continue;
                        }
                    }
                }
            }
            self.current.insert_checked(&key, value);
            self.pending.values.remove(&key);
        }
        if select("description") {
            if let Some(d) = self.pending.description.take() {
                self.current.insert_checked("description", d);
            }
        }
        self.drop_reattached_unused();
        (changes, errors)
    }

    /// Remove `unusedN` entries whose volume is attached as a drive again.
    pub(super) fn drop_reattached_unused(&mut self) {
        let attached: BTreeSet<String> =
            self.current.drives().into_iter().map(|d| d.file).collect();
        for (key, volid) in self.current.unused_volumes() {
            if attached.contains(&volid) {
                self.current.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn update(v: Value) -> ConfigUpdate {
        ConfigUpdate::from_params(v.as_object().unwrap()).unwrap()
    }

    fn param_errors(r: Result<ConfigUpdate, UpdateError>) -> ParamErrors {
        match r {
            Err(UpdateError::Param(e)) => e,
            other => panic!("expected parameter errors, got {other:?}"),
        }
    }

    #[test]
    fn update_params_conflicts() {
        let p = json!({"node": "n", "vmid": 100, "cores": 2, "delete": "cores"});
        let e = param_errors(ConfigUpdate::from_params(p.as_object().unwrap()));
        assert!(e["delete"].contains("at the same time"));
        let p = json!({"delete": "net0", "revert": "net0"});
        let e = param_errors(ConfigUpdate::from_params(p.as_object().unwrap()));
        assert!(e["revert"].contains("at the same time"));
        let p = json!({"delete": "bogus"});
        let e = param_errors(ConfigUpdate::from_params(p.as_object().unwrap()));
        assert_eq!(e["delete"], "unknown option 'bogus'");
        let p = json!({"node": "n", "vmid": 100});
        let e = ConfigUpdate::from_params(p.as_object().unwrap()).unwrap_err();
        assert_eq!(e.to_string(), "no options specified");
        let u =
            update(json!({"cdrom": "none", "onboot": true, "delete": "sata0;net1", "force": 1}));
        assert_eq!(u.set["ide2"], "none,media=cdrom");
        assert_eq!(u.set["onboot"], "1");
        assert_eq!(u.delete, ["sata0", "net1"]);
        assert!(u.force);
        let u = update(json!({"delete": "cdrom"}));
        assert_eq!(u.delete, ["ide2"]);
        let p = json!({"cdrom": "none", "delete": "cdrom"});
        assert!(ConfigUpdate::from_params(p.as_object().unwrap()).is_err());
    }

    #[test]
    fn macs_are_filled() {
        let mut u =
            update(json!({"net0": "virtio,bridge=vmbr0", "net1": "e1000=BC:24:11:00:00:01"}));
        u.fill_missing_macs(|| "BC:24:11:AA:BB:CC".to_string());
        assert_eq!(u.set["net0"], "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0");
        assert_eq!(u.set["net1"], "e1000=BC:24:11:00:00:01");
    }
}
