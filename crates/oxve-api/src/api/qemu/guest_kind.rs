//! VMs in the generic snapshot, template and clone logic ([`crate::guest_snapshot`]): disks
//! are the drives with a storage volume (not CD-ROMs); a running VM is paused, its qcow2
//! disks are snapshotted by QEMU in one transaction, and its RAM can be saved.

use std::collections::BTreeMap;

use oxve_storage::{ContentType, VolumeFormat, VolumeId};
use oxve_store::GuestLock;
use oxve_tasks::TaskContext;
use oxve_types::qemu::{
    random_mac, DriveVolume, NetDevice, VmConfig, VmSettings, DEFAULT_MAC_PREFIX,
};
use serde_json::{Map, Value};

use super::create::uuid_v4;
use crate::env::RpcEnv;
use crate::guest_config::Loaded;
use crate::guest_snapshot::{free_volumes, manager, GuestVolume, Log, SnapshotGuest, TaskNames};

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl SnapshotGuest for VmConfig {
    type Settings = VmSettings;

    const API_DIR: &'static str = "qemu";
    const TASKS: TaskNames = TaskNames {
        snapshot: "qmsnapshot",
        rollback: "qmrollback",
        delsnapshot: "qmdelsnapshot",
        clone: "qmclone",
        template: Some("qmtemplate"),
    };
    const CLONE_LOCK: GuestLock = GuestLock::Clone;
    const VMSTATE: bool = true;
    const CONTENT: ContentType = ContentType::Images;
    const CLONE_NAME: (&'static str, &'static str) = ("name", "Set a name for the new VM.");
    const CLONE_FORMATS: &'static [&'static str] = &["raw", "qcow2", "vmdk"];
    const SNAPSHOT_KEYS: &'static [&'static str] =
        &["snaptime", "vmstate", "runningmachine", "runningcpu"];
    const NOT_CLONED: &'static [&'static str] = &["description"];

    fn current(&self) -> &VmSettings {
        &self.current
    }
    fn current_mut(&mut self) -> &mut VmSettings {
        &mut self.current
    }
    fn snapshots(&self) -> &BTreeMap<String, VmSettings> {
        &self.snapshots
    }
    fn snapshots_mut(&mut self) -> &mut BTreeMap<String, VmSettings> {
        &mut self.snapshots
    }
    fn clear_pending(&mut self) {
        self.pending = Default::default();
    }

    fn get<'a>(s: &'a VmSettings, key: &str) -> Option<&'a str> {
        match key {
            "description" => s.description(),
            _ => s.get(key),
        }
    }
    fn set(s: &mut VmSettings, key: &str, value: &str) -> Result<(), String> {
        s.set(key, value).map_err(err)
    }
    fn remove(s: &mut VmSettings, key: &str) {
        s.remove(key);
    }
    fn to_json(s: &VmSettings) -> Map<String, Value> {
        s.to_api_json()
    }

    fn volumes(s: &VmSettings) -> Result<Vec<GuestVolume>, String> {
        let mut out = Vec::new();
        for drive in s.drives() {
            if drive.is_cdrom() || !matches!(drive.volume(), DriveVolume::Volume { .. }) {
                continue;
            }
            out.push(GuestVolume {
                key: drive.key(),
                volid: VolumeId::parse(&drive.file).map_err(err)?,
            });
        }
        Ok(out)
    }

    fn set_volume(s: &mut VmSettings, key: &str, volid: &VolumeId) -> Result<(), String> {
        let mut drive = s.drive(key).ok_or_else(|| format!("{key} vanished"))?;
        drive.file = volid.to_string();
        s.set(key, &drive.print()).map_err(err)
    }

    fn unused_keys(s: &VmSettings) -> Vec<String> {
        s.unused_volumes().into_iter().map(|(k, _)| k).collect()
    }

    fn renew_identity(s: &mut VmSettings) -> Result<(), String> {
        for (index, nic) in s.nets() {
            let renewed = NetDevice {
                macaddr: Some(random_mac(Some(DEFAULT_MAC_PREFIX))),
                ..nic
            };
            s.set(&format!("net{index}"), &renewed.print())
                .map_err(err)?;
        }
        s.set("smbios1", &format!("uuid={}", uuid_v4()))
            .map_err(err)?;
        s.set("vmgenid", &uuid_v4()).map_err(err)
    }

    fn default_clone_name(source: &VmSettings, vmid: u32) -> Option<String> {
        let name = source
            .name()
            .map_or_else(|| vmid.to_string(), str::to_string);
        Some(format!("Copy-of-VM-{name}"))
    }

    fn is_running(env: &RpcEnv, vmid: u32) -> bool {
        env.state.qemu.is_running(vmid).is_some()
    }

    async fn stop(env: &RpcEnv, vmid: u32) -> Result<(), String> {
        env.state
            .qemu
            .stop(vmid, std::time::Duration::from_secs(10))
            .await
            .map_err(err)
    }

    async fn start(env: &RpcEnv, vmid: u32, ctx: &TaskContext) -> Result<(), String> {
        let vm = super::store_io::load(env, vmid)
            .await
            .map_err(|e| e.message)?;
        super::status::start_vm(env, vmid, &vm.config.current, |m| ctx.log(m)).await
    }

    async fn freeze(env: &RpcEnv, vmid: u32) -> Result<bool, String> {
        env.state.qemu.pause_for_snapshot(vmid).await.map_err(err)
    }

    async fn thaw(env: &RpcEnv, vmid: u32, frozen: bool, saved_state: bool) -> Result<(), String> {
        env.state
            .qemu
            .resume_after_snapshot(vmid, frozen, saved_state)
            .await
            .map_err(err)
    }

    async fn fs_freeze(env: &RpcEnv, vmid: u32, log: &Log) -> bool {
        let Ok(vm) = super::store_io::load(env, vmid).await else {
            return false;
        };
        let words = &super::agent::fsfreeze::SNAPSHOT;
        super::agent::fsfreeze::fs_freeze(
            env,
            vmid,
            &vm.config.current,
            words,
            |m| log(m),
            |m| log(m),
        )
        .await
    }

    async fn fs_thaw(env: &RpcEnv, vmid: u32, log: &Log) {
        let words = &super::agent::fsfreeze::SNAPSHOT;
        super::agent::fsfreeze::fs_thaw(env, vmid, words, |m| log(m), |m| log(m)).await
    }

    fn snapshots_in_guest(format: VolumeFormat) -> bool {
        format == VolumeFormat::Qcow2
    }

    async fn guest_snapshot(
        env: &RpcEnv,
        vmid: u32,
        name: &str,
        keys: &[String],
    ) -> Result<(), String> {
        env.state
            .qemu
            .internal_snapshots(vmid, name, keys)
            .await
            .map_err(err)
    }

    async fn guest_snapshot_delete(
        env: &RpcEnv,
        vmid: u32,
        name: &str,
        keys: &[String],
    ) -> Result<Vec<(String, String)>, String> {
        env.state
            .qemu
            .delete_internal_snapshots(vmid, name, keys)
            .await
            .map_err(err)
    }

    async fn save_state(
        env: &RpcEnv,
        vm: &Loaded<Self>,
        name: &str,
        log: Log,
    ) -> Result<VolumeId, String> {
        let vmid = vm.guest.vmid;
        let m = manager(env).await?;
        let file = format!("vm-{vmid}-state-{name}.raw");
        let (volid, path) = super::hibernate::alloc_state_volume(&m, vm, None, &file).await?;
        log(format!("saving VM state and RAM to {volid}"));
        let started = std::time::Instant::now();
        if let Err(e) = env.state.qemu.save_state(vmid, &path).await {
            free_volumes(env, vec![volid], move |m| log(m)).await;
            return Err(e.to_string());
        }
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let secs = started.elapsed().as_secs_f64().max(1e-6);
        log(format!(
            "VM state saved: {} MiB in {secs:.2} s ({:.0} MiB/s)",
            bytes >> 20,
            (bytes >> 20) as f64 / secs
        ));
        Ok(volid)
    }

    async fn start_from_state(
        env: &RpcEnv,
        vm: &Loaded<Self>,
        state: &VolumeId,
        log: Log,
    ) -> Result<(), String> {
        let vmid = vm.guest.vmid;
        let pid = super::hibernate::start_with_state(env, vmid, &vm.config.current, state).await?;
        log(format!(
            "VM {vmid} resumed from the snapshot's RAM (pid {pid})"
        ));
        Ok(())
    }
}
