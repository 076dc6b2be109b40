//! Snapshots, templates and clones, written once for every guest type. What differs between
//! VMs and containers (the config's volumes, how a running guest is quiesced, RAM state, the
//! task names) is the [`SnapshotGuest`] trait; the flow (checks before anything is touched,
//! locks, undo on failure, the snapshot tree) is here.

mod clone;
mod snapshot;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use oxve_router::{ApiError, ApiMethod};
use oxve_storage::{ContentType, StorageManager, VolumeFormat, VolumeId};
use oxve_store::{clear_guest_lock, set_guest_lock, GuestLock};
use oxve_tasks::TaskContext;
use serde_json::{json, Map, Value};

use crate::env::RpcEnv;
use crate::guest_config::{guest_ref, GuestConfigDoc, Loaded};

pub use clone::{copy_image, linked_clones_of, VolumeCopy};

/// A task log line writer that can be cloned into blocking work.
pub type Log = Arc<dyn Fn(String) + Send + Sync>;

/// Proxmox's task type names of one guest type.
pub struct TaskNames {
    pub snapshot: &'static str,
    pub rollback: &'static str,
    pub delsnapshot: &'static str,
    pub clone: &'static str,
    /// `None`: `POST .../template` works synchronously (containers), as Proxmox's.
    pub template: Option<&'static str>,
}

/// The log of task `ctx` as a [`Log`].
pub fn task_log(ctx: &TaskContext) -> Log {
    let ctx = ctx.clone();
    Arc::new(move |m| ctx.log(m))
}

/// A storage volume of a guest config (a VM disk, a container's rootfs or mount point).
#[derive(Debug, Clone)]
pub struct GuestVolume {
    /// The config key (`scsi0`, `rootfs`, `mp1`).
    pub key: String,
    pub volid: VolumeId,
}

/// What snapshots, templates and clones need to know of a guest type. `Settings` is one set
/// of settings: the current config or a snapshot section.
pub trait SnapshotGuest: GuestConfigDoc + Clone + Default + Send + Sync + 'static {
    type Settings: Clone + Send + Sync + 'static;

    /// The API directory (`qemu`, `lxc`).
    const API_DIR: &'static str;
    const TASKS: TaskNames;
    /// The lock a non-template source holds while it is cloned (containers have no `clone`
    /// lock in Proxmox: `disk`).
    const CLONE_LOCK: GuestLock;
    /// Whether a snapshot can hold the guest's RAM (`vmstate`).
    const VMSTATE: bool;
    /// Content type of the guest's volumes on a storage.
    const CONTENT: ContentType;
    /// The clone parameter naming the new guest, with its description.
    const CLONE_NAME: (&'static str, &'static str);
    /// Target formats a full clone may choose (empty: the parameter does not exist).
    const CLONE_FORMATS: &'static [&'static str];
    /// Snapshot metadata keys: not restored by a rollback, not copied by a clone.
    const SNAPSHOT_KEYS: &'static [&'static str];
    /// Further keys a clone does not copy.
    const NOT_CLONED: &'static [&'static str];

    fn current(&self) -> &Self::Settings;
    fn current_mut(&mut self) -> &mut Self::Settings;
    fn snapshots(&self) -> &BTreeMap<String, Self::Settings>;
    fn snapshots_mut(&mut self) -> &mut BTreeMap<String, Self::Settings>;
    fn clear_pending(&mut self);

    fn get<'a>(s: &'a Self::Settings, key: &str) -> Option<&'a str>;
    fn set(s: &mut Self::Settings, key: &str, value: &str) -> Result<(), String>;
    fn remove(s: &mut Self::Settings, key: &str);
    /// The settings as `GET .../snapshot/{name}/config` returns them.
    fn to_json(s: &Self::Settings) -> Map<String, Value>;
    /// The storage volumes of `s` that snapshots, templates and clones cover.
    fn volumes(s: &Self::Settings) -> Result<Vec<GuestVolume>, String>;
    /// Points volume `key` at `volid` (keeping its options).
    fn set_volume(s: &mut Self::Settings, key: &str, volid: &VolumeId) -> Result<(), String>;
    fn unused_keys(s: &Self::Settings) -> Vec<String>;
    /// A clone is a new machine: new MAC addresses (and whatever else identifies it).
    fn renew_identity(s: &mut Self::Settings) -> Result<(), String>;
    /// The clone's name when none is given (`Copy-of-VM-<name>`).
    fn default_clone_name(source: &Self::Settings, vmid: u32) -> Option<String>;

    fn is_running(env: &RpcEnv, vmid: u32) -> bool;
    fn stop(env: &RpcEnv, vmid: u32) -> impl Future<Output = Result<(), String>> + Send;
    /// Starts the stopped guest (applying pending changes) in task `ctx`.
    fn start(
        env: &RpcEnv,
        vmid: u32,
        ctx: &TaskContext,
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// Quiesces a running guest for a consistent snapshot; the result goes to [`Self::thaw`].
    fn freeze(env: &RpcEnv, vmid: u32) -> impl Future<Output = Result<bool, String>> + Send;
    /// Ends [`Self::freeze`]; `saved_state`: the RAM was saved meanwhile.
    fn thaw(
        env: &RpcEnv,
        vmid: u32,
        frozen: bool,
        saved_state: bool,
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// Quiesces the guest's file systems from inside before a snapshot without RAM (VMs: the
    /// guest agent's fs-freeze, as Proxmox); returns whether [`Self::fs_thaw`] is owed.
    fn fs_freeze(_env: &RpcEnv, _vmid: u32, _log: &Log) -> impl Future<Output = bool> + Send {
        async { false }
    }
    /// Ends [`Self::fs_freeze`]; runs whatever happened in between.
    fn fs_thaw(_env: &RpcEnv, _vmid: u32, _log: &Log) -> impl Future<Output = ()> + Send {
        async {}
    }
    /// Volumes of `format` are snapshotted by the running guest itself (QEMU's qcow2).
    fn snapshots_in_guest(_format: VolumeFormat) -> bool {
        false
    }
    /// Snapshots volumes `keys` inside the running guest, at once.
    fn guest_snapshot(
        env: &RpcEnv,
        vmid: u32,
        name: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// Deletes snapshot `name` of volumes `keys` inside the running guest: failed keys.
    fn guest_snapshot_delete(
        env: &RpcEnv,
        vmid: u32,
        name: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<(String, String)>, String>> + Send;
    /// Saves the RAM of the frozen guest into a new volume (`vmstate`).
    fn save_state(
        env: &RpcEnv,
        guest: &Loaded<Self>,
        name: &str,
        log: Log,
    ) -> impl Future<Output = Result<VolumeId, String>> + Send;
    /// Starts the guest from saved RAM, so it runs on from that instant.
    fn start_from_state(
        env: &RpcEnv,
        guest: &Loaded<Self>,
        state: &VolumeId,
        log: Log,
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// The guest's volumes changed under it (rollback, template).
    fn volumes_replaced(_env: &RpcEnv, _vmid: u32) {}

    /// A full copy of a volume for a clone; by default block by block ([`copy_image`]).
    fn full_copy(
        _env: &RpcEnv,
        copy: VolumeCopy,
        log: Log,
    ) -> impl Future<Output = Result<VolumeId, String>> + Send {
        copy_image(copy, log)
    }
}

/// All snapshot, template and clone methods of guest type `G`.
pub fn methods<G: SnapshotGuest>() -> Vec<ApiMethod<RpcEnv>> {
    let mut all = snapshot::methods::<G>();
    all.extend(clone::methods::<G>());
    all
}

/// `/nodes/{node}/<dir>/{vmid}<tail>`. Leaked: method tables are built once at start-up.
fn api_path<G: SnapshotGuest>(tail: &str) -> &'static str {
    Box::leak(format!("/nodes/{{node}}/{}/{{vmid}}{tail}", G::API_DIR).into_boxed_str())
}

pub(crate) async fn manager(env: &RpcEnv) -> Result<Arc<StorageManager>, String> {
    env.state
        .storage
        .manager(env.state.store.as_ref())
        .await
        .map_err(|e| e.message)
}

/// Runs blocking storage work off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| e.to_string())?
}

/// Frees volumes (undo of a failed multi-step operation, or removed ones); errors are logged.
pub async fn free_volumes(
    env: &RpcEnv,
    volids: Vec<VolumeId>,
    log: impl Fn(String) + Send + 'static,
) {
    if volids.is_empty() {
        return;
    }
    let Ok(manager) = manager(env).await else {
        return;
    };
    let _ = tokio::task::spawn_blocking(move || {
        for volid in volids {
            match manager.free(&volid) {
                Ok(()) => log(format!("removed volume '{volid}'")),
                Err(e) => log(format!("unable to remove volume '{volid}' - {e}")),
            }
        }
    })
    .await;
}

async fn lock_guest<G: SnapshotGuest>(
    env: &RpcEnv,
    vmid: u32,
    lock: GuestLock,
) -> Result<(), ApiError> {
    set_guest_lock(env.state.store.as_ref(), &guest_ref::<G>(env, vmid), lock)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))
}

async fn unlock_guest<G: SnapshotGuest>(env: &RpcEnv, vmid: u32, lock: GuestLock) {
    let _ = clear_guest_lock(env.state.store.as_ref(), &guest_ref::<G>(env, vmid), lock).await;
}

/// Runs `work` as task `task_type` of guest `vmid`; `lock` (already set) is removed after.
fn spawn_task<G, F, Fut>(
    env: &RpcEnv,
    vmid: u32,
    task_type: &str,
    lock: Option<GuestLock>,
    work: F,
) -> Result<Value, ApiError>
where
    G: SnapshotGuest,
    F: FnOnce(RpcEnv, TaskContext) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let task_env = env.clone();
    let upid = env
        .state
        .tasks
        .spawn(
            task_type,
            Some(&vmid.to_string()),
            &env.caller_string(),
            move |ctx| async move {
                let result = work(task_env.clone(), ctx).await;
                if let Some(lock) = lock {
                    unlock_guest::<G>(&task_env, vmid, lock).await;
                }
                result
            },
        )
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(json!(upid.to_string()))
}
