//! POST /nodes/{node}/qemu: create a VM. The VMID is reserved at once (a config holding only
//! `lock: create`); a worker task allocates the disks and writes the config. A failure frees
//! what was allocated and removes the reservation.

use oxve_router::{ApiError, ApiMethod, HttpMethod};
use oxve_store::{guest_config_key, Expect, StoreError};
use oxve_types::qemu::{
    check_params, create_schema, random_mac, ConfigUpdate, VmConfig, DEFAULT_MAC_PREFIX,
};
use serde_json::{json, Map, Value};

use super::disks;
use super::store_io::{guest_ref, store_error};
use crate::api::common::local_node;
use crate::env::RpcEnv;

/// Create parameters that are not config keys.
const CREATE_ONLY: &[&str] = &[
    "archive",
    "storage",
    "pool",
    "start",
    "unique",
    "force",
    "bwlimit",
    "live-restore",
    "ha-managed",
    "import-working-storage",
];

pub(crate) fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut b);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Build the new VM's config from the (allocated) values, with the defaults Proxmox adds.
fn build_config(set: &std::collections::BTreeMap<String, String>) -> Result<VmConfig, ApiError> {
    let mut config = VmConfig::parse("").map_err(|e| ApiError::internal(e.to_string()))?;
    for (key, value) in set {
        config
            .set(key, value)
            .map_err(|e| ApiError::param(key.as_str(), e.to_string()))?;
    }
    if !config.contains("smbios1") {
        config
            .set("smbios1", &format!("uuid={}", uuid_v4()))
            .map_err(|e| ApiError::internal(e.to_string()))?;
    }
    if !config.contains("vmgenid") {
        config
            .set("vmgenid", &uuid_v4())
            .map_err(|e| ApiError::internal(e.to_string()))?;
    }
    if !config.contains("boot") {
        let order = config.default_boot_devices();
        if !order.is_empty() {
            config
                .set("boot", &format!("order={}", order.join(";")))
                .map_err(|e| ApiError::internal(e.to_string()))?;
        }
    }
    let ctime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let _ = config.set("meta", &format!("creation-qemu=oxve,ctime={ctime}"));
    Ok(config)
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Post, "/nodes/{node}/qemu", "create_vm")
            .description("Create a virtual machine. Disks given as STORAGE:SIZE are allocated.")
            .parameters(create_schema().clone())
            .returns(upid_schema())
            .permission(crate::api::pools::allocate_permission())
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let vmid = params.int("vmid").unwrap_or_default() as u32;
                let pool = params.str("pool").map(str::to_string);
                if params.has("archive") {
                    let upid = crate::api::vzdump::restore_vm(&env, &params, vmid).await?;
                    return Ok(json!(upid));
                }
                check_params(&params.0, true).map_err(ApiError::params)?;
                let config_params: Map<String, Value> = params
                    .0
                    .iter()
                    .filter(|(k, _)| !CREATE_ONLY.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let mut update = match ConfigUpdate::from_params(&config_params) {
                    Ok(u) => u,
                    // a VM with no options at all is fine on create
                    Err(oxve_types::qemu::UpdateError::Failed(_)) => ConfigUpdate::default(),
                    Err(oxve_types::qemu::UpdateError::Param(errors)) => {
                        return Err(ApiError::params(errors))
                    }
                    Err(e) => return Err(ApiError::bad_request(e.to_string())),
                };
                update.fill_missing_macs(|| random_mac(Some(DEFAULT_MAC_PREFIX)));
                let perms = env.permissions().await?;
                disks::check_permissions(&perms, &update.set)?;
                disks::check_volumes(&env, &update.set).await?;
                crate::api::pools::check_new_guest(&env, vmid, pool.as_deref()).await?;
                let guest = guest_ref(&env, vmid);
                let reserved = env
                    .state
                    .store
                    .create_guest(&guest, "lock: create\n")
                    .await
                    .map_err(|e| match e {
                        StoreError::VmidInUse { .. } => {
                            ApiError::internal(format!("VM {vmid} already exists"))
                        }
                        other => store_error(other),
                    })?;

                let task_env = env.clone();
                let upid = env
                    .state
                    .tasks
                    .spawn(
                        "qmcreate",
                        Some(&vmid.to_string()),
                        &env.caller_string(),
                        move |ctx| async move {
                            let env = task_env;
                            let log_ctx = ctx.clone();
                            let mut set = update.set.clone();
                            let allocated =
                                disks::allocate(&env, vmid, &mut set, move |m| log_ctx.log(m))
                                    .await
                                    .map_err(|e| e.message.clone());
                            let outcome = match allocated {
                                Ok(volids) => {
                                    let written = match build_config(&set) {
                                        Ok(config) => match config.to_text() {
                                            Ok(text) => env
                                                .state
                                                .store
                                                .put(
                                                    &guest_config_key(&guest),
                                                    &text,
                                                    Expect::Digest(reserved.clone()),
                                                )
                                                .await
                                                .map(|_| ())
                                                .map_err(|e| e.to_string()),
                                            Err(e) => Err(e.to_string()),
                                        },
                                        Err(e) => Err(e.to_string()),
                                    };
                                    let written = match written {
                                        Ok(()) => {
                                            crate::api::pools::join_pool(
                                                &env,
                                                pool.as_deref(),
                                                vmid,
                                            )
                                            .await
                                        }
                                        Err(e) => Err(e),
                                    };
                                    if written.is_err() {
                                        let log_ctx = ctx.clone();
                                        disks::free_volumes(&env, volids, move |m| log_ctx.log(m))
                                            .await;
                                    }
                                    written
                                }
                                Err(e) => Err(e),
                            };
                            if let Err(e) = &outcome {
                                ctx.log(format!("unable to create VM {vmid} - {e}"));
                                let _ = env
                                    .state
                                    .store
                                    .delete(&guest_config_key(&guest), Expect::Any)
                                    .await;
                            }
                            outcome
                        },
                    )
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                Ok(json!(upid.to_string()))
            }),
    ]
}

pub fn upid_schema() -> oxve_types::schema::StringSchema {
    oxve_types::schema::Schema::string("The task's UPID.")
}
