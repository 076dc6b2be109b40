//! Storages: `/storage` (storage.cfg CRUD) and `/nodes/{node}/storage` (status, content,
//! allocation, upload).

mod backups;
mod config;
mod content;
pub(crate) mod prune;
mod status;
mod upload;
mod verify;

use oxve_router::ApiMethod;
use oxve_types::format;
use oxve_types::schema::{Schema, StringSchema};

use crate::env::RpcEnv;

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    let mut all = config::methods();
    all.extend(status::methods());
    all.extend(content::methods());
    all.extend(upload::methods());
    all.extend(backups::methods());
    all.extend(prune::methods());
    all
}

pub fn storage_param() -> StringSchema {
    Schema::string("The storage identifier.").format(format::STORAGE_ID)
}

pub fn content_param() -> StringSchema {
    Schema::string("Content type.").enum_values(&[
        "images", "rootdir", "iso", "vztmpl", "backup", "snippets", "import",
    ])
}

/// Whether the caller may see a storage at all (Proxmox lists those with Datastore.Audit or
/// Datastore.AllocateSpace).
pub async fn can_see_storage(env: &RpcEnv, storage: &str) -> bool {
    env.has_privs(
        &format!("/storage/{storage}"),
        &["Datastore.Audit", "Datastore.AllocateSpace"],
        true,
    )
    .await
}
