//! What a running VM can apply of its pending changes, decided as Proxmox VE's
//! `vmconfig_hotplug_pending` decides it: fast-plug settings at once, devices when the
//! `hotplug` option allows their class, some changes (NIC bridge/VLAN/rate/link, disk
//! throttling, CD-ROM media) without hot-plugging at all. The caller performs each step on
//! QEMU and then commits it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::format::split_list;

use super::config::VmConfig;
use super::drive::{Drive, DriveBus};
use super::keys::{self, split_indexed, CLOUDINIT_KEYS};
use super::net::NetDevice;
use super::pending::{UpdateError, VolumeChanges};
use super::psformats;

/// Which device classes may change while the VM runs (`hotplug` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HotplugFeatures {
    pub network: bool,
    pub disk: bool,
    pub cpu: bool,
    pub memory: bool,
    pub usb: bool,
    pub cloudinit: bool,
}

impl Default for HotplugFeatures {
    /// `network,disk,usb`.
    fn default() -> Self {
        HotplugFeatures {
            network: true,
            disk: true,
            cpu: false,
            memory: false,
            usb: true,
            cloudinit: false,
        }
    }
}

impl HotplugFeatures {
    pub const NONE: HotplugFeatures = HotplugFeatures {
        network: false,
        disk: false,
        cpu: false,
        memory: false,
        usb: false,
        cloudinit: false,
    };

    /// Parse `0`, `1` or a list like `network,disk,cpu`.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "0" => return Ok(Self::NONE),
            "1" => return Ok(Self::default()),
            _ => {}
        }
        let mut f = Self::NONE;
        for item in split_list(value) {
            match item {
                "network" => f.network = true,
                "disk" => f.disk = true,
                "cpu" => f.cpu = true,
                "memory" => f.memory = true,
                "usb" => f.usb = true,
                "cloudinit" => f.cloudinit = true,
                other => return Err(format!("invalid hotplug feature '{other}'")),
            }
        }
        Ok(f)
    }
}

/// Settings that do not affect a running VM and are written at once (Proxmox's
/// "fast plug" options, plus the cloud-init ones).
pub fn is_fast_plug(key: &str) -> bool {
    const FAST: &[&str] = &[
        "description",
        "hookscript",
        "lock",
        "migrate_downtime",
        "migrate_speed",
        "name",
        "onboot",
        "protection",
        "shares",
        "startup",
        "tags",
        "vmstatestorage",
    ];
    FAST.contains(&key)
        || CLOUDINIT_KEYS.contains(&key)
        || matches!(split_indexed(key), Some(("ipconfig", _)))
}

/// What the running VM must do to apply one pending change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveAction {
    /// Nothing: just write the config.
    None,
    /// Add the device (`netN`, a disk, `usbN`, the tablet).
    DevicePlug,
    /// Remove the device.
    DeviceUnplug,
    /// Remove the old device, then add the new one.
    DeviceReplace,
    /// Re-attach the NIC's tap (`tap`), change its rate limit (`rate`) and/or its link state
    /// (`link`) without touching the guest device.
    NetReconfigure { tap: bool, rate: bool, link: bool },
    /// Same disk, changed throttling (`throttle`) or only informational options.
    DiskUpdate { throttle: bool },
    /// Change (or eject, for `none`) the CD-ROM medium.
    CdromChange,
    /// Plug or unplug vCPUs to match `vcpus`.
    CpuHotplug,
    /// Plug or unplug memory modules to match `memory`.
    MemoryHotplug,
    /// Set the balloon target.
    Balloon,
    /// Set the cgroup CPU weight.
    CpuUnits,
    /// Set the cgroup CPU quota.
    CpuLimit,
}

/// One pending change a running VM can apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotplugStep {
    pub key: String,
    /// True for a pending deletion, false for a pending value.
    pub delete: bool,
    pub action: LiveAction,
}

/// The pending changes a running VM can apply now; the others stay pending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HotplugPlan {
    pub steps: Vec<HotplugStep>,
    /// Changes that can never be applied live as requested (e.g. a media type change).
    pub errors: BTreeMap<String, String>,
}

/// Facts about the running VM that decide what can be hot-plugged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HotplugContext {
    /// USB hot-plug works (machine version >= 7.1 and a Linux or Windows > 7 guest).
    pub usb_hotplug: bool,
}

fn nonzero(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty() && s != "0",
        _ => false,
    }
}

fn ne<T: PartialEq>(a: &T, b: &T) -> bool {
    a != b
}

impl VmConfig {
    /// Decide what a running VM can apply of its pending changes (Proxmox's
    /// `vmconfig_hotplug_pending`). `selection` limits the plan to some keys (the keys an
    /// update touched); fast-plug settings are always included.
    pub fn hotplug_plan(
        &self,
        ctx: HotplugContext,
        selection: Option<&BTreeSet<String>>,
    ) -> HotplugPlan {
        let mut plan = HotplugPlan::default();
        let features = self.hotplug();
        let selected = |k: &str| is_fast_plug(k) || selection.is_none_or(|s| s.contains(k));
        let current_hotplug = self.current.get("hotplug").unwrap_or("");
        let mut step = |key: &str, delete: bool, action: LiveAction| {
            plan.steps.push(HotplugStep {
                key: key.to_string(),
                delete,
                action,
            });
        };

        for key in self.pending.pending_deletes().keys() {
            if !selected(key) {
                continue;
            }
            let family = split_indexed(key).map(|(p, _)| p);
            let action = if key == "hotplug" {
                (!current_hotplug.contains("cpu") && !current_hotplug.contains("memory"))
                    .then_some(LiveAction::None)
            } else if key == "tablet" {
                features.usb.then_some(LiveAction::DevicePlug)
            } else if family == Some("usb") {
                ctx.usb_hotplug.then_some(LiveAction::DeviceUnplug)
            } else if key == "vcpus" {
                features.cpu.then_some(LiveAction::CpuHotplug)
            } else if key == "balloon" {
                (self.balloon() != Some(0)).then_some(LiveAction::Balloon)
            } else if is_fast_plug(key) {
                Some(LiveAction::None)
            } else if family == Some("net") {
                features.network.then_some(LiveAction::DeviceUnplug)
            } else if let Some((bus, _)) = DriveBus::from_key(key) {
                let pluggable = matches!(bus, DriveBus::Scsi | DriveBus::Virtio);
                (features.disk && pluggable).then_some(LiveAction::DeviceUnplug)
            } else if key == "memory" {
                features.memory.then_some(LiveAction::MemoryHotplug)
            } else if key == "cpuunits" {
                Some(LiveAction::CpuUnits)
            } else if key == "cpulimit" {
                Some(LiveAction::CpuLimit)
            } else {
                None
            };
            if let Some(action) = action {
                step(key, true, action);
            }
        }

        for (key, value) in &self.pending.values {
            if key == "delete" || !selected(key) {
                continue;
            }
            let family = split_indexed(key).map(|(p, _)| p);
            let action = if is_fast_plug(key) {
                Some(LiveAction::None)
            } else if key == "hotplug" {
                let touches = |s: &str| s.contains("memory") || s.contains("cpu");
                (!touches(value) && !touches(current_hotplug)).then_some(LiveAction::None)
            } else if key == "tablet" {
                features.usb.then(|| {
                    if value == "1" {
                        LiveAction::DevicePlug
                    } else {
                        LiveAction::DeviceUnplug
                    }
                })
            } else if family == Some("usb") {
                ctx.usb_hotplug.then(|| {
                    if self.current.contains(key) {
                        LiveAction::DeviceReplace
                    } else {
                        LiveAction::DevicePlug
                    }
                })
            } else if key == "vcpus" {
                features.cpu.then_some(LiveAction::CpuHotplug)
            } else if key == "balloon" {
                let enabled = |v: Option<&str>| v != Some("0");
                (enabled(self.current.get("balloon")) == enabled(Some(value)))
                    .then_some(LiveAction::Balloon)
            } else if family == Some("net") {
                self.plan_net(key, value, features.network)
            } else if keys::is_drive_key(key) {
                match self.plan_disk(key, value, features.disk) {
                    Ok(a) => a,
                    Err(e) => {
                        plan.errors
                            .insert(key.clone(), format!("hotplug problem - {e}"));
                        None
                    }
                }
            } else if key == "memory" {
                features.memory.then_some(LiveAction::MemoryHotplug)
            } else if key == "cpuunits" {
                Some(LiveAction::CpuUnits)
            } else if key == "cpulimit" {
                Some(LiveAction::CpuLimit)
            } else if key == "agent" {
                self.agent_change_is_live(value).then_some(LiveAction::None)
            } else {
                None
            };
            if let Some(action) = action {
                step(key, false, action);
            }
        }
        plan
    }

    fn plan_net(&self, key: &str, value: &str, hotplug: bool) -> Option<LiveAction> {
        let new = NetDevice::parse(value).ok()?;
        let Some(old) = self.current.get(key).and_then(|v| NetDevice::parse(v).ok()) else {
            return hotplug.then_some(LiveAction::DevicePlug);
        };
        if ne(&old.model, &new.model)
            || ne(&old.macaddr, &new.macaddr)
            || ne(&old.queues, &new.queues)
            || ne(&old.mtu, &new.mtu)
            || old.bridge.is_none()
            || new.bridge.is_none()
        {
            return hotplug.then_some(LiveAction::DeviceReplace);
        }
        let moved = ne(&old.bridge, &new.bridge) || ne(&old.tag, &new.tag);
        let tap = moved
            || ne(&old.trunks, &new.trunks)
            || ne(
                &old.firewall.unwrap_or(false),
                &new.firewall.unwrap_or(false),
            );
        let rate = !tap && ne(&old.rate, &new.rate);
        let link = moved
            || ne(
                &old.link_down.unwrap_or(false),
                &new.link_down.unwrap_or(false),
            );
        Some(LiveAction::NetReconfigure { tap, rate, link })
    }

    fn plan_disk(
        &self,
        key: &str,
        value: &str,
        hotplug: bool,
    ) -> Result<Option<LiveAction>, String> {
        let (bus, _) = DriveBus::from_key(key).ok_or("not a drive")?;
        if matches!(bus, DriveBus::Efidisk | DriveBus::TpmState) {
            return Ok(None);
        }
        let new = Drive::parse(key, value).map_err(|e| e.to_string())?;
        if new.is_cloudinit() {
            return Ok(None);
        }
        let pluggable_bus = matches!(bus, DriveBus::Scsi | DriveBus::Virtio);
        let Some(old) = self.current.drive(key) else {
            return Ok((hotplug && pluggable_bus).then_some(LiveAction::DevicePlug));
        };
        if old.is_cdrom() != new.is_cdrom() {
            return Err("unable to change media type".into());
        }
        if old.is_cdrom() {
            return Ok(Some(LiveAction::CdromChange));
        }
        if old.file != new.file {
            return Ok(hotplug.then_some(LiveAction::DeviceReplace));
        }
        let other = |d: &Drive, k: &str| d.other.get(k).cloned();
        let fixed = ne(&old.aio, &new.aio)
            || ne(&old.discard, &new.discard)
            || ne(&old.iothread, &new.iothread)
            || ne(&old.cache, &new.cache)
            || ne(&old.ssd, &new.ssd)
            || ne(&old.ro, &new.ro)
            || ["queues", "product", "vendor"]
                .iter()
                .any(|k| ne(&other(&old, k), &other(&new, k)));
        if fixed {
            return Ok(None);
        }
        let throttle = old.other.iter().chain(new.other.iter()).any(|(k, _)| {
            (k.starts_with("mbps") || k.starts_with("iops") || k.starts_with("bps"))
                && ne(&other(&old, k), &other(&new, k))
        });
        Ok(Some(LiveAction::DiskUpdate { throttle }))
    }

    /// Only `fstrim_cloned_disks` of the agent can change while the VM runs.
    fn agent_change_is_live(&self, value: &str) -> bool {
        let parse = |v: &str| {
            let mut map = psformats::agent_format().parse(v).ok()?;
            if !nonzero(map.get("enabled")) {
                map.clear();
            }
            map.remove("fstrim_cloned_disks");
            Some(map)
        };
        match (self.current.get("agent").and_then(parse), parse(value)) {
            (Some(old), Some(new)) => old == new,
            _ => false,
        }
    }

    /// Record that a running VM applied `step`: the value moves from pending to current (or
    /// the key is deleted), with the same disk bookkeeping as [`apply_pending`](Self::apply_pending).
    pub fn commit_hotplug(
        &mut self,
        vmid: u32,
        step: &HotplugStep,
    ) -> Result<VolumeChanges, UpdateError> {
        let key = step.key.as_str();
        if step.delete {
            let force = self
                .pending
                .pending_deletes()
                .get(key)
                .copied()
                .unwrap_or(false);
            let changes = if keys::is_drive_key(key) {
                self.delete_or_detach(vmid, key, force)?
            } else {
                VolumeChanges::default()
            };
            self.current.remove(key);
            self.remove_pending_delete(key);
            return Ok(changes);
        }
        let Some(value) = self.pending_value(key).map(str::to_string) else {
            return Ok(VolumeChanges::default());
        };
        let mut changes = VolumeChanges::default();
        if step.action == LiveAction::DeviceReplace && keys::is_drive_key(key) {
            if let Some(old) = self.current.drive(key) {
                changes = self.register_unused(vmid, &old)?;
            }
        }
        self.take_pending_value(key);
        self.current.insert_checked(key, value);
        self.drop_reattached_unused();
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hotplug_features() {
        assert_eq!(
            HotplugFeatures::parse("1").unwrap(),
            HotplugFeatures::default()
        );
        assert_eq!(HotplugFeatures::parse("0").unwrap(), HotplugFeatures::NONE);
        let f = HotplugFeatures::parse("network,cpu;memory").unwrap();
        assert!(f.network && f.cpu && f.memory && !f.disk && !f.usb);
        assert!(HotplugFeatures::parse("disk,gpu").is_err());
    }
}
