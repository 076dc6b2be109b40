//! PUT /nodes/{node}/network applies the pending configuration in a task (Proxmox's
//! `srvreload` of `networking`); DELETE drops the pending changes.

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_types::schema::Schema;
use serde_json::{json, Value};
use std::time::Duration;

use super::net_error;
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;
use crate::state::AppState;

pub(super) const MODIFY: Permission = Permission::Privs {
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
            Schema::object("")
                .required("node", node_param())
                .optional(
                    "regenerate-frr",
                    Schema::boolean("Whether FRR config generation should get skipped or not.")
                        .default(false),
                )
                .optional(
                    "rollback-timeout",
                    Schema::integer(
                        "oxve extension: apply with a rollback window of this many seconds. \
                         The change is applied even if it cuts off this API client; unless \
                         confirmed in time (POST /nodes/{node}/network/confirm), the \
                         previous configuration is restored and the change is pending again.",
                    )
                    .minimum(1)
                    .maximum(3600),
                ),
        )
        .returns(Schema::string("The task's UPID."))
        .permission(MODIFY)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let task_env = env.clone();
            // a change must not cut off the client that asked for it, unless it may roll back
            let client = env.client;
            let window = params
                .int("rollback-timeout")
                .map(|s| Duration::from_secs(s as u64));
            let upid = env
                .state
                .tasks
                .spawn(
                    "srvreload",
                    Some("networking"),
                    &env.caller_string(),
                    move |ctx| async move {
                        let state = &task_env.state;
                        let net = &state.network;
                        let guard = net.lock().await;
                        let (report, deadline) = match window {
                            Some(w) => {
                                let (r, d) = net
                                    .reload_with_rollback(w)
                                    .await
                                    .map_err(|e| net_error(e).to_string())?;
                                (r, Some(d))
                            }
                            None => (
                                net.reload(client)
                                    .await
                                    .map_err(|e| net_error(e).to_string())?,
                                None,
                            ),
                        };
                        for line in &report.log {
                            ctx.log(line.clone());
                        }
                        if report.log.is_empty() {
                            ctx.log("nothing to change");
                        }
                        follow_up(state, Some(&ctx)).await?;
                        drop(guard);
                        if let (Some(deadline), Some(w)) = (deadline, window) {
                            ctx.log(format!(
                                "confirm within {} s (POST /nodes/{}/network/confirm), or the \
                                 previous configuration comes back",
                                w.as_secs(),
                                state.node
                            ));
                            super::confirm::arm(task_env.state.clone(), deadline);
                        }
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

/// After the applied configuration changed: NAT, DHCP, forwards, VPN and the host firewall
/// (which follows the node's networks) brought in line. Call with the network lock held.
pub(super) async fn follow_up(
    state: &AppState,
    ctx: Option<&oxve_tasks::TaskContext>,
) -> Result<(), String> {
    super::sync_nat(state, ctx)
        .await
        .map_err(|e| e.to_string())?;
    for line in state.network.sync_vpn().await.map_err(|e| e.to_string())? {
        match ctx {
            Some(ctx) => ctx.log(line),
            None => tracing::info!("network: {line}"),
        }
    }
    let _fw = state.network.firewall_lock().await;
    crate::api::firewall::sync_firewall(state).await
}
