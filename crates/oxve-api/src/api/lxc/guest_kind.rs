//! Containers in the generic snapshot, template and clone logic ([`crate::guest_snapshot`]):
//! volumes are the rootfs and `mpN` volumes (not bind mounts); a running container is frozen
//! (and its writes synced) while they are snapshotted. Containers have no RAM state.

use std::collections::BTreeMap;

use oxve_storage::{ContentType, VolumeId};
use oxve_store::GuestLock;
use oxve_tasks::TaskContext;
use oxve_types::config_text::Section;
use oxve_types::lxc::config::section_json;
use oxve_types::lxc::{section_volumes, CtConfig, MountPoint};
use oxve_types::qemu::{random_mac, DEFAULT_MAC_PREFIX};
use serde_json::{Map, Value};

use crate::env::RpcEnv;
use crate::guest_config::Loaded;
use crate::guest_snapshot::{GuestVolume, Log, SnapshotGuest, TaskNames, VolumeCopy};

const NO_VMSTATE: &str = "containers have no RAM state";

/// Runs `f` on `s` seen as a container's current settings (for the checked setters).
fn with_view<R>(s: &mut Section, f: impl FnOnce(&mut CtConfig) -> R) -> R {
    let mut view = CtConfig {
        current: std::mem::take(s),
        ..Default::default()
    };
    let out = f(&mut view);
    *s = view.current;
    out
}

impl SnapshotGuest for CtConfig {
    type Settings = Section;

    const API_DIR: &'static str = "lxc";
    const TASKS: TaskNames = TaskNames {
        snapshot: "vzsnapshot",
        rollback: "vzrollback",
        delsnapshot: "vzdelsnapshot",
        clone: "vzclone",
        template: None,
    };
    const CLONE_LOCK: GuestLock = GuestLock::Disk;
    const VMSTATE: bool = false;
    const CONTENT: ContentType = ContentType::Rootdir;
    const CLONE_NAME: (&'static str, &'static str) = ("hostname", "Set a hostname for the new CT.");
    const CLONE_FORMATS: &'static [&'static str] = &[];
    const SNAPSHOT_KEYS: &'static [&'static str] = &["snaptime", "snapstate"];
    const NOT_CLONED: &'static [&'static str] = &[];

    fn current(&self) -> &Section {
        &self.current
    }
    fn current_mut(&mut self) -> &mut Section {
        &mut self.current
    }
    fn snapshots(&self) -> &BTreeMap<String, Section> {
        &self.snapshots
    }
    fn snapshots_mut(&mut self) -> &mut BTreeMap<String, Section> {
        &mut self.snapshots
    }
    fn clear_pending(&mut self) {
        self.pending = Section::default();
    }

    fn get<'a>(s: &'a Section, key: &str) -> Option<&'a str> {
        match key {
            "description" => s.description.as_deref(),
            _ => s.values.get(key).map(String::as_str),
        }
    }
    fn set(s: &mut Section, key: &str, value: &str) -> Result<(), String> {
        with_view(s, |c| c.set(key, value)).map_err(|e| e.to_string())
    }
    fn remove(s: &mut Section, key: &str) {
        with_view(s, |c| c.remove(key));
    }
    fn to_json(s: &Section) -> Map<String, Value> {
        section_json(s)
    }

    fn volumes(s: &Section) -> Result<Vec<GuestVolume>, String> {
        section_volumes(s)
            .into_iter()
            .map(|(key, v)| {
                let volid = VolumeId::parse(&v).map_err(|e| format!("{key}: {e}"))?;
                Ok(GuestVolume { key, volid })
            })
            .collect()
    }

    fn set_volume(s: &mut Section, key: &str, volid: &VolumeId) -> Result<(), String> {
        with_view(s, |c| {
            let value = c.get(key).ok_or("mount point vanished")?.to_string();
            let mut mp = MountPoint::parse(key, &value).map_err(|e| e.to_string())?;
            mp.set_volume(&volid.to_string(), mp.size());
            c.set(key, &mp.print()).map_err(|e| e.to_string())
        })
    }

    fn unused_keys(s: &Section) -> Vec<String> {
        with_view(&mut s.clone(), |c| {
            c.unused_volumes().into_iter().map(|(k, _)| k).collect()
        })
    }

    fn renew_identity(s: &mut Section) -> Result<(), String> {
        with_view(s, |c| {
            for (i, mut net) in c.nets() {
                net.set_hwaddr(random_mac(Some(DEFAULT_MAC_PREFIX)));
                c.set(&format!("net{i}"), &net.print())
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        })
    }

    fn default_clone_name(_source: &Section, _vmid: u32) -> Option<String> {
        None
    }

    fn is_running(env: &RpcEnv, vmid: u32) -> bool {
        env.state.lxc.is_running(vmid).is_some()
    }

    async fn stop(env: &RpcEnv, vmid: u32) -> Result<(), String> {
        env.state
            .lxc
            .stop(vmid, std::time::Duration::from_secs(30))
            .await
            .map_err(|e| e.to_string())
    }

    async fn start(env: &RpcEnv, vmid: u32, ctx: &TaskContext) -> Result<(), String> {
        super::status::start_now(env, vmid, ctx).await
    }

    async fn freeze(env: &RpcEnv, vmid: u32) -> Result<bool, String> {
        env.state
            .lxc
            .suspend(vmid)
            .await
            .map_err(|e| format!("unable to freeze CT {vmid}: {e}"))?;
        // What the container wrote reaches its volumes before they are snapshotted.
        let _ = tokio::process::Command::new("sync").status().await;
        Ok(true)
    }

    async fn thaw(env: &RpcEnv, vmid: u32, _frozen: bool, _saved: bool) -> Result<(), String> {
        env.state
            .lxc
            .resume(vmid)
            .await
            .map_err(|e| format!("unable to thaw CT {vmid}: {e}"))
    }

    async fn guest_snapshot(_: &RpcEnv, _: u32, _: &str, _: &[String]) -> Result<(), String> {
        Err("containers snapshot their volumes through the storage".into())
    }

    async fn guest_snapshot_delete(
        _: &RpcEnv,
        _: u32,
        _: &str,
        _: &[String],
    ) -> Result<Vec<(String, String)>, String> {
        Ok(Vec::new())
    }

    async fn save_state(_: &RpcEnv, _: &Loaded<Self>, _: &str, _: Log) -> Result<VolumeId, String> {
        Err(NO_VMSTATE.into())
    }

    async fn start_from_state(
        _: &RpcEnv,
        _: &Loaded<Self>,
        _: &VolumeId,
        _: Log,
    ) -> Result<(), String> {
        Err(NO_VMSTATE.into())
    }

    fn volumes_replaced(env: &RpcEnv, vmid: u32) {
        // The rootfs changed under the setup stamp: the next start redoes the setup.
        env.state.lxc.cleanup(vmid);
    }

    fn full_copy(
        env: &RpcEnv,
        copy: VolumeCopy,
        log: Log,
    ) -> impl std::future::Future<Output = Result<VolumeId, String>> + Send {
        super::copy_volume::copy_volume(env.clone(), copy, log)
    }
}
