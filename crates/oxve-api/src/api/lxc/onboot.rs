//! Containers with `onboot: 1` start when the node boots, as Proxmox's `startall` does:
//! the first daemon start after a host boot (the kernel's boot id differs from the one
//! recorded in the data dir) starts them in `startup` order (then by VMID), waiting each
//! one's `up` delay, in one `startall` task. Later daemon restarts start nothing.

use std::sync::Arc;
use std::time::Duration;

use oxve_auth::Authid;
use oxve_store::GuestKind;

use super::status::start_now;
use super::store_io::load;
use crate::env::RpcEnv;
use crate::state::AppState;

const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";
const RECORD: &str = "lxc-boot-id";

/// Start the onboot containers if this is the first daemon start of this host boot.
pub async fn autostart(state: Arc<AppState>) {
    let boot_id = std::fs::read_to_string(BOOT_ID).unwrap_or_default();
    let record = state.data_dir.join(RECORD);
    if std::fs::read_to_string(&record).ok() == Some(boot_id.clone()) {
        return;
    }
    if let Err(e) = std::fs::write(&record, &boot_id) {
        tracing::warn!("cannot record the boot id in {}: {e}", record.display());
    }
    let env = RpcEnv {
        state: Arc::clone(&state),
        auth_id: Some(Authid::root()),
        client: None,
        upload: None,
    };
    let Ok(guests) = state.store.guests().await else {
        return;
    };
    let mut wanted = Vec::new();
    for g in guests {
        if g.kind != GuestKind::Lxc || g.node != state.node {
            continue;
        }
        if let Ok(ct) = load(&env, g.vmid).await {
            if ct.config.onboot() && !ct.config.template() && ct.config.lock().is_none() {
                let startup = ct.config.startup();
                wanted.push((startup.order.unwrap_or(u64::MAX), g.vmid, startup.up));
            }
        }
    }
    if wanted.is_empty() {
        return;
    }
    wanted.sort();
    let task_env = env.clone();
    let spawned = state
        .tasks
        .spawn("startall", None, "root@pam", move |ctx| async move {
            let env = task_env;
            let mut failed = 0;
            for (_, vmid, up) in wanted {
                if env.state.lxc.is_running(vmid).is_some() {
                    continue;
                }
                ctx.log(format!("Starting CT {vmid}"));
                match start_now(&env, vmid, &ctx).await {
                    Ok(()) => {
                        if let Some(secs) = up {
                            ctx.log(format!("Waiting for {secs} seconds (startup delay)"));
                            tokio::time::sleep(Duration::from_secs(secs)).await;
                        }
                    }
                    Err(e) => {
                        failed += 1;
                        ctx.log(format!("Starting CT {vmid} failed: {e}"));
                    }
                }
            }
            if failed == 0 {
                Ok(())
            } else {
                Err(format!("{failed} container(s) failed to start"))
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the onboot containers: {e}");
    }
}
