//! GET /cluster/status, /cluster/resources and /cluster/nextid.

use std::sync::Arc;

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission, PermissionChecker, Prerendered};
use oxve_store::{guest_config_key, VMID_MAX, VMID_MIN};
use oxve_types::schema::Schema;
use serde_json::{json, Value};

use super::nodes::node_entry;
use crate::cache::{ResourceKey, NODE_FIGURES_SECS};
use crate::env::RpcEnv;
use crate::guests::GuestSummary;
use crate::http::permissions::CallerPermissions;

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/cluster/status", "get_status")
            .description("Get cluster status information.")
            .returns(Schema::array(
                "",
                Schema::object("").additional_properties(true),
            ))
            .permission(Permission::Privs {
                path: "/",
                privs: &["Sys.Audit"],
                any: false,
            })
            .handler(|env: RpcEnv, _| async move {
                Ok(json!([{
                    "type": "node",
                    "id": format!("node/{}", env.state.node),
                    "name": env.state.node,
                    "nodeid": 1,
                    "ip": "127.0.0.1",
                    "local": 1,
                    "online": 1,
                    "level": "",
                }]))
            }),
        ApiMethod::new(HttpMethod::Get, "/cluster/resources", "resources")
            .description(
                "Resources index (cluster wide): nodes, guests and storages the caller may see.",
            )
            .parameters(Schema::object("").optional(
                "type",
                Schema::string("Resource type.").enum_values(&["vm", "storage", "node", "sdn"]),
            ))
            .returns(Schema::array(
                "",
                Schema::object("").additional_properties(true),
            ))
            .permission(Permission::Custom(
                "any user; lists only what the caller has Audit privileges on",
            ))
            .handler(|env: RpcEnv, params| async move {
                resources(&env, params.str("type").map(str::to_string)).await
            }),
        ApiMethod::new(HttpMethod::Get, "/cluster/nextid", "nextid")
            .description("Get next free VMID, or check that the given one is free.")
            .parameters(
                Schema::object("").optional(
                    "vmid",
                    Schema::integer("The (unique) ID of the VM.")
                        .minimum(VMID_MIN as i64)
                        .maximum(VMID_MAX as i64),
                ),
            )
            .returns(Schema::string(
                "The next free VMID (a string, as Proxmox returns it).",
            ))
            .permission(Permission::Anybody)
            .handler(|env: RpcEnv, params| async move {
                let store = &env.state.store;
                if let Some(vmid) = params.int("vmid") {
                    let vmid = vmid as u32;
                    let used = store
                        .guests()
                        .await
                        .map_err(internal)?
                        .iter()
                        .any(|g| g.vmid == vmid);
                    if used {
                        return Err(ApiError::param("vmid", format!("VM {vmid} already exists")));
                    }
                    return Ok(json!(vmid.to_string()));
                }
                let next = store.next_free_vmid(None).await.map_err(internal)?;
                Ok(json!(next.to_string()))
            }),
    ]
}

fn internal(err: impl std::fmt::Display) -> ApiError {
    ApiError::internal(err.to_string())
}

/// Every guest's summary at the store's current revision (cached per revision).
pub async fn guest_summaries(env: &RpcEnv) -> Result<Arc<Vec<GuestSummary>>, ApiError> {
    let store = &env.state.store;
    let revision = store.revision().await.map_err(internal)?;
    if let Some(list) = env.state.caches.guests(revision) {
        return Ok(list);
    }
    let mut list = Vec::new();
    for guest in store.guests().await.map_err(internal)? {
        if let Some(entry) = store
            .get(&guest_config_key(&guest))
            .await
            .map_err(internal)?
        {
            list.push(GuestSummary::from_config(guest, &entry.text));
        }
    }
    let list = Arc::new(list);
    env.state.caches.put_guests(revision, Arc::clone(&list));
    Ok(list)
}

async fn resources(
    env: &RpcEnv,
    type_filter: Option<String>,
) -> Result<Arc<Prerendered>, ApiError> {
    let revision = env.state.store.revision().await.map_err(internal)?;
    let epoch = env.state.started.elapsed().as_secs() / NODE_FIGURES_SECS;
    let key = ResourceKey {
        auth_id: env.caller_string(),
        type_filter: type_filter.clone(),
    };
    if let Some(body) = env.state.caches.resources(&key, revision, epoch) {
        return Ok(body);
    }
    let wants = |t: &str| type_filter.as_deref().is_none_or(|f| f == t);
    let mut list: Vec<Value> = Vec::new();
    if wants("node")
        && env
            .has_privs(&format!("/nodes/{}", env.state.node), &["Sys.Audit"], false)
            .await
    {
        list.push(node_entry(env));
    }
    let checker = env.permissions().await?;
    if wants("vm") {
        for guest in guest_summaries(env).await?.iter() {
            let path = format!("/vms/{}", guest.guest.vmid);
            if checker.has_privs(&path, &["VM.Audit"], true) {
                list.push(guest_entry(env, &checker, guest));
            }
        }
    }
    if wants("storage") {
        for (storage, entry) in storage_entries(env).await? {
            if crate::api::storage::can_see_storage(env, &storage).await {
                list.push(entry);
            }
        }
    }
    // Pools are listed only without a type filter (the filter has no `pool` value).
    if type_filter.is_none() {
        for (poolid, pool) in &checker.snapshot().config().pools {
            if checker.has_privs(&format!("/pool/{poolid}"), &["Pool.Audit"], false) {
                let mut entry = json!({
                    "id": format!("/pool/{poolid}"),
                    "type": "pool",
                    "pool": poolid,
                });
                if let Some(c) = &pool.comment {
                    entry["comment"] = json!(c);
                }
                list.push(entry);
            }
        }
    }
    let body = Arc::new(Prerendered::new(&Value::Array(list)));
    env.state
        .caches
        .put_resources(key, revision, epoch, Arc::clone(&body));
    Ok(body)
}

/// A guest's `/cluster/resources` entry with live status and its `pool`, if any.
pub fn guest_entry(env: &RpcEnv, checker: &CallerPermissions, guest: &GuestSummary) -> Value {
    let mut entry = guest.resource_entry_live(&env.state.qemu);
    guest.mark_lxc_running(&mut entry, &env.state.lxc);
    if let Some(pool) = checker.snapshot().config().pool_of_vm(guest.guest.vmid) {
        entry["pool"] = json!(pool);
    }
    entry
}

/// The `/cluster/resources` entries of this node's storages, by storage id (unfiltered).
pub async fn storage_entries(env: &RpcEnv) -> Result<Vec<(String, Value)>, ApiError> {
    let node = env.state.node.clone();
    let summaries = env
        .state
        .storage
        .run(env.state.store.as_ref(), move |m| {
            Ok(m.summaries(Some(&node)))
        })
        .await?;
    Ok(summaries
        .into_iter()
        .map(|s| {
            let entry = json!({
                "id": format!("storage/{}/{}", env.state.node, s.storage),
                "type": "storage",
                "storage": s.storage,
                "node": env.state.node,
                "status": if s.status.active { "available" } else { "unknown" },
                "plugintype": s.storage_type,
                "content": s.content,
                "shared": u8::from(s.shared),
                "disk": s.status.used,
                "maxdisk": s.status.total,
            });
            (s.storage, entry)
        })
        .collect())
}
