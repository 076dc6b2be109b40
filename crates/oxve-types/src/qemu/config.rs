//! A whole VM config (`qemu-server/<vmid>.conf`): the current settings, pending changes,
//! special sections and snapshots, every key checked against the key schemas.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

use serde::Serialize;
use serde_json::{Map, Number, Value};

use crate::config_text::{ConfigFlavor, ConfigTextError, GuestConfigText, Section};
use crate::schema::Schema;

use super::boot::{BootOrder, DEFAULT_LEGACY};
use super::cpu::CpuConfig;
use super::drive::{Drive, DriveBus};
use super::formats::check_config_key;
use super::hotplug::HotplugFeatures;
use super::keys::{self, check_value, file_key_schema, split_indexed};
use super::memory::{Memory, DEFAULT_MEMORY_MIB};
use super::net::NetDevice;
use super::psformats;

/// A config that cannot be read or a setting that cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VmConfigError {
    /// The text itself is malformed.
    #[error(transparent)]
    Text(#[from] ConfigTextError),
    /// A key no VM config has.
    #[error("{section}: unknown setting '{key}'")]
    UnknownKey { section: String, key: String },
    /// A value its key's schema rejects.
    #[error("{section}: unable to parse value of '{key}' - {message}")]
    InvalidValue {
        section: String,
        key: String,
        message: String,
    },
}

impl VmConfigError {
    /// The config key the error is about, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            VmConfigError::Text(_) => None,
            VmConfigError::UnknownKey { key, .. } | VmConfigError::InvalidValue { key, .. } => {
                Some(key)
            }
        }
    }
}

/// One set of VM settings: the current config or a snapshot. Values are stored as text in
/// their canonical form (booleans `1`/`0`); every key is known and every value valid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VmSettings {
    section: Section,
}

/// `startup`: where the VM goes in the node's start order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Startup {
    pub order: Option<u64>,
    pub up: Option<u64>,
    pub down: Option<u64>,
}

fn invalid(section: &str, key: &str, message: impl Into<String>) -> VmConfigError {
    VmConfigError::InvalidValue {
        section: section.into(),
        key: key.into(),
        message: message.into(),
    }
}

/// Check and normalize the values of one section; `label` names it in errors.
fn check_section(section: &mut Section, label: &str, snapshot: bool) -> Result<(), VmConfigError> {
    if let Some(cdrom) = section.values.remove("cdrom") {
        if section.values.contains_key("ide2") {
            return Err(invalid(label, "cdrom", "option ide2 conflicts with cdrom"));
        }
        let value = if cdrom.contains("media=") {
            cdrom
        } else {
            format!("{cdrom},media=cdrom")
        };
        section.values.insert("ide2".into(), value);
    }
    if let Some(d) = &section.description {
        if d.chars().count() > 8192 {
            return Err(invalid(
                label,
                "description",
                "value may only be 8192 characters long",
            ));
        }
    }
    let mut normalized = BTreeMap::new();
    for (key, value) in &section.values {
        let value = match key.as_str() {
            "delete" if label == "pending" => {
                for item in crate::format::split_list(value) {
                    let name = item.strip_prefix('!').unwrap_or(item);
                    check_config_key(name).map_err(|m| invalid(label, key, m))?;
                }
                value.clone()
            }
            "snapstate" if snapshot => match value.as_str() {
                "prepare" | "delete" => value.clone(),
                _ => return Err(invalid(label, key, "expected 'prepare' or 'delete'")),
            },
            _ if !keys::is_known_key(key) => {
                return Err(VmConfigError::UnknownKey {
                    section: label.into(),
                    key: key.clone(),
                })
            }
            _ => {
                let value = match file_key_schema(key) {
                    // a quoted plain string loses its quotes, as in Proxmox
                    Some(Schema::String(s)) if s.format.is_none() && key != "args" => value
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or(value)
                        .to_string(),
                    _ => value.clone(),
                };
                check_value(key, &value, false).map_err(|m| invalid(label, key, m))?
            }
        };
        normalized.insert(key.clone(), value);
    }
    section.values = normalized;
    Ok(())
}

impl VmSettings {
    /// Settings from a text section, checked.
    pub fn from_section(mut section: Section, label: &str) -> Result<Self, VmConfigError> {
        check_section(&mut section, label, label != "main")?;
        Ok(VmSettings { section })
    }

    /// The underlying section (values as text).
    pub fn section(&self) -> &Section {
        &self.section
    }

    pub fn into_section(self) -> Section {
        self.section
    }

    /// All values, sorted by key.
    pub fn values(&self) -> &BTreeMap<String, String> {
        &self.section.values
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.section.values.get(key).map(String::as_str)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.section.values.contains_key(key)
    }

    /// Set a value after checking it against the key's schema.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), VmConfigError> {
        if key == "description" {
            if value.chars().count() > 8192 {
                return Err(invalid(
                    "main",
                    key,
                    "value may only be 8192 characters long",
                ));
            }
            self.section.description = Some(value.to_string());
            return Ok(());
        }
        let value = check_value(key, value, false).map_err(|m| {
            if keys::is_known_key(key) {
                invalid("main", key, m)
            } else {
                VmConfigError::UnknownKey {
                    section: "main".into(),
                    key: key.into(),
                }
            }
        })?;
        self.section.values.insert(key.to_string(), value);
        Ok(())
    }

    /// Remove a value (or the description); returns what was there.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        if key == "description" {
            return self.section.description.take();
        }
        self.section.values.remove(key)
    }

    /// Set a value without checking (for values that already passed [`check_value`]).
    pub(crate) fn insert_checked(&mut self, key: &str, value: String) {
        if key == "description" {
            self.section.description = Some(value);
        } else {
            self.section.values.insert(key.to_string(), value);
        }
    }

    /// Value or description, as `get` but including `description`.
    pub(crate) fn get_any(&self, key: &str) -> Option<&str> {
        if key == "description" {
            self.description()
        } else {
            self.get(key)
        }
    }

    fn flag(&self, key: &str, default: bool) -> bool {
        self.get(key).map(|v| v == "1").unwrap_or(default)
    }

    fn number<T: std::str::FromStr>(&self, key: &str) -> Option<T> {
        self.get(key).and_then(|v| v.parse().ok())
    }

    pub fn name(&self) -> Option<&str> {
        self.get("name")
    }

    pub fn description(&self) -> Option<&str> {
        self.section.description.as_deref()
    }

    pub fn memory(&self) -> Memory {
        self.get("memory")
            .and_then(|m| Memory::parse(m).ok())
            .unwrap_or_default()
    }

    /// RAM in MiB (default 512).
    pub fn memory_mib(&self) -> u64 {
        self.get("memory")
            .and_then(|m| Memory::parse(m).ok())
            .map_or(DEFAULT_MEMORY_MIB, |m| m.current)
    }

    /// Balloon target in MiB (`Some(0)`: balloon device disabled).
    pub fn balloon(&self) -> Option<u64> {
        self.number("balloon")
    }

    pub fn sockets(&self) -> u32 {
        self.number("sockets").or(self.number("smp")).unwrap_or(1)
    }

    pub fn cores(&self) -> u32 {
        self.number("cores").unwrap_or(1)
    }

    /// vCPUs online at start (default: sockets × cores).
    pub fn vcpus(&self) -> u32 {
        self.number("vcpus")
            .unwrap_or_else(|| self.sockets() * self.cores())
    }

    /// Total vCPUs the VM can have (sockets × cores).
    pub fn max_cpus(&self) -> u32 {
        self.sockets() * self.cores()
    }

    pub fn cpu(&self) -> CpuConfig {
        self.get("cpu")
            .and_then(|c| CpuConfig::parse(c).ok())
            .unwrap_or_default()
    }

    pub fn ostype(&self) -> &str {
        self.get("ostype").unwrap_or("other")
    }

    /// The machine type (`pc`, `q35`, `pc-q35-8.1+pve0`), if set.
    pub fn machine(&self) -> Option<String> {
        let m = psformats::machine_format()
            .parse(self.get("machine")?)
            .ok()?;
        m.get("type").and_then(Value::as_str).map(str::to_string)
    }

    pub fn bios(&self) -> &str {
        self.get("bios").unwrap_or("seabios")
    }

    pub fn kvm(&self) -> bool {
        self.flag("kvm", true)
    }

    pub fn template(&self) -> bool {
        self.flag("template", false)
    }

    pub fn protection(&self) -> bool {
        self.flag("protection", false)
    }

    pub fn onboot(&self) -> bool {
        self.flag("onboot", false)
    }

    pub fn lock(&self) -> Option<&str> {
        self.get("lock")
    }

    pub fn tags(&self) -> Vec<String> {
        self.get("tags")
            .map(|t| crate::format::split_list(t).map(str::to_string).collect())
            .unwrap_or_default()
    }

    pub fn agent_enabled(&self) -> bool {
        self.get("agent")
            .and_then(|a| psformats::agent_format().parse(a).ok())
            .and_then(|v| v.get("enabled").and_then(Value::as_bool))
            .unwrap_or(false)
    }

    /// `agent: freeze-fs` (alias `freeze-fs-on-backup`): freeze guest file systems through the
    /// agent for backups and snapshots (default on).
    pub fn agent_freeze_fs(&self) -> bool {
        self.get("agent")
            .and_then(|a| psformats::agent_format().parse(a).ok())
            .and_then(|v| v.get("freeze-fs").and_then(Value::as_bool))
            .unwrap_or(true)
    }

    pub fn startup(&self) -> Startup {
        let Some(v) = self
            .get("startup")
            .and_then(|s| psformats::startup_format().parse(s).ok())
        else {
            return Startup::default();
        };
        let n = |k: &str| v.get(k).and_then(Value::as_u64);
        Startup {
            order: n("order"),
            up: n("up"),
            down: n("down"),
        }
    }

    /// Hot-plug features in effect (default network, disk, usb).
    pub fn hotplug(&self) -> HotplugFeatures {
        self.get("hotplug")
            .and_then(|h| HotplugFeatures::parse(h).ok())
            .unwrap_or_default()
    }

    /// The `boot` option as written (default: legacy `cdn`).
    pub fn boot_order(&self) -> BootOrder {
        self.get("boot")
            .and_then(|b| BootOrder::parse(b).ok())
            .unwrap_or_default()
    }

    /// The devices the guest boots from, in order, as Proxmox computes them: the `order=`
    /// list, or for the legacy letters (default `cdn`) the `bootdisk`, then every CD-ROM, then
    /// every NIC.
    pub fn boot_devices(&self) -> Vec<String> {
        let boot = self.boot_order();
        if let Some(devices) = boot.devices() {
            return devices.to_vec();
        }
        let letters = boot.legacy.unwrap_or_else(|| DEFAULT_LEGACY.to_string());
        let mut out = Vec::new();
        let drives = self.drives();
        for letter in letters.chars() {
            match letter {
                'c' => {
                    if let Some(disk) = self.get("bootdisk").filter(|d| self.contains(d)) {
                        if !out.iter().any(|o| o == disk) {
                            out.push(disk.to_string());
                        }
                    }
                }
                'd' => out.extend(
                    drives
                        .iter()
                        .filter(|d| d.bus.bootable() && d.is_cdrom() && !d.is_cloudinit())
                        .map(Drive::key),
                ),
                'n' => out.extend(self.nets().into_iter().map(|(i, _)| format!("net{i}"))),
                _ => {}
            }
        }
        out
    }

    /// The boot order Proxmox writes for a new VM without `boot`: the first disk, the first
    /// CD-ROM and the first NIC.
    pub fn default_boot_devices(&self) -> Vec<String> {
        let drives = self.drives();
        let mut out: Vec<String> = [false, true]
            .iter()
            .filter_map(|cdrom| {
                drives
                    .iter()
                    .find(|d| d.bus.bootable() && d.is_cdrom() == *cdrom)
                    .map(Drive::key)
            })
            .collect();
        if let Some((i, _)) = self.nets().first() {
            out.push(format!("net{i}"));
        }
        out
    }

    /// One drive by key (`scsi0`).
    pub fn drive(&self, key: &str) -> Option<Drive> {
        DriveBus::from_key(key)?;
        Drive::parse(key, self.get(key)?).ok()
    }

    /// All drives (disks, CD-ROMs, EFI and TPM disks), sorted by bus (ide, scsi, virtio, sata,
    /// efidisk, tpmstate) and index.
    pub fn drives(&self) -> Vec<Drive> {
        let mut drives: Vec<Drive> = self
            .section
            .values
            .iter()
            .filter(|(k, _)| DriveBus::from_key(k).is_some())
            .filter_map(|(k, v)| Drive::parse(k, v).ok())
            .collect();
        drives.sort_by_key(|d| (d.bus, d.index));
        drives
    }

    /// `unusedN` volumes: (key, volume ID), by index.
    pub fn unused_volumes(&self) -> Vec<(String, String)> {
        let mut out: Vec<(u32, String, String)> = self
            .section
            .values
            .iter()
            .filter_map(|(k, v)| match split_indexed(k) {
                Some(("unused", i)) => {
                    let file = psformats::unused_format().parse(v).ok()?;
                    let volid = file.get("file")?.as_str()?.to_string();
                    Some((i, k.clone(), volid))
                }
                _ => None,
            })
            .collect();
        out.sort();
        out.into_iter().map(|(_, k, v)| (k, v)).collect()
    }

    /// One NIC by index.
    pub fn net(&self, index: u32) -> Option<NetDevice> {
        NetDevice::parse(self.get(&format!("net{index}"))?).ok()
    }

    /// All NICs with their index, sorted.
    pub fn nets(&self) -> Vec<(u32, NetDevice)> {
        let mut nets: Vec<(u32, NetDevice)> = self
            .section
            .values
            .iter()
            .filter_map(|(k, v)| match split_indexed(k) {
                Some(("net", i)) => NetDevice::parse(v).ok().map(|n| (i, n)),
                _ => None,
            })
            .collect();
        nets.sort_by_key(|(i, _)| *i);
        nets
    }

    /// Serial ports: (index, `socket` or host device).
    pub fn serials(&self) -> Vec<(u32, String)> {
        let mut out: Vec<(u32, String)> = self
            .section
            .values
            .iter()
            .filter_map(|(k, v)| match split_indexed(k) {
                Some(("serial", i)) => Some((i, v.clone())),
                _ => None,
            })
            .collect();
        out.sort();
        out
    }

    /// Snapshot metadata: the snapshot this one is based on.
    pub fn parent(&self) -> Option<&str> {
        self.get("parent")
    }

    /// Snapshot metadata: when the snapshot was taken (UNIX time).
    pub fn snaptime(&self) -> Option<i64> {
        self.number("snaptime")
    }

    /// Snapshot metadata: the volume holding the saved RAM.
    pub fn vmstate(&self) -> Option<&str> {
        self.get("vmstate")
    }

    /// The settings as the API returns them: integers and booleans as JSON numbers, the
    /// password hidden.
    pub fn to_api_json(&self) -> Map<String, Value> {
        let mut out = Map::new();
        if let Some(d) = self.description() {
            out.insert("description".into(), Value::String(d.into()));
        }
        for (key, value) in self.values() {
            out.insert(key.clone(), api_value(key, value));
        }
        if out.contains_key("cipassword") {
            out.insert("cipassword".into(), Value::String("**********".into()));
        }
        out
    }
}

/// A stored value as JSON, typed by its key's schema.
pub fn api_value(key: &str, value: &str) -> Value {
    match file_key_schema(key) {
        Some(Schema::Boolean(_)) | Some(Schema::Integer(_)) => value
            .parse::<i64>()
            .map(|n| Value::Number(n.into()))
            .unwrap_or_else(|_| Value::String(value.into())),
        Some(Schema::Number(_)) => value
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(value.into())),
        _ => Value::String(value.into()),
    }
}

/// A whole VM config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VmConfig {
    /// The current settings (also reachable through `Deref`).
    pub current: VmSettings,
    /// Pending changes not applied yet, plus the `delete` list (`!key` forces).
    pub pending: Section,
    /// `[special:<name>]` sections (cloud-init state), kept as they are.
    pub special: BTreeMap<String, Section>,
    /// Snapshots by name.
    pub snapshots: BTreeMap<String, VmSettings>,
}

impl Deref for VmConfig {
    type Target = VmSettings;
    fn deref(&self) -> &VmSettings {
        &self.current
    }
}

impl DerefMut for VmConfig {
    fn deref_mut(&mut self) -> &mut VmSettings {
        &mut self.current
    }
}

/// One line of `GET .../pending`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PendingItem {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<Value>,
    /// 1: will be removed; 2: will be removed and its volume freed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete: Option<u8>,
}

impl VmConfig {
    /// Parse and check a config file.
    pub fn parse(text: &str) -> Result<Self, VmConfigError> {
        Self::from_text(GuestConfigText::parse(ConfigFlavor::Qemu, text)?)
    }

    /// Check a parsed config text.
    pub fn from_text(text: GuestConfigText) -> Result<Self, VmConfigError> {
        let current = VmSettings::from_section(text.main, "main")?;
        let mut pending = text.pending;
        check_section(&mut pending, "pending", false)?;
        let snapshots = text
            .snapshots
            .into_iter()
            .map(|(name, section)| {
                let label = format!("snapshot '{name}'");
                VmSettings::from_section(section, &label).map(|s| (name, s))
            })
            .collect::<Result<_, _>>()?;
        Ok(VmConfig {
            current,
            pending,
            special: text.special,
            snapshots,
        })
    }

    /// The config as text sections.
    pub fn to_config_text(&self) -> GuestConfigText {
        GuestConfigText {
            main: self.current.section.clone(),
            pending: self.pending.clone(),
            special: self.special.clone(),
            snapshots: self
                .snapshots
                .iter()
                .map(|(k, v)| (k.clone(), v.section.clone()))
                .collect(),
        }
    }

    /// The config file text, as Proxmox writes it.
    pub fn to_text(&self) -> Result<String, ConfigTextError> {
        self.to_config_text().to_text(ConfigFlavor::Qemu)
    }

    /// A snapshot's settings.
    pub fn snapshot(&self, name: &str) -> Option<&VmSettings> {
        self.snapshots.get(name)
    }

    /// True if there are pending changes or deletions.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Keys to delete when the pending changes apply: key -> force.
    pub fn pending_deletes(&self) -> BTreeMap<String, bool> {
        self.pending.pending_deletes()
    }

    /// `GET .../config`: with `current == false` (the API default) pending values and
    /// deletions are applied to the result.
    pub fn to_api_json(&self, current: bool) -> Map<String, Value> {
        let mut out = self.current.to_api_json();
        if !current {
            if let Some(d) = &self.pending.description {
                out.insert("description".into(), Value::String(d.clone()));
            }
            for (key, value) in &self.pending.values {
                if key != "delete" {
                    out.insert(key.clone(), api_value(key, value));
                }
            }
            for key in self.pending_deletes().keys() {
                out.remove(key);
            }
            if out.contains_key("cipassword") {
                out.insert("cipassword".into(), Value::String("**********".into()));
            }
        }
        out
    }

    /// `GET .../pending`: every key with its current value, pending value and deletion mark.
    pub fn pending_list(&self) -> Vec<PendingItem> {
        let deletes = self.pending_deletes();
        let mut keys: Vec<&str> = self.current.values().keys().map(String::as_str).collect();
        keys.extend(self.pending.values.keys().map(String::as_str));
        keys.extend(deletes.keys().map(String::as_str));
        if self.current.description().is_some() || self.pending.description.is_some() {
            keys.push("description");
        }
        keys.sort_unstable();
        keys.dedup();
        keys.into_iter()
            .filter(|k| *k != "delete")
            .map(|key| {
                let pending = if key == "description" {
                    self.pending.description.clone()
                } else {
                    self.pending.values.get(key).cloned()
                };
                let hide = |v: String| {
                    if key == "cipassword" {
                        "**********".to_string()
                    } else {
                        v
                    }
                };
                PendingItem {
                    key: key.to_string(),
                    value: self
                        .current
                        .get_any(key)
                        .map(|v| api_value(key, &hide(v.to_string()))),
                    pending: pending.map(|v| api_value(key, &hide(v))),
                    delete: deletes.get(key).map(|force| if *force { 2 } else { 1 }),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = VmConfig::parse("cores: 2\nfrobnicate: 1\n").unwrap_err();
        assert_eq!(e.key(), Some("frobnicate"));
        assert_eq!(e.to_string(), "main: unknown setting 'frobnicate'");
        let e = VmConfig::parse("net0: virtio=zz,bridge=vmbr0\n").unwrap_err();
        assert_eq!(e.key(), Some("net0"));
        assert!(e.to_string().contains("macaddr"), "{e}");
        let e =
            VmConfig::parse("memory: 1024\n\n[snap1]\nscsi0: local:1/a.raw,cache=x\n").unwrap_err();
        assert_eq!(e.key(), Some("scsi0"));
        assert!(e.to_string().starts_with("snapshot 'snap1'"), "{e}");
        let e = VmConfig::parse("cores: 1\n\n[PENDING]\ncores: 0\n").unwrap_err();
        assert!(e.to_string().starts_with("pending:"), "{e}");
        assert!(VmConfig::parse("digest: abc\n").is_err());
        assert!(VmConfig::parse("snapstate: prepare\n").is_err());
    }

    #[test]
    fn defaults() {
        let c = VmConfig::parse("").unwrap();
        assert_eq!(c.memory_mib(), 512);
        assert_eq!((c.sockets(), c.cores(), c.vcpus()), (1, 1, 1));
        assert_eq!(c.cpu().cputype, "kvm64");
        assert_eq!(c.ostype(), "other");
        assert_eq!(c.bios(), "seabios");
        assert!(c.kvm() && !c.template() && !c.protection() && !c.onboot());
        assert!(c.drives().is_empty() && c.nets().is_empty());
        assert!(c.boot_devices().is_empty());
    }

    #[test]
    fn booleans_and_cdrom_alias_are_normalized() {
        let c =
            VmConfig::parse("onboot: yes\ncdrom: local:iso/x.iso\nagent: enabled=true\n").unwrap();
        assert_eq!(c.get("onboot"), Some("1"));
        assert_eq!(c.get("ide2"), Some("local:iso/x.iso,media=cdrom"));
        assert!(c.agent_enabled());
        assert!(c.to_text().unwrap().contains("onboot: 1\n"));
    }

    #[test]
    fn agent_freeze_fs_defaults_on_and_takes_its_aliases() {
        let on = |text: &str| VmConfig::parse(text).unwrap().agent_freeze_fs();
        assert!(on("agent: 1\n"));
        assert!(on(""));
        assert!(!on("agent: 1,freeze-fs-on-backup=0\n"));
        assert!(!on("agent: enabled=1,freeze-fs=0\n"));
        assert!(!on("agent: 1,guest-fsfreeze=0\n"));
    }

    #[test]
    fn legacy_boot_order() {
        let c = VmConfig::parse(
            "bootdisk: scsi0\nide2: none,media=cdrom\nnet1: e1000,bridge=vmbr0\n\
             net0: virtio,bridge=vmbr0\nscsi0: local:100/a.raw\nscsi1: local:100/b.raw\n",
        )
        .unwrap();
        assert_eq!(c.boot_devices(), ["scsi0", "ide2", "net0", "net1"]);
        assert_eq!(c.default_boot_devices(), ["scsi0", "ide2", "net0"]);
        let mut c2 = c.clone();
        c2.set("boot", "dc").unwrap();
        assert_eq!(c2.boot_devices(), ["ide2", "scsi0"]);
        c2.set("boot", "order=net1;scsi1").unwrap();
        assert_eq!(c2.boot_devices(), ["net1", "scsi1"]);
    }
}
