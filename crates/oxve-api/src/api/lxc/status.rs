//! .../lxc/{vmid}/status: current status, and start/stop/shutdown/reboot/suspend/resume as
//! worker tasks (Proxmox's vzstart, vzstop, ...). The engine runs LXC; this checks config
//! state (locks, templates) and permissions, and applies pending changes before a start.

use std::time::Duration;

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_storage::VolumeId;
use oxve_types::schema::{ObjectSchema, Schema};
use serde_json::{json, Value};

use super::store_io::{load, save};
use super::{upid_schema, vmid_param, volumes};
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

#[derive(Clone, Copy)]
enum Action {
    Start,
    Stop,
    Shutdown,
    Reboot,
    Suspend,
    Resume,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Shutdown => "shutdown",
            Action::Reboot => "reboot",
            Action::Suspend => "suspend",
            Action::Resume => "resume",
        }
    }

    /// Proxmox's worker type.
    fn task_type(self) -> &'static str {
        match self {
            Action::Start => "vzstart",
            Action::Stop => "vzstop",
            Action::Shutdown => "vzshutdown",
            Action::Reboot => "vzreboot",
            Action::Suspend => "vzsuspend",
            Action::Resume => "vzresume",
        }
    }

    fn parameters(self) -> ObjectSchema {
        let base = Schema::object("")
            .required("node", node_param())
            .required("vmid", vmid_param());
        let skiplock =
            || Schema::boolean("Ignore locks - only root is allowed to use this option.");
        match self {
            Action::Start => base.optional("skiplock", skiplock()).optional(
                "debug",
                Schema::boolean("If set, enables very verbose debug log-level on start.")
                    .default(false),
            ),
            Action::Stop => base.optional("skiplock", skiplock()).optional(
                "overrule-shutdown",
                Schema::boolean("Try to abort active 'vzshutdown' tasks before stopping.")
                    .default(false),
            ),
            Action::Shutdown => base
                .optional(
                    "timeout",
                    Schema::integer("Wait maximal timeout seconds.")
                        .minimum(0)
                        .default(60),
                )
                .optional(
                    "forceStop",
                    Schema::boolean("Make sure the Container stops.").default(false),
                ),
            Action::Reboot => base.optional(
                "timeout",
                Schema::integer("Wait maximal timeout seconds for the shutdown.").minimum(0),
            ),
            Action::Suspend | Action::Resume => base,
        }
    }
}

fn lxc_error(e: oxve_lxc::LxcError) -> String {
    e.to_string()
}

/// Apply pending changes and start the container (also used by create with `start=1`).
pub async fn start_now(
    env: &RpcEnv,
    vmid: u32,
    ctx: &oxve_tasks::TaskContext,
) -> Result<(), String> {
    let mut ct = load(env, vmid).await.map_err(|e| e.message)?;
    if !ct.config.pending.is_empty() {
        let changes = ct.config.apply_pending(|_| true);
        save(env.state.store.as_ref(), &ct)
            .await
            .map_err(|e| e.message)?;
        let ids: Vec<VolumeId> = changes
            .to_free
            .iter()
            .filter_map(|v| VolumeId::parse(v).ok())
            .collect();
        let log_ctx = ctx.clone();
        volumes::free_volumes(env, ids, move |m| log_ctx.log(m)).await;
    }
    let resolver = volumes::resolver(env).await.map_err(|e| e.message)?;
    let report = env
        .state
        .lxc
        .start(vmid, &ct.config, &resolver)
        .await
        .map_err(lxc_error)?;
    // rate limits, DHCP address and firewall of the veths, as a VM's taps get them
    if let Err(e) = crate::api::network::ct_nics_plugged(&env.state, vmid, &ct.config).await {
        let _ = env.state.lxc.stop(vmid, Duration::from_secs(10)).await;
        return Err(format!("CT {vmid}: cannot wire its network: {e}"));
    }
    ctx.log(format!("CT {vmid} started (init pid {})", report.pid));
    Ok(())
}

async fn run_action(
    env: RpcEnv,
    params: oxve_types::params::Params,
    action: Action,
) -> Result<Value, ApiError> {
    local_node(&env, params.req_str("node"))?;
    let vmid = params.int("vmid").unwrap_or_default() as u32;
    let ct = load(&env, vmid).await?;
    let skiplock = params.bool_or("skiplock", false) && {
        use oxve_router::PermissionChecker;
        env.permissions().await?.is_root()
    };
    if !skiplock {
        if let Some(lock) = ct.config.lock() {
            return Err(ApiError::internal(format!("CT {vmid} is locked ({lock})")));
        }
    }
    if matches!(action, Action::Start) && ct.config.template() {
        return Err(ApiError::internal(format!(
            "CT {vmid} is a template and cannot be started"
        )));
    }
    let running = env.state.lxc.is_running(vmid).is_some();
    match action {
        Action::Start if running => {
            return Err(ApiError::internal(format!("CT {vmid} already running")))
        }
        Action::Shutdown | Action::Reboot | Action::Suspend | Action::Resume if !running => {
            return Err(ApiError::internal(format!("CT {vmid} not running")))
        }
        _ => {}
    }
    let timeout = params.int("timeout").map(|t| Duration::from_secs(t as u64));
    let force_stop = params.bool_or("forceStop", false);
    let debug = params.bool_or("debug", false);
    let task_env = env.clone();
    let upid = env
        .state
        .tasks
        .spawn(
            action.task_type(),
            Some(&vmid.to_string()),
            &env.caller_string(),
            move |ctx| async move {
                let env = task_env;
                let engine = &env.state.lxc;
                match action {
                    Action::Start => {
                        if debug {
                            ctx.log("debug log level requested");
                        }
                        start_now(&env, vmid, &ctx).await?
                    }
                    Action::Stop => engine
                        .stop(vmid, Duration::from_secs(30))
                        .await
                        .map_err(lxc_error)?,
                    Action::Shutdown => engine
                        .shutdown(vmid, timeout.unwrap_or(Duration::from_secs(60)), force_stop)
                        .await
                        .map_err(lxc_error)?,
                    Action::Reboot => {
                        engine
                            .shutdown(vmid, timeout.unwrap_or(Duration::from_secs(60)), true)
                            .await
                            .map_err(lxc_error)?;
                        start_now(&env, vmid, &ctx).await?
                    }
                    Action::Suspend => engine.suspend(vmid).await.map_err(lxc_error)?,
                    Action::Resume => engine.resume(vmid).await.map_err(lxc_error)?,
                }
                Ok::<(), String>(())
            },
        )
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(json!(upid.to_string()))
}

fn action_method(action: Action) -> ApiMethod<RpcEnv> {
    let path: &'static str = Box::leak(
        format!("/nodes/{{node}}/lxc/{{vmid}}/status/{}", action.name()).into_boxed_str(),
    );
    let name: &'static str = Box::leak(format!("vm_{}", action.name()).into_boxed_str());
    ApiMethod::new(HttpMethod::Post, path, name)
        .description(match action {
            Action::Start => "Start the container.",
            Action::Stop => "Stop the container. This will abruptly stop all processes running in the container.",
            Action::Shutdown => "Shutdown the container. This will trigger a clean shutdown of the container.",
            Action::Reboot => "Reboot the container by shutting it down, and starting it again. Applies pending changes.",
            Action::Suspend => "Suspend the container (freeze its processes).",
            Action::Resume => "Resume the container.",
        })
        .parameters(action.parameters())
        .returns(upid_schema())
        .permission(Permission::Privs {
            path: "/vms/{vmid}",
            privs: &["VM.PowerMgmt"],
            any: false,
        })
        .protected()
        .handler(move |env: RpcEnv, params| run_action(env, params, action))
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    let mut all = vec![
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/lxc/{vmid}/status/current",
            "vm_status",
        )
        .description("Get virtual machine status.")
        .parameters(
            Schema::object("")
                .required("node", node_param())
                .required("vmid", vmid_param()),
        )
        .returns(Schema::object("").additional_properties(true))
        .permission(Permission::Privs {
            path: "/vms/{vmid}",
            privs: &["VM.Audit"],
            any: false,
        })
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let vmid = params.int("vmid").unwrap_or_default() as u32;
            let ct = load(&env, vmid).await?;
            let status = env.state.lxc.status(vmid, &ct.config).await;
            let mut out =
                serde_json::to_value(&status).map_err(|e| ApiError::internal(e.to_string()))?;
            out["ha"] = json!({"managed": 0});
            if let Some(lock) = ct.config.lock() {
                out["lock"] = json!(lock);
            }
            if let Some(tags) = ct.config.get("tags") {
                out["tags"] = json!(tags);
            }
            if ct.config.template() {
                out["template"] = json!(1);
            }
            Ok(out)
        }),
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/lxc/{vmid}/interfaces", "ip")
            .description("Get IP addresses of the specified container interface.")
            .parameters(
                Schema::object("")
                    .required("node", node_param())
                    .required("vmid", vmid_param()),
            )
            .returns(Schema::array(
                "",
                Schema::object("").additional_properties(true),
            ))
            .permission(Permission::Privs {
                path: "/vms/{vmid}",
                privs: &["VM.Audit"],
                any: false,
            })
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let vmid = params.int("vmid").unwrap_or_default() as u32;
                load(&env, vmid).await?;
                let list = env
                    .state
                    .lxc
                    .interfaces(vmid)
                    .await
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                Ok(json!(list))
            }),
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/lxc/{vmid}/status",
            "vmcmdidx",
        )
        .description("Directory index")
        .parameters(
            Schema::object("")
                .required("node", node_param())
                .required("vmid", vmid_param()),
        )
        .returns(Schema::array(
            "",
            Schema::object("").additional_properties(true),
        ))
        .permission(Permission::Anybody)
        .handler(|_env: RpcEnv, _| async move {
            let names = [
                "current", "start", "stop", "shutdown", "reboot", "suspend", "resume",
            ];
            Ok(json!(names
                .iter()
                .map(|n| json!({"subdir": n}))
                .collect::<Vec<_>>()))
        }),
    ];
    for action in [
        Action::Start,
        Action::Stop,
        Action::Shutdown,
        Action::Reboot,
        Action::Suspend,
        Action::Resume,
    ] {
        all.push(action_method(action));
    }
    all
}
