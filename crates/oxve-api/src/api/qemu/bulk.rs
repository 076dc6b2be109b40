//! `POST /nodes/{node}/startall` and `/stopall`: the node's guests, VMs and containers alike,
//! started in `startup` order (`onboot` ones, or all with `force`), waiting each one's `up`
//! delay, and stopped in the reverse order with their `down` timeout, as Proxmox's pve-guests
//! service does at boot and shutdown. The daemon runs `startall` itself on its first start
//! after the host booted.

use std::time::Duration;

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_store::GuestKind;
use oxve_tasks::TaskContext;
use oxve_types::params::Params;
use oxve_types::qemu::Startup;
use oxve_types::schema::Schema;
use serde_json::json;

use super::status::start_vm;
use super::store_io::load;
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

/// One guest with its startup settings.
struct Planned {
    vmid: u32,
    kind: GuestKind,
    startup: Startup,
    onboot: bool,
}

impl Planned {
    fn label(&self) -> String {
        match self.kind {
            GuestKind::Lxc => format!("CT {}", self.vmid),
            _ => format!("VM {}", self.vmid),
        }
    }

    fn running(&self, env: &RpcEnv) -> bool {
        match self.kind {
            GuestKind::Lxc => env.state.lxc.is_running(self.vmid).is_some(),
            _ => env.state.qemu.is_running(self.vmid).is_some(),
        }
    }
}

/// Start order: guests with an `order` first, ascending, then the rest; VMID breaks ties.
fn start_order(guests: &mut [Planned]) {
    guests.sort_by_key(|g| (g.startup.order.unwrap_or(u64::MAX), g.vmid));
}

fn vms_filter(params: &Params) -> Option<Vec<u32>> {
    params.str("vms").map(|list| {
        list.split([',', ';', ' '])
            .filter_map(|v| v.trim().parse().ok())
            .collect()
    })
}

/// VM.PowerMgmt on `/`, or on each VM of `vms`.
async fn check_power_permission(env: &RpcEnv, vms: Option<&[u32]>) -> Result<(), ApiError> {
    match vms {
        Some(vms) => {
            for vmid in vms {
                let path = format!("/vms/{vmid}");
                if !env.has_privs(&path, &["VM.PowerMgmt"], false).await {
                    return Err(ApiError::permission_check_failed(&path, "VM.PowerMgmt"));
                }
            }
            Ok(())
        }
        None if env.has_privs("/", &["VM.PowerMgmt"], false).await => Ok(()),
        None => Err(ApiError::permission_check_failed("/", "VM.PowerMgmt")),
    }
}

/// The guests of this node (limited to `vms`), with their startup settings.
async fn planned_guests(env: &RpcEnv, vms: Option<&[u32]>) -> Result<Vec<Planned>, ApiError> {
    let guests = env
        .state
        .store
        .guests()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut out = Vec::new();
    for guest in guests {
        if guest.node != env.state.node || vms.is_some_and(|v| !v.contains(&guest.vmid)) {
            continue;
        }
        let planned = match guest.kind {
            GuestKind::Qemu => match load(env, guest.vmid).await {
                Ok(vm) if !vm.config.template() => Planned {
                    vmid: guest.vmid,
                    kind: guest.kind,
                    startup: vm.config.current.startup(),
                    onboot: vm.config.current.onboot(),
                },
                _ => continue,
            },
            GuestKind::Lxc => match crate::api::lxc::store_io::load(env, guest.vmid).await {
                Ok(ct) if !ct.config.template() => Planned {
                    vmid: guest.vmid,
                    kind: guest.kind,
                    startup: ct.config.startup(),
                    onboot: ct.config.onboot(),
                },
                _ => continue,
            },
        };
        out.push(planned);
    }
    start_order(&mut out);
    Ok(out)
}

/// Starts one guest of `startall`.
async fn start_guest(env: &RpcEnv, g: &Planned, ctx: &TaskContext) -> Result<(), String> {
    match g.kind {
        GuestKind::Lxc => crate::api::lxc::status::start_now(env, g.vmid, ctx).await,
        _ => {
            let vm = load(env, g.vmid).await.map_err(|e| e.message)?;
            if let Some(lock) = vm.config.lock() {
                return Err(format!("locked ({lock})"));
            }
            start_vm(env, g.vmid, &vm.config.current, |m| ctx.log(m)).await
        }
    }
}

/// Whether any guest of this node has `onboot` set (a boot-time `startall` has work).
pub async fn has_onboot_guests(env: &RpcEnv) -> bool {
    planned_guests(env, None)
        .await
        .is_ok_and(|guests| guests.iter().any(|g| g.onboot))
}

/// Starts the guests `startall` would start, logging into the task. Used by the API task and
/// by the daemon after a host boot.
pub async fn start_all(
    env: &RpcEnv,
    force: bool,
    vms: Option<&[u32]>,
    ctx: &TaskContext,
) -> Result<(), String> {
    let guests = planned_guests(env, vms).await.map_err(|e| e.message)?;
    let mut failed = Vec::new();
    for g in guests.iter().filter(|g| force || g.onboot) {
        if g.running(env) {
            continue;
        }
        ctx.log(format!("Starting {}", g.label()));
        match start_guest(env, g, ctx).await {
            Ok(()) => {
                if let Some(up) = g.startup.up.filter(|u| *u > 0) {
                    ctx.log(format!("Waiting for {up} seconds (startup delay)"));
                    tokio::time::sleep(Duration::from_secs(up)).await;
                }
            }
            Err(e) => {
                failed.push(g.vmid);
                ctx.log(format!("Starting {} failed: {e}", g.label()));
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("could not start guests {failed:?}"))
    }
}

async fn stop_all(
    env: &RpcEnv,
    vms: Option<&[u32]>,
    timeout: Option<u64>,
    force_stop: bool,
    log: impl Fn(String),
) -> Result<(), String> {
    let mut guests = planned_guests(env, vms).await.map_err(|e| e.message)?;
    guests.reverse();
    let mut failed = Vec::new();
    for g in guests {
        if !g.running(env) {
            continue;
        }
        let wait = Duration::from_secs(timeout.or(g.startup.down).unwrap_or(180));
        log(format!(
            "Stopping {} (timeout = {} seconds)",
            g.label(),
            wait.as_secs()
        ));
        let result = match g.kind {
            GuestKind::Lxc => env
                .state
                .lxc
                .shutdown(g.vmid, wait, force_stop)
                .await
                .map_err(|e| e.to_string()),
            _ => {
                // Through the guest agent where the VM has one, as a single shutdown does.
                let agent = super::store_io::load(env, g.vmid)
                    .await
                    .is_ok_and(|vm| vm.config.current.agent_enabled());
                env.state
                    .qemu
                    .shutdown_via(g.vmid, wait, force_stop, agent)
                    .await
                    .map_err(|e| e.to_string())
            }
        };
        if let Err(e) = result {
            failed.push(g.vmid);
            log(format!("Stopping {} failed: {e}", g.label()));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("could not stop guests {failed:?}"))
    }
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Post, "/nodes/{node}/startall", "startall")
            .description("Start all VMs and containers located on this node (by default only those with onboot=1).")
            .parameters(
                Schema::object("")
                    .required("node", node_param())
                    .optional(
                        "force",
                        Schema::boolean("Issue start command even if virtual guest have 'onboot' not set or set to off.")
                            .default(false),
                    )
                    .optional(
                        "vms",
                        Schema::string("Only consider guests from this comma separated list of VMIDs.")
                            .format(oxve_types::format::VMID_LIST),
                    )
                    .optional(
                        "max-workers",
                        Schema::integer("Defines the maximum number of tasks running concurrently.")
                            .minimum(1)
                            .maximum(64),
                    ),
            )
            .returns(Schema::string(""))
            .permission(Permission::Custom(
                "VM.PowerMgmt on / or on /vms/<ID> for each ID passed via 'vms'",
            ))
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let vms = vms_filter(&params);
                check_power_permission(&env, vms.as_deref()).await?;
                let force = params.bool_or("force", false);
                let task_env = env.clone();
                let upid = env
                    .state
                    .tasks
                    .spawn("startall", None, &env.caller_string(), move |ctx| async move {
                        start_all(&task_env, force, vms.as_deref(), &ctx).await
                    })
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                Ok(json!(upid.to_string()))
            }),
        ApiMethod::new(HttpMethod::Post, "/nodes/{node}/stopall", "stopall")
            .description("Stop all VMs and containers, in reverse startup order.")
            .parameters(
                Schema::object("")
                    .required("node", node_param())
                    .optional(
                        "vms",
                        Schema::string("Only consider Guests with these IDs.")
                            .format(oxve_types::format::VMID_LIST),
                    )
                    .optional(
                        "timeout",
                        Schema::integer("Timeout for each guest shutdown task.")
                            .minimum(0)
                            .maximum(7200),
                    )
                    .optional(
                        "force-stop",
                        Schema::boolean("Force a hard-stop after the timeout.").default(true),
                    )
                    .optional(
                        "max-workers",
                        Schema::integer("Defines the maximum number of tasks running concurrently.")
                            .minimum(1)
                            .maximum(64),
                    ),
            )
            .returns(Schema::string(""))
            .permission(Permission::Custom(
                "VM.PowerMgmt on / or on /vms/<ID> for each ID passed via 'vms'",
            ))
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let vms = vms_filter(&params);
                check_power_permission(&env, vms.as_deref()).await?;
                let timeout = params.int("timeout").map(|t| t as u64);
                let force_stop = params.bool_or("force-stop", true);
                let task_env = env.clone();
                let upid = env
                    .state
                    .tasks
                    .spawn("stopall", None, &env.caller_string(), move |ctx| async move {
                        stop_all(&task_env, vms.as_deref(), timeout, force_stop, move |m| {
                            ctx.log(m)
                        })
                        .await
                    })
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                Ok(json!(upid.to_string()))
            }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_order() {
        let p = |vmid, order| Planned {
            vmid,
            kind: GuestKind::Qemu,
            startup: Startup {
                order,
                up: None,
                down: None,
            },
            onboot: true,
        };
        let mut guests = vec![p(100, None), p(101, Some(2)), p(102, Some(1)), p(99, None)];
        start_order(&mut guests);
        let order: Vec<u32> = guests.iter().map(|g| g.vmid).collect();
        assert_eq!(order, [102, 101, 99, 100]);
    }
}
