//! WireGuard access to a NAT bridge (oxve extension): `/nodes/{node}/network/{iface}/vpn`
//! (the endpoint) and `.../vpn/peers[/{name}]`. Creating a peer returns its config, private
//! key included, once; the node keeps only its public key.

use oxve_net::cidr::Ipv4Cidr;
use oxve_net::nat_sync::nat_bridges;
use oxve_net::vpn::{keypair, VpnConfig, VpnEndpoint, VpnPeer};
use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_types::format::{self, Format};
use oxve_types::schema::{ObjectSchema, Schema};
use serde_json::{json, Value};

use super::net_error;
use super::schema::iface_param;
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
const CIDR_V4: Format = Format::Named {
    name: "CIDRv4",
    check: oxve_net::cidr::check_cidr_v4,
};
const PEER_NAME: Format = Format::Named {
    name: "pve-configid",
    check: format::check_config_id,
};

fn path_params() -> ObjectSchema {
    Schema::object("")
        .required("node", node_param())
        .required("iface", iface_param())
}

fn endpoint_json(ep: &VpnEndpoint) -> Value {
    json!({
        "iface": ep.bridge,
        "ifname": ep.ifname,
        "listen-port": ep.listen_port,
        "address": ep.address,
        "public-key": ep.public_key,
        "peers": ep.peers.iter().map(peer_json).collect::<Vec<_>>(),
    })
}

fn peer_json(p: &VpnPeer) -> Value {
    json!({ "name": p.name, "address": p.address.to_string(), "public-key": p.public_key })
}

/// Save `next`, bring it up; on failure the previous endpoints come back.
async fn commit(
    env: &RpcEnv,
    prev: &VpnConfig,
    next: &VpnConfig,
    removed: Option<&str>,
) -> Result<(), ApiError> {
    let net = &env.state.network;
    net.save_vpn(next).map_err(net_error)?;
    if let Some(ifname) = removed {
        if let Ok(nl) = oxve_net::netlink::Netlink::connect() {
            oxve_net::vpn::remove_endpoint(&nl, ifname)
                .await
                .map_err(net_error)?;
        }
    }
    if let Err(err) = net.sync_vpn().await {
        let _ = net.save_vpn(prev);
        let _ = net.sync_vpn().await;
        return Err(net_error(err));
    }
    // the host firewall keeps the endpoints' ports open
    let _fw = net.firewall_lock().await;
    crate::api::firewall::sync_firewall(&env.state)
        .await
        .map_err(ApiError::internal)?;
    Ok(())
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/network/{iface}/vpn", "get_vpn")
            .description("The WireGuard endpoint of a NAT bridge, if any (oxve extension).")
            .parameters(path_params())
            .returns(Schema::object("").additional_properties(true))
            .permission(AUDIT)
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let cfg = env.state.network.load_vpn().map_err(net_error)?;
                Ok(cfg.endpoint(params.req_str("iface")).map(endpoint_json).unwrap_or(Value::Null))
            }),
        ApiMethod::new(HttpMethod::Post, "/nodes/{node}/network/{iface}/vpn", "create_vpn")
            .description("Create a WireGuard endpoint giving access to a NAT bridge (oxve extension).")
            .parameters(
                path_params()
                    .required("address", Schema::string("The endpoint's tunnel address and subnet (e.g. 10.200.0.1/24).").format(CIDR_V4))
                    .optional("listen-port", Schema::integer("UDP port (default 51820).").minimum(1).maximum(65535))
                    .optional("ifname", Schema::string("Device name (default wg<bridge>).").format(super::schema::IFACE).max_length(15)),
            )
            .returns(Schema::object("").additional_properties(true))
            .permission(MODIFY)
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let bridge = params.req_str("iface").to_string();
                let tunnel: Ipv4Cidr = params.req_str("address").parse().map_err(|e: String| ApiError::param("address", e))?;
                let port = params.int("listen-port").unwrap_or(51820) as u16;
                let ifname = params.str("ifname").map(str::to_string).unwrap_or_else(|| format!("wg{bridge}"));
                if ifname.len() > oxve_net::apply::IFNAMSIZ {
                    return Err(ApiError::param("ifname", "longer than 15 characters; give a shorter 'ifname'"));
                }
                let net = &env.state.network;
                let _guard = net.lock().await;
                let active = net.read_active().map_err(net_error)?;
                if !nat_bridges(&active).iter().any(|n| n.bridge == bridge) {
                    return Err(ApiError::param("iface", format!("'{bridge}' is not an applied NAT bridge")));
                }
                for (name, iface) in &active.ifaces {
                    if let Some(c) = iface.cidr() {
                        if c.overlaps(&tunnel) {
                            return Err(ApiError::param("address", format!("{} overlaps {} of '{name}'", tunnel.subnet(), c.subnet())));
                        }
                    }
                }
                if active.ifaces.contains_key(&ifname) {
                    return Err(ApiError::param("ifname", format!("'{ifname}' is a configured interface")));
                }
                let prev = net.load_vpn().map_err(net_error)?;
                if prev.endpoint(&bridge).is_some() {
                    return Err(ApiError::param("iface", format!("'{bridge}' already has a VPN endpoint")));
                }
                for ep in &prev.endpoints {
                    if ep.listen_port == port {
                        return Err(ApiError::param("listen-port", format!("port {port} is used by the endpoint of '{}'", ep.bridge)));
                    }
                    if ep.tunnel().is_ok_and(|t| t.overlaps(&tunnel)) {
                        return Err(ApiError::param("address", format!("overlaps the tunnel of '{}'", ep.bridge)));
                    }
                }
                let (private_key, public_key) = keypair().map_err(net_error)?;
                let ep = VpnEndpoint {
                    bridge: bridge.clone(),
                    ifname,
                    listen_port: port,
                    address: tunnel.to_string(),
                    private_key,
                    public_key,
                    peers: Vec::new(),
                };
                let mut next = prev.clone();
                next.endpoints.push(ep.clone());
                commit(&env, &prev, &next, None).await?;
                Ok(endpoint_json(&ep))
            }),
        ApiMethod::new(HttpMethod::Delete, "/nodes/{node}/network/{iface}/vpn", "delete_vpn")
            .description("Remove the WireGuard endpoint of a bridge (oxve extension).")
            .parameters(path_params())
            .returns(Schema::Null)
            .permission(MODIFY)
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let bridge = params.req_str("iface");
                let net = &env.state.network;
                let _guard = net.lock().await;
                let prev = net.load_vpn().map_err(net_error)?;
                let ep = prev
                    .endpoint(bridge)
                    .cloned()
                    .ok_or_else(|| ApiError::param("iface", format!("'{bridge}' has no VPN endpoint")))?;
                let mut next = prev.clone();
                next.endpoints.retain(|e| e.bridge != bridge);
                commit(&env, &prev, &next, Some(&ep.ifname)).await?;
                Ok(Value::Null)
            }),
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/network/{iface}/vpn/peers", "list_vpn_peers")
            .description("List the peers of a WireGuard endpoint (oxve extension).")
            .parameters(path_params())
            .returns(Schema::array("", Schema::object("").additional_properties(true)))
            .permission(AUDIT)
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let cfg = env.state.network.load_vpn().map_err(net_error)?;
                let peers = cfg
                    .endpoint(params.req_str("iface"))
                    .map(|e| e.peers.iter().map(peer_json).collect::<Vec<_>>())
                    .unwrap_or_default();
                Ok(json!(peers))
            }),
        ApiMethod::new(HttpMethod::Post, "/nodes/{node}/network/{iface}/vpn/peers", "create_vpn_peer")
            .description("Add a peer; returns its WireGuard config with its private key, shown only this once (oxve extension).")
            .parameters(
                path_params()
                    .required("name", Schema::string("Peer name.").format(PEER_NAME))
                    .required(
                        "endpoint-host",
                        Schema::string("Host name or address the peer uses to reach this node.").max_length(253),
                    ),
            )
            .returns(Schema::object("").additional_properties(true))
            .permission(MODIFY)
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let bridge = params.req_str("iface").to_string();
                let name = params.req_str("name").to_string();
                let host = params.req_str("endpoint-host").to_string();
                if host.chars().any(|c| c.is_whitespace() || c == '/') {
                    return Err(ApiError::param("endpoint-host", "not a host name or address"));
                }
                let net = &env.state.network;
                let _guard = net.lock().await;
                let subnet = oxve_net::nat_sync::nat_bridges(&net.read_active().map_err(net_error)?)
                    .into_iter()
                    .find(|n| n.bridge == bridge)
                    .map(|n| n.cidr)
                    .ok_or_else(|| ApiError::param("iface", format!("'{bridge}' is not an applied NAT bridge")))?;
                let prev = net.load_vpn().map_err(net_error)?;
                let mut next = prev.clone();
                let ep = next
                    .endpoint_mut(&bridge)
                    .ok_or_else(|| ApiError::param("iface", format!("'{bridge}' has no VPN endpoint")))?;
                if ep.peers.iter().any(|p| p.name == name) {
                    return Err(ApiError::param("name", format!("peer '{name}' already exists")));
                }
                let address = ep.free_address().map_err(net_error)?;
                let (private_key, public_key) = keypair().map_err(net_error)?;
                let peer = VpnPeer { name, public_key, address };
                ep.peers.push(peer.clone());
                let config = ep.peer_config(&peer, &private_key, &host, &subnet).map_err(net_error)?;
                commit(&env, &prev, &next, None).await?;
                let mut out = peer_json(&peer);
                out["config"] = json!(config);
                Ok(out)
            }),
        ApiMethod::new(HttpMethod::Delete, "/nodes/{node}/network/{iface}/vpn/peers/{name}", "delete_vpn_peer")
            .description("Remove a peer (oxve extension).")
            .parameters(path_params().required("name", Schema::string("Peer name.").format(PEER_NAME)))
            .returns(Schema::Null)
            .permission(MODIFY)
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let bridge = params.req_str("iface");
                let name = params.req_str("name");
                let net = &env.state.network;
                let _guard = net.lock().await;
                let prev = net.load_vpn().map_err(net_error)?;
                let mut next = prev.clone();
                let ep = next
                    .endpoint_mut(bridge)
                    .ok_or_else(|| ApiError::param("iface", format!("'{bridge}' has no VPN endpoint")))?;
                let before = ep.peers.len();
                ep.peers.retain(|p| p.name != name);
                if ep.peers.len() == before {
                    return Err(ApiError::param("name", "no such peer"));
                }
                // `wg setconf` replaces the device's whole peer list: the peer loses access
                commit(&env, &prev, &next, None).await?;
                Ok(Value::Null)
            }),
    ]
}
