//! `.../{vmid}/snapshot`: list (a tree with `current`), create, config, rollback and delete,
//! for every guest type (Proxmox's qmsnapshot/vzsnapshot, qmrollback/vzrollback,
//! qmdelsnapshot/vzdelsnapshot tasks).
//!
//! Every volume's storage must be able to snapshot it before anything is touched. A running
//! guest is frozen (VM paused, CT frozen) while its volumes are snapshotted; with `vmstate`
//! a VM stays paused until its RAM is written, so disks and RAM are of one instant, and a
//! rollback to such a snapshot starts the VM from that RAM.

use std::sync::Arc;

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_storage::{StorageError, StorageManager, VolumeFormat, VolumeId};
use oxve_store::GuestLock;
use oxve_types::params::Params;
use oxve_types::schema::{ObjectSchema, Schema};
use oxve_types::snapshot::{
    check_snapshot_name, reparent_after_delete, snapshot_list, SnapshotMeta,
};
use serde_json::{json, Value};

use oxve_tasks::TaskContext;

use super::{
    api_path, blocking, free_volumes, lock_guest, manager, spawn_task, task_log, Log, SnapshotGuest,
};
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;
use crate::guest_config::{load, save, Loaded};

/// A volume of a snapshot, checked for support.
struct SnapVolume {
    key: String,
    volid: VolumeId,
    format: VolumeFormat,
}

type StorageOp = fn(&StorageManager, &VolumeId, &str) -> Result<(), StorageError>;

/// The volumes of `settings`, each on a storage that can snapshot its format.
async fn snapshot_volumes<G: SnapshotGuest>(
    m: &Arc<StorageManager>,
    settings: &G::Settings,
) -> Result<Vec<SnapVolume>, String> {
    let volumes = G::volumes(settings)?;
    let m = Arc::clone(m);
    blocking(move || {
        let mut out = Vec::new();
        for v in volumes {
            let info = m.info(&v.volid).map_err(|e| e.to_string())?;
            let caps = m
                .capabilities(v.volid.storage())
                .map_err(|e| e.to_string())?;
            if !caps.supports_snapshots(info.format) {
                return Err(format!(
                    "snapshot feature is not available for {} ({}): storage '{}' cannot snapshot '{}' volumes",
                    v.key,
                    v.volid,
                    v.volid.storage(),
                    info.format
                ));
            }
            out.push(SnapVolume {
                key: v.key,
                volid: v.volid,
                format: info.format,
            });
        }
        Ok(out)
    })
    .await
}

/// A storage snapshot operation on one volume, off the async runtime.
async fn storage_op(
    m: &Arc<StorageManager>,
    v: &SnapVolume,
    snap: &str,
    op: StorageOp,
) -> Result<(), String> {
    let (m, volid, snap) = (Arc::clone(m), v.volid.clone(), snap.to_string());
    blocking(move || op(&m, &volid, &snap).map_err(|e| e.to_string())).await
}

/// Whether the running guest itself snapshots `v`.
fn in_guest<G: SnapshotGuest>(v: &SnapVolume, running: bool) -> bool {
    running && G::snapshots_in_guest(v.format)
}

fn metas<G: SnapshotGuest>(config: &G) -> Vec<SnapshotMeta> {
    config
        .snapshots()
        .iter()
        .map(|(name, s)| SnapshotMeta {
            name: name.clone(),
            parent: G::get(s, "parent").map(str::to_string),
            snaptime: G::get(s, "snaptime").and_then(|t| t.parse().ok()),
            description: G::get(s, "description").map(str::to_string),
            vmstate: G::get(s, "vmstate").is_some(),
        })
        .collect()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Takes snapshot `name`: the snapshot task, run under `lock: snapshot`.
async fn take<G: SnapshotGuest>(
    env: &RpcEnv,
    vmid: u32,
    name: &str,
    description: Option<String>,
    want_vmstate: bool,
    log: Log,
) -> Result<(), String> {
    let guest = load::<G>(env, vmid).await.map_err(|e| e.message)?;
    let m = manager(env).await?;
    let volumes = snapshot_volumes::<G>(&m, guest.config.current()).await?;
    let running = G::is_running(env, vmid);
    let vmstate = want_vmstate && running;
    // Undo list: volume snapshots taken, state volume saved.
    let mut taken: Vec<&SnapVolume> = Vec::new();
    let mut state: Option<VolumeId> = None;
    let result: Result<(), String> = async {
        if running {
            // File systems first (the agent answers only while the guest runs), then the pause.
            let fs_frozen = !vmstate && G::fs_freeze(env, vmid, &log).await;
            let paused = G::freeze(env, vmid).await;
            let Ok(frozen) = paused else {
                if fs_frozen {
                    G::fs_thaw(env, vmid, &log).await;
                }
                return paused.map(|_| ());
            };
            let inside = async {
                for v in volumes.iter().filter(|v| !in_guest::<G>(v, true)) {
                    storage_op(&m, v, name, StorageManager::snapshot_create).await?;
                    taken.push(v);
                }
                let live: Vec<&SnapVolume> =
                    volumes.iter().filter(|v| in_guest::<G>(v, true)).collect();
                if !live.is_empty() {
                    let keys: Vec<String> = live.iter().map(|v| v.key.clone()).collect();
                    G::guest_snapshot(env, vmid, name, &keys).await?;
                    taken.extend(live);
                }
                if vmstate {
                    state = Some(G::save_state(env, &guest, name, Arc::clone(&log)).await?);
                }
                Ok::<(), String>(())
            }
            .await;
            let thawed = G::thaw(env, vmid, frozen, vmstate && inside.is_ok()).await;
            if fs_frozen {
                G::fs_thaw(env, vmid, &log).await;
            }
            inside?;
            thawed?;
        } else {
            for v in &volumes {
                storage_op(&m, v, name, StorageManager::snapshot_create).await?;
                taken.push(v);
            }
        }
        for v in &volumes {
            log(format!("snapshot of {} ({}) taken", v.key, v.volid));
        }
        // The snapshot section: the current settings plus the tree metadata.
        let mut guest = load::<G>(env, vmid).await.map_err(|e| e.message)?;
        let current = guest.config.current().clone();
        let mut section = current.clone();
        for key in [
            "lock",
            "description",
            "parent",
            "snaptime",
            "vmstate",
            "snapstate",
        ] {
            G::remove(&mut section, key);
        }
        if let Some(parent) = G::get(&current, "parent") {
            G::set(&mut section, "parent", parent)?;
        }
        G::set(&mut section, "snaptime", &now().to_string())?;
        if let Some(d) = &description {
            G::set(&mut section, "description", d)?;
        }
        if let Some(v) = &state {
            G::set(&mut section, "vmstate", &v.to_string())?;
        }
        guest
            .config
            .snapshots_mut()
            .insert(name.to_string(), section);
        G::set(guest.config.current_mut(), "parent", name)?;
        save(env.state.store.as_ref(), &guest)
            .await
            .map_err(|e| e.message)?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        log(format!("snapshot failed - undoing: {e}"));
        delete_volume_snapshots::<G>(env, vmid, name, &taken, &m, true, &log).await?;
        if let Some(v) = state {
            let l = Arc::clone(&log);
            free_volumes(env, vec![v], move |m| l(m)).await;
        }
        return Err(format!("snapshot failed: {e}"));
    }
    Ok(())
}

/// Deletes snapshot `name` of `volumes`; with `force` failures are logged, not returned.
async fn delete_volume_snapshots<G: SnapshotGuest>(
    env: &RpcEnv,
    vmid: u32,
    name: &str,
    volumes: &[&SnapVolume],
    m: &Arc<StorageManager>,
    force: bool,
    log: &Log,
) -> Result<(), String> {
    let running = G::is_running(env, vmid);
    let mut failed: Vec<(String, String)> = Vec::new();
    let live: Vec<String> = volumes
        .iter()
        .filter(|v| in_guest::<G>(v, running))
        .map(|v| v.key.clone())
        .collect();
    if !live.is_empty() {
        failed.extend(G::guest_snapshot_delete(env, vmid, name, &live).await?);
    }
    for v in volumes.iter().filter(|v| !in_guest::<G>(v, running)) {
        if let Err(e) = storage_op(m, v, name, StorageManager::snapshot_delete).await {
            failed.push((v.key.clone(), e));
        }
    }
    for (key, e) in failed {
        if !force {
            return Err(format!("{key}: {e}"));
        }
        log(format!("{key}: {e} (ignored)"));
    }
    Ok(())
}

/// Rolls back to snapshot `name` (the rollback task, under `lock: rollback`).
async fn rollback<G: SnapshotGuest>(
    env: &RpcEnv,
    vmid: u32,
    name: &str,
    start: bool,
    ctx: TaskContext,
) -> Result<(), String> {
    let log = task_log(&ctx);
    let guest = load::<G>(env, vmid).await.map_err(|e| e.message)?;
    let snap = guest
        .config
        .snapshots()
        .get(name)
        .cloned()
        .ok_or_else(|| format!("snapshot '{name}' does not exist"))?;
    let m = manager(env).await?;
    let volumes = snapshot_volumes::<G>(&m, &snap).await?;
    if G::is_running(env, vmid) {
        log(format!("stopping {} {vmid}", G::LABEL));
        G::stop(env, vmid).await?;
    }
    for v in &volumes {
        storage_op(&m, v, name, StorageManager::snapshot_rollback).await?;
        log(format!("rolled back {} ({})", v.key, v.volid));
    }
    G::volumes_replaced(env, vmid);
    // The snapshot's settings become current (keeping the description and the tree).
    let mut guest = load::<G>(env, vmid).await.map_err(|e| e.message)?;
    let description = G::get(guest.config.current(), "description").map(str::to_string);
    let mut current = snap.clone();
    for key in ["description", "parent"].iter().chain(G::SNAPSHOT_KEYS) {
        G::remove(&mut current, key);
    }
    if let Some(d) = description {
        G::set(&mut current, "description", &d)?;
    }
    G::set(&mut current, "lock", "rollback")?;
    G::set(&mut current, "parent", name)?;
    *guest.config.current_mut() = current;
    guest.config.clear_pending();
    save(env.state.store.as_ref(), &guest)
        .await
        .map_err(|e| e.message)?;
    log(format!("rolled back to snapshot '{name}'"));

    if let Some(state) = G::get(&snap, "vmstate").and_then(|v| VolumeId::parse(v).ok()) {
        G::start_from_state(env, &guest, &state, log).await?;
    } else if start {
        // The rollback lock must be gone before the guest can start.
        super::unlock_guest::<G>(env, vmid, GuestLock::Rollback).await;
        G::start(env, vmid, &ctx).await?;
    }
    Ok(())
}

/// Deletes snapshot `name` (the delete task, under `lock: snapshot-delete`).
async fn delete<G: SnapshotGuest>(
    env: &RpcEnv,
    vmid: u32,
    name: &str,
    force: bool,
    log: Log,
) -> Result<(), String> {
    let guest = load::<G>(env, vmid).await.map_err(|e| e.message)?;
    let snap = guest
        .config
        .snapshots()
        .get(name)
        .cloned()
        .ok_or_else(|| format!("snapshot '{name}' does not exist"))?;
    let m = manager(env).await?;
    let volumes = match snapshot_volumes::<G>(&m, &snap).await {
        Ok(v) => v,
        Err(e) if force => {
            log(format!("ignoring: {e}"));
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let all: Vec<&SnapVolume> = volumes.iter().collect();
    delete_volume_snapshots::<G>(env, vmid, name, &all, &m, force, &log).await?;
    if let Some(state) = G::get(&snap, "vmstate").and_then(|v| VolumeId::parse(v).ok()) {
        let l = Arc::clone(&log);
        free_volumes(env, vec![state], move |m| l(m)).await;
    }
    let mut guest = load::<G>(env, vmid).await.map_err(|e| e.message)?;
    let metas = metas(&guest.config);
    let current_parent = G::get(guest.config.current(), "parent").map(str::to_string);
    for (who, parent) in reparent_after_delete(&metas, current_parent.as_deref(), name) {
        let target = match &who {
            Some(s) => guest.config.snapshots_mut().get_mut(s),
            None => Some(guest.config.current_mut()),
        };
        if let Some(t) = target {
            match &parent {
                Some(p) => G::set(t, "parent", p)?,
                None => G::remove(t, "parent"),
            }
        }
    }
    guest.config.snapshots_mut().remove(name);
    save(env.state.store.as_ref(), &guest)
        .await
        .map_err(|e| e.message)?;
    log(format!("snapshot '{name}' deleted"));
    Ok(())
}

fn base() -> ObjectSchema {
    Schema::object("")
        .required("node", node_param())
        .required("vmid", crate::api::qemu::vmid_param())
}

fn snap_params() -> ObjectSchema {
    base().required(
        "snapname",
        Schema::string("The name of the snapshot.").max_length(40),
    )
}

fn vmid(params: &Params) -> u32 {
    params.int("vmid").unwrap_or_default() as u32
}

fn lock_of<G: SnapshotGuest>(config: &G) -> Option<String> {
    G::get(config.current(), "lock").map(str::to_string)
}

/// The guest and the name of one of its snapshots, which must exist.
async fn load_snapshot<G: SnapshotGuest>(
    env: &RpcEnv,
    params: &Params,
) -> Result<(Loaded<G>, String), ApiError> {
    local_node(env, params.req_str("node"))?;
    let name = params.req_str("snapname").to_string();
    let guest = load::<G>(env, vmid(params)).await?;
    if !guest.config.snapshots().contains_key(&name) {
        return Err(ApiError::internal(format!(
            "snapshot '{name}' does not exist"
        )));
    }
    Ok((guest, name))
}

fn locked_error<G: SnapshotGuest>(vmid: u32, lock: &str) -> ApiError {
    ApiError::internal(format!("{} {vmid} is locked ({lock})", G::LABEL))
}

pub fn methods<G: SnapshotGuest>() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, api_path::<G>("/snapshot"), "snapshot_list")
            .description("List all snapshots.")
            .parameters(base())
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
                let vmid = vmid(&params);
                let guest = load::<G>(&env, vmid).await?;
                Ok(json!(snapshot_list(
                    &metas(&guest.config),
                    G::get(guest.config.current(), "parent"),
                    G::is_running(&env, vmid),
                    &guest.digest
                )))
            }),
        ApiMethod::new(HttpMethod::Post, api_path::<G>("/snapshot"), "snapshot")
            .description("Snapshot a guest.")
            .parameters({
                let p = snap_params().optional(
                    "description",
                    Schema::string("A textual description or comment."),
                );
                if G::VMSTATE {
                    p.optional("vmstate", Schema::boolean("Save the vmstate"))
                } else {
                    p
                }
            })
            .returns(Schema::string("The task's UPID."))
            .permission(Permission::Privs {
                path: "/vms/{vmid}",
                privs: &["VM.Snapshot"],
                any: false,
            })
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let vmid = vmid(&params);
                let name = params.req_str("snapname").to_string();
                check_snapshot_name(&name).map_err(|e| ApiError::param("snapname", e))?;
                let guest = load::<G>(&env, vmid).await?;
                if guest.config.snapshots().contains_key(&name) {
                    return Err(ApiError::param(
                        "snapname",
                        format!("snapshot name '{name}' already used"),
                    ));
                }
                if G::get(guest.config.current(), "template").is_some_and(|t| t == "1") {
                    return Err(ApiError::bad_request("you can't snapshot a template"));
                }
                if let Some(lock) = lock_of(&guest.config) {
                    return Err(locked_error::<G>(vmid, &lock));
                }
                // Fail before locking when a volume's storage cannot snapshot it.
                let m = manager(&env).await.map_err(ApiError::internal)?;
                snapshot_volumes::<G>(&m, guest.config.current())
                    .await
                    .map_err(ApiError::bad_request)?;
                lock_guest::<G>(&env, vmid, GuestLock::Snapshot).await?;
                let description = params.str("description").map(str::to_string);
                let vmstate = params.bool_or("vmstate", false);
                spawn_task::<G, _, _>(
                    &env,
                    vmid,
                    G::TASKS.snapshot,
                    Some(GuestLock::Snapshot),
                    move |env, ctx| async move {
                        take::<G>(&env, vmid, &name, description, vmstate, task_log(&ctx)).await
                    },
                )
            }),
        ApiMethod::new(
            HttpMethod::Get,
            api_path::<G>("/snapshot/{snapname}"),
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
            api_path::<G>("/snapshot/{snapname}/config"),
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
            let (guest, name) = load_snapshot::<G>(&env, &params).await?;
            let snap = &guest.config.snapshots()[&name];
            Ok(Value::Object(G::to_json(snap)))
        }),
        ApiMethod::new(
            HttpMethod::Put,
            api_path::<G>("/snapshot/{snapname}/config"),
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
            let (mut guest, name) = load_snapshot::<G>(&env, &params).await?;
            if let Some(d) = params.str("description") {
                let snap = guest
                    .config
                    .snapshots_mut()
                    .get_mut(&name)
                    .ok_or_else(|| ApiError::internal("snapshot vanished"))?;
                G::set(snap, "description", d).map_err(|e| ApiError::param("description", e))?;
                save(env.state.store.as_ref(), &guest).await?;
            }
            Ok(Value::Null)
        }),
        ApiMethod::new(
            HttpMethod::Post,
            api_path::<G>("/snapshot/{snapname}/rollback"),
            "rollback",
        )
        .description("Rollback guest state to specified snapshot.")
        .parameters(
            snap_params().optional(
                "start",
                Schema::boolean(
                    "Whether the guest should get started after rolling back successfully.",
                )
                .default(false),
            ),
        )
        .returns(Schema::string("The task's UPID."))
        .permission(Permission::Privs {
            path: "/vms/{vmid}",
            privs: &["VM.Snapshot", "VM.Snapshot.Rollback"],
            any: true,
        })
        .protected()
        .handler(|env: RpcEnv, params| async move {
            let (guest, name) = load_snapshot::<G>(&env, &params).await?;
            let vmid = vmid(&params);
            if let Some(lock) = lock_of(&guest.config) {
                return Err(locked_error::<G>(vmid, &lock));
            }
            lock_guest::<G>(&env, vmid, GuestLock::Rollback).await?;
            let start = params.bool_or("start", false);
            spawn_task::<G, _, _>(
                &env,
                vmid,
                G::TASKS.rollback,
                Some(GuestLock::Rollback),
                move |env, ctx| async move { rollback::<G>(&env, vmid, &name, start, ctx).await },
            )
        }),
        ApiMethod::new(
            HttpMethod::Delete,
            api_path::<G>("/snapshot/{snapname}"),
            "delsnapshot",
        )
        .description("Delete a snapshot.")
        .parameters(snap_params().optional(
            "force",
            Schema::boolean("For removal from config file, even if removing disk snapshots fails."),
        ))
        .returns(Schema::string("The task's UPID."))
        .permission(Permission::Privs {
            path: "/vms/{vmid}",
            privs: &["VM.Snapshot"],
            any: false,
        })
        .protected()
        .handler(|env: RpcEnv, params| async move {
            let (guest, name) = load_snapshot::<G>(&env, &params).await?;
            let vmid = vmid(&params);
            let force = params.bool_or("force", false);
            let lock = match lock_of(&guest.config) {
                Some(l) if !force => return Err(locked_error::<G>(vmid, &l)),
                // force: remove it from the config even when something is still locked
                Some(_) => None,
                None => {
                    lock_guest::<G>(&env, vmid, GuestLock::SnapshotDelete).await?;
                    Some(GuestLock::SnapshotDelete)
                }
            };
            spawn_task::<G, _, _>(
                &env,
                vmid,
                G::TASKS.delsnapshot,
                lock,
                move |env, ctx| async move {
                    delete::<G>(&env, vmid, &name, force, task_log(&ctx)).await
                },
            )
        }),
    ]
}
