//! POST /nodes/{node}/lxc: create a container from a template. The VMID is reserved at once
//! (a config holding only `lock: create`); a `vzcreate` task allocates the volumes, builds
//! the root file system and writes the config. A failure frees what was allocated and
//! removes the reservation.

use std::collections::BTreeMap;

use oxve_router::{ApiError, ApiMethod, HttpMethod, PermissionChecker};
use oxve_store::{guest_config_key, Expect, StoreError};
use oxve_types::lxc::{check_params, create_schema, CtConfig, CtUpdate, Features};
use oxve_types::qemu::{random_mac, DEFAULT_MAC_PREFIX};
use serde_json::{json, Map, Value};

use super::store_io::{guest_ref, store_error};
use super::volumes::{self, NewVolume};
use super::{status, upid_schema};
use crate::api::common::local_node;
use crate::env::RpcEnv;

/// Create parameters that are not config keys.
const CREATE_ONLY: &[&str] = &[
    "ostemplate",
    "password",
    "ssh-public-keys",
    "storage",
    "pool",
    "start",
    "restore",
    "force",
    "unique",
    "ignore-unpack-errors",
    "bwlimit",
    "ha-managed",
];

/// Only root may enable features beyond nesting (as Proxmox).
pub fn check_features(perms: &dyn PermissionChecker, value: Option<&str>) -> Result<(), ApiError> {
    let Some(value) = value else { return Ok(()) };
    let f = Features::parse(value).map_err(|e| ApiError::param("features", e.to_string()))?;
    let beyond_nesting = f.keyctl || f.fuse || f.mknod || f.force_rw_sys || !f.mount.is_empty();
    if beyond_nesting && !perms.is_root() {
        return Err(ApiError::param(
            "features",
            "changing feature flags (except nesting) is only allowed for root@pam",
        ));
    }
    Ok(())
}

/// The new container's config from the (allocated) values.
fn build_config(set: &BTreeMap<String, String>) -> Result<CtConfig, ApiError> {
    let mut config = CtConfig::default();
    for (key, value) in set {
        config
            .set(key, value)
            .map_err(|e| ApiError::param(key.as_str(), e.to_string()))?;
    }
    Ok(config)
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![ApiMethod::new(HttpMethod::Post, "/nodes/{node}/lxc", "create_vm")
        .description("Create a container from an OS template. rootfs given as STORAGE:SIZE (GiB) is allocated; new containers are unprivileged unless 'unprivileged' is 0.")
        .parameters(create_schema().clone())
        .returns(upid_schema())
        .permission(crate::api::pools::allocate_permission())
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let vmid = params.int("vmid").unwrap_or_default() as u32;
            let pool = params.str("pool").map(str::to_string);
            if params.bool_or("restore", false) {
                return Ok(json!(crate::api::vzdump::restore_ct(&env, &params, vmid).await?));
            }
            check_params(&params.0).map_err(ApiError::params)?;
            let config_params: Map<String, Value> = params
                .0
                .iter()
                .filter(|(k, _)| !CREATE_ONLY.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut update = match CtUpdate::from_params(&config_params) {
                Ok(u) => u,
                Err(oxve_types::lxc::CtUpdateError::Param(e)) => return Err(ApiError::params(e)),
                Err(_) => CtUpdate::default(),
            };
            let storage = params.str("storage").unwrap_or("local").to_string();
            update
                .set
                .entry("rootfs".into())
                .or_insert_with(|| format!("{storage}:4"));
            update.set.entry("unprivileged".into()).or_insert_with(|| "1".into());
            update.set.entry("arch".into()).or_insert_with(|| "amd64".into());
            update.fill_missing_macs(|| random_mac(Some(DEFAULT_MAC_PREFIX)));
            // every value must make a valid config before anything is reserved
            let preview = build_config(&update.set)?;
            let perms = env.permissions().await?;
            volumes::check_permissions(&perms, &update.set)?;
            check_features(&perms, update.set.get("features").map(String::as_str))?;
            volumes::check_volumes(&env, vmid, true, &update.set).await?;
            crate::api::pools::check_new_guest(&env, vmid, pool.as_deref()).await?;
            let template = volumes::template_path(&env, &perms, params.req_str("ostemplate")).await?;
            let password = params.str("password").map(str::to_string);
            let ssh_keys = params.str("ssh-public-keys").map(str::to_string);
            let start = params.bool_or("start", false);
            let root_uid = if preview.unprivileged() { oxve_lxc::IDMAP_BASE } else { 0 };

            let guest = guest_ref(&env, vmid);
            let reserved = env
                .state
                .store
                .create_guest(&guest, "lock: create\n")
                .await
                .map_err(|e| match e {
                    StoreError::VmidInUse { .. } => ApiError::internal(format!(
                        "CT {vmid} already exists on node '{}'",
                        env.state.node
                    )),
                    other => store_error(other),
                })?;

            let task_env = env.clone();
            let upid = env
                .state
                .tasks
                .spawn("vzcreate", Some(&vmid.to_string()), &env.caller_string(), move |ctx| async move {
                    let env = task_env;
                    let mut set = update.set.clone();
                    let log_ctx = ctx.clone();
                    let allocated = volumes::allocate(&env, vmid, &mut set, root_uid, move |m| log_ctx.log(m))
                        .await
                        .map_err(|e| e.message.clone());
                    let outcome = match allocated {
                        Ok(new) => {
                            let result = build(&env, vmid, &set, &new, &template, password, ssh_keys, &ctx).await;
                            let result = match result {
                                Ok(config) => write(&env, &guest, &reserved, &config).await,
                                Err(e) => Err(e),
                            };
                            let result = match result {
                                Ok(()) => crate::api::pools::join_pool(&env, pool.as_deref(), vmid).await,
                                Err(e) => Err(e),
                            };
                            if result.is_err() {
                                let log_ctx = ctx.clone();
                                let ids = new.into_iter().map(|v| v.volid).collect();
                                volumes::free_volumes(&env, ids, move |m| log_ctx.log(m)).await;
                            }
                            result
                        }
                        Err(e) => Err(e),
                    };
                    if let Err(e) = &outcome {
                        ctx.log(format!("unable to create CT {vmid} - {e}"));
                        let _ = env.state.store.delete(&guest_config_key(&guest), Expect::Any).await;
                        return outcome;
                    }
                    if start {
                        status::start_now(&env, vmid, &ctx).await?;
                    }
                    Ok(())
                })
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(json!(upid.to_string()))
        })]
}

/// Build the root file system and the final config.
#[allow(clippy::too_many_arguments)]
async fn build(
    env: &RpcEnv,
    vmid: u32,
    set: &BTreeMap<String, String>,
    new: &[NewVolume],
    template: &std::path::Path,
    password: Option<String>,
    ssh_keys: Option<String>,
    ctx: &oxve_tasks::TaskContext,
) -> Result<CtConfig, String> {
    let mut config = build_config(set).map_err(|e| e.message)?;
    let rootfs = match new.iter().find(|v| v.key == "rootfs") {
        Some(v) => v.path.clone(),
        // an existing volume or path as rootfs
        None => {
            let resolver = volumes::resolver(env).await.map_err(|e| e.message)?;
            let volume = config.rootfs().map(|r| r.volume()).unwrap_or_default();
            if volume.starts_with('/') {
                oxve_lxc::VolumePath::from_storage(volume.into(), "")
            } else {
                oxve_lxc::VolumeResolver::resolve(&resolver, &volume)?
            }
        }
    };
    let mount_dir = env.state.lxc.paths().setup_mount(vmid);
    let template = template.to_path_buf();
    let conf = config.clone();
    let log_ctx = ctx.clone();
    let ostype = tokio::task::spawn_blocking(move || {
        let spec = oxve_lxc::RootfsSpec {
            vmid,
            conf: &conf,
            template: &template,
            password: password.as_deref(),
            ssh_public_keys: ssh_keys.as_deref(),
        };
        oxve_lxc::create_rootfs(&spec, &rootfs, &mount_dir, &|m| log_ctx.log(m))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    if let (None, Some(os)) = (config.ostype(), ostype) {
        config.set("ostype", os).map_err(|e| e.to_string())?;
    }
    Ok(config)
}

async fn write(
    env: &RpcEnv,
    guest: &oxve_store::GuestRef,
    reserved: &str,
    config: &CtConfig,
) -> Result<(), String> {
    let text = config.to_text().map_err(|e| e.to_string())?;
    env.state
        .store
        .put(
            &guest_config_key(guest),
            &text,
            Expect::Digest(reserved.to_string()),
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
