//! How VM and container configs take part in a restore ([`RestoreKind`]).

use std::collections::BTreeMap;

use oxve_storage::{ContentType, StorageManager};
use oxve_types::lxc::{CtConfig, MountSource};
use oxve_types::qemu::{random_mac, DriveVolume, NetDevice, VmConfig, DEFAULT_MAC_PREFIX};

use super::restore::{format_of, DiskPlacement, Placements, RestoreKind, RestoredDisk};
use crate::api::qemu::create::uuid_v4;

/// The storage a disk is restored to: `storage`, else where it was, which must exist.
fn target_storage(
    storage: Option<&str>,
    original: &str,
    manager: &StorageManager,
    key: &str,
) -> Result<String, String> {
    let target = storage.unwrap_or(original).to_string();
    manager.open(&target).map_err(|_| {
        format!("{key}: storage '{target}' does not exist here (choose one with 'storage')")
    })?;
    Ok(target)
}

impl RestoreKind for VmConfig {
    const ARCHIVE_TYPE: &'static str = "qemu";
    const CONF_NAME: &'static str = "qemu-server.conf";
    const TASK: &'static str = "qmrestore";

    fn plan(
        text: &str,
        storage: Option<&str>,
        manager: &StorageManager,
    ) -> Result<(Self, Placements), String> {
        let conf = VmConfig::parse(text).map_err(|e| format!("archived config: {e}"))?;
        let mut placements = BTreeMap::new();
        for drive in conf.current.drives() {
            if drive.is_cdrom() {
                continue;
            }
            let DriveVolume::Volume {
                storage: original, ..
            } = drive.volume()
            else {
                continue;
            };
            let key = drive.key();
            let place = DiskPlacement {
                storage: target_storage(storage, original, manager, &key)?,
                format: format_of(&drive.file),
                content: ContentType::Images,
                size: drive.size.unwrap_or(0),
            };
            placements.insert(format!("drive-{key}"), (key, place));
        }
        Ok((conf, placements))
    }

    fn finish(
        &mut self,
        restored: &BTreeMap<String, (String, RestoredDisk)>,
        unique: bool,
        log: &dyn Fn(String),
    ) -> Result<(), String> {
        let by_key: BTreeMap<&str, &RestoredDisk> =
            restored.values().map(|(k, d)| (k.as_str(), d)).collect();
        for drive in self.current.drives() {
            if drive.is_cdrom() || !matches!(drive.volume(), DriveVolume::Volume { .. }) {
                continue;
            }
            let key = drive.key();
            match by_key.get(key.as_str()) {
                Some(disk) => {
                    let mut moved = drive.clone();
                    moved.file = disk.volid.to_string();
                    moved.size = Some(disk.size);
                    self.set(&key, &moved.print()).map_err(|e| e.to_string())?;
                }
                None => {
                    log(format!(
                        "{key}: not in the backup (backup=0), removed from the config"
                    ));
                    self.current.remove(&key);
                }
            }
        }
        for (key, _) in self.current.unused_volumes() {
            self.current.remove(&key);
        }
        for key in ["lock", "parent"] {
            self.current.remove(key);
        }
        // A restored VM is a new generation of the machine.
        self.set("vmgenid", &uuid_v4()).map_err(|e| e.to_string())?;
        if unique {
            for (index, nic) in self.current.nets() {
                let renewed = NetDevice {
                    macaddr: Some(random_mac(Some(DEFAULT_MAC_PREFIX))),
                    ..nic
                };
                self.set(&format!("net{index}"), &renewed.print())
                    .map_err(|e| e.to_string())?;
            }
            self.set("smbios1", &format!("uuid={}", uuid_v4()))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn owned_volumes(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .current
            .drives()
            .into_iter()
            .filter(|d| !d.is_cdrom() && matches!(d.volume(), DriveVolume::Volume { .. }))
            .map(|d| d.file)
            .collect();
        out.extend(self.current.unused_volumes().into_iter().map(|(_, v)| v));
        out
    }
}

/// `hwaddr=` of a container NIC replaced by a new random address.
fn renew_hwaddr(value: &str) -> String {
    let mac = random_mac(Some(DEFAULT_MAC_PREFIX));
    let mut parts: Vec<String> = value
        .split(',')
        .filter(|p| !p.starts_with("hwaddr="))
        .map(str::to_string)
        .collect();
    parts.push(format!("hwaddr={mac}"));
    parts.join(",")
}

impl RestoreKind for CtConfig {
    const ARCHIVE_TYPE: &'static str = "lxc";
    const CONF_NAME: &'static str = "pct.conf";
    const TASK: &'static str = "vzrestore";

    fn plan(
        text: &str,
        storage: Option<&str>,
        manager: &StorageManager,
    ) -> Result<(Self, Placements), String> {
        let conf = CtConfig::parse(text).map_err(|e| format!("archived config: {e}"))?;
        let mut placements = BTreeMap::new();
        for (key, mp) in conf.mount_points() {
            let MountSource::Volume(volid) = mp.source() else {
                continue;
            };
            let original = volid.split_once(':').map_or("", |(s, _)| s);
            let place = DiskPlacement {
                storage: target_storage(storage, original, manager, &key)?,
                format: format_of(&volid),
                content: ContentType::Rootdir,
                size: mp.size().unwrap_or(0),
            };
            placements.insert(key.clone(), (key, place));
        }
        Ok((conf, placements))
    }

    fn finish(
        &mut self,
        restored: &BTreeMap<String, (String, RestoredDisk)>,
        unique: bool,
        log: &dyn Fn(String),
    ) -> Result<(), String> {
        for (key, mut mp) in self.mount_points() {
            if !matches!(mp.source(), MountSource::Volume(_)) {
                continue;
            }
            match restored.get(&key) {
                Some((_, disk)) => {
                    // A subvolume without a limit has no size, as when it was created.
                    mp.set_volume(
                        &disk.volid.to_string(),
                        (disk.size > 0).then_some(disk.size),
                    );
                    self.set(&key, &mp.print()).map_err(|e| e.to_string())?;
                }
                None => {
                    log(format!(
                        "{key}: not in the backup (backup=0), removed from the config"
                    ));
                    self.remove(&key);
                }
            }
        }
        for (key, _) in self.unused_volumes() {
            self.remove(&key);
        }
        self.remove("lock");
        self.remove("parent");
        if unique {
            let nets: Vec<(String, String)> = self
                .nets()
                .into_iter()
                .map(|(i, n)| (format!("net{i}"), renew_hwaddr(&n.print())))
                .collect();
            for (key, value) in nets {
                self.set(&key, &value).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    fn owned_volumes(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .mount_points()
            .into_iter()
            .filter_map(|(_, mp)| match mp.source() {
                MountSource::Volume(v) => Some(v),
                _ => None,
            })
            .collect();
        out.extend(self.unused_volumes().into_iter().map(|(_, v)| v));
        out
    }
}
