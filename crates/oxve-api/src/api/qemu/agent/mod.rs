//! `/nodes/{node}/qemu/{vmid}/agent`: the QEMU guest agent, as Proxmox's API exposes it.
//!
//! Each simple command is `GET` or `POST .../agent/<name>` running `guest-<name>` and returning
//! `{"result": <the agent's answer>}`; `POST .../agent` runs one by name. `exec`/`exec-status`,
//! `file-read`/`file-write` and `set-user-password` are in [`guest_io`].

pub(crate) mod fsfreeze;
mod guest_io;

use oxve_qemu::AgentError;
use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_types::schema::{ObjectSchema, Schema};
use serde_json::{json, Value};

use super::store_io::load;
use super::vmid_param;
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

/// Who may run a simple command (the privileges of its path in Proxmox's schema, any of).
#[derive(Clone, Copy)]
enum Needs {
    Audit,
    FsStatus,
    FsMgmt,
    Power,
}

impl Needs {
    fn privs(self) -> &'static [&'static str] {
        match self {
            Needs::Audit => &["VM.GuestAgent.Audit", "VM.GuestAgent.Unrestricted"],
            Needs::FsStatus => &[
                "VM.GuestAgent.Audit",
                "VM.GuestAgent.FileSystemMgmt",
                "VM.GuestAgent.Unrestricted",
            ],
            Needs::FsMgmt => &["VM.GuestAgent.FileSystemMgmt", "VM.GuestAgent.Unrestricted"],
            Needs::Power => &["VM.PowerMgmt", "VM.GuestAgent.Unrestricted"],
        }
    }
}

/// `(API name, path, HTTP method, privileges)` of one simple command.
macro_rules! cmd {
    ($name:literal, $method:ident, $needs:ident) => {
        (
            $name,
            concat!("/nodes/{node}/qemu/{vmid}/agent/", $name),
            HttpMethod::$method,
            Needs::$needs,
        )
    };
}

/// The simple commands.
const COMMANDS: &[(&str, &str, HttpMethod, Needs)] = &[
    cmd!("fsfreeze-freeze", Post, FsMgmt),
    cmd!("fsfreeze-status", Post, FsStatus),
    cmd!("fsfreeze-thaw", Post, FsMgmt),
    cmd!("fstrim", Post, FsMgmt),
    cmd!("get-fsinfo", Get, Audit),
    cmd!("get-host-name", Get, Audit),
    cmd!("get-memory-block-info", Get, Audit),
    cmd!("get-memory-blocks", Get, Audit),
    cmd!("get-osinfo", Get, Audit),
    cmd!("get-time", Get, Audit),
    cmd!("get-timezone", Get, Audit),
    cmd!("get-users", Get, Audit),
    cmd!("get-vcpus", Get, Audit),
    cmd!("info", Get, Audit),
    cmd!("network-get-interfaces", Get, Audit),
    cmd!("ping", Post, Audit),
    cmd!("shutdown", Post, Power),
    cmd!("suspend-disk", Post, Power),
    cmd!("suspend-hybrid", Post, Power),
    cmd!("suspend-ram", Post, Power),
];

/// The names of [`COMMANDS`] (the `command` of `POST .../agent`).
const COMMAND_NAMES: &[&str] = &[
    "fsfreeze-freeze",
    "fsfreeze-status",
    "fsfreeze-thaw",
    "fstrim",
    "get-fsinfo",
    "get-host-name",
    "get-memory-block-info",
    "get-memory-blocks",
    "get-osinfo",
    "get-time",
    "get-timezone",
    "get-users",
    "get-vcpus",
    "info",
    "network-get-interfaces",
    "ping",
    "shutdown",
    "suspend-disk",
    "suspend-hybrid",
    "suspend-ram",
];

/// The endpoints under `.../agent` that are not simple commands (for the index).
const OTHER_ENDPOINTS: &[&str] = &[
    "exec",
    "exec-status",
    "file-read",
    "file-write",
    "set-user-password",
];

fn vm_params() -> ObjectSchema {
    Schema::object("")
        .required("node", node_param())
        .required("vmid", vmid_param())
}

fn result_schema() -> Schema {
    Schema::object("Returns an object with a single `result` property.")
        .additional_properties(true)
        .into()
}

/// Checks what Proxmox checks before any agent command (configured, VM running) and runs
/// `guest-<command>`.
pub(crate) async fn agent_cmd(
    env: &RpcEnv,
    vmid: u32,
    command: &str,
    args: Option<Value>,
) -> Result<Value, ApiError> {
    let vm = load(env, vmid).await?;
    if !vm.config.current.agent_enabled() {
        return Err(ApiError::internal("No QEMU guest agent configured"));
    }
    env.state
        .qemu
        .agent_command(vmid, &format!("guest-{command}"), args)
        .await
        .map_err(agent_error)
}

pub(crate) fn agent_error(e: AgentError) -> ApiError {
    ApiError::internal(e.to_string())
}

fn vmid_of(env: &RpcEnv, params: &oxve_types::params::Params) -> Result<u32, ApiError> {
    local_node(env, params.req_str("node"))?;
    Ok(params.int("vmid").unwrap_or_default() as u32)
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    let mut all = vec![
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/qemu/{vmid}/agent",
            "agent_index",
        )
        .description("QEMU Guest Agent command index.")
        .parameters(vm_params())
        .returns(Schema::array(
            "Returns the list of QEMU Guest Agent commands",
            Schema::object("").additional_properties(true),
        ))
        .permission(Permission::Anybody)
        .handler(|env: RpcEnv, params| async move {
            vmid_of(&env, &params)?;
            let mut names = COMMAND_NAMES.to_vec();
            names.extend_from_slice(OTHER_ENDPOINTS);
            names.sort_unstable();
            Ok(Value::Array(
                names.into_iter().map(|n| json!({ "name": n })).collect(),
            ))
        }),
        ApiMethod::new(HttpMethod::Post, "/nodes/{node}/qemu/{vmid}/agent", "agent")
            .description("Execute QEMU Guest Agent commands.")
            .parameters(vm_params().required(
                "command",
                Schema::string("The QGA command.").enum_values(COMMAND_NAMES),
            ))
            .returns(result_schema())
            .permission(Permission::Privs {
                path: "/vms/{vmid}",
                privs: &["VM.GuestAgent.Unrestricted"],
                any: true,
            })
            .protected()
            .handler(|env: RpcEnv, params| async move {
                let vmid = vmid_of(&env, &params)?;
                let result = agent_cmd(&env, vmid, params.req_str("command"), None).await?;
                Ok(json!({ "result": result }))
            }),
    ];
    for &(name, path, method, needs) in COMMANDS {
        all.push(
            ApiMethod::new(method, path, name)
                .description("Execute a QEMU Guest Agent command.")
                .parameters(vm_params())
                .returns(result_schema())
                .permission(Permission::Privs {
                    path: "/vms/{vmid}",
                    privs: needs.privs(),
                    any: true,
                })
                .protected()
                .handler(move |env: RpcEnv, params| async move {
                    let vmid = vmid_of(&env, &params)?;
                    let result = agent_cmd(&env, vmid, name, None).await?;
                    Ok(json!({ "result": result }))
                }),
        );
    }
    all.extend(guest_io::methods());
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_names_match_the_table() {
        let names: Vec<&str> = COMMANDS.iter().map(|c| c.0).collect();
        assert_eq!(names, COMMAND_NAMES);
        assert!(COMMANDS.iter().all(|c| c.1.ends_with(c.0)));
    }
}
