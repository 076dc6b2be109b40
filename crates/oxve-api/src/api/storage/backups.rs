//! Backup volumes in storage content: who may see and change them (Proxmox's
//! `check_volume_access`), the extra listing fields (`subtype`, `verification`),
//! `PUT .../content/{volume}` (notes, protection) and the oxve extension
//! `POST .../content/{volume}/verify` (re-read an archive and check every block).

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission, PermissionChecker};
use oxve_storage::backup::{self, Verification};
use oxve_storage::plugin::VolumeEntry;
use oxve_storage::{StorageManager, VolumeId};
use oxve_types::schema::Schema;
use serde_json::{json, Value};

use super::content::{storage_node, volume_id};
use crate::api::common::local_node;
use crate::env::RpcEnv;

/// Whether the caller may read and change a backup of `owner` on `storage`: with
/// Datastore.Allocate on the storage, or Datastore.AllocateSpace there and VM.Backup on the
/// owning guest.
pub(crate) fn may_access_backup(
    perms: &dyn PermissionChecker,
    storage: &str,
    owner: Option<u32>,
) -> bool {
    let path = format!("/storage/{storage}");
    if perms.has_privs(&path, &["Datastore.Allocate"], false) {
        return true;
    }
    owner.is_some_and(|vmid| {
        perms.has_privs(&path, &["Datastore.AllocateSpace"], false)
            && perms.has_privs(&format!("/vms/{vmid}"), &["VM.Backup"], false)
    })
}

/// The same as an API error naming what is missing.
pub(crate) async fn check_backup_access(
    env: &RpcEnv,
    storage: &str,
    owner: Option<u32>,
) -> Result<(), ApiError> {
    let perms = env.permissions().await?;
    if may_access_backup(&perms, storage, owner) {
        return Ok(());
    }
    Err(match owner {
        Some(vmid) => ApiError::permission_check_failed(&format!("/vms/{vmid}"), "VM.Backup"),
        None => {
            ApiError::permission_check_failed(&format!("/storage/{storage}"), "Datastore.Allocate")
        }
    })
}

/// Listing fields Proxmox adds to backups: `subtype`, and the last verification.
pub(crate) fn backup_extras(m: &StorageManager, entry: &VolumeEntry) -> Value {
    let name = entry.volid.rsplit('/').next().unwrap_or_default();
    let subtype =
        backup::archive_info(name).map_or_else(|| "unknown".to_string(), |i| i.guest_type);
    let mut extra = json!({ "subtype": subtype });
    let verification = VolumeId::parse(&entry.volid)
        .and_then(|id| m.backup_path(&id))
        .ok()
        .and_then(|p| backup::read_verification(&p));
    if let Some(v) = verification {
        extra["verification"] = verification_json(&v);
    }
    extra
}

pub(crate) fn verification_json(v: &Verification) -> Value {
    json!({ "state": v.state, "upid": v.upid })
}

/// The owning guest of a backup volume id, from its name.
pub(crate) fn backup_owner(volid: &VolumeId) -> Option<u32> {
    let name = volid.volname().rsplit('/').next()?;
    backup::archive_info(name)
        .and_then(|i| i.vmid)
        .or_else(|| oxve_storage::volid::BackupArchive::parse(name).map(|a| a.vmid))
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Put, "/nodes/{node}/storage/{storage}/content/{volume}", "updateattributes")
            .description("Update volume attributes")
            .parameters(
                storage_node()
                    .required("volume", Schema::string("Volume identifier").max_length(1024))
                    .optional("notes", Schema::string("The new notes."))
                    .optional("protected", Schema::boolean("Protection status. Currently only supported for backups.")),
            )
            .returns(Schema::Null)
            .permission(Permission::Custom(
                "Datastore.Allocate on the storage, or Datastore.AllocateSpace there and VM.Backup on the backup's guest",
            ))
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let volid = volume_id(&params)?;
                check_backup_access(&env, volid.storage(), backup_owner(&volid)).await?;
                let notes = params.str("notes").map(str::to_string);
                let protected = params.bool("protected");
                let privileged = env
                    .has_privs(&format!("/storage/{}", volid.storage()), &["Datastore.Allocate"], false)
                    .await;
                env.state
                    .storage
                    .run(env.state.store.as_ref(), move |m| {
                        let limit = m.max_protected_backups(volid.storage(), privileged)?;
                        m.update_backup_attributes(&volid, notes.as_deref(), protected, limit)
                    })
                    .await?;
                Ok(Value::Null)
            }),
        ApiMethod::new(HttpMethod::Post, "/nodes/{node}/storage/{storage}/content/{volume}/verify", "verify")
            .description(
                "Verify a backup archive (oxve extension): re-read it in a task and check every block \
                 checksum, the disk maps and the manifest. The result is recorded next to the \
                 archive and listed as 'verification' in the storage content.",
            )
            .parameters(storage_node().required("volume", Schema::string("Backup volume identifier").max_length(1024)))
            .returns(Schema::string("The task's UPID."))
            .permission(Permission::Custom(
                "Datastore.Allocate on the storage, or Datastore.AllocateSpace there and VM.Backup on the backup's guest",
            ))
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let volid = volume_id(&params)?;
                let owner = backup_owner(&volid);
                check_backup_access(&env, volid.storage(), owner).await?;
                let id = volid.clone();
                let path = env
                    .state
                    .storage
                    .run(env.state.store.as_ref(), move |m| m.backup_attributes(&id).map(|a| a.path))
                    .await?;
                super::verify::spawn_verify(&env, volid, path, owner)
            }),
    ]
}
