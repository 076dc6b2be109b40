//! `GET|DELETE /nodes/{node}/storage/{storage}/prunebackups` (Proxmox's
//! `PVE::API2::Storage::PruneBackups`): which backups retention keeps, and removing the rest
//! in a task; plus [`prune_guest_backups`], what a backup job calls after backing up a guest.

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_storage::backup_ops::PruneRequest;
use oxve_storage::config::PruneBackups;
use oxve_storage::retention::{PruneEntry, PruneMark};
use oxve_types::calendar::LocalZone;
use oxve_types::params::Params;
use oxve_types::schema::Schema;
use serde_json::{json, Value};

use super::backups::check_backup_access;
use super::content::storage_node;
use crate::api::common::local_node;
use crate::env::RpcEnv;

const PRUNE_DESC: &str =
    "Use these retention options instead of those from the storage configuration.";

fn params_schema(vmid_desc: &'static str) -> oxve_types::schema::ObjectSchema {
    storage_node()
        .optional("prune-backups", Schema::string(PRUNE_DESC))
        .optional(
            "type",
            Schema::string(
                "Either 'qemu' or 'lxc'. Only consider backups for guests of this type.",
            )
            .enum_values(&["qemu", "lxc"]),
        )
        .optional(
            "vmid",
            Schema::integer(vmid_desc).minimum(100).maximum(999_999_999),
        )
}

fn parse_keep(params: &Params) -> Result<Option<PruneBackups>, ApiError> {
    params
        .str("prune-backups")
        .map(|text| PruneBackups::parse(text).map_err(|e| ApiError::param("prune-backups", e)))
        .transpose()
}

pub(crate) fn entry_json(e: &PruneEntry) -> Value {
    let mut v = json!({
        "volid": e.volid,
        "ctime": e.ctime,
        "mark": e.mark.unwrap_or(PruneMark::Keep).as_str(),
        "type": e.guest_type,
    });
    if let Some(vmid) = e.vmid {
        v["vmid"] = json!(vmid);
    }
    v
}

/// Run the prune of `storage` on a blocking thread; returns the result and the log lines
/// (removals and failed removals).
async fn run_prune(
    env: &RpcEnv,
    storage: String,
    keep: Option<PruneBackups>,
    vmid: Option<u32>,
    guest_type: Option<String>,
    dry_run: bool,
) -> (Result<Vec<PruneEntry>, ApiError>, Vec<String>) {
    let manager = match env.state.storage.manager(env.state.store.as_ref()).await {
        Ok(m) => m,
        Err(e) => return (Err(e), Vec::new()),
    };
    let joined = tokio::task::spawn_blocking(move || {
        let mut log = Vec::new();
        let req = PruneRequest {
            storage,
            keep,
            vmid,
            guest_type,
            dry_run,
        };
        let result = manager.prune_backups(&req, &LocalZone, &mut |line| log.push(line));
        (result.map_err(crate::storage_service::storage_error), log)
    })
    .await;
    joined.unwrap_or_else(|e| {
        (
            Err(ApiError::internal(format!("prune worker failed: {e}"))),
            Vec::new(),
        )
    })
}

/// Prune the backups of one guest on `storage` by `keep` (what vzdump does after a backup
/// unless `remove=0`); with `dry_run` only marks. Returns every backup of the guest with its
/// mark; those marked `remove` are gone (unless `dry_run`). No permission checks: the caller
/// (the backup job) has made them.
#[allow(dead_code)] // called by vzdump after each guest's backup
pub(crate) async fn prune_guest_backups(
    env: &RpcEnv,
    storage: &str,
    guest_type: &str,
    vmid: u32,
    keep: &PruneBackups,
    dry_run: bool,
) -> Result<Vec<PruneEntry>, ApiError> {
    let (result, log) = run_prune(
        env,
        storage.to_string(),
        Some(keep.clone()),
        Some(vmid),
        Some(guest_type.to_string()),
        dry_run,
    )
    .await;
    // On failure, say which removals failed.
    result.map_err(|mut e| {
        if !log.is_empty() {
            e.message = format!("{} ({})", e.message, log.join("; "));
        }
        e
    })
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/storage/{storage}/prunebackups", "dryrun")
            .description(
                "Get prune information for backups. NOTE: this is only a preview and might not be what a \
                 subsequent prune call does if backups are removed/added in the meantime.",
            )
            .parameters(params_schema("Only consider backups for this guest."))
            .returns(Schema::array("", Schema::object("").additional_properties(true)))
            .permission(Permission::Privs {
                path: "/storage/{storage}",
                privs: &["Datastore.Audit", "Datastore.AllocateSpace"],
                any: true,
            })
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let keep = parse_keep(&params)?;
                let entries = run_prune(
                    &env,
                    params.req_str("storage").to_string(),
                    keep,
                    params.int("vmid").map(|v| v as u32),
                    params.str("type").map(str::to_string),
                    true,
                )
                .await
                .0?;
                Ok(json!(entries.iter().map(entry_json).collect::<Vec<_>>()))
            }),
        ApiMethod::new(HttpMethod::Delete, "/nodes/{node}/storage/{storage}/prunebackups", "delete")
            .description("Prune backups. Only those using the standard naming scheme are considered.")
            .parameters(params_schema("Only prune backups for this VM."))
            .returns(Schema::string("The task's UPID."))
            .permission(Permission::Custom(
                "You need the 'Datastore.Allocate' privilege on the storage (or if a VM ID is specified, \
                 'Datastore.AllocateSpace' and 'VM.Backup' for the VM).",
            ))
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let storage = params.req_str("storage").to_string();
                let vmid = params.int("vmid").map(|v| v as u32);
                check_backup_access(&env, &storage, vmid).await?;
                let keep = parse_keep(&params)?;
                let guest_type = params.str("type").map(str::to_string);
                // Bad options and storages fail here, before a task starts.
                run_prune(&env, storage.clone(), keep.clone(), vmid, guest_type.clone(), true).await.0?;
                let worker_id = match vmid {
                    Some(v) => format!("{v}@{storage}"),
                    None => storage.clone(),
                };
                let task_env = env.clone();
                let upid = env
                    .state
                    .tasks
                    .spawn("prunebackups", Some(&worker_id), &env.caller_string(), move |ctx| async move {
                        let (result, log) = run_prune(&task_env, storage, keep, vmid, guest_type, false).await;
                        for line in log {
                            ctx.log(line);
                        }
                        let entries = result.map_err(|e| e.message)?;
                        let removed = entries.iter().filter(|e| e.mark == Some(PruneMark::Remove)).count();
                        ctx.log(format!("removed {removed} backup(s)"));
                        Ok::<_, String>(())
                    })
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                Ok(json!(upid.to_string()))
            }),
    ]
}
