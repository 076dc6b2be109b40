//! A container's console: `termproxy` prepares a session (port, one-time ticket, a task that
//! lives as long as the connection) and `vncwebsocket` connects to it, as for VMs. The
//! websocket runs the console command of the container's `cmode` on a terminal (Proxmox's
//! `lxc-console`, or `lxc-attach` for `cmode: shell`).

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_types::schema::{ObjectSchema, Schema};
use serde_json::json;

use super::store_io::load;
use super::vmid_param;
use crate::api::common::{local_node, node_param};
use crate::api::qemu::console::{check_websocket, spawn_session};
use crate::consoles::{ConsoleTarget, CtConsoleMode};
use crate::env::RpcEnv;

const CONSOLE_PERMISSION: Permission = Permission::Privs {
    path: "/vms/{vmid}",
    privs: &["VM.Console"],
    any: false,
};

fn base_params() -> ObjectSchema {
    Schema::object("")
        .required("node", node_param())
        .required("vmid", vmid_param())
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(
            HttpMethod::Post,
            "/nodes/{node}/lxc/{vmid}/termproxy",
            "termproxy",
        )
        .description("Creates a TCP proxy connection (the container's console).")
        .parameters(base_params())
        .returns(Schema::object("").additional_properties(true))
        .permission(CONSOLE_PERMISSION)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let vmid = params.int("vmid").unwrap_or_default() as u32;
            let ct = load(&env, vmid).await?;
            if env.state.lxc.is_running(vmid).is_none() {
                return Err(ApiError::internal(format!("CT {vmid} not running")));
            }
            let mode = CtConsoleMode::parse(ct.config.get("cmode").unwrap_or("tty"));
            if mode != CtConsoleMode::Shell && !ct.config.console() {
                return Err(ApiError::internal(format!(
                    "CT {vmid} has no console (console: 0); set cmode to shell"
                )));
            }
            let (port, ticket, upid) =
                spawn_session(&env, vmid, ConsoleTarget::Container(mode), "termproxy")?;
            Ok(json!({
                "port": port,
                "ticket": ticket,
                "user": env.caller()?.user().to_string(),
                "upid": upid,
            }))
        }),
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/lxc/{vmid}/vncwebsocket",
            "vncwebsocket",
        )
        .description("Opens a websocket for the console (upgrade the request to a websocket).")
        .parameters(
            base_params()
                .required(
                    "port",
                    Schema::integer("Port number returned by previous termproxy call.")
                        .minimum(5900)
                        .maximum(5999),
                )
                .required(
                    "vncticket",
                    Schema::string("Ticket from previous call to termproxy.").max_length(512),
                ),
        )
        .returns(Schema::object("").additional_properties(true))
        .permission(CONSOLE_PERMISSION)
        .handler(|env: RpcEnv, params| async move { check_websocket(&env, &params) }),
    ]
}
