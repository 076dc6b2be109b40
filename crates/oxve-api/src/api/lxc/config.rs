//! GET/PUT .../lxc/{vmid}/config and GET .../pending. Changes are staged in `[pve:pending]`
//! as Proxmox does; a stopped container applies them at once, a running one applies
//! fast-plug options, cgroup limits and added or removed NICs and mount points live and
//! keeps the rest for its next start.

use oxve_router::{ApiError, ApiMethod, ApiResponse, HttpMethod, Permission, PermissionChecker};
use oxve_storage::VolumeId;
use oxve_types::lxc::keys::split_indexed;
use oxve_types::lxc::{
    check_params, update_schema, CtUpdate, CtUpdateError, CGROUP_KEYS, FASTPLUG_KEYS,
};
use oxve_types::qemu::{random_mac, DEFAULT_MAC_PREFIX};
use oxve_types::schema::Schema;
use serde_json::{json, Value};

use super::create::check_features;
use super::store_io::{check_digest, load, save};
use super::{vmid_param, volumes};
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;
use crate::http::permissions::CallerPermissions;

fn update_error(err: CtUpdateError) -> ApiError {
    match err {
        CtUpdateError::Param(errors) => ApiError::params(errors),
        other => ApiError::internal(other.to_string()),
    }
}

/// The privilege Proxmox asks for to change `key` (pve-container's
/// `check_ct_modify_config_perm`).
fn privilege_for(key: &str) -> &'static str {
    match split_indexed(key).map_or(key, |(b, _)| b) {
        "cores" | "cpulimit" | "cpuunits" => "VM.Config.CPU",
        "memory" | "swap" => "VM.Config.Memory",
        "rootfs" | "mp" | "unused" => "VM.Config.Disk",
        "net" | "hostname" | "nameserver" | "searchdomain" => "VM.Config.Network",
        _ => "VM.Config.Options",
    }
}

/// Keys only root@pam may change.
const ROOT_ONLY: &[&str] = &["hookscript", "lock", "entrypoint", "env"];

fn check_update_privileges(
    perms: &CallerPermissions,
    vmid: u32,
    update: &CtUpdate,
) -> Result<(), ApiError> {
    let path = format!("/vms/{vmid}");
    let keys = update
        .set
        .keys()
        .chain(update.delete.iter())
        .chain(update.revert.iter());
    for key in keys {
        let root_only = ROOT_ONLY.contains(&key.as_str()) || key.starts_with("dev");
        if root_only && !perms.is_root() {
            return Err(ApiError::permission_check_failed(&path, "root@pam"));
        }
        let privilege = privilege_for(key);
        if !perms.has_privs(&path, &[privilege], false) {
            return Err(ApiError::permission_check_failed(&path, privilege));
        }
    }
    Ok(())
}

async fn update_config(env: &RpcEnv, params: &oxve_types::params::Params) -> Result<(), ApiError> {
    let vmid = params.int("vmid").unwrap_or_default() as u32;
    check_params(&params.0).map_err(ApiError::params)?;
    let mut update = CtUpdate::from_params(&params.0).map_err(update_error)?;
    for key in update.set.keys().chain(&update.delete) {
        if key == "unprivileged" {
            return Err(ApiError::param(
                key.as_str(),
                "unable to modify read-only option: 'unprivileged'",
            ));
        }
    }
    update.fill_missing_macs(|| random_mac(Some(DEFAULT_MAC_PREFIX)));
    let perms = env.permissions().await?;
    check_update_privileges(&perms, vmid, &update)?;
    // raw lxc.* keys (an oxve extension: there is no config file to edit): root only, and
    // they apply at the next start
    let clear_raw = params
        .str("delete")
        .is_some_and(|d| oxve_types::format::split_list(d).any(|k| k == "lxc"));
    let raw_lxc = match params.str("lxc") {
        Some(text) => Some(
            oxve_types::lxc::keys::parse_raw_lxc(text).map_err(|e| ApiError::param("lxc", e))?,
        ),
        None if clear_raw => Some(Vec::new()),
        None => None,
    };
    if raw_lxc.is_some() && !perms.is_root() {
        return Err(ApiError::permission_check_failed(
            &format!("/vms/{vmid}"),
            "root@pam",
        ));
    }
    check_features(&perms, update.set.get("features").map(String::as_str))?;
    volumes::check_permissions(&perms, &update.set)?;
    volumes::check_volumes(env, vmid, false, &update.set).await?;

    let mut ct = load(env, vmid).await?;
    check_digest(&ct, params.str("digest"))?;
    ct.config.check_lock().map_err(update_error)?;
    if ct.config.template()
        && update
            .set
            .keys()
            .chain(&update.delete)
            .any(|k| oxve_types::lxc::keys::is_mount_key(k))
    {
        return Err(ApiError::bad_request(
            "cannot change the volumes of a template",
        ));
    }
    let root_uid = oxve_lxc::lxcconf::root_host_ids(&ct.config).0;
    let log = |m: String| tracing::debug!("{m}");
    let new = volumes::allocate(env, vmid, &mut update.set, root_uid, log).await?;
    let new_ids: Vec<VolumeId> = new.into_iter().map(|v| v.volid).collect();
    let result = async {
        if let Some(raw) = &raw_lxc {
            ct.config.current.lxc = raw.clone();
            oxve_lxc::lxcconf::check_raw_keys(vmid, &ct.config)
                .map_err(|e| ApiError::param("lxc", e.to_string()))?;
        }
        for w in ct.config.stage_update(&update).map_err(update_error)? {
            tracing::info!("CT {vmid}: {w}");
        }
        let mut nics_plugged = false;
        let changes = if env.state.lxc.is_running(vmid).is_some() {
            // live: fast-plug options, and limits the cgroups take now
            let mut live = ct.config.clone();
            live.apply_pending(|k| CGROUP_KEYS.contains(&k));
            let mem_ok = env
                .state
                .lxc
                .set_memory_limits(vmid, live.memory_mib(), live.swap_mib())
                .await
                .is_ok();
            let cpu_ok = env.state.lxc.set_cpu_limits(vmid, &live).await.is_ok();
            let mut nics = super::hotplug::hotplug_nics(env, vmid, &ct.config).await;
            nics_plugged = !nics.is_empty();
            nics.extend(super::hotplug::hotplug_mounts(env, vmid, &ct.config).await);
            ct.config.apply_pending(|k| {
                FASTPLUG_KEYS.contains(&k)
                    || nics.iter().any(|n| n == k)
                    || (mem_ok && (k == "memory" || k == "swap"))
                    || (cpu_ok && CGROUP_KEYS.contains(&k) && k != "memory" && k != "swap")
            })
        } else {
            ct.config.apply_pending(|_| true)
        };
        save(env.state.store.as_ref(), &ct).await?;
        if nics_plugged {
            // Hot-plugged veths are wired as at start (rate, DHCP lease, firewall), now
            // that the config names them.
            crate::api::network::ct_nics_plugged(&env.state, vmid, &ct.config)
                .await
                .map_err(|e| {
                    ApiError::internal(format!("NIC plugged in, but wiring it failed: {e}"))
                })?;
        }
        Ok::<_, ApiError>(changes.to_free)
    }
    .await;
    match result {
        Ok(to_free) => {
            let ids = to_free
                .iter()
                .filter_map(|v| VolumeId::parse(v).ok())
                .collect();
            volumes::free_volumes(env, ids, log).await;
            Ok(())
        }
        Err(e) => {
            volumes::free_volumes(env, new_ids, log).await;
            Err(e)
        }
    }
}

const AUDIT: Permission = Permission::Privs {
    path: "/vms/{vmid}",
    privs: &["VM.Audit"],
    any: false,
};

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/lxc/{vmid}/config", "vm_config")
            .description("Get container configuration, with pending changes applied unless 'current' is set.")
            .parameters(
                Schema::object("")
                    .required("node", node_param())
                    .required("vmid", vmid_param())
                    .optional("current", Schema::boolean("Get current values (instead of pending values).").default(false))
                    .optional(
                        "snapshot",
                        Schema::string("Fetch config values from given snapshot.")
                            .format(oxve_types::format::CONFIG_ID)
                            .max_length(40),
                    ),
            )
            .returns(Schema::object("").additional_properties(true))
            .permission(AUDIT)
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let vmid = params.int("vmid").unwrap_or_default() as u32;
                let ct = load(&env, vmid).await?;
                let mut out = match params.str("snapshot") {
                    Some(snap) => ct
                        .config
                        .snapshot_json(snap)
                        .ok_or_else(|| ApiError::internal(format!("snapshot '{snap}' does not exist")))?,
                    None => ct.config.to_api_json(params.bool_or("current", false)),
                };
                out.insert("digest".into(), Value::String(ct.digest));
                Ok(Value::Object(out))
            }),
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/lxc/{vmid}/pending", "vm_pending")
            .description("Get container configuration, including pending changes.")
            .parameters(
                Schema::object("")
                    .required("node", node_param())
                    .required("vmid", vmid_param()),
            )
            .returns(Schema::array("", Schema::object("").additional_properties(true)))
            .permission(AUDIT)
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let ct = load(&env, params.int("vmid").unwrap_or_default() as u32).await?;
                Ok(json!(ct.config.pending_list()))
            }),
        ApiMethod::new(HttpMethod::Put, "/nodes/{node}/lxc/{vmid}/config", "update_vm")
            .description("Set container options.")
            .parameters(update_schema().clone())
            .returns(Schema::Null)
            .permission(Permission::Custom(
                "VM.Config.* on /vms/{vmid} matching each changed key; Datastore.AllocateSpace for new volumes",
            ))
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                update_config(&env, &params).await?;
                Ok(ApiResponse::from(json!(null)))
            }),
    ]
}
