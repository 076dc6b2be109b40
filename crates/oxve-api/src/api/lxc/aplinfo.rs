//! /nodes/{node}/aplinfo: the appliance (container template) index, like `pveam`.
//! GET lists the cached index, POST downloads a template into a storage (a `download` task),
//! and PUT (an oxve extension, `pveam update`) refreshes the cache from the configured URL
//! (`oxve serve --appliance-index URL`).

use oxve_lxc::appliance::{self, Appliance};
use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_storage::{ContentType, VolumeId};
use oxve_types::schema::Schema;
use serde_json::{json, Value};

use super::upid_schema;
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

fn not_configured() -> ApiError {
    ApiError::internal("no appliance index configured (oxve serve --appliance-index URL)")
}

/// Fetch the index into its cache; returns the number of templates.
async fn update(env: &RpcEnv) -> Result<usize, ApiError> {
    let (url, cache) = env.state.lxc.appliance_index().ok_or_else(not_configured)?;
    let (url, cache) = (url.to_string(), cache.to_path_buf());
    appliance::fetch(&url, &cache)
        .await
        .map_err(|e| ApiError::internal(format!("update failed - {e}")))?;
    Ok(read(&cache)?.len())
}

fn read(cache: &std::path::Path) -> Result<Vec<Appliance>, ApiError> {
    let text = std::fs::read_to_string(cache).map_err(|e| ApiError::internal(e.to_string()))?;
    appliance::parse_index(&text).map_err(|e| ApiError::internal(e.to_string()))
}

/// The cached index, fetched first if there is no cache yet.
async fn list(env: &RpcEnv) -> Result<Vec<Appliance>, ApiError> {
    let Some((_, cache)) = env.state.lxc.appliance_index() else {
        return Ok(Vec::new());
    };
    if !cache.exists() {
        update(env).await?;
    }
    read(cache)
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/aplinfo", "aplinfo")
            .description("Get list of appliances.")
            .parameters(Schema::object("").required("node", node_param()))
            .returns(Schema::array("", Schema::object("").additional_properties(true)))
            .permission(Permission::Anybody)
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let list: Vec<Value> = list(&env).await?.into_iter().map(|a| json!(a.fields)).collect();
                Ok(json!(list))
            }),
        ApiMethod::new(HttpMethod::Put, "/nodes/{node}/aplinfo", "update_aplinfo")
            .description("Update the appliance index from the configured URL (oxve extension, like 'pveam update'). Returns the number of templates.")
            .parameters(Schema::object("").required("node", node_param()))
            .returns(Schema::integer("Templates in the index."))
            .permission(Permission::Privs { path: "/nodes/{node}", privs: &["Sys.Modify"], any: false })
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                Ok(json!(update(&env).await?))
            }),
        ApiMethod::new(HttpMethod::Post, "/nodes/{node}/aplinfo", "apl_download")
            .description("Download appliance templates.")
            .parameters(
                Schema::object("")
                    .required("node", node_param())
                    .required("storage", Schema::string("The storage where the template will be stored").format(oxve_types::format::STORAGE_ID))
                    .required("template", Schema::string("The template which will downloaded").max_length(255)),
            )
            .returns(upid_schema())
            .permission(Permission::Privs { path: "/storage/{storage}", privs: &["Datastore.AllocateTemplate"], any: false })
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let name = params.req_str("template").to_string();
                let storage = params.req_str("storage").to_string();
                let entry = list(&env)
                    .await?
                    .into_iter()
                    .find(|a| a.template() == name)
                    .ok_or_else(|| ApiError::param("template", format!("no such template '{name}'")))?;
                let manager = env.state.storage.manager(env.state.store.as_ref()).await?;
                let cfg = manager.config().get(&storage).map_err(|e| ApiError::param("storage", e.to_string()))?;
                if !cfg.content().contains(&ContentType::Vztmpl) {
                    return Err(ApiError::param("storage", format!("storage '{storage}' does not support templates")));
                }
                let volid = VolumeId::parse(&format!("{storage}:vztmpl/{name}"))
                    .map_err(|e| ApiError::param("template", e.to_string()))?;
                let dest = manager.path(&volid).map_err(|e| ApiError::param("template", e.to_string()))?;
                let (url, _) = env.state.lxc.appliance_index().ok_or_else(not_configured)?;
                let url = url.to_string();
                let worker_id = name.clone();
                let upid = env
                    .state
                    .tasks
                    .spawn("download", Some(&worker_id), &env.caller_string(), move |ctx| async move {
                        ctx.log(format!("starting template download of {name} to {}", dest.display()));
                        let from = appliance::download(&url, &entry, &dest).await.map_err(|e| e.to_string())?;
                        ctx.log(format!("downloaded {from}"));
                        ctx.log(format!("download of '{volid}' finished"));
                        Ok::<(), String>(())
                    })
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                Ok(json!(upid.to_string()))
            }),
    ]
}
