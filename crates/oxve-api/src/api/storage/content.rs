//! /nodes/{node}/storage/{storage}/content: list, allocate, inspect and delete volumes.

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_storage::plugin::VolumeFilter;
use oxve_storage::{AllocOptions, ContentType, VolumeId};
use oxve_types::params::Params;
use oxve_types::schema::Schema;
use serde_json::{json, Value};

use super::{content_param, storage_param};
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

/// The `{volume}` parameter may be a full volume id or a volume name on `{storage}`.
pub(crate) fn volume_id(params: &Params) -> Result<VolumeId, ApiError> {
    let storage = params.req_str("storage");
    let volume = params.req_str("volume");
    let parsed = match volume.split_once(':') {
        Some((sid, _)) if sid != storage => {
            return Err(ApiError::param(
                "volume",
                format!("volume '{volume}' is not on storage '{storage}'"),
            ))
        }
        Some(_) => VolumeId::parse(volume),
        None => VolumeId::new(storage, volume),
    };
    parsed.map_err(|e| ApiError::param("volume", e.to_string()))
}

fn entry_json(e: &oxve_storage::plugin::VolumeEntry) -> Value {
    let mut v = json!({
        "volid": e.volid,
        "content": e.content.as_str(),
        "format": e.format,
        "size": e.size,
    });
    if let Some(used) = e.used {
        v["used"] = json!(used);
    }
    if let Some(vmid) = e.vmid {
        v["vmid"] = json!(vmid);
    }
    if let Some(ctime) = e.ctime {
        v["ctime"] = json!(ctime);
    }
    if let Some(parent) = &e.parent {
        v["parent"] = json!(parent);
    }
    if let Some(notes) = &e.notes {
        v["notes"] = json!(notes);
    }
    if e.protected {
        v["protected"] = json!(1);
    }
    v
}

pub(crate) fn storage_node() -> oxve_types::schema::ObjectSchema {
    Schema::object("")
        .required("node", node_param())
        .required("storage", storage_param())
}

const AUDIT: Permission = Permission::Privs {
    path: "/storage/{storage}",
    privs: &["Datastore.Audit", "Datastore.AllocateSpace"],
    any: true,
};

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/storage/{storage}/content", "index")
            .description("List storage content.")
            .parameters(
                storage_node()
                    .optional("content", content_param())
                    .optional("vmid", Schema::integer("Only list images for this VM.").minimum(100).maximum(999_999_999)),
            )
            .returns(Schema::array("", Schema::object("").additional_properties(true)))
            .permission(AUDIT)
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let storage = params.req_str("storage").to_string();
                let filter = VolumeFilter {
                    vmid: params.int("vmid").map(|v| v as u32),
                    content: params.str("content").and_then(|c| c.parse().ok()),
                    containers: env
                        .state
                        .store
                        .guests()
                        .await
                        .map_err(|e| ApiError::internal(e.to_string()))?
                        .into_iter()
                        .filter(|g| g.kind == oxve_store::GuestKind::Lxc)
                        .map(|g| g.vmid)
                        .collect(),
                };
                let sid = storage.clone();
                let entries = env
                    .state
                    .storage
                    .run(env.state.store.as_ref(), move |m| {
                        let list = m.list(&sid, &filter)?;
                        // Backups carry their guest type and last verification.
                        let extras = list
                            .iter()
                            .map(|e| (e.content == ContentType::Backup).then(|| super::backups::backup_extras(m, e)))
                            .collect::<Vec<_>>();
                        Ok(list.into_iter().zip(extras).collect::<Vec<_>>())
                    })
                    .await?;
                // Guest images are listed to those who may audit the guest or allocate here.
                let perms = env.permissions().await?;
                use oxve_router::PermissionChecker;
                let storage_path = format!("/storage/{storage}");
                let allocate = perms.has_privs(&storage_path, &["Datastore.Allocate"], false);
                let list: Vec<Value> = entries
                    .iter()
                    .filter(|(e, _)| match e.content {
                        _ if allocate => true,
                        ContentType::Images | ContentType::Rootdir => {
                            e.vmid.is_some_and(|id| perms.has_privs(&format!("/vms/{id}"), &["VM.Audit"], false))
                        }
                        ContentType::Backup => super::backups::may_access_backup(&perms, &storage, e.vmid),
                        _ => true,
                    })
                    .map(|(e, extra)| {
                        let mut v = entry_json(e);
                        if let Some(Value::Object(extra)) = extra {
                            v.as_object_mut().expect("entry is an object").extend(extra.clone());
                        }
                        v
                    })
                    .collect();
                Ok(json!(list))
            }),
        ApiMethod::new(HttpMethod::Post, "/nodes/{node}/storage/{storage}/content", "create")
            .description("Allocate a disk image.")
            .parameters(
                storage_node()
                    .required("vmid", Schema::integer("Owner VM.").minimum(100).maximum(999_999_999))
                    .required("filename", Schema::string("The name of the file to create (vm-<vmid>-...).").max_length(255))
                    .required("size", Schema::string("Size in kilobyte (1024 bytes). Optional suffixes 'M' (megabyte, 1024K) and 'G' (gigabyte, 1024M)").pattern("\\d+[MG]?"))
                    .optional("format", Schema::string("Format of the image.").enum_values(&["raw", "qcow2", "subvol", "vmdk"])),
            )
            .returns(Schema::string("The new volume id."))
            .permission(Permission::Privs {
                path: "/storage/{storage}",
                privs: &["Datastore.AllocateSpace"],
                any: false,
            })
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let storage = params.req_str("storage").to_string();
                let vmid = params.int("vmid").unwrap_or_default() as u32;
                let size = oxve_storage::size::parse_alloc_size(params.req_str("size"))
                    .map_err(|e| ApiError::param("size", e.to_string()))?;
                let filename = params.req_str("filename").to_string();
                let format = match params.str("format") {
                    Some(f) => Some(f.parse().map_err(|e: String| ApiError::param("format", e))?),
                    None => None,
                };
                let opts = AllocOptions {
                    vmid,
                    name: Some(filename),
                    format,
                    size,
                    preallocation: None,
                    content: ContentType::Images,
                };
                let volid = env
                    .state
                    .storage
                    .run(env.state.store.as_ref(), move |m| m.alloc(&storage, &opts))
                    .await?;
                Ok(json!(volid.to_string()))
            }),
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/storage/{storage}/content/{volume}", "info")
            .description("Get volume attributes.")
            .parameters(storage_node().required("volume", Schema::string("Volume identifier").max_length(1024)))
            .returns(Schema::object("").additional_properties(true))
            .permission(AUDIT)
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let volid = volume_id(&params)?;
                let is_backup = volid.volname().starts_with("backup/");
                if is_backup {
                    super::backups::check_backup_access(&env, volid.storage(), super::backups::backup_owner(&volid)).await?;
                }
                let (info, backup) = env
                    .state
                    .storage
                    .run(env.state.store.as_ref(), move |m| {
                        let backup = if is_backup { Some(m.backup_attributes(&volid)?) } else { None };
                        Ok((m.info(&volid)?, backup))
                    })
                    .await?;
                let mut v = json!({
                    "path": info.path.to_string_lossy(),
                    "size": info.size,
                    "used": info.used,
                    "format": info.format.as_str(),
                });
                if let Some(parent) = info.parent {
                    v["parent"] = json!(parent);
                }
                if let Some(b) = backup {
                    if let Some(notes) = b.notes {
                        v["notes"] = json!(notes);
                    }
                    v["protected"] = json!(u8::from(b.protected));
                    if let Some(ver) = &b.verification {
                        v["verification"] = super::backups::verification_json(ver);
                    }
                }
                Ok(v)
            }),
        ApiMethod::new(HttpMethod::Delete, "/nodes/{node}/storage/{storage}/content/{volume}", "delete")
            .description("Delete volume (as a task).")
            .parameters(
                storage_node()
                    .required("volume", Schema::string("Volume identifier").max_length(1024))
                    .optional("delay", Schema::integer("Time to wait for the task to finish (ignored).").minimum(1).maximum(30)),
            )
            .returns(Schema::string("The task's UPID."))
            .permission(Permission::Custom(
                "Datastore.Allocate on the storage (or Datastore.AllocateSpace for backup volumes with VM.Backup on the guest)",
            ))
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let volid = volume_id(&params)?;
                let is_backup = volid.volname().starts_with("backup/");
                let owner = if is_backup { super::backups::backup_owner(&volid) } else { None };
                super::backups::check_backup_access(&env, volid.storage(), owner).await?;
                // Refuse at once what cannot be deleted (unknown volume, bad id, protected
                // backup): check it exists.
                let check = volid.clone();
                env.state
                    .storage
                    .run(env.state.store.as_ref(), move |m| {
                        m.info(&check)?;
                        if is_backup && m.backup_attributes(&check)?.protected {
                            return Err(oxve_storage::StorageError::Protected { volid: check.to_string() });
                        }
                        Ok(())
                    })
                    .await?;
                let manager = env.state.storage.manager(env.state.store.as_ref()).await?;
                let vmid = volid.volname().split('/').next().filter(|p| p.parse::<u32>().is_ok()).map(str::to_string);
                let upid = env
                    .state
                    .tasks
                    .spawn("imgdel", vmid.as_deref(), &env.caller_string(), move |ctx| async move {
                        ctx.log(format!("removing volume '{volid}'"));
                        tokio::task::spawn_blocking(move || manager.free(&volid))
                            .await
                            .map_err(|e| e.to_string())?
                            .map_err(|e| e.to_string())
                    })
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                Ok(json!(upid.to_string()))
            }),
    ]
}
