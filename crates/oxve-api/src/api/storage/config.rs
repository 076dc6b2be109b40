//! /storage: the storage definitions of storage.cfg.

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_storage::StorageEntry;
use oxve_types::params::Params;
use oxve_types::schema::{ObjectSchema, Schema};
use serde_json::{json, Map, Value};

use super::{can_see_storage, storage_param};
use crate::env::RpcEnv;

const STORAGE_TYPES: &[&str] = &oxve_storage::config::schema::KNOWN_TYPES;

/// Options a client may set, with their types (the storage layer checks each against the
/// storage type).
fn options(schema: ObjectSchema) -> ObjectSchema {
    let text = |desc| Schema::string(desc).max_length(4096);
    schema
        .optional("content", text("Allowed content types (comma-separated)."))
        .optional("path", text("File system path."))
        .optional("nodes", text("List of nodes the storage is available on."))
        .optional(
            "shared",
            Schema::boolean("The same content is available on all nodes."),
        )
        .optional("disable", Schema::boolean("Flag to disable the storage."))
        .optional(
            "prune-backups",
            text("Retention options (keep-last=N,keep-daily=N,...)."),
        )
        .optional(
            "maxfiles",
            Schema::integer("Deprecated: use prune-backups.").minimum(0),
        )
        .optional(
            "max-protected-backups",
            Schema::integer(
                "Maximal number of protected backups per guest. Use '-1' for unlimited.",
            )
            .minimum(-1),
        )
        .optional(
            "preallocation",
            Schema::string("Preallocation mode for raw and qcow2 images.")
                .enum_values(&["off", "metadata", "falloc", "full"]),
        )
        .optional(
            "format",
            Schema::string("Default image format.")
                .enum_values(&["raw", "qcow2", "subvol", "vmdk"]),
        )
        .optional(
            "mkdir",
            Schema::boolean("Create the directory if it does not exist (deprecated)."),
        )
        .optional(
            "create-base-path",
            Schema::boolean("Create the base directory if it does not exist."),
        )
        .optional(
            "create-subdirs",
            Schema::boolean("Populate the directory with the default structure."),
        )
        .optional(
            "is_mountpoint",
            text("Assume the path is an externally managed mountpoint (yes, no or a path)."),
        )
        .optional(
            "content-dirs",
            text("Overrides for default content type directories."),
        )
        .optional("vgname", text("Volume group name."))
        .optional("thinpool", text("LVM thin pool name."))
        .optional("base", text("Base volume (iSCSI LUN) of a volume group."))
        .optional(
            "saferemove",
            Schema::boolean("Zero-out data when removing LVs."),
        )
        .optional(
            "tagged_only",
            Schema::boolean("Only use logical volumes tagged with 'pve-vm-ID'."),
        )
        .optional("pool", text("ZFS pool."))
        .optional("blocksize", text("Block size."))
        .optional("sparse", Schema::boolean("Use ZFS thin provisioning."))
        .optional("mountpoint", text("Mount point."))
        .optional("server", text("Server IP or DNS name."))
        .optional("export", text("NFS export path."))
        .optional("share", text("CIFS share."))
        .optional("username", text("User name."))
        .optional(
            "password",
            Schema::string("Password for accessing the share.").max_length(256),
        )
        .optional("domain", Schema::string("CIFS domain.").max_length(256))
        .optional(
            "smbversion",
            Schema::string("SMB protocol version.")
                .enum_values(&["default", "2.0", "2.1", "3", "3.0", "3.11"]),
        )
        .optional("subdir", text("Subdirectory to mount."))
        .optional("options", text("NFS/CIFS mount options."))
        .optional(
            "nocow",
            Schema::boolean("Set the NOCOW flag on files (btrfs)."),
        )
}

/// Client parameters as `key=value` option strings, without the ids and control keys.
fn option_pairs(params: &Params) -> Vec<(String, String)> {
    params
        .0
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "storage" | "type" | "digest" | "delete"))
        .map(|(k, v)| {
            let value = match v {
                Value::Bool(b) => u8::from(*b).to_string(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), value)
        })
        .collect()
}

fn as_refs(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// A definition as GET /storage returns it: every option as set, plus digest.
fn entry_json(entry: &StorageEntry, digest: &str) -> Value {
    let mut out = Map::new();
    out.insert("storage".into(), json!(entry.id));
    out.insert("type".into(), json!(entry.storage_type));
    let specs = oxve_storage::config::schema::type_options(&entry.storage_type).unwrap_or(&[]);
    for spec in specs {
        if spec.name == "password" {
            continue; // never shown
        }
        if let Some(value) = entry.props.get(spec.name) {
            out.insert(spec.name.to_string(), json!(value));
        }
    }
    out.insert(
        "content".into(),
        json!(oxve_storage::content::content_list_string(&entry.content())),
    );
    if entry.is_shared() {
        out.insert("shared".into(), json!(1));
    }
    out.insert("digest".into(), json!(digest));
    Value::Object(out)
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/storage", "index")
            .description("Storage index: the definitions the caller may see.")
            .parameters(Schema::object("").optional(
                "type",
                Schema::string("Only list storages of this type.").enum_values(STORAGE_TYPES),
            ))
            .returns(Schema::array(
                "",
                Schema::object("").additional_properties(true),
            ))
            .permission(Permission::Custom(
                "storages with Datastore.Audit or Datastore.AllocateSpace",
            ))
            .handler(|env: RpcEnv, params| async move {
                let store = env.state.store.as_ref();
                let manager = env.state.storage.manager(store).await?;
                let digest = env.state.storage.digest(store).await?;
                let mut list = Vec::new();
                for entry in manager.config().entries() {
                    if params.str("type").is_some_and(|t| t != entry.storage_type) {
                        continue;
                    }
                    if can_see_storage(&env, &entry.id).await {
                        list.push(entry_json(entry, &digest));
                    }
                }
                Ok(json!(list))
            }),
        ApiMethod::new(HttpMethod::Post, "/storage", "create")
            .description("Create a new storage.")
            .parameters(options(
                Schema::object("")
                    .required("storage", storage_param())
                    .required(
                        "type",
                        Schema::string("Storage type.").enum_values(STORAGE_TYPES),
                    ),
            ))
            .returns(Schema::object("").additional_properties(true))
            .permission(Permission::Privs {
                path: "/storage",
                privs: &["Datastore.Allocate"],
                any: false,
            })
            .protected()
            .handler(|env: RpcEnv, params| async move {
                let id = params.req_str("storage").to_string();
                let storage_type = params.req_str("type").to_string();
                let pairs = option_pairs(&params);
                let entry = StorageEntry::create(&id, &storage_type, &as_refs(&pairs))
                    .map_err(crate::storage_service::storage_error)?;
                let plugin_check = entry.clone();
                // Activate once (creates the directory layout, checks the VG/pool/mount) so a
                // storage that cannot work is refused before it is written.
                let data_dir = env.state.data_dir.clone();
                tokio::task::spawn_blocking(move || {
                    let registry = oxve_storage::PluginRegistry::with_builtin();
                    let ctx = oxve_storage::PluginContext::system(&data_dir);
                    registry.open(&plugin_check, &ctx)?.activate()
                })
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?
                .map_err(crate::storage_service::storage_error)?;
                env.state
                    .storage
                    .update_config(env.state.store.as_ref(), None, |cfg| cfg.add(entry.clone()))
                    .await?;
                Ok(json!({ "storage": id, "type": storage_type }))
            }),
        ApiMethod::new(HttpMethod::Get, "/storage/{storage}", "read")
            .description("Read storage configuration.")
            .parameters(Schema::object("").required("storage", storage_param()))
            .returns(Schema::object("").additional_properties(true))
            .permission(Permission::Privs {
                path: "/storage/{storage}",
                privs: &["Datastore.Allocate"],
                any: false,
            })
            .handler(|env: RpcEnv, params| async move {
                let store = env.state.store.as_ref();
                let manager = env.state.storage.manager(store).await?;
                let entry = manager
                    .config()
                    .get(params.req_str("storage"))
                    .map_err(crate::storage_service::storage_error)?;
                Ok(entry_json(entry, &env.state.storage.digest(store).await?))
            }),
        ApiMethod::new(HttpMethod::Put, "/storage/{storage}", "update")
            .description("Update storage configuration.")
            .parameters(options(
                Schema::object("")
                    .required("storage", storage_param())
                    .optional(
                        "delete",
                        Schema::string("A list of settings you want to delete.").max_length(4096),
                    )
                    .optional(
                        "digest",
                        Schema::string(
                            "Prevent changes if current configuration file has a different digest.",
                        )
                        .max_length(64),
                    ),
            ))
            .returns(Schema::object("").additional_properties(true))
            .permission(Permission::Privs {
                path: "/storage",
                privs: &["Datastore.Allocate"],
                any: false,
            })
            .protected()
            .handler(|env: RpcEnv, params| async move {
                let id = params.req_str("storage").to_string();
                let pairs = option_pairs(&params);
                let delete: Vec<String> = params
                    .str("delete")
                    .map(|d| {
                        oxve_types::format::split_list(d)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                env.state
                    .storage
                    .update_config(env.state.store.as_ref(), params.str("digest"), |cfg| {
                        let deletes: Vec<&str> = delete.iter().map(String::as_str).collect();
                        cfg.update(&id, &as_refs(&pairs), &deletes)
                    })
                    .await?;
                let manager = env.state.storage.manager(env.state.store.as_ref()).await?;
                let storage_type = manager
                    .config()
                    .get(&id)
                    .map(|e| e.storage_type.clone())
                    .unwrap_or_default();
                Ok(json!({ "storage": id, "type": storage_type }))
            }),
        ApiMethod::new(HttpMethod::Delete, "/storage/{storage}", "delete")
            .description("Delete storage configuration (the data on it stays).")
            .parameters(Schema::object("").required("storage", storage_param()))
            .returns(Schema::Null)
            .permission(Permission::Privs {
                path: "/storage",
                privs: &["Datastore.Allocate"],
                any: false,
            })
            .protected()
            .handler(|env: RpcEnv, params| async move {
                let id = params.req_str("storage").to_string();
                if id == "local" {
                    return Err(ApiError::param(
                        "storage",
                        "the 'local' storage always exists and cannot be removed",
                    ));
                }
                env.state
                    .storage
                    .update_config(env.state.store.as_ref(), None, |cfg| {
                        cfg.remove(&id).map(|_| ())
                    })
                    .await?;
                // A storage of the same name created later must not inherit pool rights.
                env.state
                    .access
                    .remove_storage_from_pools(&id)
                    .await
                    .map_err(crate::api::access::auth_error)?;
                Ok(json!(null))
            }),
    ]
}
