//! `.../qemu/{vmid}/snapshot`: list (a tree with `current`), create (with `vmstate` for the
//! RAM of a running VM), config, rollback and delete, as Proxmox's qmsnapshot, qmrollback and
//! qmdelsnapshot tasks.
//!
//! Disks: qcow2 images get internal snapshots (through QEMU while the VM runs, `qemu-img`
//! otherwise); other formats go through the storage (btrfs subvolume snapshots), with a
//! running VM paused meanwhile. Every disk's storage must support snapshots before anything
//! is touched. With `vmstate`, the VM stays paused from the first disk snapshot until its RAM
//! is written, so disks and RAM are of one instant; rolling back to such a snapshot starts the
//! VM from that RAM.

use std::sync::Arc;

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_storage::{StorageManager, VolumeFormat, VolumeId};
use oxve_store::{clear_guest_lock, set_guest_lock, GuestLock};
use oxve_types::params::Params;
use oxve_types::qemu::{DriveVolume, VmSettings};
use oxve_types::schema::Schema;
use oxve_types::snapshot::{
    check_snapshot_name, reparent_after_delete, snapshot_list, SnapshotMeta,
};
use serde_json::{json, Value};

use super::create::upid_schema;
use super::disks;
use super::store_io::{guest_ref, load, save, LoadedVm};
use super::vmid_param;
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;
use crate::storage_service::StorageResolver;

/// A disk of a snapshot: config key, volume, and whether QEMU snapshots it (qcow2).
struct SnapDisk {
    key: String,
    volid: VolumeId,
    qcow2: bool,
}

/// The disks of `settings` that snapshots cover (not CD-ROMs), checked for support.
fn snapshot_disks(
    manager: &StorageManager,
    settings: &VmSettings,
) -> Result<Vec<SnapDisk>, String> {
    let mut out = Vec::new();
    for drive in settings.drives() {
        if drive.is_cdrom() || !matches!(drive.volume(), DriveVolume::Volume { .. }) {
            continue;
        }
        let key = drive.key();
        let volid = VolumeId::parse(&drive.file).map_err(|e| e.to_string())?;
        let info = manager.info(&volid).map_err(|e| e.to_string())?;
        let caps = manager
            .capabilities(volid.storage())
            .map_err(|e| e.to_string())?;
        if !caps.supports_snapshots(info.format) {
            return Err(format!(
                "snapshot feature is not available for {key} ({volid}): storage '{}' cannot snapshot '{}' volumes",
                volid.storage(),
                info.format
            ));
        }
        out.push(SnapDisk {
            key,
            volid,
            qcow2: info.format == VolumeFormat::Qcow2,
        });
    }
    Ok(out)
}

/// A storage snapshot operation on one disk, off the async runtime.
async fn disk_snapshot_op(
    m: &Arc<StorageManager>,
    disk: &SnapDisk,
    snap: &str,
    op: fn(&StorageManager, &VolumeId, &str) -> Result<(), oxve_storage::StorageError>,
) -> Result<(), String> {
    let (m, volid, snap) = (Arc::clone(m), disk.volid.clone(), snap.to_string());
    tokio::task::spawn_blocking(move || op(&m, &volid, &snap))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

fn metas(vm: &LoadedVm) -> Vec<SnapshotMeta> {
    vm.config
        .snapshots
        .iter()
        .map(|(name, s)| SnapshotMeta {
            name: name.clone(),
            parent: s.parent().map(str::to_string),
            snaptime: s.snaptime(),
            description: s.description().map(str::to_string),
            vmstate: s.vmstate().is_some(),
        })
        .collect()
}

fn snap_params() -> oxve_types::schema::ObjectSchema {
    Schema::object("")
        .required("node", node_param())
        .required("vmid", vmid_param())
        .required(
            "snapname",
            Schema::string("The name of the snapshot.").max_length(40),
        )
}

fn lock_error(e: oxve_store::StoreError) -> String {
    e.to_string()
}

async fn manager(env: &RpcEnv) -> Result<Arc<StorageManager>, String> {
    env.state
        .storage
        .manager(env.state.store.as_ref())
        .await
        .map_err(|e| e.message)
}

/// Takes snapshot `name`: the `qmsnapshot` task, run under `lock: snapshot`.
async fn take_snapshot(
    env: &RpcEnv,
    vmid: u32,
    name: &str,
    description: Option<String>,
    want_vmstate: bool,
    log: impl Fn(String) + Send + Sync + Clone + 'static,
) -> Result<(), String> {
    let vm = load(env, vmid).await.map_err(|e| e.message)?;
    let m = manager(env).await?;
    let settings = vm.config.current.clone();
    let m2 = Arc::clone(&m);
    let disks = tokio::task::spawn_blocking(move || snapshot_disks(&m2, &settings))
        .await
        .map_err(|e| e.to_string())??;
    let running = env.state.qemu.is_running(vmid).is_some();
    let vmstate = want_vmstate && running;
    // Undo list: disk snapshots taken, state volume allocated.
    let mut taken: Vec<&SnapDisk> = Vec::new();
    let mut state_volume: Option<VolumeId> = None;
    let result: Result<(), String> = async {
        if running {
            let was_running = env
                .state
                .qemu
                .pause_for_snapshot(vmid)
                .await
                .map_err(|e| e.to_string())?;
            let paused = async {
                for d in disks.iter().filter(|d| !d.qcow2) {
                    disk_snapshot_op(&m, d, name, StorageManager::snapshot_create).await?;
                    taken.push(d);
                }
                let live: Vec<String> = disks
                    .iter()
                    .filter(|d| d.qcow2)
                    .map(|d| d.key.clone())
                    .collect();
                env.state
                    .qemu
                    .internal_snapshots(vmid, name, &live)
                    .await
                    .map_err(|e| e.to_string())?;
                taken.extend(disks.iter().filter(|d| d.qcow2));
                if vmstate {
                    let (volid, path) = super::hibernate::alloc_state_volume(
                        &m,
                        &vm,
                        None,
                        &format!("vm-{vmid}-state-{name}.raw"),
                    )
                    .await?;
                    state_volume = Some(volid.clone());
                    log(format!("saving VM state and RAM to {volid}"));
                    let started = std::time::Instant::now();
                    env.state
                        .qemu
                        .save_state(vmid, &path)
                        .await
                        .map_err(|e| e.to_string())?;
                    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    let secs = started.elapsed().as_secs_f64().max(1e-6);
                    log(format!(
                        "VM state saved: {} MiB in {secs:.2} s ({:.0} MiB/s)",
                        bytes >> 20,
                        (bytes >> 20) as f64 / secs
                    ));
                }
                Ok::<(), String>(())
            }
            .await;
            let resumed = env
                .state
                .qemu
                .resume_after_snapshot(vmid, was_running, vmstate && paused.is_ok())
                .await
                .map_err(|e| e.to_string());
            paused?;
            resumed?;
        } else {
            for d in &disks {
                disk_snapshot_op(&m, d, name, StorageManager::snapshot_create).await?;
                taken.push(d);
            }
        }
        for d in &disks {
            log(format!("snapshot of {} ({}) taken", d.key, d.volid));
        }
        // The snapshot section: the current settings plus the tree metadata.
        let mut vm = load(env, vmid).await.map_err(|e| e.message)?;
        let mut section = vm.config.current.clone();
        for key in ["lock", "snaptime", "vmstate", "description", "parent"] {
            section.remove(key);
        }
        if let Some(parent) = vm.config.current.parent() {
            section.set("parent", parent).map_err(|e| e.to_string())?;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        section
            .set("snaptime", &now.to_string())
            .map_err(|e| e.to_string())?;
        if let Some(d) = &description {
            section.set("description", d).map_err(|e| e.to_string())?;
        }
        if let Some(v) = &state_volume {
            section
                .set("vmstate", &v.to_string())
                .map_err(|e| e.to_string())?;
        }
        vm.config.snapshots.insert(name.to_string(), section);
        vm.config
            .current
            .set("parent", name)
            .map_err(|e| e.to_string())?;
        save(env.state.store.as_ref(), &vm)
            .await
            .map_err(|e| e.message)?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        log(format!("snapshot failed - undoing: {e}"));
        undo_disk_snapshots(env, vmid, name, &taken, &m).await;
        if let Some(v) = state_volume {
            disks::free_volumes(env, vec![v], log).await;
        }
        return Err(e);
    }
    Ok(())
}

async fn undo_disk_snapshots(
    env: &RpcEnv,
    vmid: u32,
    name: &str,
    taken: &[&SnapDisk],
    m: &Arc<StorageManager>,
) {
    let running = env.state.qemu.is_running(vmid).is_some();
    let live: Vec<String> = taken
        .iter()
        .filter(|d| d.qcow2 && running)
        .map(|d| d.key.clone())
        .collect();
    if !live.is_empty() {
        let _ = env
            .state
            .qemu
            .delete_internal_snapshots(vmid, name, &live)
            .await;
    }
    for d in taken.iter().filter(|d| !(d.qcow2 && running)) {
        let _ = disk_snapshot_op(m, d, name, StorageManager::snapshot_delete).await;
    }
}

/// Rolls back to snapshot `name` (the `qmrollback` task, under `lock: rollback`).
async fn rollback(
    env: &RpcEnv,
    vmid: u32,
    name: &str,
    start: bool,
    log: impl Fn(String) + Send + Sync + Clone + 'static,
) -> Result<(), String> {
    let vm = load(env, vmid).await.map_err(|e| e.message)?;
    let snap = vm
        .config
        .snapshots
        .get(name)
        .cloned()
        .ok_or_else(|| format!("snapshot '{name}' does not exist"))?;
    let m = manager(env).await?;
    let settings = snap.clone();
    let m2 = Arc::clone(&m);
    let disks = tokio::task::spawn_blocking(move || snapshot_disks(&m2, &settings))
        .await
        .map_err(|e| e.to_string())??;
    if env.state.qemu.is_running(vmid).is_some() {
        log(format!("stopping VM {vmid}"));
        env.state
            .qemu
            .stop(vmid, std::time::Duration::from_secs(10))
            .await
            .map_err(|e| e.to_string())?;
    }
    for d in &disks {
        disk_snapshot_op(&m, d, name, StorageManager::snapshot_rollback).await?;
        log(format!("rolled back {} ({})", d.key, d.volid));
    }
    // The snapshot's settings become current (keeping the description and the tree).
    let mut vm = load(env, vmid).await.map_err(|e| e.message)?;
    let description = vm.config.current.description().map(str::to_string);
    let mut current = snap.clone();
    for key in [
        "snaptime",
        "vmstate",
        "description",
        "parent",
        "runningmachine",
        "runningcpu",
    ] {
        current.remove(key);
    }
    if let Some(d) = description {
        current.set("description", &d).map_err(|e| e.to_string())?;
    }
    current.set("lock", "rollback").map_err(|e| e.to_string())?;
    current.set("parent", name).map_err(|e| e.to_string())?;
    vm.config.current = current;
    vm.config.pending = Default::default();
    save(env.state.store.as_ref(), &vm)
        .await
        .map_err(|e| e.message)?;

    if let Some(state) = snap.vmstate().and_then(|v| VolumeId::parse(v).ok()) {
        // Continue from the snapshot's RAM: the guest runs on from that instant.
        let path = m.path(&state).map_err(|e| e.to_string())?;
        let resolver = StorageResolver(Arc::clone(&m));
        let report = env
            .state
            .qemu
            .start(
                vmid,
                &vm.config.current,
                &resolver,
                oxve_qemu::StartOptions {
                    paused: false,
                    state_file: Some(path),
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        log(format!(
            "VM {vmid} resumed from the snapshot's RAM (pid {})",
            report.pid
        ));
    } else if start {
        super::status::start_vm(env, vmid, &vm.config.current, log.clone()).await?;
    }
    Ok(())
}

/// Deletes snapshot `name` (the `qmdelsnapshot` task, under `lock: snapshot-delete`).
async fn delete_snapshot(
    env: &RpcEnv,
    vmid: u32,
    name: &str,
    force: bool,
    log: impl Fn(String) + Send + Sync + Clone + 'static,
) -> Result<(), String> {
    let vm = load(env, vmid).await.map_err(|e| e.message)?;
    let snap = vm
        .config
        .snapshots
        .get(name)
        .cloned()
        .ok_or_else(|| format!("snapshot '{name}' does not exist"))?;
    let m = manager(env).await?;
    let settings = snap.clone();
    let m2 = Arc::clone(&m);
    let disks = match tokio::task::spawn_blocking(move || snapshot_disks(&m2, &settings))
        .await
        .map_err(|e| e.to_string())?
    {
        Ok(d) => d,
        Err(e) if force => {
            log(format!("ignoring: {e}"));
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let running = env.state.qemu.is_running(vmid).is_some();
    let live: Vec<String> = disks
        .iter()
        .filter(|d| d.qcow2 && running)
        .map(|d| d.key.clone())
        .collect();
    if !live.is_empty() {
        let errors = env
            .state
            .qemu
            .delete_internal_snapshots(vmid, name, &live)
            .await
            .map_err(|e| e.to_string())?;
        for (key, e) in errors {
            if !force {
                return Err(format!("{key}: {e}"));
            }
            log(format!("{key}: {e} (ignored with force)"));
        }
    }
    for d in disks.iter().filter(|d| !(d.qcow2 && running)) {
        if let Err(e) = disk_snapshot_op(&m, d, name, StorageManager::snapshot_delete).await {
            if !force {
                return Err(format!("{}: {e}", d.key));
            }
            log(format!("{}: {e} (ignored with force)", d.key));
        }
    }
    if let Some(state) = snap.vmstate().and_then(|v| VolumeId::parse(v).ok()) {
        disks::free_volumes(env, vec![state], log.clone()).await;
    }
    let mut vm = load(env, vmid).await.map_err(|e| e.message)?;
    let metas = metas(&vm);
    for (who, parent) in reparent_after_delete(&metas, vm.config.current.parent(), name) {
        let target = match &who {
            Some(s) => vm.config.snapshots.get_mut(s),
            None => Some(&mut vm.config.current),
        };
        if let Some(t) = target {
            match &parent {
                Some(p) => t.set("parent", p).map_err(|e| e.to_string())?,
                None => {
                    t.remove("parent");
                }
            }
        }
    }
    vm.config.snapshots.remove(name);
    save(env.state.store.as_ref(), &vm)
        .await
        .map_err(|e| e.message)?;
    log(format!("snapshot '{name}' deleted"));
    Ok(())
}

/// Runs `work` as task `task_type` under guest lock `lock`, removed again afterwards.
fn spawn_locked<F, Fut>(
    env: &RpcEnv,
    vmid: u32,
    task_type: &str,
    lock: GuestLock,
    work: F,
) -> Result<Value, ApiError>
where
    F: FnOnce(RpcEnv, oxve_tasks::TaskContext) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
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
                let env = task_env;
                let guest = guest_ref(&env, vmid);
                let result = work(env.clone(), ctx).await;
                let _ = clear_guest_lock(env.state.store.as_ref(), &guest, lock).await;
                result
            },
        )
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(json!(upid.to_string()))
}

async fn lock_vm(env: &RpcEnv, vmid: u32, lock: GuestLock) -> Result<(), ApiError> {
    set_guest_lock(env.state.store.as_ref(), &guest_ref(env, vmid), lock)
        .await
        .map_err(|e| ApiError::internal(lock_error(e)))
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/qemu/{vmid}/snapshot",
            "snapshot_list",
        )
        .description("List all snapshots.")
        .parameters(
            Schema::object("")
                .required("node", node_param())
                .required("vmid", vmid_param()),
        )
        .returns(Schema::array(
            "",
            Schema::object("").additional_properties(true),
        ))
        .permission(Permission::Privs {
            path: "/vms/{vmid}",
            privs: &["VM.Audit"],
            any: false,
        })
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let vmid = params.int("vmid").unwrap_or_default() as u32;
            let vm = load(&env, vmid).await?;
            let running = env.state.qemu.is_running(vmid).is_some();
            Ok(json!(snapshot_list(
                &metas(&vm),
                vm.config.current.parent(),
                running,
                &vm.digest
            )))
        }),
        ApiMethod::new(
            HttpMethod::Post,
            "/nodes/{node}/qemu/{vmid}/snapshot",
            "snapshot",
        )
        .description("Snapshot a VM.")
        .parameters(
            snap_params()
                .optional(
                    "description",
                    Schema::string("A textual description or comment."),
                )
                .optional("vmstate", Schema::boolean("Save the vmstate")),
        )
        .returns(upid_schema())
        .permission(Permission::Privs {
            path: "/vms/{vmid}",
            privs: &["VM.Snapshot"],
            any: false,
        })
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let vmid = params.int("vmid").unwrap_or_default() as u32;
            let name = params.req_str("snapname").to_string();
            check_snapshot_name(&name).map_err(|e| ApiError::param("snapname", e))?;
            let vm = load(&env, vmid).await?;
            if vm.config.snapshots.contains_key(&name) {
                return Err(ApiError::param(
                    "snapname",
                    format!("snapshot name '{name}' already used"),
                ));
            }
            if vm.config.template() {
                return Err(ApiError::bad_request("you can't snapshot a template"));
            }
            // Fail before locking when a disk's storage cannot snapshot.
            let settings = vm.config.current.clone();
            env.state
                .storage
                .run(env.state.store.as_ref(), move |m| {
                    Ok(snapshot_disks(m, &settings))
                })
                .await?
                .map_err(ApiError::bad_request)?;
            lock_vm(&env, vmid, GuestLock::Snapshot).await?;
            let description = params.str("description").map(str::to_string);
            let vmstate = params.bool_or("vmstate", false);
            spawn_locked(
                &env,
                vmid,
                "qmsnapshot",
                GuestLock::Snapshot,
                move |env, ctx| async move {
                    take_snapshot(&env, vmid, &name, description, vmstate, move |m| ctx.log(m))
                        .await
                },
            )
        }),
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}",
            "snapshot_cmd_idx",
        )
        .description("Directory index of one snapshot.")
        .parameters(snap_params())
        .returns(Schema::array(
            "",
            Schema::object("").additional_properties(true),
        ))
        .permission(Permission::Anybody)
        .handler(|_env: RpcEnv, _| async move {
            Ok(json!([{"cmd": "rollback"}, {"cmd": "config"}]))
        }),
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config",
            "get_snapshot_config",
        )
        .description("Get snapshot configuration")
        .parameters(snap_params())
        .returns(Schema::object("").additional_properties(true))
        .permission(Permission::Privs {
            path: "/vms/{vmid}",
            privs: &["VM.Snapshot", "VM.Snapshot.Rollback", "VM.Audit"],
            any: true,
        })
        .handler(|env: RpcEnv, params| async move {
            let (vm, name) = load_snapshot(&env, &params).await?;
            let snap = vm.config.snapshots.get(&name).cloned().unwrap_or_default();
            Ok(Value::Object(snap.to_api_json()))
        }),
        ApiMethod::new(
            HttpMethod::Put,
            "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config",
            "update_snapshot_config",
        )
        .description("Update snapshot metadata.")
        .parameters(snap_params().optional(
            "description",
            Schema::string("A textual description or comment."),
        ))
        .returns(Schema::Null)
        .permission(Permission::Privs {
            path: "/vms/{vmid}",
            privs: &["VM.Snapshot"],
            any: false,
        })
        .protected()
        .handler(|env: RpcEnv, params| async move {
            let (mut vm, name) = load_snapshot(&env, &params).await?;
            if let Some(d) = params.str("description") {
                let snap = vm
                    .config
                    .snapshots
                    .get_mut(&name)
                    .ok_or_else(|| ApiError::internal("snapshot vanished"))?;
                snap.set("description", d)
                    .map_err(|e| ApiError::param("description", e.to_string()))?;
                save(env.state.store.as_ref(), &vm).await?;
            }
            Ok(Value::Null)
        }),
        ApiMethod::new(
            HttpMethod::Post,
            "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback",
            "rollback",
        )
        .description("Rollback VM state to specified snapshot.")
        .parameters(
            snap_params().optional(
                "start",
                Schema::boolean(
                    "Whether the VM should get started after rolling back successfully.",
                )
                .default(false),
            ),
        )
        .returns(upid_schema())
        .permission(Permission::Privs {
            path: "/vms/{vmid}",
            privs: &["VM.Snapshot", "VM.Snapshot.Rollback"],
            any: true,
        })
        .protected()
        .handler(|env: RpcEnv, params| async move {
            let (vm, name) = load_snapshot(&env, &params).await?;
            let vmid = params.int("vmid").unwrap_or_default() as u32;
            vm.config
                .check_lock()
                .map_err(|e| ApiError::internal(e.to_string()))?;
            lock_vm(&env, vmid, GuestLock::Rollback).await?;
            let start = params.bool_or("start", false);
            spawn_locked(
                &env,
                vmid,
                "qmrollback",
                GuestLock::Rollback,
                move |env, ctx| async move {
                    rollback(&env, vmid, &name, start, move |m| ctx.log(m)).await
                },
            )
        }),
        ApiMethod::new(
            HttpMethod::Delete,
            "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}",
            "delsnapshot",
        )
        .description("Delete a VM snapshot.")
        .parameters(snap_params().optional(
            "force",
            Schema::boolean("For removal from config file, even if removing disk snapshots fails."),
        ))
        .returns(upid_schema())
        .permission(Permission::Privs {
            path: "/vms/{vmid}",
            privs: &["VM.Snapshot"],
            any: false,
        })
        .protected()
        .handler(|env: RpcEnv, params| async move {
            let (vm, name) = load_snapshot(&env, &params).await?;
            let vmid = params.int("vmid").unwrap_or_default() as u32;
            let force = params.bool_or("force", false);
            if !force {
                vm.config
                    .check_lock()
                    .map_err(|e| ApiError::internal(e.to_string()))?;
            }
            if force && vm.config.lock().is_some() {
                // force: remove it from the config even when something is still locked
            } else {
                lock_vm(&env, vmid, GuestLock::SnapshotDelete).await?;
            }
            spawn_locked(
                &env,
                vmid,
                "qmdelsnapshot",
                GuestLock::SnapshotDelete,
                move |env, ctx| async move {
                    delete_snapshot(&env, vmid, &name, force, move |m| ctx.log(m)).await
                },
            )
        }),
    ]
}

async fn load_snapshot(env: &RpcEnv, params: &Params) -> Result<(LoadedVm, String), ApiError> {
    local_node(env, params.req_str("node"))?;
    let vmid = params.int("vmid").unwrap_or_default() as u32;
    let name = params.req_str("snapname").to_string();
    let vm = load(env, vmid).await?;
    if !vm.config.snapshots.contains_key(&name) {
        return Err(ApiError::internal(format!(
            "snapshot '{name}' does not exist"
        )));
    }
    Ok((vm, name))
}
