//! GET .../lxc/{vmid}/feature: whether every volume of the container (or of one snapshot)
//! supports snapshots, linked clones (templates only) or copies, from the storages'
//! capabilities.

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_storage::{VolumeFormat, VolumeId};
use oxve_types::lxc::snapshot::section_volumes;
use oxve_types::schema::Schema;
use serde_json::json;

use super::store_io::load;
use super::vmid_param;
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![ApiMethod::new(
        HttpMethod::Get,
        "/nodes/{node}/lxc/{vmid}/feature",
        "vm_feature",
    )
    .description("Check if feature for virtual machine is available.")
    .parameters(
        Schema::object("")
            .required("node", node_param())
            .required("vmid", vmid_param())
            .required(
                "feature",
                Schema::string("Feature to check.").enum_values(&["snapshot", "clone", "copy"]),
            )
            .optional(
                "snapname",
                Schema::string("The name of the snapshot.")
                    .format(oxve_types::format::CONFIG_ID)
                    .max_length(40),
            ),
    )
    .returns(Schema::object("").additional_properties(true))
    .permission(Permission::Privs {
        path: "/vms/{vmid}",
        privs: &["VM.Audit"],
        any: false,
    })
    .handler(|env: RpcEnv, params| async move {
        local_node(&env, params.req_str("node"))?;
        let vmid = params.int("vmid").unwrap_or_default() as u32;
        let feature = params.req_str("feature").to_string();
        let ct = load(&env, vmid).await?;
        let section = match params.str("snapname") {
            Some(snap) => ct
                .config
                .snapshots
                .get(snap)
                .ok_or_else(|| ApiError::internal(format!("snapshot '{snap}' does not exist")))?
                .clone(),
            None => ct.config.current.clone(),
        };
        let template = ct.config.template();
        let volids: Vec<VolumeId> = section_volumes(&section)
            .into_iter()
            .filter_map(|(_, v)| VolumeId::parse(&v).ok())
            .collect();
        let has = env
            .state
            .storage
            .run(env.state.store.as_ref(), move |m| {
                for volid in &volids {
                    let format = m.info(volid)?.format;
                    let caps = m.capabilities(volid.storage())?;
                    let ok = match feature.as_str() {
                        "snapshot" => caps.supports_snapshots(format),
                        "clone" => template && caps.supports_linked_clone(format),
                        _ => format != VolumeFormat::Subvol,
                    };
                    if !ok {
                        return Ok(false);
                    }
                }
                Ok(true)
            })
            .await?;
        Ok(json!({"hasFeature": has, "nodes": [env.state.node]}))
    })]
}
