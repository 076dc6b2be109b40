//! Applying a hotplug plan step to a running VM: disks and NICs plugged and unplugged, link
//! state, I/O limits, CD-ROM media and the balloon target, through QMP and HMP as Proxmox does.
//!
//! Devices are added with the same option strings the command line uses
//! ([`device_args`](crate::cmdline::device_args)): `-drive` becomes HMP `drive_add auto`,
//! `-netdev` `netdev_add`, `-object` `object_add`, `-device` `device_add`. A controller that
//! already exists (by id) is not added twice. If a step fails half-way, what it added is
//! removed again.

use std::time::Duration;

use oxve_qmp::QmpClient;
use oxve_types::qemu::{DriveVolume, HotplugStep, LiveAction, VmSettings};
use serde_json::{json, Value};

use crate::cmdline::device_args;
use crate::engine::QemuEngine;
use crate::error::{QemuError, Result};
use crate::resolver::VolumeResolver;

/// How long a device may take to disappear after `device_del` (the guest acknowledges PCI
/// unplugs).
const UNPLUG_TIMEOUT: Duration = Duration::from_secs(15);

/// What became of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HotplugOutcome {
    /// The running VM has the change: write it to the config.
    Applied,
    /// This engine cannot apply the change live; it stays pending until the next start.
    Deferred(String),
}

/// The value of `id=` in a device option string.
fn option_id(opts: &str) -> Option<&str> {
    opts.split(',').find_map(|kv| kv.strip_prefix("id="))
}

/// Quotes an HMP string argument.
fn hmp_quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

impl QemuEngine {
    /// Applies `step` to running VM `vmid`: `old` are the settings it runs with, `new` the
    /// settings with the step's change applied.
    pub async fn hotplug(
        &self,
        vmid: u32,
        step: &HotplugStep,
        old: &VmSettings,
        new: &VmSettings,
        resolver: &dyn VolumeResolver,
    ) -> Result<HotplugOutcome> {
        let _guard = self.lock_vm(vmid).await;
        let qmp = self.qmp(vmid).await?;
        let key = step.key.as_str();
        let fail = |message: String| QemuError::Hotplug {
            vmid,
            key: key.to_string(),
            message,
        };
        match &step.action {
            LiveAction::None => {}
            LiveAction::Balloon => {
                let mib = new.balloon().filter(|b| *b > 0).unwrap_or(new.memory_mib());
                qmp.balloon(mib * 1024 * 1024)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
            }
            LiveAction::DevicePlug => self.plug(vmid, &qmp, key, new, resolver).await?,
            LiveAction::DeviceUnplug => self.unplug(vmid, &qmp, key, old).await?,
            LiveAction::DeviceReplace => {
                self.unplug(vmid, &qmp, key, old).await?;
                self.plug(vmid, &qmp, key, new, resolver).await?;
            }
            LiveAction::NetReconfigure { tap, rate, link } => {
                if *tap || *rate {
                    return Ok(HotplugOutcome::Deferred(
                        "moving a running NIC to another bridge or rate needs the network layer"
                            .into(),
                    ));
                }
                if *link {
                    let down = new
                        .nets()
                        .into_iter()
                        .find(|(i, _)| format!("net{i}") == key)
                        .is_some_and(|(_, n)| n.link_down == Some(true));
                    qmp.execute_unit("set_link", &json!({ "name": key, "up": !down }))
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                }
            }
            LiveAction::DiskUpdate { throttle } => {
                if *throttle {
                    self.set_throttle(&qmp, key, new).await.map_err(fail)?;
                }
            }
            LiveAction::CdromChange => {
                let drive = new.drive(key).ok_or_else(|| fail("no such drive".into()))?;
                match drive.volume() {
                    DriveVolume::None => qmp
                        .execute_unit("eject", &json!({ "id": key, "force": true }))
                        .await
                        .map_err(|e| fail(e.to_string()))?,
                    _ => {
                        let resolved = resolver
                            .path(&drive.file)
                            .map_err(|e| fail(e.to_string()))?;
                        let format = resolved.format.unwrap_or_else(|| "raw".into());
                        qmp.execute_unit(
                            "blockdev-change-medium",
                            &json!({ "id": key, "filename": resolved.path, "format": format }),
                        )
                        .await
                        .map_err(|e| fail(e.to_string()))?
                    }
                }
            }
            LiveAction::CpuUnits | LiveAction::CpuLimit => {
                let cg = self
                    .vm_cgroup(vmid)
                    .ok_or_else(|| fail("no cgroup hierarchy on this host".into()))?;
                self.apply_cpu_settings(&cg, new)
                    .map_err(|e| fail(e.to_string()))?;
            }
            LiveAction::CpuHotplug | LiveAction::MemoryHotplug => {
                return Ok(HotplugOutcome::Deferred(format!(
                    "{key}: live change not supported by oxve yet - applies at the next start"
                )))
            }
        }
        Ok(HotplugOutcome::Applied)
    }

    async fn hmp(&self, qmp: &QmpClient, command: &str) -> std::result::Result<String, String> {
        qmp.human_monitor_command(command)
            .await
            .map_err(|e| format!("{command}: {e}"))
    }

    /// The ids below a QOM path (`/machine/peripheral`: devices with an id; `/objects`).
    async fn qom_children(qmp: &QmpClient, path: &str) -> Vec<String> {
        let list: Value = qmp
            .execute_value("qom-list", &json!({ "path": path }))
            .await
            .unwrap_or(Value::Null);
        list.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn plug(
        &self,
        vmid: u32,
        qmp: &QmpClient,
        key: &str,
        new: &VmSettings,
        resolver: &dyn VolumeResolver,
    ) -> Result<()> {
        let dev = device_args(vmid, new, key, resolver, &self.host_facts(), &self.paths)?;
        let devices = Self::qom_children(qmp, "/machine/peripheral").await;
        let objects = Self::qom_children(qmp, "/objects").await;
        // What was added, to remove again if a later part fails.
        let mut added: Vec<(String, String)> = Vec::new();
        let result: std::result::Result<(), String> = async {
            for (option, value) in &dev.args {
                let id = option_id(value).unwrap_or("").to_string();
                let command = match option.as_str() {
                    "-object" if objects.contains(&id) => continue,
                    "-device" if devices.contains(&id) => continue,
                    "-object" => format!("object_add {value}"),
                    "-device" => format!("device_add {value}"),
                    "-netdev" => format!("netdev_add {value}"),
                    "-drive" => format!("drive_add auto {}", hmp_quote(value)),
                    other => return Err(format!("unexpected option {other}")),
                };
                let out = self.hmp(qmp, &command).await?;
                let ok = if option == "-drive" {
                    out.trim() == "OK"
                } else {
                    out.trim().is_empty()
                };
                if !ok {
                    return Err(format!("{command}: {}", out.trim()));
                }
                added.push((option.clone(), id));
                if option == "-netdev" {
                    if let Some(wiring) = &self.opts.tap_wiring {
                        for tap in &dev.taps {
                            wiring
                                .plug(vmid, tap)
                                .await
                                .map_err(|e| format!("wiring {}: {e}", tap.ifname))?;
                        }
                    }
                }
            }
            if let Some(nic) = new
                .nets()
                .into_iter()
                .find(|(i, _)| format!("net{i}") == key)
                .map(|(_, n)| n)
            {
                if nic.link_down == Some(true) {
                    qmp.execute_unit("set_link", &json!({ "name": key, "up": false }))
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok(())
        }
        .await;
        if let Err(message) = result {
            for (option, id) in added.iter().rev() {
                let _ = self.remove_part(qmp, option, id).await;
            }
            return Err(QemuError::Hotplug {
                vmid,
                key: key.to_string(),
                message,
            });
        }
        Ok(())
    }

    /// Removes one added part (rolling back a failed plug, or unplugging).
    async fn remove_part(
        &self,
        qmp: &QmpClient,
        option: &str,
        id: &str,
    ) -> std::result::Result<(), String> {
        match option {
            "-device" => self.device_del(qmp, id).await,
            "-drive" => {
                // Usually gone with its device already (drives of `if=none` are auto-deleted).
                let _ = self.hmp(qmp, &format!("drive_del {id}")).await;
                Ok(())
            }
            "-netdev" => qmp
                .execute_unit("netdev_del", &json!({ "id": id }))
                .await
                .map_err(|e| e.to_string()),
            "-object" => qmp
                .execute_unit("object-del", &json!({ "id": id }))
                .await
                .map_err(|e| e.to_string()),
            _ => Ok(()),
        }
    }

    /// `device_del`, then waits until the device is gone.
    async fn device_del(&self, qmp: &QmpClient, id: &str) -> std::result::Result<(), String> {
        qmp.device_del(id).await.map_err(|e| e.to_string())?;
        let deadline = tokio::time::Instant::now() + UNPLUG_TIMEOUT;
        loop {
            if !Self::qom_children(qmp, "/machine/peripheral")
                .await
                .iter()
                .any(|d| d == id)
            {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "unplug of {id} timed out (the guest did not release the device)"
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn unplug(&self, vmid: u32, qmp: &QmpClient, key: &str, old: &VmSettings) -> Result<()> {
        let fail = |message: String| QemuError::Hotplug {
            vmid,
            key: key.to_string(),
            message,
        };
        self.device_del(qmp, key).await.map_err(fail)?;
        if key.starts_with("net") {
            self.remove_part(qmp, "-netdev", key).await.map_err(fail)?;
            return Ok(());
        }
        self.remove_part(qmp, "-drive", &format!("drive-{key}"))
            .await
            .map_err(fail)?;
        // virtio-scsi-single: each disk has its own controller (and iothread).
        if key.starts_with("scsi") && old.get("scsihw") == Some("virtio-scsi-single") {
            let controller = format!("virtioscsi{}", &key[4..]);
            self.device_del(qmp, &controller).await.map_err(fail)?;
            let thread = format!("iothread-{controller}");
            if Self::qom_children(qmp, "/objects").await.contains(&thread) {
                let _ = self.remove_part(qmp, "-object", &thread).await;
            }
        }
        Ok(())
    }

    /// `block_set_io_throttle` from the drive's `mbps*`/`iops*` options.
    async fn set_throttle(
        &self,
        qmp: &QmpClient,
        key: &str,
        new: &VmSettings,
    ) -> std::result::Result<(), String> {
        let drive = new.drive(key).ok_or("no such drive")?;
        let num = |k: &str| -> f64 {
            drive
                .other
                .get(k)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0)
        };
        let mb = |k: &str, raw: &str| -> u64 {
            let v = num(k) * 1024.0 * 1024.0;
            if v > 0.0 {
                v as u64
            } else {
                num(raw) as u64
            }
        };
        qmp.execute_unit(
            "block_set_io_throttle",
            &json!({
                "id": key,
                "bps": mb("mbps", "bps"),
                "bps_rd": mb("mbps_rd", "bps_rd"),
                "bps_wr": mb("mbps_wr", "bps_wr"),
                "iops": num("iops") as u64,
                "iops_rd": num("iops_rd") as u64,
                "iops_wr": num("iops_wr") as u64,
            }),
        )
        .await
        .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(
            option_id("virtio-blk-pci,drive=drive-virtio1,id=virtio1"),
            Some("virtio1")
        );
        assert_eq!(hmp_quote(r#"file=/a "b"\c"#), r#""file=/a \"b\"\\c""#);
    }
}
