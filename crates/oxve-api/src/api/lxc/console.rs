//! A container's console: `termproxy` prepares a session (port, one-time ticket, a task that
//! lives as long as the connection) and `vncwebsocket` connects to it, as for VMs. The
//! websocket runs the console command of the container's `cmode` on a terminal (Proxmox's
//! `lxc-console`, or `lxc-attach` for `cmode: shell`).

use oxve_router::{ApiError, ApiMethod, HttpMethod};
use oxve_types::schema::Schema;
use serde_json::json;

use super::store_io::load;
use crate::api::common::local_node;
use crate::api::qemu::console::{
    base_params, spawn_session, vncwebsocket_method, CONSOLE_PERMISSION,
};
use crate::consoles::{ConsoleTarget, CtConsoleMode};
use crate::env::RpcEnv;

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
        vncwebsocket_method("/nodes/{node}/lxc/{vmid}/vncwebsocket"),
    ]
}
