//! Suspend to disk (`suspend` with `todisk=1`) and resuming from it, as Proxmox does: the VM's
//! state goes into a `vm-<vmid>-state-suspend-<date>.raw` volume on `statestorage` (or
//! `vmstatestorage`, or the first disk's storage), the config gets `vmstate` and
//! `lock: suspended`, and QEMU ends. `start` or `resume` reads the state back, then drops the
//! volume and the lock.

use std::sync::Arc;

use oxve_storage::{AllocOptions, ContentType, VolumeFormat, VolumeId};
use oxve_types::qemu::DriveVolume;

use super::disks;
use super::store_io::{load, save};
use crate::env::RpcEnv;
use crate::storage_service::StorageResolver;

/// Where the state volume goes.
fn state_storage(vm: &super::store_io::LoadedVm, requested: Option<&str>) -> String {
    if let Some(s) = requested.or(vm.config.current.get("vmstatestorage")) {
        return s.to_string();
    }
    vm.config
        .current
        .drives()
        .into_iter()
        .filter(|d| !d.is_cdrom())
        .find_map(|d| match d.volume() {
            DriveVolume::Volume { .. } => VolumeId::parse(&d.file)
                .ok()
                .map(|v| v.storage().to_string()),
            _ => None,
        })
        .unwrap_or_else(|| "local".into())
}

async fn set_lock(env: &RpcEnv, vmid: u32, lock: Option<&str>) -> Result<(), String> {
    let mut vm = load(env, vmid).await.map_err(|e| e.message)?;
    match lock {
        Some(l) => vm.config.set("lock", l).map_err(|e| e.to_string())?,
        None => {
            vm.config.current.remove("lock");
        }
    }
    save(env.state.store.as_ref(), &vm)
        .await
        .map(|_| ())
        .map_err(|e| e.message)
}

/// A raw volume `name` for a VM's RAM and device state (suspend to disk, RAM snapshots), on
/// `storage` or the default state storage, with room for twice its memory (thin: only what
/// is written takes space).
pub(super) async fn alloc_state_volume(
    manager: &Arc<oxve_storage::StorageManager>,
    vm: &super::store_io::LoadedVm,
    storage: Option<&str>,
    name: &str,
) -> Result<(VolumeId, std::path::PathBuf), String> {
    let storage = state_storage(vm, storage);
    let vmid = vm.guest.vmid;
    let opts = AllocOptions {
        vmid,
        name: Some(name.to_string()),
        format: Some(VolumeFormat::Raw),
        size: (vm.config.current.memory_mib() * 2 + 512) << 20,
        preallocation: None,
        content: ContentType::Images,
    };
    let m = Arc::clone(manager);
    tokio::task::spawn_blocking(move || {
        let volid = m.alloc(&storage, &opts)?;
        let path = m.path(&volid)?;
        Ok::<_, oxve_storage::StorageError>((volid, path))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())
}

/// Saves the running VM's state to a new volume and stops it (the `qmsuspend` task).
pub async fn suspend_to_disk(
    env: &RpcEnv,
    vmid: u32,
    statestorage: Option<&str>,
    log: impl Fn(String) + Send + Sync + Clone + 'static,
) -> Result<(), String> {
    let vm = load(env, vmid).await.map_err(|e| e.message)?;
    set_lock(env, vmid, Some("suspending")).await?;
    let manager = env
        .state
        .storage
        .manager(env.state.store.as_ref())
        .await
        .map_err(|e| e.message)?;
    let name = format!(
        "vm-{vmid}-state-suspend-{}.raw",
        time::OffsetDateTime::now_utc().date()
    );
    let allocated = alloc_state_volume(&manager, &vm, statestorage, &name).await;
    let (volid, path) = match allocated {
        Ok(v) => v,
        Err(e) => {
            set_lock(env, vmid, None).await?;
            return Err(e);
        }
    };
    log(format!("saving VM state and RAM to {volid}"));
    if let Err(e) = env.state.qemu.save_state_and_stop(vmid, &path).await {
        disks::free_volumes(env, vec![volid], log).await;
        set_lock(env, vmid, None).await?;
        return Err(e.to_string());
    }
    let mut vm = load(env, vmid).await.map_err(|e| e.message)?;
    vm.config
        .set("vmstate", &volid.to_string())
        .map_err(|e| e.to_string())?;
    vm.config
        .set("lock", "suspended")
        .map_err(|e| e.to_string())?;
    save(env.state.store.as_ref(), &vm)
        .await
        .map_err(|e| e.message)?;
    log("VM suspended to disk".into());
    Ok(())
}

/// Whether the VM is suspended to disk (a start resumes it).
pub fn is_suspended_to_disk(vm: &super::store_io::LoadedVm) -> bool {
    vm.config.lock() == Some("suspended") && vm.config.current.get("vmstate").is_some()
}

/// Starts a VM suspended to disk from its saved state, then drops the state and the lock.
pub async fn resume_from_disk(
    env: &RpcEnv,
    vmid: u32,
    log: impl Fn(String) + Send + Sync + Clone + 'static,
) -> Result<(), String> {
    let vm = load(env, vmid).await.map_err(|e| e.message)?;
    let volid = vm
        .config
        .current
        .get("vmstate")
        .and_then(|v| VolumeId::parse(v).ok())
        .ok_or("the VM has no saved state")?;
    log(format!("resuming VM {vmid} from its saved state {volid}"));
    let pid = start_with_state(env, vmid, &vm.config.current, &volid).await?;
    log(format!("VM {vmid} resumed with pid {pid}"));
    let mut vm = load(env, vmid).await.map_err(|e| e.message)?;
    vm.config.current.remove("vmstate");
    vm.config.current.remove("lock");
    vm.config.current.remove("runningmachine");
    save(env.state.store.as_ref(), &vm)
        .await
        .map_err(|e| e.message)?;
    disks::free_volumes(env, vec![volid], log).await;
    Ok(())
}

/// Starts VM `vmid` with `settings` from the RAM and device state in volume `state`, so it
/// runs on from that instant; returns QEMU's pid.
pub(super) async fn start_with_state(
    env: &RpcEnv,
    vmid: u32,
    settings: &oxve_types::qemu::VmSettings,
    state: &VolumeId,
) -> Result<u32, String> {
    let manager = env
        .state
        .storage
        .manager(env.state.store.as_ref())
        .await
        .map_err(|e| e.message)?;
    let path = manager.path(state).map_err(|e| e.to_string())?;
    let resolver = StorageResolver(Arc::clone(&manager));
    let report = env
        .state
        .qemu
        .start(
            vmid,
            settings,
            &resolver,
            oxve_qemu::StartOptions {
                paused: false,
                state_file: Some(path),
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(report.pid)
}
