//! .../lxc/{vmid}/snapshot: list, take, roll back and delete snapshots (vzsnapshot,
//! vzrollback, vzdelsnapshot tasks). The config bookkeeping is in `oxve_types::lxc`; each
//! volume is snapshotted through its storage, with the container frozen while it runs. A
//! failure removes what was made and releases the lock.

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_storage::VolumeId;
use oxve_types::lxc::SnapshotError;
use oxve_types::schema::Schema;
use serde_json::{json, Value};

use super::store_io::{load, save};
use super::{status, upid_schema, vmid_param};
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

fn snap_error(e: SnapshotError) -> ApiError {
    match e {
        SnapshotError::BadName(_) => ApiError::param("snapname", e.to_string()),
        other => ApiError::internal(other.to_string()),
    }
}

fn snapname_param() -> Schema {
    Schema::string("The name of the snapshot.")
        .format(oxve_types::qemu::formats::SNAPSHOT_NAME)
        .max_length(40)
        .into()
}

fn base() -> oxve_types::schema::ObjectSchema {
    Schema::object("")
        .required("node", node_param())
        .required("vmid", vmid_param())
}

const SNAPSHOT: Permission = Permission::Privs {
    path: "/vms/{vmid}",
    privs: &["VM.Snapshot"],
    any: false,
};

/// Run a storage snapshot operation on every volume, stopping at the first failure.
async fn each_volume(
    env: &RpcEnv,
    volumes: &[(String, String)],
    snap: &str,
    op: fn(
        &oxve_storage::StorageManager,
        &VolumeId,
        &str,
    ) -> Result<(), oxve_storage::StorageError>,
) -> Result<Vec<VolumeId>, (Vec<VolumeId>, String)> {
    let mut done = Vec::new();
    for (key, volid) in volumes {
        let id = VolumeId::parse(volid).map_err(|e| (done.clone(), format!("{key}: {e}")))?;
        let (v, s) = (id.clone(), snap.to_string());
        env.state
            .storage
            .run(env.state.store.as_ref(), move |m| op(m, &v, &s))
            .await
            .map_err(|e| (done.clone(), format!("{key}: {}", e.message)))?;
        done.push(id);
    }
    Ok(done)
}

async fn take(
    env: &RpcEnv,
    vmid: u32,
    name: &str,
    ctx: &oxve_tasks::TaskContext,
) -> Result<(), String> {
    let mut ct = load(env, vmid).await.map_err(|e| e.message)?;
    let volumes = {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let vols = ct
            .config
            .snapshot_prepare(name, None, now)
            .map_err(|e| e.to_string())?;
        save(env.state.store.as_ref(), &ct)
            .await
            .map_err(|e| e.message)?;
        vols
    };
    let running = env.state.lxc.is_running(vmid).is_some();
    if running {
        // a consistent file system: freeze the processes while the volumes are snapshotted
        ctx.log("freezing the container");
        let _ = env.state.lxc.suspend(vmid).await;
    }
    // what the container wrote reaches its volumes before they are snapshotted
    let _ = tokio::process::Command::new("sync").status().await;
    let result = each_volume(env, &volumes, name, |m, v, s| m.snapshot_create(v, s)).await;
    if running {
        let _ = env.state.lxc.resume(vmid).await;
    }
    let mut ct = load(env, vmid).await.map_err(|e| e.message)?;
    match result {
        Ok(done) => {
            for v in done {
                ctx.log(format!("snapshot '{name}' of volume '{v}'"));
            }
            ct.config.snapshot_commit(name);
            save(env.state.store.as_ref(), &ct)
                .await
                .map_err(|e| e.message)?;
            Ok(())
        }
        Err((done, e)) => {
            for v in done {
                let (v2, s) = (v.clone(), name.to_string());
                let _ = env
                    .state
                    .storage
                    .run(env.state.store.as_ref(), move |m| {
                        m.snapshot_delete(&v2, &s)
                    })
                    .await;
            }
            ct.config.snapshot_abort(name);
            let _ = save(env.state.store.as_ref(), &ct).await;
            Err(format!("snapshot failed: {e}"))
        }
    }
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/lxc/{vmid}/snapshot", "list")
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
                let ct = load(&env, params.int("vmid").unwrap_or_default() as u32).await?;
                Ok(json!(ct.config.snapshot_list()))
            }),
        ApiMethod::new(
            HttpMethod::Post,
            "/nodes/{node}/lxc/{vmid}/snapshot",
            "snapshot",
        )
        .description("Snapshot a container.")
        .parameters(base().required("snapname", snapname_param()).optional(
            "description",
            Schema::string("A textual description or comment."),
        ))
        .returns(upid_schema())
        .permission(SNAPSHOT)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let vmid = params.int("vmid").unwrap_or_default() as u32;
            let name = params.req_str("snapname").to_string();
            let description = params.str("description").map(str::to_string);
            // refuse what cannot work before starting a task
            let mut probe = load(&env, vmid).await?;
            probe
                .config
                .snapshot_prepare(&name, None, 0)
                .map_err(snap_error)?;
            let task_env = env.clone();
            let upid = env
                .state
                .tasks
                .spawn(
                    "vzsnapshot",
                    Some(&vmid.to_string()),
                    &env.caller_string(),
                    move |ctx| async move {
                        take(&task_env, vmid, &name, &ctx).await?;
                        if let Some(d) = description {
                            let mut ct = load(&task_env, vmid).await.map_err(|e| e.message)?;
                            if let Some(s) = ct.config.snapshots.get_mut(&name) {
                                s.description = Some(d);
                            }
                            save(task_env.state.store.as_ref(), &ct)
                                .await
                                .map_err(|e| e.message)?;
                        }
                        Ok::<(), String>(())
                    },
                )
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(json!(upid.to_string()))
        }),
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}",
            "snapshot_cmd_idx",
        )
        .description("Directory index of a snapshot.")
        .parameters(base().required("snapname", snapname_param()))
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
            "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config",
            "get_snapshot_config",
        )
        .description("Get snapshot configuration")
        .parameters(base().required("snapname", snapname_param()))
        .returns(Schema::object("").additional_properties(true))
        .permission(Permission::Privs {
            path: "/vms/{vmid}",
            privs: &["VM.Audit"],
            any: false,
        })
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let ct = load(&env, params.int("vmid").unwrap_or_default() as u32).await?;
            let name = params.req_str("snapname");
            ct.config
                .snapshot_json(name)
                .map(Value::Object)
                .ok_or_else(|| ApiError::internal(format!("snapshot '{name}' does not exist")))
        }),
        ApiMethod::new(
            HttpMethod::Put,
            "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config",
            "update_snapshot_config",
        )
        .description("Update snapshot metadata.")
        .parameters(base().required("snapname", snapname_param()).optional(
            "description",
            Schema::string("A textual description or comment."),
        ))
        .returns(Schema::Null)
        .permission(SNAPSHOT)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let mut ct = load(&env, params.int("vmid").unwrap_or_default() as u32).await?;
            let name = params.req_str("snapname");
            let snap =
                ct.config.snapshots.get_mut(name).ok_or_else(|| {
                    ApiError::internal(format!("snapshot '{name}' does not exist"))
                })?;
            if let Some(d) = params.str("description") {
                snap.description = Some(d.to_string());
            }
            save(env.state.store.as_ref(), &ct).await?;
            Ok(Value::Null)
        }),
        ApiMethod::new(
            HttpMethod::Post,
            "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback",
            "rollback",
        )
        .description("Rollback LXC state to specified snapshot (stops a running container first).")
        .parameters(
            base().required("snapname", snapname_param()).optional(
                "start",
                Schema::boolean(
                    "Whether the container should get started after rolling back successfully",
                )
                .default(false),
            ),
        )
        .returns(upid_schema())
        .permission(Permission::Privs {
            path: "/vms/{vmid}",
            privs: &["VM.Snapshot.Rollback"],
            any: false,
        })
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let vmid = params.int("vmid").unwrap_or_default() as u32;
            let name = params.req_str("snapname").to_string();
            let start = params.bool_or("start", false);
            let mut probe = load(&env, vmid).await?;
            probe.config.rollback_prepare(&name).map_err(snap_error)?;
            let task_env = env.clone();
            let upid = env
                .state
                .tasks
                .spawn(
                    "vzrollback",
                    Some(&vmid.to_string()),
                    &env.caller_string(),
                    move |ctx| async move {
                        let env = task_env;
                        if env.state.lxc.is_running(vmid).is_some() {
                            ctx.log(format!("stopping CT {vmid}"));
                            env.state
                                .lxc
                                .stop(vmid, std::time::Duration::from_secs(30))
                                .await
                                .map_err(|e| e.to_string())?;
                        }
                        let mut ct = load(&env, vmid).await.map_err(|e| e.message)?;
                        let volumes = ct
                            .config
                            .rollback_prepare(&name)
                            .map_err(|e| e.to_string())?;
                        save(env.state.store.as_ref(), &ct)
                            .await
                            .map_err(|e| e.message)?;
                        let result =
                            each_volume(&env, &volumes, &name, |m, v, s| m.snapshot_rollback(v, s))
                                .await;
                        let mut ct = load(&env, vmid).await.map_err(|e| e.message)?;
                        if let Err((_, e)) = result {
                            ct.config.unlock();
                            let _ = save(env.state.store.as_ref(), &ct).await;
                            return Err(format!("rollback failed: {e}"));
                        }
                        ct.config
                            .rollback_commit(&name)
                            .map_err(|e| e.to_string())?;
                        ct.config.unlock();
                        save(env.state.store.as_ref(), &ct)
                            .await
                            .map_err(|e| e.message)?;
                        // the rootfs changed under the setup stamp: the next start redoes the setup
                        env.state.lxc.cleanup(vmid);
                        ctx.log(format!("rolled back to snapshot '{name}'"));
                        if start {
                            status::start_now(&env, vmid, &ctx).await?;
                        }
                        Ok::<(), String>(())
                    },
                )
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(json!(upid.to_string()))
        }),
        ApiMethod::new(
            HttpMethod::Delete,
            "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}",
            "delsnapshot",
        )
        .description("Delete a LXC snapshot.")
        .parameters(base().required("snapname", snapname_param()).optional(
            "force",
            Schema::boolean("For removal from config file, even if removing disk snapshots fails."),
        ))
        .returns(upid_schema())
        .permission(SNAPSHOT)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let vmid = params.int("vmid").unwrap_or_default() as u32;
            let name = params.req_str("snapname").to_string();
            let force = params.bool_or("force", false);
            let mut probe = load(&env, vmid).await?;
            probe
                .config
                .snapshot_delete_prepare(&name)
                .map_err(snap_error)?;
            let task_env = env.clone();
            let upid = env
                .state
                .tasks
                .spawn(
                    "vzdelsnapshot",
                    Some(&vmid.to_string()),
                    &env.caller_string(),
                    move |_ctx| async move {
                        let env = task_env;
                        let mut ct = load(&env, vmid).await.map_err(|e| e.message)?;
                        let volumes = ct
                            .config
                            .snapshot_delete_prepare(&name)
                            .map_err(|e| e.to_string())?;
                        save(env.state.store.as_ref(), &ct)
                            .await
                            .map_err(|e| e.message)?;
                        let result =
                            each_volume(&env, &volumes, &name, |m, v, s| m.snapshot_delete(v, s))
                                .await;
                        let mut ct = load(&env, vmid).await.map_err(|e| e.message)?;
                        if let Err((_, e)) = result {
                            if !force {
                                ct.config.unlock();
                                let _ = save(env.state.store.as_ref(), &ct).await;
                                return Err(format!("delete snapshot failed: {e}"));
                            }
                        }
                        ct.config.snapshot_delete_commit(&name);
                        save(env.state.store.as_ref(), &ct)
                            .await
                            .map_err(|e| e.message)?;
                        Ok::<(), String>(())
                    },
                )
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(json!(upid.to_string()))
        }),
    ]
}
