//! List, create, read, update and delete interfaces (changes go to the pending file).

use std::collections::BTreeSet;

use oxve_net::interfaces::{Iface, IfaceType};
use oxve_router::{ApiError, ApiMethod, ApiResponse, HttpMethod, Permission};
use oxve_types::schema::Schema;
use serde_json::{json, Value};

use super::model::{apply_params, delete_settings, iface_json};
use super::net_error;
use super::schema::{delete_param, iface_param, options, LIST_TYPES};
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

const MODIFY: Permission = Permission::Privs {
    path: "/nodes/{node}",
    privs: &["Sys.Modify"],
    any: false,
};

/// Names of the devices that are up in the daemon's namespace.
async fn active_links() -> BTreeSet<String> {
    match oxve_net::netlink::Netlink::connect() {
        Ok(nl) => nl
            .links()
            .await
            .map(|l| l.into_iter().filter(|l| l.up).map(|l| l.name).collect())
            .unwrap_or_default(),
        Err(_) => BTreeSet::new(),
    }
}

fn type_matches(filter: &str, ty: IfaceType) -> bool {
    match filter {
        "any_bridge" | "any_local_bridge" => ty == IfaceType::Bridge,
        "include_sdn" => true,
        other => other == ty.as_str(),
    }
}

/// Guests with a NIC on `iface`: a bridge they use is not deleted under them.
async fn bridge_users(env: &RpcEnv, iface: &str) -> Vec<String> {
    let mut users: Vec<u32> = super::guest_nics::guest_nics(&env.state)
        .await
        .into_iter()
        .filter(|n| n.bridge == iface)
        .map(|n| n.vmid)
        .collect();
    users.sort_unstable();
    users.dedup();
    users.iter().map(u32::to_string).collect()
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/network", "index")
            .description("List available networks")
            .parameters(Schema::object("").required("node", node_param()).optional(
                "type",
                Schema::string("Only list specific interface types.").enum_values(LIST_TYPES),
            ))
            .returns(Schema::array(
                "",
                Schema::object("").additional_properties(true),
            ))
            .permission(Permission::Anybody)
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let net = &env.state.network;
                let file = net.read_with_discovery().await.map_err(net_error)?;
                let active = active_links().await;
                let mut list = Vec::new();
                for (name, iface) in &file.ifaces {
                    let ty = iface.iface_type(name);
                    if name == "lo" || params.str("type").is_some_and(|t| !type_matches(t, ty)) {
                        continue;
                    }
                    let mut entry = iface_json(name, iface, active.contains(name));
                    entry["iface"] = json!(name);
                    list.push(entry);
                }
                Ok(ApiResponse::with_changes(json!(list), net.changes()))
            }),
        ApiMethod::new(HttpMethod::Post, "/nodes/{node}/network", "create_network")
            .description("Create network device configuration")
            .parameters(options(
                Schema::object("")
                    .required("node", node_param())
                    .required("iface", iface_param()),
            ))
            .returns(Schema::Null)
            .permission(MODIFY)
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let name = params.req_str("iface").to_string();
                let net = &env.state.network;
                let _guard = net.lock().await;
                let mut file = net.read_with_discovery().await.map_err(net_error)?;
                if file.ifaces.contains_key(&name) && !is_unconfigured_nic(file.ifaces.get(&name)) {
                    return Err(ApiError::param("iface", "interface already exists"));
                }
                check_gateway(&file, &name, &params)?;
                let mut iface = Iface {
                    priority: file.next_priority(),
                    ..Default::default()
                };
                if let Some(existing) = file.ifaces.get(&name) {
                    iface.exists = existing.exists;
                }
                apply_params(&name, &mut iface, &params, true)?;
                file.ifaces.insert(name, iface);
                net.write_pending(&file).map_err(net_error)?;
                Ok(Value::Null)
            }),
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/network/{iface}",
            "network_config",
        )
        .description("Read network device configuration")
        .parameters(
            Schema::object("")
                .required("node", node_param())
                .required("iface", iface_param()),
        )
        .returns(Schema::object("").additional_properties(true))
        .permission(Permission::Privs {
            path: "/nodes/{node}",
            privs: &["Sys.Audit"],
            any: false,
        })
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let name = params.req_str("iface");
            let file = env
                .state
                .network
                .read_with_discovery()
                .await
                .map_err(net_error)?;
            let iface = file
                .ifaces
                .get(name)
                .filter(|_| name != "lo")
                .ok_or_else(|| ApiError::param("iface", "interface does not exist"))?;
            let active = active_links().await.contains(name);
            Ok(iface_json(name, iface, active))
        }),
        ApiMethod::new(
            HttpMethod::Put,
            "/nodes/{node}/network/{iface}",
            "update_network",
        )
        .description("Update network device configuration")
        .parameters(options(
            Schema::object("")
                .required("node", node_param())
                .required("iface", iface_param())
                .optional("delete", delete_param()),
        ))
        .returns(Schema::Null)
        .permission(MODIFY)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let name = params.req_str("iface").to_string();
            let net = &env.state.network;
            let _guard = net.lock().await;
            let mut file = net.read_with_discovery().await.map_err(net_error)?;
            let mut iface = file
                .ifaces
                .get(&name)
                .cloned()
                .ok_or_else(|| ApiError::param("iface", "interface does not exist"))?;
            if let Some(delete) = params.str("delete") {
                delete_settings(&mut iface, delete);
            }
            check_gateway(&file, &name, &params)?;
            apply_params(&name, &mut iface, &params, false)?;
            file.ifaces.insert(name, iface);
            net.write_pending(&file).map_err(net_error)?;
            Ok(Value::Null)
        }),
        ApiMethod::new(
            HttpMethod::Delete,
            "/nodes/{node}/network/{iface}",
            "delete_network",
        )
        .description("Delete network device configuration")
        .parameters(
            Schema::object("")
                .required("node", node_param())
                .required("iface", iface_param()),
        )
        .returns(Schema::Null)
        .permission(MODIFY)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let name = params.req_str("iface").to_string();
            let net = &env.state.network;
            let _guard = net.lock().await;
            let mut file = net.read_with_discovery().await.map_err(net_error)?;
            if !file.ifaces.contains_key(&name) {
                return Err(ApiError::param("iface", "interface does not exist"));
            }
            if let Some(owner) = file.port_owner(&name) {
                return Err(ApiError::param(
                    "iface",
                    format!("interface '{name}' is a port of '{owner}'; remove it there first"),
                ));
            }
            let users = bridge_users(&env, &name).await;
            if !users.is_empty() {
                return Err(ApiError::param(
                    "iface",
                    format!("bridge '{name}' is used by guest(s) {}", users.join(", ")),
                ));
            }
            file.ifaces.remove(&name);
            net.write_pending(&file).map_err(net_error)?;
            Ok(Value::Null)
        }),
    ]
}

/// A physical NIC listed only because it exists (not yet in the file) may be "created".
fn is_unconfigured_nic(iface: Option<&Iface>) -> bool {
    iface.is_some_and(|i| i.exists == Some(true) && i.priority == 0)
}

/// Proxmox allows one default gateway per family.
fn check_gateway(
    file: &oxve_net::interfaces::InterfacesFile,
    name: &str,
    params: &oxve_types::params::Params,
) -> Result<(), ApiError> {
    for (param, v6, label) in [
        ("gateway", false, "Default gateway"),
        ("gateway6", true, "Default ipv6 gateway"),
    ] {
        if !params.has(param) {
            continue;
        }
        for (other, iface) in &file.ifaces {
            let fam = if v6 { &iface.inet6 } else { &iface.inet };
            if other != name && fam.as_ref().is_some_and(|f| f.gateway.is_some()) {
                return Err(ApiError::param(
                    param,
                    format!("{label} already exists on interface '{other}'."),
                ));
            }
        }
    }
    Ok(())
}
