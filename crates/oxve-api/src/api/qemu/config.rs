//! GET/PUT/POST .../qemu/{vmid}/config and GET .../pending. Changes are staged in
//! `[PENDING]` as Proxmox does; for a VM that is not running they apply at once.

use oxve_qemu::HotplugOutcome;
use oxve_router::{ApiError, ApiMethod, ApiResponse, HttpMethod, Permission, PermissionChecker};
use oxve_storage::VolumeId;
use oxve_types::params::Params;
use oxve_types::qemu::keys::{is_drive_key, split_indexed};
use oxve_types::qemu::{
    check_params, random_mac, update_schema, ConfigUpdate, HotplugContext, LiveAction, UpdateError,
    VmConfig, DEFAULT_MAC_PREFIX,
};
use oxve_types::schema::Schema;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::create::upid_schema;
use super::store_io::{check_digest, load, save};
use super::{disks, vmid_param};
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;
use crate::http::permissions::CallerPermissions;
use crate::storage_service::StorageResolver;

fn update_error(err: UpdateError) -> ApiError {
    match err {
        UpdateError::Param(errors) => ApiError::params(errors),
        other => ApiError::internal(other.to_string()),
    }
}

/// The privilege Proxmox asks for to change `key`.
fn privilege_for(key: &str) -> &'static str {
    let base = split_indexed(key).map_or(key, |(b, _)| b);
    match base {
        "cores" | "sockets" | "vcpus" | "cpu" | "cpulimit" | "cpuunits" | "numa" | "affinity" => {
            "VM.Config.CPU"
        }
        "memory" | "balloon" | "shares" | "hugepages" | "keephugepages" => "VM.Config.Memory",
        "net" => "VM.Config.Network",
        "ide" | "sata" | "scsi" | "virtio" | "efidisk" | "tpmstate" | "unused" => "VM.Config.Disk",
        "cdrom" => "VM.Config.CDROM",
        "vga" | "scsihw" | "machine" | "bios" | "serial" | "usb" | "hostpci" | "parallel"
        | "rng" | "watchdog" | "audio" | "ivshmem" | "tablet" | "virtiofs" => "VM.Config.HWType",
        "ciuser" | "cipassword" | "citype" | "ipconfig" | "nameserver" | "searchdomain"
        | "sshkeys" | "cicustom" | "ciupgrade" => "VM.Config.Cloudinit",
        _ => "VM.Config.Options",
    }
}

fn check_update_privileges(
    perms: &CallerPermissions,
    vmid: u32,
    update: &ConfigUpdate,
) -> Result<(), ApiError> {
    let path = format!("/vms/{vmid}");
    let keys = update
        .set
        .keys()
        .chain(update.delete.iter())
        .chain(update.revert.iter());
    for key in keys {
        let mut privilege = privilege_for(key);
        if key == "ide2"
            && update
                .set
                .get(key)
                .is_some_and(|v| v.contains("media=cdrom"))
        {
            privilege = "VM.Config.CDROM";
        }
        if (key == "args" || key == "hookscript") && !perms.is_root() {
            return Err(ApiError::permission_check_failed(&path, "root@pam"));
        }
        if !perms.has_privs(&path, &[privilege], false) {
            return Err(ApiError::permission_check_failed(&path, privilege));
        }
    }
    Ok(())
}

/// Apply a config update: allocate new disks, stage, apply (the VM is not running), write
/// with compare-and-swap, then free what was removed. New volumes are freed on failure.
async fn update_config(
    env: &RpcEnv,
    params: &Params,
    log: impl Fn(String) + Send + Sync + Clone + 'static,
) -> Result<(), ApiError> {
    let vmid = params.int("vmid").unwrap_or_default() as u32;
    check_params(&params.0, false).map_err(ApiError::params)?;
    let mut update = ConfigUpdate::from_params(&params.0).map_err(update_error)?;
    update.fill_missing_macs(|| random_mac(Some(DEFAULT_MAC_PREFIX)));
    let perms = env.permissions().await?;
    check_update_privileges(&perms, vmid, &update)?;
    disks::check_permissions(&perms, &update.set)?;
    disks::check_volumes(env, &update.set).await?;

    let vm = load(env, vmid).await?;
    check_digest(&vm, params.str("digest"))?;
    let skiplock = params.bool_or("skiplock", false) && perms.is_root();
    if !skiplock {
        vm.config.check_lock().map_err(update_error)?;
    }
    if vm.config.template()
        && update
            .set
            .keys()
            .chain(&update.delete)
            .any(|k| is_drive_key(k))
    {
        return Err(ApiError::bad_request(
            "cannot change the disks of a template",
        ));
    }

    let new_volumes = disks::allocate(env, vmid, &mut update.set, log.clone()).await?;
    let result = async {
        let mut vm = vm;
        let outcome = vm
            .config
            .stage_update(vmid, &update)
            .map_err(update_error)?;
        for w in &outcome.warnings {
            log(w.clone());
        }
        let mut to_free = outcome.volumes.to_free;
        let mut hotplug_errors = BTreeMap::new();
        if env.state.qemu.is_running(vmid).is_none() {
            // Not running: everything pending applies now.
            let (changes, errors) = vm.config.apply_pending(vmid);
            to_free.extend(changes.to_free);
            if !errors.is_empty() {
                return Err(ApiError::params(errors));
            }
        } else {
            // Running: what the VM can take live is applied and written as current; the
            // rest stays pending until the next start, as Proxmox does.
            let (changes, errors) =
                hotplug_pending(env, vmid, &mut vm.config, &outcome.modified, log.clone()).await?;
            to_free.extend(changes);
            hotplug_errors = errors;
        }
        save(env.state.store.as_ref(), &vm).await?;
        Ok((to_free, hotplug_errors))
    }
    .await;
    match result {
        Ok((to_free, hotplug_errors)) => {
            let volids: Vec<VolumeId> = to_free
                .iter()
                .filter_map(|v| VolumeId::parse(v).ok())
                .collect();
            disks::free_volumes(env, volids, log).await;
            if hotplug_errors.is_empty() {
                Ok(())
            } else {
                // The config is written (failed keys stay pending); report them per key.
                Err(ApiError::params(hotplug_errors))
            }
        }
        Err(e) => {
            disks::free_volumes(env, new_volumes, log).await;
            Err(e)
        }
    }
}

/// Applies the pending changes of `modified` keys (and fast-plug keys) to running VM `vmid`
/// through the engine, and writes each applied one into the current config. Returns the
/// volumes to free and the per-key errors of steps that failed.
async fn hotplug_pending(
    env: &RpcEnv,
    vmid: u32,
    config: &mut VmConfig,
    modified: &BTreeSet<String>,
    log: impl Fn(String) + Send + Sync + Clone + 'static,
) -> Result<(Vec<String>, BTreeMap<String, String>), ApiError> {
    let plan = config.hotplug_plan(HotplugContext::default(), Some(modified));
    let mut errors = plan.errors;
    let mut to_free = Vec::new();
    let manager = env
        .state
        .storage
        .manager(env.state.store.as_ref())
        .await
        .map_err(|e| ApiError::internal(e.message))?;
    let resolver = StorageResolver(Arc::clone(&manager));
    for step in &plan.steps {
        let mut trial = config.clone();
        trial.apply_pending_keys(vmid, |k| k == step.key);
        let result = env
            .state
            .qemu
            .hotplug(vmid, step, &config.current, &trial.current, &resolver)
            .await;
        match result {
            Ok(HotplugOutcome::Applied) => {
                if !matches!(step.action, LiveAction::None) {
                    log(format!("hotplug: {} applied to the running VM", step.key));
                }
                let (changes, errs) = config.apply_pending_keys(vmid, |k| k == step.key);
                to_free.extend(changes.to_free);
                errors.extend(errs);
            }
            Ok(HotplugOutcome::Deferred(why)) => log(why),
            Err(e) => {
                errors.insert(step.key.clone(), e.to_string());
            }
        }
    }
    config.apply_pending_keys(vmid, |k| k == "description");
    Ok((to_free, errors))
}

const AUDIT: Permission = Permission::Privs {
    path: "/vms/{vmid}",
    privs: &["VM.Audit"],
    any: false,
};

const CONFIG_PERMISSION: Permission = Permission::Custom(
    "VM.Config.* on /vms/{vmid} matching each changed key; Datastore.AllocateSpace for new disks",
);

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/qemu/{vmid}/config",
            "vm_config",
        )
        .description(
            "Get the VM configuration, with pending changes applied unless 'current' is set.",
        )
        .parameters(
            Schema::object("")
                .required("node", node_param())
                .required("vmid", vmid_param())
                .optional(
                    "current",
                    Schema::boolean("Get current values (instead of pending values).")
                        .default(false),
                )
                .optional(
                    "snapshot",
                    Schema::string("Fetch config values from the given snapshot.")
                        .format(oxve_types::format::CONFIG_ID)
                        .max_length(40),
                ),
        )
        .returns(Schema::object("").additional_properties(true))
        .permission(AUDIT)
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let vmid = params.int("vmid").unwrap_or_default() as u32;
            let vm = load(&env, vmid).await?;
            let mut out = match params.str("snapshot") {
                Some(snap) => vm
                    .config
                    .snapshot(snap)
                    .ok_or_else(|| ApiError::internal(format!("snapshot '{snap}' does not exist")))?
                    .to_api_json(),
                None => vm.config.to_api_json(params.bool_or("current", false)),
            };
            out.insert("digest".into(), Value::String(vm.digest));
            Ok(Value::Object(out))
        }),
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/qemu/{vmid}/pending",
            "vm_pending",
        )
        .description("Get the VM configuration with both current and pending values.")
        .parameters(
            Schema::object("")
                .required("node", node_param())
                .required("vmid", vmid_param()),
        )
        .returns(Schema::array(
            "",
            Schema::object("").additional_properties(true),
        ))
        .permission(AUDIT)
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let vm = load(&env, params.int("vmid").unwrap_or_default() as u32).await?;
            Ok(json!(vm.config.pending_list()))
        }),
        ApiMethod::new(
            HttpMethod::Put,
            "/nodes/{node}/qemu/{vmid}/config",
            "update_vm",
        )
        .description("Set virtual machine options (synchronous API).")
        .parameters(update_schema(false).clone())
        .returns(Schema::Null)
        .permission(CONFIG_PERMISSION)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            update_config(&env, &params, |m| tracing::debug!("{m}")).await?;
            Ok(ApiResponse::from(json!(null)))
        }),
        ApiMethod::new(
            HttpMethod::Post,
            "/nodes/{node}/qemu/{vmid}/config",
            "update_vm_async",
        )
        .description("Set virtual machine options (asynchronous API: returns a task).")
        .parameters(update_schema(true).clone())
        .returns(upid_schema())
        .permission(CONFIG_PERMISSION)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            // Refuse bad requests at once; the task does the work.
            check_params(&params.0, false).map_err(ApiError::params)?;
            let update = ConfigUpdate::from_params(&params.0).map_err(update_error)?;
            let vmid = params.int("vmid").unwrap_or_default() as u32;
            check_update_privileges(&env.permissions().await?, vmid, &update)?;
            load(&env, vmid).await?;
            let task_env = env.clone();
            let upid = env
                .state
                .tasks
                .spawn(
                    "qmconfig",
                    Some(&vmid.to_string()),
                    &env.caller_string(),
                    move |ctx| async move {
                        let log_ctx = ctx.clone();
                        update_config(&task_env, &params, move |m| log_ctx.log(m))
                            .await
                            .map_err(|e| e.to_string())
                    },
                )
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(ApiResponse::from(json!(upid.to_string())))
        }),
    ]
}
