//! `POST /nodes/{node}/vzdump`: back up guests into archives on a backup storage, as Proxmox's
//! vzdump does (modes stop, suspend and snapshot; compression; notes; protection).
//!
//! - [`archive`]: one guest's archive, written to a temp name and renamed when complete.
//! - [`job`]: the job task, guest after guest.
//! - [`qemu`] / [`lxc`]: how each guest type is read in each mode.

mod archive;
mod exclude;
mod info;
mod job;
mod lxc;
mod qemu;
mod restore;
mod restore_kinds;
mod restore_tree;

use std::collections::BTreeSet;
use std::path::PathBuf;

use oxve_archive::Compression;
use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission, PermissionChecker};
use oxve_storage::{ContentType, VolumeId};
use oxve_store::GuestKind;
use oxve_types::params::Params;
use oxve_types::schema::{ObjectSchema, Schema};
use serde_json::json;

use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;
use job::{JobSpec, Mode};

fn parameters() -> ObjectSchema {
    Schema::object("")
        .required("node", node_param())
        .optional("vmid", Schema::string("The ID of the guest system you want to backup.").format(oxve_types::format::VMID_LIST))
        .optional("all", Schema::boolean("Backup all known guest systems on this host.").default(false))
        .optional("exclude", Schema::string("Exclude specified guest systems (assumes --all)").format(oxve_types::format::VMID_LIST))
        .optional("pool", Schema::string("Backup all known guest systems included in the specified pool."))
        .optional("mode", Schema::string("Backup mode.").enum_values(&["snapshot", "suspend", "stop"]).default("snapshot"))
        .optional("compress", Schema::string("Compress dump file.").enum_values(&["0", "1", "gzip", "lzo", "zstd"]).default("0"))
        .optional("zstd", Schema::integer("Zstd threads. N=0 uses half of the available cores, if N is set to a value bigger than 0, N is used as thread count.").minimum(0).default(1))
        .optional("pigz", Schema::integer("Use pigz instead of gzip when N>0.").minimum(0).default(0))
        .optional("storage", Schema::string("Store resulting file to this storage.").format(oxve_types::format::STORAGE_ID))
        .optional("dumpdir", Schema::string("Store resulting files to specified directory."))
        .optional("bwlimit", Schema::integer("Limit I/O bandwidth (in KiB/s).").minimum(0).default(0))
        .optional("ionice", Schema::integer("Set IO priority when using the BFQ scheduler.").minimum(0).maximum(8).default(7))
        .optional("notes-template", Schema::string("Template string for generating notes for the backup(s). It can contain variables which will be replaced by their values. Currently supported are {{cluster}}, {{guestname}}, {{node}}, and {{vmid}}.").max_length(1024))
        .optional("protected", Schema::boolean("If true, mark backup(s) as protected."))
        .optional("prune-backups", Schema::string("Use these retention options instead of those from the storage configuration."))
        .optional("remove", Schema::boolean("Prune older backups according to 'prune-backups'.").default(true))
        .optional("stdout", Schema::boolean("Write tar to stdout, not to a file."))
        .optional("exclude-path", Schema::array("Exclude certain files/directories (shell globs).", Schema::string("A path glob.")))
        .optional("stopwait", Schema::integer("Maximal time to wait until a guest system is stopped (minutes).").minimum(0).default(10))
        .optional("lockwait", Schema::integer("Maximal time to wait for the global lock (minutes).").minimum(0).default(180))
        .optional("mailto", Schema::string("Deprecated: Use notification targets/matchers instead."))
        .optional("mailnotification", Schema::string("Deprecated: use notification targets/matchers instead.").enum_values(&["always", "failure"]))
        .optional("notification-mode", Schema::string("Determine which notification system to use.").enum_values(&["auto", "legacy-sendmail", "notification-system"]))
        .optional("quiet", Schema::boolean("Be quiet."))
        .optional("stdexcludes", Schema::boolean("Exclude temporary files and logs."))
        .optional("job-id", Schema::string("The ID of the backup job."))
        .optional("tmpdir", Schema::string("Store temporary files to specified directory."))
        .optional("maxfiles", Schema::integer("Deprecated: use 'prune-backups' instead.").minimum(1))
}

fn vmid_list(text: &str) -> Vec<u32> {
    text.split([',', ';', ' '])
        .filter_map(|v| v.trim().parse().ok())
        .collect()
}

fn compression(params: &Params) -> Result<Compression, ApiError> {
    Ok(match params.str("compress").unwrap_or("0") {
        "0" => Compression::None,
        "gzip" => match params.int_or("pigz", 0) {
            n if n > 0 => Compression::Pigz { threads: n as u32 },
            _ => Compression::Gzip,
        },
        "zstd" => Compression::Zstd {
            threads: params.int_or("zstd", 1) as u32,
        },
        // `1` is Proxmox's old spelling of lzo
        "1" | "lzo" => Compression::Lzo,
        other => {
            return Err(ApiError::param(
                "compress",
                format!("unknown value '{other}'"),
            ))
        }
    })
}

/// The guests to back up, in VMID order, with their type.
async fn select_guests(env: &RpcEnv, params: &Params) -> Result<Vec<(u32, GuestKind)>, ApiError> {
    let local: Vec<(u32, GuestKind)> = env
        .state
        .store
        .guests()
        .await
        .map_err(crate::guest_config::store_error)?
        .into_iter()
        .filter(|g| g.node == env.state.node)
        .map(|g| (g.vmid, g.kind))
        .collect();
    let exclude: BTreeSet<u32> = params
        .str("exclude")
        .map(vmid_list)
        .unwrap_or_default()
        .into_iter()
        .collect();
    // `exclude` implies `all`, except with a pool, where it does not apply (as in Proxmox).
    let all = params.bool_or("all", false) || (params.has("exclude") && !params.has("pool"));
    let mut out = Vec::new();
    if let Some(pool) = params.str("pool") {
        let members = crate::api::pools::pool_guests(env, "pool", pool).await?;
        out.extend(local.iter().filter(|(v, _)| members.contains(v)).cloned());
    } else if all {
        out.extend(local.iter().filter(|(v, _)| !exclude.contains(v)).cloned());
    } else if let Some(list) = params.str("vmid") {
        for vmid in vmid_list(list) {
            match local.iter().find(|(v, _)| *v == vmid) {
                Some(g) => out.push(*g),
                None => {
                    return Err(ApiError::param(
                        "vmid",
                        format!("guest {vmid} does not exist on this node"),
                    ))
                }
            }
        }
    } else {
        return Err(ApiError::param(
            "vmid",
            "property is missing and it is not optional (or use 'all')",
        ));
    }
    out.sort_by_key(|(v, _)| *v);
    out.dedup_by_key(|(v, _)| *v);
    Ok(out)
}

/// The dump directory of a storage with content `backup`, and the storage's retention.
pub(super) async fn storage_dumpdir(
    env: &RpcEnv,
    storage: &str,
) -> Result<(PathBuf, Option<oxve_storage::config::PruneBackups>), ApiError> {
    let manager = env.state.storage.manager(env.state.store.as_ref()).await?;
    let plugin = manager
        .open(storage)
        .map_err(crate::storage_service::storage_error)?;
    if !plugin.entry().content().contains(&ContentType::Backup) {
        return Err(ApiError::param(
            "storage",
            format!("storage '{storage}' does not support backups (content 'backup')"),
        ));
    }
    let retention = plugin.entry().props.effective_prune_backups();
    if plugin.entry().props.disable == Some(true) {
        return Err(ApiError::param(
            "storage",
            format!("storage '{storage}' is disabled"),
        ));
    }
    manager
        .activate(storage)
        .map_err(crate::storage_service::storage_error)?;
    let probe = VolumeId::new(
        storage,
        "backup/vzdump-qemu-100-2000_01_01-00_00_00.vma.zst",
    )
    .map_err(crate::storage_service::storage_error)?;
    let path = manager
        .path(&probe)
        .map_err(crate::storage_service::storage_error)?;
    let dir = path
        .parent()
        .map(PathBuf::from)
        .ok_or_else(|| ApiError::internal("backup storage has no directory"))?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| ApiError::internal(format!("create {}: {e}", dir.display())))?;
    Ok((dir, retention))
}

/// The command line vzdump would log for these parameters.
fn command_line(params: &Params) -> String {
    let mut line = String::from("vzdump");
    if let Some(v) = params.str("vmid") {
        line.push(' ');
        line.push_str(
            &vmid_list(v)
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    for (k, v) in &params.0 {
        if k == "vmid" || k == "node" {
            continue;
        }
        let v = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        line.push_str(&format!(" --{k} {v}"));
    }
    line
}

fn restore_request(
    params: &Params,
    vmid: u32,
    archive_param: &'static str,
    running: bool,
) -> restore::RestoreRequest {
    restore::RestoreRequest {
        vmid,
        archive_param,
        archive: params.req_str(archive_param).to_string(),
        storage: params.str("storage").map(str::to_string),
        force: params.bool_or("force", false),
        unique: params.bool_or("unique", false),
        running,
        bwlimit: params
            .int("bwlimit")
            .filter(|b| *b > 0)
            .map(|kib| kib as u64 * 1024),
        pool: params.str("pool").map(str::to_string),
    }
}

/// `POST /nodes/{node}/qemu` with `archive`: restore a VM backup (`qmrestore`).
pub async fn restore_vm(env: &RpcEnv, params: &Params, vmid: u32) -> Result<String, ApiError> {
    let running = env.state.qemu.is_running(vmid).is_some();
    restore::start_restore::<oxve_types::qemu::VmConfig>(
        env,
        restore_request(params, vmid, "archive", running),
    )
    .await
}

/// `POST /nodes/{node}/lxc` with `restore=1`: restore a container backup named by
/// `ostemplate` (`vzrestore`).
pub async fn restore_ct(env: &RpcEnv, params: &Params, vmid: u32) -> Result<String, ApiError> {
    let running = env.state.lxc.is_running(vmid).is_some();
    restore::start_restore::<oxve_types::lxc::CtConfig>(
        env,
        restore_request(params, vmid, "ostemplate", running),
    )
    .await
}

/// Starts a backup job with vzdump's parameters (`vmid`/`all`, `mode`, `storage`, `compress`,
/// ...) as the caller of `env`, after the same checks as `POST /nodes/{node}/vzdump`, and
/// returns the job task's UPID. Backup job schedules start their runs through this.
pub async fn start_vzdump(env: &RpcEnv, params: Params) -> Result<String, ApiError> {
    let perms = env.permissions().await?;
    let caller = env.caller()?;
    let is_root = !caller.is_token() && caller.user().is_root();
    for p in ["dumpdir", "tmpdir", "job-id", "script"] {
        if params.has(p) && !is_root {
            return Err(ApiError::param(p, "only root may set this option"));
        }
    }
    for p in ["bwlimit", "ionice"] {
        if params.has(p) && !perms.has_privs("/", &["Sys.Modify"], false) {
            return Err(ApiError::permission_check_failed("/", "Sys.Modify"));
        }
    }
    if params.bool_or("stdout", false) {
        return Err(ApiError::param(
            "stdout",
            "option is only allowed on the command line interface.",
        ));
    }
    let mode = Mode::parse(params.str("mode").unwrap_or("snapshot"))
        .ok_or_else(|| ApiError::param("mode", "unknown mode"))?;
    let compression = compression(&params)?;
    let guests = select_guests(env, &params).await?;
    for (vmid, _) in &guests {
        let path = format!("/vms/{vmid}");
        if !perms.has_privs(&path, &["VM.Backup"], false) {
            return Err(ApiError::permission_check_failed(&path, "VM.Backup"));
        }
    }
    let exclusions = exclude::Exclusions::new(
        &params.strings("exclude-path"),
        params.bool_or("stdexcludes", true),
    )
    .map_err(|e| ApiError::param("exclude-path", e))?;
    let (dumpdir, storage, storage_retention) = match (params.str("dumpdir"), params.str("storage"))
    {
        (Some(_), Some(_)) => {
            return Err(ApiError::param(
                "dumpdir",
                "'dumpdir' and 'storage' are mutually exclusive",
            ))
        }
        (Some(dir), None) => {
            let dir = PathBuf::from(dir);
            if !dir.is_dir() {
                return Err(ApiError::param(
                    "dumpdir",
                    format!("'{}' is not a directory", dir.display()),
                ));
            }
            (dir, None, None)
        }
        (None, storage) => {
            let storage = storage.unwrap_or("local").to_string();
            let path = format!("/storage/{storage}");
            if !perms.has_privs(&path, &["Datastore.AllocateSpace"], false) {
                return Err(ApiError::permission_check_failed(
                    &path,
                    "Datastore.AllocateSpace",
                ));
            }
            if params.has("prune-backups")
                && !perms.has_privs(&path, &["Datastore.Allocate"], false)
            {
                return Err(ApiError::permission_check_failed(
                    &path,
                    "Datastore.Allocate",
                ));
            }
            let (dir, retention) = storage_dumpdir(env, &storage).await?;
            (dir, Some(storage), retention)
        }
    };
    // Retention after each backup: the job's, else the storage's (`remove=0`: none).
    let prune = match (&storage, params.bool_or("remove", true)) {
        (Some(_), true) => match params.str("prune-backups") {
            Some(text) => Some(
                oxve_storage::config::PruneBackups::parse(text)
                    .map_err(|e| ApiError::param("prune-backups", e))?,
            ),
            None => storage_retention,
        },
        _ => None,
    };
    let spec = JobSpec {
        prune: prune.filter(|p| !p.keeps_all()),
        guests,
        mode,
        compression,
        dumpdir,
        storage,
        bwlimit: params
            .int("bwlimit")
            .filter(|b| *b > 0)
            .map(|kib| kib as u64 * 1024),
        ionice: params.int_or("ionice", 7).clamp(0, 8) as u8,
        notes_template: params.str("notes-template").map(str::to_string),
        protected: params.bool_or("protected", false),
        stopwait: params.int_or("stopwait", 10).max(0) as u64,
        exclusions,
        command_line: command_line(&params),
    };
    // One guest: the task carries its id, as Proxmox's.
    let id = (spec.guests.len() == 1).then(|| spec.guests[0].0.to_string());
    let task_env = env.clone();
    let upid = env
        .state
        .tasks
        .spawn("vzdump", id.as_deref(), &env.caller_string(), move |ctx| {
            job::run(task_env, spec, ctx)
        })
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(upid.to_string())
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![ApiMethod::new(HttpMethod::Post, "/nodes/{node}/vzdump", "vzdump")
        .description("Create backup.")
        .parameters(parameters())
        .returns(Schema::string("The task's UPID."))
        .permission(Permission::Custom("The user needs 'VM.Backup' permissions on any VM, and 'Datastore.AllocateSpace' on the backup storage. The 'tmpdir', 'dumpdir', 'script' and 'job-id' parameters are restricted to the 'root@pam' user. The 'prune-backups' setting requires 'Datastore.Allocate' on the backup storage. The 'bwlimit' and 'ionice' parameters require 'Sys.Modify' on '/'."))
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            Ok(json!(start_vzdump(&env, params).await?))
        })]
    .into_iter()
    .chain(info::methods())
    .collect()
}
