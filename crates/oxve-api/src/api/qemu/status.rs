//! .../qemu/{vmid}/status: current status, and start/stop/shutdown/reboot/reset/suspend/resume
//! as worker tasks (Proxmox's qmstart, qmstop, ...). The engine runs QEMU; this only checks
//! config state (locks, templates) and permissions.

use std::sync::Arc;
use std::time::Duration;

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_types::schema::{ObjectSchema, Schema};
use serde_json::{json, Value};

use super::create::upid_schema;
use super::hibernate;
use super::store_io::load;
use super::vmid_param;
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;
use crate::storage_service::StorageResolver;

fn qemu_error(e: oxve_qemu::QemuError) -> String {
    e.to_string()
}

#[derive(Clone, Copy)]
enum Action {
    Start,
    Stop,
    Shutdown,
    Reboot,
    Reset,
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
            Action::Reset => "reset",
            Action::Suspend => "suspend",
            Action::Resume => "resume",
        }
    }

    /// Proxmox's worker type.
    fn task_type(self) -> &'static str {
        match self {
            Action::Start => "qmstart",
            Action::Stop => "qmstop",
            Action::Shutdown => "qmshutdown",
            Action::Reboot => "qmreboot",
            Action::Reset => "qmreset",
            Action::Suspend => "qmpause",
            Action::Resume => "qmresume",
        }
    }

    fn parameters(self) -> ObjectSchema {
        let base = Schema::object("")
            .required("node", node_param())
            .required("vmid", vmid_param())
            .optional("skiplock", Schema::boolean("Ignore locks (root only)."));
        match self {
            Action::Start => base
                .optional(
                    "timeout",
                    Schema::integer("Wait maximal timeout seconds.")
                        .minimum(0)
                        .maximum(86400),
                )
                .optional(
                    "machine",
                    Schema::string("The QEMU machine type.").max_length(64),
                ),
            Action::Stop => base
                .optional(
                    "timeout",
                    Schema::integer("Wait maximal timeout seconds.").minimum(0),
                )
                .optional(
                    "keepActive",
                    Schema::boolean("Do not deactivate storage volumes."),
                )
                .optional(
                    "overrule-shutdown",
                    Schema::boolean("Try to abort active 'qmshutdown' tasks before stopping."),
                ),
            Action::Shutdown => base
                .optional(
                    "timeout",
                    Schema::integer("Wait maximal timeout seconds.").minimum(0),
                )
                .optional(
                    "forceStop",
                    Schema::boolean("Make sure the VM stops.").default(false),
                )
                .optional(
                    "keepActive",
                    Schema::boolean("Do not deactivate storage volumes."),
                ),
            Action::Reboot => base.optional(
                "timeout",
                Schema::integer("Wait maximal timeout seconds for the shutdown.").minimum(0),
            ),
            Action::Suspend => base
                .optional(
                    "todisk",
                    Schema::boolean(
                        "If set, suspends the VM to disk. Will be resumed on next VM start.",
                    )
                    .default(false),
                )
                .optional(
                    "statestorage",
                    Schema::string("The storage for the VM state.")
                        .format(oxve_types::format::STORAGE_ID),
                ),
            Action::Resume => base.optional("nocheck", Schema::boolean("Ignored.")),
            Action::Reset => base,
        }
    }
}

async fn run_action(
    env: RpcEnv,
    params: oxve_types::params::Params,
    action: Action,
) -> Result<Value, ApiError> {
    local_node(&env, params.req_str("node"))?;
    let vmid = params.int("vmid").unwrap_or_default() as u32;
    let vm = load(&env, vmid).await?;
    let hibernated = hibernate::is_suspended_to_disk(&vm);
    if !params.bool_or("skiplock", false) {
        if let Some(lock) = vm.config.lock() {
            let wakes = matches!(action, Action::Resume | Action::Start) && lock == "suspended";
            if !wakes {
                return Err(ApiError::internal(format!("VM {vmid} is locked ({lock})")));
            }
        }
    }
    if matches!(action, Action::Start) && vm.config.template() {
        return Err(ApiError::internal(format!(
            "VM {vmid} is a template and cannot be started"
        )));
    }
    let todisk = matches!(action, Action::Suspend) && params.bool_or("todisk", false);
    let statestorage = params.str("statestorage").map(str::to_string);
    let running = env.state.qemu.is_running(vmid).is_some();
    match action {
        Action::Start if running => {
            return Err(ApiError::internal(format!("VM {vmid} already running")))
        }
        Action::Resume if !running && hibernated => {}
        Action::Reset | Action::Suspend | Action::Resume | Action::Reboot if !running => {
            return Err(ApiError::internal(format!("VM {vmid} not running")))
        }
        _ => {}
    }
    let wake_from_disk = matches!(action, Action::Start | Action::Resume) && hibernated && !running;
    let task_type = if todisk {
        "qmsuspend"
    } else {
        action.task_type()
    };
    let timeout = params.int("timeout").map(|t| Duration::from_secs(t as u64));
    let force_stop = params.bool_or("forceStop", false);
    let settings = vm.config.current.clone();
    let task_env = env.clone();
    let upid = env
        .state
        .tasks
        .spawn(
            task_type,
            Some(&vmid.to_string()),
            &env.caller_string(),
            move |ctx| async move {
                let env = task_env;
                let log = ctx.clone();
                if wake_from_disk {
                    return hibernate::resume_from_disk(&env, vmid, move |m| log.log(m)).await;
                }
                if todisk {
                    return hibernate::suspend_to_disk(
                        &env,
                        vmid,
                        statestorage.as_deref(),
                        move |m| log.log(m),
                    )
                    .await;
                }
                let engine = &env.state.qemu;
                match action {
                    Action::Start => return start_vm(&env, vmid, &settings, |m| ctx.log(m)).await,
                    Action::Reboot => {
                        let manager = env
                            .state
                            .storage
                            .manager(env.state.store.as_ref())
                            .await
                            .map_err(|e| e.message)?;
                        let report = engine
                            .reboot(
                                vmid,
                                &settings,
                                &StorageResolver(manager),
                                timeout.unwrap_or(Duration::from_secs(600)),
                            )
                            .await
                            .map_err(qemu_error)?;
                        ctx.log(format!(
                            "VM {vmid} started with pid {} ({:?})",
                            report.pid, report.accel
                        ));
                        for note in report.notes.iter().chain(&report.qemu_warnings) {
                            ctx.log(note.clone());
                        }
                    }
                    Action::Stop => engine
                        .stop(vmid, timeout.unwrap_or(Duration::from_secs(10)))
                        .await
                        .map_err(qemu_error)?,
                    // With `agent: 1` through the guest agent, as Proxmox.
                    Action::Shutdown => engine
                        .shutdown_via(
                            vmid,
                            timeout.unwrap_or(Duration::from_secs(600)),
                            force_stop,
                            settings.agent_enabled(),
                        )
                        .await
                        .map_err(qemu_error)?,
                    Action::Reset => engine.reset(vmid).await.map_err(qemu_error)?,
                    Action::Suspend => engine.suspend(vmid).await.map_err(qemu_error)?,
                    Action::Resume => engine.resume(vmid).await.map_err(qemu_error)?,
                }
                Ok::<(), String>(())
            },
        )
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(json!(upid.to_string()))
}

/// Starts VM `vmid` with `settings`, logging how it went (the `qmstart` task, and each VM of
/// `startall`).
pub(crate) async fn start_vm(
    env: &RpcEnv,
    vmid: u32,
    settings: &oxve_types::qemu::VmSettings,
    log: impl Fn(String),
) -> Result<(), String> {
    let manager = env
        .state
        .storage
        .manager(env.state.store.as_ref())
        .await
        .map_err(|e| e.message)?;
    let resolver = StorageResolver(Arc::clone(&manager));
    let report = env
        .state
        .qemu
        .start(
            vmid,
            settings,
            &resolver,
            oxve_qemu::StartOptions::default(),
        )
        .await
        .map_err(qemu_error)?;
    log(format!(
        "VM {vmid} started with pid {} ({:?})",
        report.pid, report.accel
    ));
    for note in report.notes.iter().chain(&report.qemu_warnings) {
        log(note.clone());
    }
    Ok(())
}

fn action_method(action: Action) -> ApiMethod<RpcEnv> {
    let path: &'static str = Box::leak(
        format!("/nodes/{{node}}/qemu/{{vmid}}/status/{}", action.name()).into_boxed_str(),
    );
    let name: &'static str = Box::leak(format!("vm_{}", action.name()).into_boxed_str());
    ApiMethod::new(HttpMethod::Post, path, name)
        .description(match action {
            Action::Start => "Start virtual machine.",
            Action::Stop => "Stop virtual machine (hard stop, like pulling the plug).",
            Action::Shutdown => {
                "Shutdown virtual machine (ACPI power button; forceStop stops it if it does not)."
            }
            Action::Reboot => "Reboot the VM by shutting it down and starting it again.",
            Action::Reset => "Reset virtual machine.",
            Action::Suspend => "Suspend (pause) virtual machine.",
            Action::Resume => "Resume virtual machine.",
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
            "/nodes/{node}/qemu/{vmid}/status/current",
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
            let vm = load(&env, vmid).await?;
            let status = env
                .state
                .qemu
                .status(vmid, &vm.config.current)
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?;
            let mut out =
                serde_json::to_value(&status).map_err(|e| ApiError::internal(e.to_string()))?;
            if let Some(lock) = vm.config.lock() {
                out["lock"] = json!(lock);
            }
            if vm.config.template() {
                out["template"] = json!(1);
            }
            if vm.config.agent_enabled() {
                out["agent"] = json!(1);
            }
            if let Some(tags) = vm.config.current.get("tags") {
                out["tags"] = json!(tags);
            }
            Ok(out)
        }),
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/qemu/{vmid}/status",
            "vmcmdidx",
        )
        .description("Directory index of VM status commands.")
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
                "current", "start", "stop", "shutdown", "reboot", "reset", "suspend", "resume",
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
        Action::Reset,
        Action::Suspend,
        Action::Resume,
    ] {
        all.push(action_method(action));
    }
    all
}
