//! GET /nodes/{node}/storage and .../storage/{storage}/status.

use oxve_router::{ApiMethod, HttpMethod, Permission};
use oxve_storage::manager::StorageSummary;
use oxve_storage::ContentType;
use oxve_types::schema::Schema;
use serde_json::{json, Value};

use super::{can_see_storage, storage_param};
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

pub fn summary_json(s: &StorageSummary) -> Value {
    let mut v = json!({
        "storage": s.storage,
        "type": s.storage_type,
        "content": s.content,
        "active": u8::from(s.status.active),
        "enabled": u8::from(s.enabled),
        "shared": u8::from(s.shared),
        "total": s.status.total,
        "used": s.status.used,
        "avail": s.status.avail,
        "used_fraction": s.used_fraction,
    });
    if let Some(provisioned) = s.status.provisioned {
        // oxve extension: thin overcommit shows as provisioned > total.
        v["provisioned"] = json!(provisioned);
    }
    v
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/storage", "index")
            .description("Status of the storages available on this node.")
            .parameters(
                Schema::object("")
                    .required("node", node_param())
                    .optional("content", Schema::string("Only list storages that support these content types (comma-separated).").max_length(256))
                    .optional("enabled", Schema::boolean("Only list enabled storages.").default(false))
                    .optional("format", Schema::boolean("Include format information.").default(false))
                    .optional("storage", storage_param())
                    .optional("target", node_param()),
            )
            .returns(Schema::array("", Schema::object("").additional_properties(true)))
            .permission(Permission::Custom("storages with Datastore.Audit or Datastore.AllocateSpace"))
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let wanted: Vec<ContentType> = params
                    .str("content")
                    .map(|c| oxve_types::format::split_list(c).filter_map(|c| c.parse().ok()).collect())
                    .unwrap_or_default();
                let only = params.str("storage").map(str::to_string);
                let enabled_only = params.bool_or("enabled", false);
                let node = env.state.node.clone();
                let summaries = env
                    .state
                    .storage
                    .run(env.state.store.as_ref(), move |m| Ok(m.summaries(Some(&node))))
                    .await?;
                let mut list = Vec::new();
                for s in summaries {
                    if only.as_deref().is_some_and(|o| o != s.storage)
                        || (enabled_only && !s.enabled)
                        || !wanted.iter().all(|c| s.content.split(',').any(|x| x == c.as_str()))
                        || !can_see_storage(&env, &s.storage).await
                    {
                        continue;
                    }
                    list.push(summary_json(&s));
                }
                Ok(json!(list))
            }),
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/storage/{storage}/status", "read_status")
            .description("Read storage status.")
            .parameters(Schema::object("").required("node", node_param()).required("storage", storage_param()))
            .returns(Schema::object("").additional_properties(true))
            .permission(Permission::Privs {
                path: "/storage/{storage}",
                privs: &["Datastore.Audit", "Datastore.AllocateSpace"],
                any: true,
            })
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let id = params.req_str("storage").to_string();
                let summary = env
                    .state
                    .storage
                    .run(env.state.store.as_ref(), move |m| {
                        let entry = m.config().get(&id)?.clone();
                        Ok(m.summary(&entry))
                    })
                    .await?;
                Ok(summary_json(&summary))
            }),
    ]
}
