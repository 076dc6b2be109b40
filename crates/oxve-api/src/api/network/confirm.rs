//! /nodes/{node}/network/confirm (an oxve extension): keep a network change applied with a
//! rollback window (`PUT /nodes/{node}/network` with `rollback-timeout`), or see whether one
//! awaits confirmation. Unconfirmed changes are rolled back by a timer armed here.

use std::sync::Arc;

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_types::schema::Schema;
use serde_json::{json, Value};

use super::net_error;
use super::reload::{follow_up, MODIFY};
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;
use crate::state::AppState;

const AUDIT: Permission = Permission::Privs {
    path: "/nodes/{node}",
    privs: &["Sys.Audit"],
    any: false,
};

/// Roll the change with `deadline` back when it comes, unless confirmed by then.
pub(super) fn arm(state: Arc<AppState>, deadline: u64) {
    tokio::spawn(async move {
        let remaining = match state.network.awaiting_confirmation() {
            Ok(Some(w)) if w.deadline == deadline => w.remaining(),
            _ => return,
        };
        tokio::time::sleep(remaining).await;
        let _guard = state.network.lock().await;
        match state.network.roll_back(Some(deadline)).await {
            Ok(Some(log)) => {
                for line in log {
                    tracing::warn!("network: {line}");
                }
                if let Err(e) = follow_up(&state, None).await {
                    tracing::warn!("after the network rollback: {e}");
                }
            }
            Ok(None) => {} // confirmed in time
            Err(e) => tracing::error!("rolling back an unconfirmed network change failed: {e}"),
        }
    });
}

/// At daemon start: a change still awaiting confirmation keeps its deadline.
pub(super) fn resume(state: Arc<AppState>) {
    match state.network.awaiting_confirmation() {
        Ok(Some(w)) => arm(state, w.deadline),
        Ok(None) => {}
        Err(e) => tracing::warn!("cannot read the network rollback state: {e}"),
    }
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/network/confirm",
            "network_confirmation",
        )
        .description(
            "oxve extension: the network change awaiting confirmation, if any (its rollback \
             deadline as Unix time, and the seconds left).",
        )
        .parameters(Schema::object("").required("node", node_param()))
        .returns(Schema::object("").additional_properties(true))
        .permission(AUDIT)
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            Ok(match env.state.network.awaiting_confirmation() {
                Ok(Some(w)) => json!({
                    "awaiting": 1,
                    "deadline": w.deadline,
                    "remaining": w.remaining().as_secs(),
                }),
                Ok(None) => json!({ "awaiting": 0 }),
                Err(e) => return Err(net_error(e)),
            })
        }),
        ApiMethod::new(
            HttpMethod::Post,
            "/nodes/{node}/network/confirm",
            "confirm_network_change",
        )
        .description(
            "oxve extension: keep the network change applied with a rollback window \
             (rollback-timeout), so it is not rolled back.",
        )
        .parameters(Schema::object("").required("node", node_param()))
        .returns(Schema::Null)
        .permission(MODIFY)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let net = &env.state.network;
            let _guard = net.lock().await;
            if !net.confirm().map_err(net_error)? {
                return Err(ApiError::bad_request(
                    "no network change awaits confirmation",
                ));
            }
            Ok(Value::Null)
        }),
    ]
}
