//! Consoles: `vncproxy` and `termproxy` prepare a session (a port, a one-time ticket and a
//! task that lives as long as the connection), `vncwebsocket` connects to it. The websocket
//! itself is bridged in `http::websocket`; this declares the methods and checks their input.

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_types::params::Params;
use oxve_types::schema::{ObjectSchema, Schema};
use serde_json::{json, Value};

use super::store_io::load;
use super::vmid_param;
use crate::api::common::{local_node, node_param};
use crate::consoles::{ConsoleTarget, CONNECT_TIMEOUT};
use crate::env::RpcEnv;

pub(crate) const CONSOLE_PERMISSION: Permission = Permission::Privs {
    path: "/vms/{vmid}",
    privs: &["VM.Console"],
    any: false,
};

pub(crate) fn base_params() -> ObjectSchema {
    Schema::object("")
        .required("node", node_param())
        .required("vmid", vmid_param())
}

/// The `serialN` index of a termproxy request.
fn serial_index(params: &Params) -> Result<u32, ApiError> {
    let serial = params.str("serial").ok_or_else(|| {
        ApiError::param(
            "serial",
            "oxve has no monitor terminal: pass serial0-3 (use .../monitor for HMP)",
        )
    })?;
    serial
        .strip_prefix("serial")
        .and_then(|i| i.parse().ok())
        .ok_or_else(|| ApiError::param("serial", "value must be serial0 - serial3"))
}

/// Checks the VM and its console, opens a session and starts its task.
async fn open_session(
    env: &RpcEnv,
    params: &Params,
    target: ConsoleTarget,
    task_type: &'static str,
) -> Result<(u16, String, String), ApiError> {
    local_node(env, params.req_str("node"))?;
    let vmid = params.int("vmid").unwrap_or_default() as u32;
    let vm = load(env, vmid).await?;
    let engine = &env.state.qemu;
    if engine.is_running(vmid).is_none() {
        return Err(ApiError::internal(format!("VM {vmid} not running")));
    }
    match target {
        ConsoleTarget::Vnc => engine.vnc_socket(vmid),
        ConsoleTarget::Serial(index) => {
            if !vm.config.current.serials().iter().any(|(i, _)| *i == index) {
                return Err(ApiError::param(
                    "serial",
                    format!("VM {vmid}: serial{index} is not configured"),
                ));
            }
            engine.serial_socket(vmid, index)
        }
        ConsoleTarget::Container(_) => return Err(ApiError::internal("not a VM console")),
    }
    .map_err(|e| ApiError::internal(e.to_string()))?;
    spawn_session(env, vmid, target, task_type)
}

/// Opens a console session of guest `vmid` and starts its task (`vncproxy`, `termproxy`),
/// which lives until the websocket closes or nobody connects in time. Returns the port,
/// the ticket and the task's UPID.
pub(crate) fn spawn_session(
    env: &RpcEnv,
    vmid: u32,
    target: ConsoleTarget,
    task_type: &'static str,
) -> Result<(u16, String, String), ApiError> {
    let user = env.caller()?.user().to_string();
    let (port, ticket, watch) = env
        .state
        .consoles
        .open(vmid, target, &user)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let state = env.state.clone();
    let session_ticket = ticket.clone();
    let upid = env
        .state
        .tasks
        .spawn(
            task_type,
            Some(&vmid.to_string()),
            &env.caller_string(),
            move |ctx| async move {
                ctx.log(format!("waiting for a websocket connection on port {port}"));
                match tokio::time::timeout(CONNECT_TIMEOUT, watch.claimed).await {
                    Ok(Ok(())) => {}
                    _ => {
                        state.consoles.expire(port, &session_ticket);
                        return Err("connection timed out".to_string());
                    }
                }
                ctx.log("connected");
                let end = watch
                    .closed
                    .await
                    .unwrap_or_else(|_| "connection closed".to_string());
                ctx.log(end);
                Ok(())
            },
        )
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((port, ticket, upid.to_string()))
}

pub(crate) fn cert_pem(env: &RpcEnv) -> String {
    std::fs::read_to_string(env.state.data_dir.join("pki/node.pem")).unwrap_or_default()
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(
            HttpMethod::Post,
            "/nodes/{node}/qemu/{vmid}/vncproxy",
            "vncproxy",
        )
        .description("Creates a TCP VNC proxy connections.")
        .parameters(
            base_params()
                .optional(
                    "websocket",
                    Schema::boolean("Prepare for websocket upgrade (always possible)."),
                )
                .optional(
                    "generate-password",
                    Schema::boolean("Deprecated, do not use.").default(false),
                ),
        )
        .returns(Schema::object("").additional_properties(true))
        .permission(CONSOLE_PERMISSION)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            let (port, ticket, upid) =
                open_session(&env, &params, ConsoleTarget::Vnc, "vncproxy").await?;
            Ok(json!({
                "port": port,
                "ticket": ticket,
                "user": env.caller()?.user().to_string(),
                "cert": cert_pem(&env),
                "upid": upid,
            }))
        }),
        ApiMethod::new(
            HttpMethod::Post,
            "/nodes/{node}/qemu/{vmid}/termproxy",
            "termproxy",
        )
        .description("Creates a TCP proxy connections (serial terminal).")
        .parameters(
            base_params().optional(
                "serial",
                Schema::string("opens a serial terminal")
                    .enum_values(&["serial0", "serial1", "serial2", "serial3"]),
            ),
        )
        .returns(Schema::object("").additional_properties(true))
        .permission(CONSOLE_PERMISSION)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            let index = serial_index(&params)?;
            let (port, ticket, upid) =
                open_session(&env, &params, ConsoleTarget::Serial(index), "termproxy").await?;
            Ok(json!({
                "port": port,
                "ticket": ticket,
                "user": env.caller()?.user().to_string(),
                "upid": upid,
            }))
        }),
        vncwebsocket_method("/nodes/{node}/qemu/{vmid}/vncwebsocket"),
    ]
}

/// `GET <path>`: the websocket of a console session (VMs and containers).
pub(crate) fn vncwebsocket_method(path: &'static str) -> ApiMethod<RpcEnv> {
    ApiMethod::new(HttpMethod::Get, path, "vncwebsocket")
        .description("Opens a weksocket for VNC traffic (upgrade the request to a websocket).")
        .parameters(
            base_params()
                .required(
                    "port",
                    Schema::integer("Port number returned by previous vncproxy call.")
                        .minimum(5900)
                        .maximum(5999),
                )
                .required(
                    "vncticket",
                    Schema::string("Ticket from previous call to vncproxy.").max_length(512),
                ),
        )
        .returns(Schema::object("").additional_properties(true))
        .permission(CONSOLE_PERMISSION)
        .handler(|env: RpcEnv, params| async move { check_websocket(&env, &params) })
}

/// The `vncwebsocket` check: the session of `port` exists for this guest with this ticket.
fn check_websocket(env: &RpcEnv, params: &Params) -> Result<Value, ApiError> {
    local_node(env, params.req_str("node"))?;
    let vmid = params.int("vmid").unwrap_or_default() as u32;
    let port = params.int("port").unwrap_or_default() as u16;
    let ticket = params.req_str("vncticket");
    if !env.state.consoles.is_valid(port, vmid, ticket) {
        return Err(ApiError::forbidden("permission denied - invalid vncticket"));
    }
    Ok(json!({ "port": port.to_string() }))
}
