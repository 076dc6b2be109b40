//! PUT /nodes/{node}/network applies the pending configuration in a task (Proxmox's
//! `srvreload` of `networking`); DELETE drops the pending changes.

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_types::schema::Schema;
use serde_json::{json, Value};

use super::net_error;
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

const MODIFY: Permission = Permission::Privs {
    path: "/nodes/{node}",
    privs: &["Sys.Modify"],
    any: false,
};

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(
            HttpMethod::Put,
            "/nodes/{node}/network",
            "reload_network_config",
        )
        .description("Reload network configuration")
        .parameters(
            Schema::object("").required("node", node_param()).optional(
                "regenerate-frr",
                Schema::boolean("Whether FRR config generation should get skipped or not.")
                    .default(false),
            ),
        )
        .returns(Schema::string("The task's UPID."))
        .permission(MODIFY)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let task_env = env.clone();
            // a change must not cut off the client that asked for it
            let client = env.client;
            let upid = env
                .state
                .tasks
                .spawn(
                    "srvreload",
                    Some("networking"),
                    &env.caller_string(),
                    move |ctx| async move {
                        let net = &task_env.state.network;
                        let _guard = net.lock().await;
                        let report = net
                            .reload(client)
                            .await
                            .map_err(|e| net_error(e).to_string())?;
                        for line in &report.log {
                            ctx.log(line.clone());
                        }
                        if report.log.is_empty() {
                            ctx.log("nothing to change");
                        }
                        super::sync_nat(&task_env.state, Some(&ctx))
                            .await
                            .map_err(|e| e.to_string())?;
                        for line in net.sync_vpn().await.map_err(|e| e.to_string())? {
                            ctx.log(line);
                        }
                        // the host firewall follows the node's networks, NAT bridges, VPN ports
                        let _fw = net.firewall_lock().await;
                        crate::api::firewall::sync_firewall(&task_env.state).await?;
                        Ok::<(), String>(())
                    },
                )
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(json!(upid.to_string()))
        }),
        ApiMethod::new(
            HttpMethod::Delete,
            "/nodes/{node}/network",
            "revert_network_changes",
        )
        .description("Revert network configuration changes.")
        .parameters(Schema::object("").required("node", node_param()))
        .returns(Schema::Null)
        .permission(MODIFY)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let net = &env.state.network;
            let _guard = net.lock().await;
            net.revert().map_err(net_error)?;
            Ok(Value::Null)
        }),
    ]
}
