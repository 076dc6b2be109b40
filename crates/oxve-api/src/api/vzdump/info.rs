//! `GET /nodes/{node}/vzdump/defaults` (the options a backup takes when not given) and
//! `GET /nodes/{node}/vzdump/extractconfig` (the guest config inside a backup archive), as
//! Proxmox has them.

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission, PermissionChecker};
use oxve_types::schema::Schema;
use serde_json::{json, Map, Value};

use super::restore::{peek_configs, resolve_archive};
use super::storage_dumpdir;
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

/// The defaults of vzdump's options (Proxmox's schema defaults; oxve has no vzdump.conf).
fn schema_defaults() -> Map<String, Value> {
    let defaults = json!({
        "all": 0, "bwlimit": 0, "compress": "0", "ionice": 7, "lockwait": 180,
        "mailnotification": "always", "mode": "snapshot", "notification-mode": "auto",
        "pigz": 0, "quiet": 0, "remove": 1, "stdexcludes": 1, "stop": 0, "stopwait": 10,
        "zstd": 1,
    });
    match defaults {
        Value::Object(map) => map,
        _ => unreachable!("an object literal"),
    }
}

async fn defaults(env: &RpcEnv, node: &str, storage: Option<&str>) -> Result<Value, ApiError> {
    let storage = storage.unwrap_or("local").to_string();
    let perms = env.permissions().await?;
    let path = format!("/storage/{storage}");
    if !perms.has_privs(&path, &["Datastore.Audit", "Datastore.AllocateSpace"], true) {
        return Err(ApiError::permission_check_failed(
            &path,
            "Datastore.Audit|Datastore.AllocateSpace",
        ));
    }
    let mut res = schema_defaults();
    let (dumpdir, retention) = storage_dumpdir(env, &storage).await?;
    res.insert("storage".into(), json!(storage));
    res.insert("dumpdir".into(), json!(dumpdir.to_string_lossy()));
    let retention = retention.map_or_else(|| "keep-all=1".to_string(), |r| r.to_string());
    res.insert("prune-backups".into(), json!(retention));
    // What only node auditors see, as Proxmox hides it from plain backup users.
    if !perms.has_privs(&format!("/nodes/{node}"), &["Sys.Audit"], false) {
        for key in ["mailto", "tmpdir", "dumpdir", "script", "ionice"] {
            res.remove(key);
        }
    }
    Ok(Value::Object(res))
}

async fn extract_config(env: &RpcEnv, volume: &str) -> Result<Value, ApiError> {
    let found = resolve_archive(env, "volume", volume).await?;
    let conf_name = match found.guest_type.as_str() {
        "qemu" => "qemu-server.conf",
        _ => "pct.conf",
    };
    let path = found.path.clone();
    let configs = tokio::task::spawn_blocking(move || peek_configs(&path))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::param("volume", e))?;
    let text = configs
        .get(conf_name)
        .ok_or_else(|| ApiError::param("volume", format!("archive has no {conf_name}")))?;
    Ok(json!(String::from_utf8_lossy(text)))
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/vzdump/defaults", "vzdump_defaults")
            .description("Get the currently configured vzdump defaults.")
            .parameters(
                Schema::object("")
                    .required("node", node_param())
                    .optional("storage", Schema::string("The storage identifier.").format(oxve_types::format::STORAGE_ID)),
            )
            .returns(Schema::object("").additional_properties(true))
            .permission(Permission::Custom("The user needs 'Datastore.Audit' or 'Datastore.AllocateSpace' permissions for the specified storage (or default storage if none specified). Some properties are only returned when the user has 'Sys.Audit' permissions for the node."))
            .handler(|env: RpcEnv, params| async move {
                let node = params.req_str("node");
                local_node(&env, node)?;
                defaults(&env, node, params.str("storage")).await
            }),
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/vzdump/extractconfig", "vzdump_extractconfig")
            .description("Extract configuration from vzdump backup archive.")
            .parameters(
                Schema::object("")
                    .required("node", node_param())
                    .required("volume", Schema::string("Volume identifier")),
            )
            .returns(Schema::string("The guest's configuration."))
            .permission(Permission::Custom("The user needs 'VM.Backup' permissions on the backed up guest ID, and 'Datastore.AllocateSpace' on the backup storage."))
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                extract_config(&env, params.req_str("volume")).await
            }),
    ]
}
