//! Port forwards on NAT bridges (oxve extension, no Proxmox counterpart):
//! `/nodes/{node}/network/{iface}/forwards[/{id}]`, id `<proto>-<host port>`. Changes apply
//! at once (one nftables transaction) and are kept in `forwards.json`; a failed apply puts the
//! previous forwards back.

use oxve_net::forwards::{parse_id, Forward, Forwards, Proto};
use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_types::format::Format;
use oxve_types::params::Params;
use oxve_types::schema::{ObjectSchema, Schema};
use serde_json::{json, Value};

use super::schema::iface_param;
use super::{net_error, sync_nat};
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

const AUDIT: Permission = Permission::Privs {
    path: "/nodes/{node}",
    privs: &["Sys.Audit"],
    any: false,
};
const MODIFY: Permission = Permission::Privs {
    path: "/nodes/{node}",
    privs: &["Sys.Modify"],
    any: false,
};

const IPV4: Format = Format::Named {
    name: "ipv4",
    check: oxve_net::cidr::check_ipv4,
};
const CIDR_V4: Format = Format::Named {
    name: "CIDRv4",
    check: oxve_net::cidr::check_cidr_v4,
};

fn check_id(value: &str) -> Result<(), String> {
    parse_id(value)
        .map(|_| ())
        .ok_or_else(|| format!("'{value}' is no forward id (<tcp|udp>-<port>)"))
}

const FORWARD_ID: Format = Format::Named {
    name: "oxve-forward-id",
    check: check_id,
};

fn path_params() -> ObjectSchema {
    Schema::object("")
        .required("node", node_param())
        .required("iface", iface_param())
}

fn port(desc: &'static str) -> oxve_types::schema::IntegerSchema {
    Schema::integer(desc).minimum(1).maximum(65535)
}

fn settings(schema: ObjectSchema, creating: bool) -> ObjectSchema {
    let schema = schema
        .optional(
            "proto",
            Schema::string("Protocol.").enum_values(&["tcp", "udp"]),
        )
        .optional(
            "guest-port",
            port("Port on the guest (default: the host port)."),
        )
        .optional(
            "source",
            Schema::string("Only clients from this network may connect.").format(CIDR_V4),
        )
        .optional("comment", Schema::string("Comment.").max_length(256))
        .optional(
            "vmid",
            Schema::integer(
                "Forward to this guest's fixed DHCP address on the bridge (instead of 'guest').",
            )
            .minimum(100)
            .maximum(999_999_999),
        );
    if creating {
        schema
            .required("dport", port("Port on the host."))
            .optional(
                "guest",
                Schema::string("Guest address on the bridge.").format(IPV4),
            )
    } else {
        schema
            .optional("dport", port("Port on the host."))
            .optional(
                "guest",
                Schema::string("Guest address on the bridge.").format(IPV4),
            )
            .optional(
                "delete",
                Schema::string("Settings to remove (source, comment).").max_length(256),
            )
    }
}

pub fn forward_json(f: &Forward) -> Value {
    let mut v = json!({
        "id": f.id(),
        "iface": f.bridge,
        "proto": f.proto.as_str(),
        "dport": f.host_port,
        "guest": f.guest.to_string(),
        "guest-port": f.guest_port,
    });
    if let Some(s) = &f.source {
        v["source"] = json!(s.to_string());
    }
    if let Some(c) = &f.comment {
        v["comment"] = json!(c);
    }
    v
}

/// The guest address of a forward: `guest`, or the fixed DHCP address of `vmid`'s NIC.
async fn guest_address(
    env: &RpcEnv,
    bridge: &str,
    params: &Params,
) -> Result<Option<std::net::Ipv4Addr>, ApiError> {
    if let (Some(_), Some(_)) = (params.str("guest"), params.int("vmid")) {
        return Err(ApiError::param("vmid", "give either 'guest' or 'vmid'"));
    }
    if let Some(g) = params.str("guest") {
        return g
            .parse()
            .map(Some)
            .map_err(|_| ApiError::param("guest", "invalid IPv4 address"));
    }
    let Some(vmid) = params.int("vmid") else {
        return Ok(None);
    };
    let nic = super::guest_nics::guest_nics(&env.state)
        .await
        .into_iter()
        .find(|n| i64::from(n.vmid) == vmid && n.bridge == bridge)
        .ok_or_else(|| ApiError::param("vmid", format!("guest {vmid} has no NIC on '{bridge}'")))?;
    let mac = nic.mac.ok_or_else(|| {
        ApiError::param(
            "vmid",
            format!("guest {vmid}'s NIC on '{bridge}' has no MAC address"),
        )
    })?;
    let ip = env
        .state
        .network
        .ensure_lease(bridge, &mac, &format!("vm{vmid}"))
        .await
        .map_err(net_error)?
        .ok_or_else(|| {
            ApiError::param("iface", format!("'{bridge}' is not an applied NAT bridge"))
        })?;
    Ok(Some(ip))
}

/// Store `next` and apply it; on failure the previous forwards come back.
async fn commit(env: &RpcEnv, prev: &Forwards, next: &Forwards) -> Result<(), ApiError> {
    let net = &env.state.network;
    net.save_forwards(next).map_err(net_error)?;
    if let Err(err) = sync_nat(&env.state, None).await {
        let _ = net.save_forwards(prev);
        let _ = sync_nat(&env.state, None).await;
        return Err(net_error(err));
    }
    Ok(())
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/network/{iface}/forwards",
            "list_forwards",
        )
        .description("List the port forwards to guests on a NAT bridge (oxve extension).")
        .parameters(path_params())
        .returns(Schema::array(
            "",
            Schema::object("").additional_properties(true),
        ))
        .permission(AUDIT)
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let bridge = params.req_str("iface");
            let all = env.state.network.load_forwards().map_err(net_error)?;
            let list: Vec<Value> = all
                .forwards
                .iter()
                .filter(|f| f.bridge == bridge)
                .map(forward_json)
                .collect();
            Ok(json!(list))
        }),
        ApiMethod::new(
            HttpMethod::Post,
            "/nodes/{node}/network/{iface}/forwards",
            "create_forward",
        )
        .description("Forward a host port to a guest on a NAT bridge (oxve extension).")
        .parameters(settings(path_params(), true))
        .returns(Schema::object("").additional_properties(true))
        .permission(MODIFY)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let bridge = params.req_str("iface").to_string();
            let guest = guest_address(&env, &bridge, &params)
                .await?
                .ok_or_else(|| {
                    ApiError::param("guest", "parameter 'guest' or 'vmid' is required")
                })?;
            let dport = params.int("dport").unwrap_or_default() as u16;
            let fwd = Forward {
                bridge: bridge.clone(),
                proto: Proto::parse(params.str("proto").unwrap_or("tcp")).unwrap_or(Proto::Tcp),
                host_port: dport,
                guest,
                guest_port: params.int("guest-port").map(|p| p as u16).unwrap_or(dport),
                source: params.str("source").and_then(|s| s.parse().ok()),
                comment: params.str("comment").map(str::to_string),
            };
            let net = &env.state.network;
            let _guard = net.lock().await;
            let file = net.read_pending().map_err(net_error)?;
            let prev = net.load_forwards().map_err(net_error)?;
            let mut next = prev.clone();
            next.upsert(fwd.clone(), &file, None).map_err(net_error)?;
            commit(&env, &prev, &next).await?;
            Ok(forward_json(&fwd))
        }),
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/network/{iface}/forwards/{id}",
            "read_forward",
        )
        .description("Read a port forward (oxve extension).")
        .parameters(path_params().required(
            "id",
            Schema::string("Forward id (<proto>-<host port>).").format(FORWARD_ID),
        ))
        .returns(Schema::object("").additional_properties(true))
        .permission(AUDIT)
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let all = env.state.network.load_forwards().map_err(net_error)?;
            all.get(params.req_str("id"))
                .filter(|f| f.bridge == params.req_str("iface"))
                .map(forward_json)
                .ok_or_else(|| ApiError::param("id", "no such port forward"))
        }),
        ApiMethod::new(
            HttpMethod::Put,
            "/nodes/{node}/network/{iface}/forwards/{id}",
            "update_forward",
        )
        .description("Change a port forward (oxve extension).")
        .parameters(settings(
            path_params().required(
                "id",
                Schema::string("Forward id (<proto>-<host port>).").format(FORWARD_ID),
            ),
            false,
        ))
        .returns(Schema::object("").additional_properties(true))
        .permission(MODIFY)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let bridge = params.req_str("iface").to_string();
            let id = params.req_str("id").to_string();
            let guest = guest_address(&env, &bridge, &params).await?;
            let net = &env.state.network;
            let _guard = net.lock().await;
            let prev = net.load_forwards().map_err(net_error)?;
            let mut fwd = prev
                .get(&id)
                .filter(|f| f.bridge == bridge)
                .cloned()
                .ok_or_else(|| ApiError::param("id", "no such port forward"))?;
            for key in oxve_types::format::split_list(params.str("delete").unwrap_or_default()) {
                match key {
                    "source" => fwd.source = None,
                    "comment" => fwd.comment = None,
                    other => {
                        return Err(ApiError::param(
                            "delete",
                            format!("cannot delete '{other}'"),
                        ))
                    }
                }
            }
            if let Some(p) = params.str("proto") {
                fwd.proto = Proto::parse(p).unwrap_or(fwd.proto);
            }
            if let Some(p) = params.int("dport") {
                fwd.host_port = p as u16;
            }
            if let Some(g) = guest {
                fwd.guest = g;
            }
            if let Some(p) = params.int("guest-port") {
                fwd.guest_port = p as u16;
            }
            if let Some(s) = params.str("source") {
                fwd.source = s.parse().ok();
            }
            if let Some(c) = params.str("comment") {
                fwd.comment = Some(c.to_string());
            }
            let file = net.read_pending().map_err(net_error)?;
            let mut next = prev.clone();
            next.upsert(fwd.clone(), &file, Some(&id))
                .map_err(net_error)?;
            commit(&env, &prev, &next).await?;
            Ok(forward_json(&fwd))
        }),
        ApiMethod::new(
            HttpMethod::Delete,
            "/nodes/{node}/network/{iface}/forwards/{id}",
            "delete_forward",
        )
        .description("Remove a port forward (oxve extension).")
        .parameters(path_params().required(
            "id",
            Schema::string("Forward id (<proto>-<host port>).").format(FORWARD_ID),
        ))
        .returns(Schema::Null)
        .permission(MODIFY)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let id = params.req_str("id");
            let net = &env.state.network;
            let _guard = net.lock().await;
            let prev = net.load_forwards().map_err(net_error)?;
            if prev
                .get(id)
                .filter(|f| f.bridge == params.req_str("iface"))
                .is_none()
            {
                return Err(ApiError::param("id", "no such port forward"));
            }
            let mut next = prev.clone();
            next.forwards.retain(|f| f.id() != id);
            commit(&env, &prev, &next).await?;
            Ok(Value::Null)
        }),
    ]
}
