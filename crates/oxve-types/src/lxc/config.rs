//! A whole container config (`lxc/<vmid>.conf`): current settings, pending changes
//! (`[pve:pending]`), snapshots and raw `lxc.*` keys, every key checked against its schema.

use std::collections::BTreeMap;

use serde_json::{json, Map, Number, Value};

use crate::config_text::{ConfigFlavor, ConfigTextError, GuestConfigText, Section};
use crate::qemu::config::PendingItem;
use crate::qemu::psformats::unused_format;
use crate::qemu::Startup;
use crate::schema::Schema;

use super::devices::{CtNet, Features, MountPoint};
use super::keys::{self, check_value, file_key_schema, split_indexed};

/// A config that cannot be read or a setting that cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CtConfigError {
    #[error(transparent)]
    Text(#[from] ConfigTextError),
    #[error("{section}: unknown setting '{key}'")]
    UnknownKey { section: String, key: String },
    #[error("{section}: unable to parse value of '{key}' - {message}")]
    InvalidValue {
        section: String,
        key: String,
        message: String,
    },
}

impl CtConfigError {
    /// The config key the error is about, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            CtConfigError::Text(_) => None,
            CtConfigError::UnknownKey { key, .. } | CtConfigError::InvalidValue { key, .. } => {
                Some(key)
            }
        }
    }
}

fn invalid(section: &str, key: &str, message: impl Into<String>) -> CtConfigError {
    CtConfigError::InvalidValue {
        section: section.into(),
        key: key.into(),
        message: message.into(),
    }
}

/// Check and normalize one section's values; `label` names it in errors.
fn check_section(section: &mut Section, label: &str) -> Result<(), CtConfigError> {
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
                    if !keys::is_known_key(name) {
                        return Err(invalid(label, key, format!("unknown option '{name}'")));
                    }
                }
                value.clone()
            }
            "snapstate" if label.starts_with("snapshot") => value.clone(),
            _ if !keys::is_known_key(key) => {
                return Err(CtConfigError::UnknownKey {
                    section: label.into(),
                    key: key.clone(),
                })
            }
            _ => check_value(key, value).map_err(|m| invalid(label, key, m))?,
        };
        normalized.insert(key.clone(), value);
    }
    section.values = normalized;
    Ok(())
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

/// A whole container config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CtConfig {
    /// The current settings (with the raw `lxc.*` keys in `current.lxc`).
    pub current: Section,
    /// Pending changes plus the `delete` list.
    pub pending: Section,
    /// Snapshots by name.
    pub snapshots: BTreeMap<String, Section>,
}

impl CtConfig {
    /// Parse and check a config file.
    pub fn parse(text: &str) -> Result<Self, CtConfigError> {
        let text = GuestConfigText::parse(ConfigFlavor::Lxc, text)?;
        let mut current = text.main;
        check_section(&mut current, "main")?;
        let mut pending = text.pending;
        check_section(&mut pending, "pending")?;
        let mut snapshots = BTreeMap::new();
        for (name, mut section) in text.snapshots {
            check_section(&mut section, &format!("snapshot '{name}'"))?;
            snapshots.insert(name, section);
        }
        Ok(CtConfig {
            current,
            pending,
            snapshots,
        })
    }

    /// The config file text, as Proxmox writes it.
    pub fn to_text(&self) -> Result<String, ConfigTextError> {
        GuestConfigText {
            main: self.current.clone(),
            pending: self.pending.clone(),
            special: BTreeMap::new(),
            snapshots: self.snapshots.clone(),
        }
        .to_text(ConfigFlavor::Lxc)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        if key == "description" {
            return self.current.description.as_deref();
        }
        self.current.values.get(key).map(String::as_str)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Set a current value after checking it.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), CtConfigError> {
        if key == "description" {
            if value.chars().count() > 8192 {
                return Err(invalid(
                    "main",
                    key,
                    "value may only be 8192 characters long",
                ));
            }
            self.current.description = Some(value.to_string());
            return Ok(());
        }
        let value = check_value(key, value).map_err(|m| {
            if keys::is_known_key(key) {
                invalid("main", key, m)
            } else {
                CtConfigError::UnknownKey {
                    section: "main".into(),
                    key: key.into(),
                }
            }
        })?;
        self.current.values.insert(key.to_string(), value);
        Ok(())
    }

    /// Remove a current value; returns what was there.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        if key == "description" {
            return self.current.description.take();
        }
        self.current.values.remove(key)
    }

    fn flag(&self, key: &str, default: bool) -> bool {
        self.get(key).map_or(default, |v| v == "1")
    }

    fn number<T: std::str::FromStr>(&self, key: &str) -> Option<T> {
        self.get(key).and_then(|v| v.parse().ok())
    }

    pub fn hostname(&self) -> Option<&str> {
        self.get("hostname")
    }

    /// RAM limit in MiB (default 512).
    pub fn memory_mib(&self) -> u64 {
        self.number("memory").unwrap_or(512)
    }

    /// Swap in MiB (default 512).
    pub fn swap_mib(&self) -> u64 {
        self.number("swap").unwrap_or(512)
    }

    /// CPU cores the container may use (`None`: all).
    pub fn cores(&self) -> Option<u32> {
        self.number("cores")
    }

    /// CPU time limit in CPUs (0: none).
    pub fn cpulimit(&self) -> f64 {
        self.number("cpulimit").unwrap_or(0.0)
    }

    pub fn cpuunits(&self) -> Option<u64> {
        self.number("cpuunits")
    }

    /// Unprivileged (user-namespaced). A config without the key is privileged, as in
    /// Proxmox; new containers get `unprivileged: 1` written unless asked otherwise.
    pub fn unprivileged(&self) -> bool {
        self.flag("unprivileged", false)
    }

    pub fn protection(&self) -> bool {
        self.flag("protection", false)
    }

    pub fn template(&self) -> bool {
        self.flag("template", false)
    }

    pub fn onboot(&self) -> bool {
        self.flag("onboot", false)
    }

    pub fn console(&self) -> bool {
        self.flag("console", true)
    }

    pub fn debug(&self) -> bool {
        self.flag("debug", false)
    }

    pub fn tty(&self) -> u32 {
        self.number("tty").unwrap_or(2)
    }

    pub fn lock(&self) -> Option<&str> {
        self.get("lock")
    }

    pub fn ostype(&self) -> Option<&str> {
        self.get("ostype")
    }

    pub fn arch(&self) -> &str {
        self.get("arch").unwrap_or("amd64")
    }

    pub fn entrypoint(&self) -> &str {
        self.get("entrypoint").unwrap_or("/sbin/init")
    }

    pub fn tags(&self) -> Vec<String> {
        self.get("tags")
            .map(|t| crate::format::split_list(t).map(str::to_string).collect())
            .unwrap_or_default()
    }

    pub fn startup(&self) -> Startup {
        let Some(v) = self
            .get("startup")
            .and_then(|s| crate::qemu::psformats::startup_format().parse(s).ok())
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

    pub fn features(&self) -> Features {
        self.get("features")
            .and_then(|f| Features::parse(f).ok())
            .unwrap_or_default()
    }

    pub fn rootfs(&self) -> Option<MountPoint> {
        MountPoint::parse("rootfs", self.get("rootfs")?).ok()
    }

    /// `rootfs` first, then the `mpN` by index: (key, mount point).
    pub fn mount_points(&self) -> Vec<(String, MountPoint)> {
        let mut out: Vec<(u32, String, MountPoint)> = self
            .current
            .values
            .iter()
            .filter_map(|(k, v)| match split_indexed(k) {
                Some(("mp", i)) => MountPoint::parse(k, v).ok().map(|m| (i, k.clone(), m)),
                _ => None,
            })
            .collect();
        out.sort_by_key(|(i, _, _)| *i);
        let mut all: Vec<(String, MountPoint)> = self
            .rootfs()
            .map(|r| ("rootfs".to_string(), r))
            .into_iter()
            .collect();
        all.extend(out.into_iter().map(|(_, k, m)| (k, m)));
        all
    }

    /// NICs with their index, sorted.
    pub fn nets(&self) -> Vec<(u32, CtNet)> {
        let mut nets: Vec<(u32, CtNet)> = self
            .current
            .values
            .iter()
            .filter_map(|(k, v)| match split_indexed(k) {
                Some(("net", i)) => CtNet::parse(v).ok().map(|n| (i, n)),
                _ => None,
            })
            .collect();
        nets.sort_by_key(|(i, _)| *i);
        nets
    }

    /// `unusedN` volumes: (key, volume ID).
    pub fn unused_volumes(&self) -> Vec<(String, String)> {
        unused_in(&self.current)
    }

    /// Raw `lxc.*` keys, in file order.
    pub fn raw_lxc(&self) -> &[(String, String)] {
        &self.current.lxc
    }

    /// The settings as the API returns them; with `current == false` (the API default)
    /// pending values and deletions are applied.
    pub fn to_api_json(&self, current: bool) -> Map<String, Value> {
        let mut out = section_json(&self.current);
        if !current {
            if let Some(d) = &self.pending.description {
                out.insert("description".into(), Value::String(d.clone()));
            }
            for (key, value) in &self.pending.values {
                if key != "delete" {
                    out.insert(key.clone(), api_value(key, value));
                }
            }
            for key in self.pending.pending_deletes().keys() {
                out.remove(key);
            }
        }
        out
    }

    /// `GET .../pending`: every key with its current value, pending value and deletion mark.
    pub fn pending_list(&self) -> Vec<PendingItem> {
        let deletes = self.pending.pending_deletes();
        let mut keys: Vec<&str> = self.current.values.keys().map(String::as_str).collect();
        keys.extend(self.pending.values.keys().map(String::as_str));
        keys.extend(deletes.keys().map(String::as_str));
        if self.current.description.is_some() || self.pending.description.is_some() {
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
                PendingItem {
                    key: key.to_string(),
                    value: self.get(key).map(|v| api_value(key, v)),
                    pending: pending.map(|v| api_value(key, &v)),
                    delete: deletes.get(key).map(|force| if *force { 2 } else { 1 }),
                }
            })
            .collect()
    }

    /// A snapshot's settings as the API returns them.
    pub fn snapshot_json(&self, name: &str) -> Option<Map<String, Value>> {
        self.snapshots.get(name).map(section_json)
    }
}

fn unused_in(section: &Section) -> Vec<(String, String)> {
    let mut out: Vec<(u32, String, String)> = section
        .values
        .iter()
        .filter_map(|(k, v)| match split_indexed(k) {
            Some(("unused", i)) => {
                let file = unused_format().parse(v).ok()?;
                Some((i, k.clone(), file.get("file")?.as_str()?.to_string()))
            }
            _ => None,
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, k, v)| (k, v)).collect()
}

pub fn section_json(section: &Section) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(d) = &section.description {
        out.insert("description".into(), Value::String(d.clone()));
    }
    for (key, value) in &section.values {
        out.insert(key.clone(), api_value(key, value));
    }
    if !section.lxc.is_empty() {
        // Proxmox returns the raw keys as a list of [key, value] pairs
        let pairs: Vec<Value> = section.lxc.iter().map(|(k, v)| json!([k, v])).collect();
        out.insert("lxc".into(), Value::Array(pairs));
    }
    out
}

/// The lowest free `unusedN` key of a section.
pub(super) fn next_unused_key(section: &Section) -> Option<String> {
    (0..256)
        .map(|i| format!("unused{i}"))
        .find(|k| !section.values.contains_key(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "#web server\narch: amd64\ncores: 2\nfeatures: nesting=1\nhostname: web\nmemory: 1024\nmp0: local:100/vm-100-disk-1.raw,mp=/srv,backup=1,size=4G\nnet0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:AA:BB:CC,ip=dhcp,type=veth\nostype: debian\nrootfs: local:100/vm-100-disk-0.raw,size=8G\nswap: 256\nunprivileged: 1\nunused0: local:100/vm-100-disk-2.raw\nlxc.apparmor.profile: unconfined\n\n[pve:pending]\ndelete: swap\nmemory: 2048\n\n[snap1]\nhostname: web\nrootfs: local:100/vm-100-disk-0.raw,size=8G\nsnaptime: 1700000000\n";

    #[test]
    fn round_trip_and_accessors() {
        let c = CtConfig::parse(SAMPLE).unwrap();
        assert_eq!(c.to_text().unwrap(), SAMPLE);
        assert_eq!(c.hostname(), Some("web"));
        assert_eq!(
            (c.memory_mib(), c.swap_mib(), c.cores()),
            (1024, 256, Some(2))
        );
        assert!(c.unprivileged() && c.features().nesting);
        let mps = c.mount_points();
        assert_eq!(mps.len(), 2);
        assert_eq!(mps[0].0, "rootfs");
        assert_eq!(mps[1].1.mp(), "/srv");
        assert_eq!(c.nets()[0].1.hwaddr().as_deref(), Some("BC:24:11:AA:BB:CC"));
        assert_eq!(c.unused_volumes()[0].1, "local:100/vm-100-disk-2.raw");
        assert_eq!(c.raw_lxc()[0].0, "lxc.apparmor.profile");
        let api = c.to_api_json(false);
        assert_eq!(api["memory"], 2048);
        assert!(!api.contains_key("swap"));
        assert_eq!(api["lxc"][0][1], "unconfined");
        assert_eq!(api["description"], "web server");
        let current = c.to_api_json(true);
        assert_eq!(current["memory"], 1024);
        assert_eq!(current["swap"], 256);
        let pending = c.pending_list();
        let mem = pending.iter().find(|p| p.key == "memory").unwrap();
        assert_eq!(mem.pending, Some(json!(2048)));
        assert_eq!(
            pending.iter().find(|p| p.key == "swap").unwrap().delete,
            Some(1)
        );
    }

    #[test]
    fn defaults() {
        let c = CtConfig::parse("").unwrap();
        assert_eq!((c.memory_mib(), c.swap_mib(), c.cores()), (512, 512, None));
        assert!(!c.unprivileged() && !c.protection() && c.console());
        assert_eq!(c.arch(), "amd64");
        assert_eq!(c.entrypoint(), "/sbin/init");
        assert!(c.mount_points().is_empty() && c.nets().is_empty());
    }

    #[test]
    fn bad_configs_name_the_key() {
        let e = CtConfig::parse("memory: 8\n").unwrap_err();
        assert_eq!(e.key(), Some("memory"));
        assert_eq!(
            e.to_string(),
            "main: unable to parse value of 'memory' - value must have a minimum value of 16"
        );
        let e = CtConfig::parse("scsi0: local:1\n").unwrap_err();
        assert_eq!(e.to_string(), "main: unknown setting 'scsi0'");
        let e = CtConfig::parse("hostname: a\n\n[pve:pending]\nnet0: bridge=x\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("pending: unable to parse value of 'net0'"),
            "{e}"
        );
        assert!(CtConfig::parse("onboot: yes\n").unwrap().onboot());
    }
}
