//! Methods that exist only when the daemon runs with `--test-hooks`: a worker task that
//! sleeps, so integration tests can exercise task listing, logs and abort through the real
//! task machinery before the engines provide long-running operations of their own.

use std::time::Duration;

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_types::schema::Schema;
use serde_json::json;

use super::common::{local_node, node_param};
use crate::env::RpcEnv;

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![ApiMethod::new(
        HttpMethod::Post,
        "/nodes/{node}/oxve-test/sleep",
        "test_sleep",
    )
    .description("TEST ONLY: run a worker task that logs once a tick for `seconds`.")
    .parameters(
        Schema::object("")
            .required("node", node_param())
            .required(
                "seconds",
                Schema::integer("How long to run.").minimum(0).maximum(3600),
            )
            .optional(
                "fail",
                Schema::string("End with this error instead of OK.").max_length(200),
            )
            .optional(
                "warn",
                Schema::integer("Log this many warnings.")
                    .minimum(0)
                    .maximum(100),
            ),
    )
    .returns(Schema::string("The task's UPID."))
    .permission(Permission::Privs {
        path: "/nodes/{node}",
        privs: &["Sys.Modify"],
        any: false,
    })
    .handler(|env: RpcEnv, params| async move {
        local_node(&env, params.req_str("node"))?;
        let ticks = params.int_or("seconds", 0) * 10;
        let fail = params.str("fail").map(str::to_string);
        let warnings = params.int_or("warn", 0);
        let upid = env
            .state
            .tasks
            .spawn(
                "testsleep",
                None,
                &env.caller_string(),
                move |ctx| async move {
                    ctx.log("starting test sleep");
                    for i in 0..warnings {
                        ctx.warn(format!("test warning {i}"));
                    }
                    for i in 0..ticks {
                        if i % 10 == 0 {
                            ctx.log(format!("tick {}", i / 10));
                        }
                        tokio::select! {
                            _ = ctx.aborted() => return Err("aborted".to_string()),
                            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                        }
                    }
                    match fail {
                        Some(msg) => Err(msg),
                        None => Ok(()),
                    }
                },
            )
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(json!(upid.to_string()))
    })]
}
