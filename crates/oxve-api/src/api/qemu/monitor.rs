//! `.../monitor` (HMP passthrough), `.../sendkey`, and `.../showcmd` (oxve extension: the QEMU
//! command line `start` would run, as `qm showcmd` prints it).

use std::sync::Arc;

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_types::schema::Schema;
use serde_json::json;

use super::store_io::load;
use super::vmid_param;
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;
use crate::storage_service::StorageResolver;

/// HMP commands that only read (Proxmox: no privilege beyond the method's own).
const READ_ONLY: &[&str] = &["?", "help", "info"];

/// HMP commands that need `Sys.Modify` on the VM; every other command is root-only.
const NEED_SYS_MODIFY: &[&str] = &[
    "announce_self",
    "backup_cancel",
    "balloon",
    "block_job_cancel",
    "block_job_complete",
    "block_job_pause",
    "block_job_resume",
    "block_job_set_speed",
    "block_resize",
    "block_set_io_throttle",
    "boot_set",
    "c",
    "calc_dirty_rate",
    "cancel_vcpu_dirty_limit",
    "chardev-send-break",
    "closefd",
    "commit",
    "cont",
    "cpu",
    "delvm",
    "eject",
    "exit_preconfig",
    "expire_password",
    "getfd",
    "gpa2hpa",
    "gpa2hva",
    "gva2gpa",
    "i",
    "loadvm",
    "log",
    "migrate_cancel",
    "migrate_continue",
    "migrate_pause",
    "migrate_set_capability",
    "migrate_set_parameter",
    "migrate_start_postcopy",
    "mouse_button",
    "mouse_move",
    "mouse_set",
    "one-insn-per-tb",
    "p",
    "print",
    "q",
    "qemu-io",
    "qom-get",
    "qom-list",
    "quit",
    "replay_break",
    "replay_delete_break",
    "replay_seek",
    "ringbuf_read",
    "ringbuf_write",
    "s",
    "savevm",
    "sendkey",
    "set_link",
    "set_password",
    "set_vcpu_dirty_limit",
    "snapshot_blkdev_internal",
    "snapshot_delete_blkdev_internal",
    "stop",
    "stopcapture",
    "sum",
    "sync-profile",
    "system_powerdown",
    "system_reset",
    "system_wakeup",
    "trace-event",
    "x",
    "x_colo_lost_heartbeat",
    "xp",
];

/// What a monitor command needs beyond the method's permission.
#[derive(Debug, PartialEq, Eq)]
enum MonitorNeeds {
    Nothing,
    SysModify,
    Root,
}

fn monitor_needs(command: &str) -> MonitorNeeds {
    let word = command.split_whitespace().next().unwrap_or("");
    if READ_ONLY.contains(&word) {
        MonitorNeeds::Nothing
    } else if NEED_SYS_MODIFY.contains(&word) {
        MonitorNeeds::SysModify
    } else {
        MonitorNeeds::Root
    }
}

fn vm_params() -> oxve_types::schema::ObjectSchema {
    Schema::object("")
        .required("node", node_param())
        .required("vmid", vmid_param())
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(
            HttpMethod::Post,
            "/nodes/{node}/qemu/{vmid}/monitor",
            "monitor",
        )
        .description("Execute QEMU monitor commands.")
        .parameters(vm_params().required("command", Schema::string("The monitor command.")))
        .returns(Schema::string(""))
        .permission(Permission::Privs {
            path: "/vms/{vmid}",
            privs: &["Sys.Audit", "Sys.Modify"],
            any: true,
        })
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let vmid = params.int("vmid").unwrap_or_default() as u32;
            let command = params.req_str("command").to_string();
            let path = format!("/vms/{vmid}");
            match monitor_needs(&command) {
                MonitorNeeds::Nothing => {}
                MonitorNeeds::SysModify => {
                    if !env.has_privs(&path, &["Sys.Modify"], false).await {
                        return Err(ApiError::permission_check_failed(&path, "Sys.Modify"));
                    }
                }
                MonitorNeeds::Root => {
                    if !env.caller()?.user().is_root() {
                        return Err(ApiError::forbidden(format!(
                            "Permission check failed - monitor command '{}' is root-only",
                            command.split_whitespace().next().unwrap_or("")
                        )));
                    }
                }
            }
            load(&env, vmid).await?;
            let qmp = env
                .state
                .qemu
                .qmp(vmid)
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?;
            let out = qmp
                .human_monitor_command(&command)
                .await
                .map_err(|e| ApiError::internal(format!("VM {vmid} qmp command failed - {e}")))?;
            Ok(json!(out))
        }),
        ApiMethod::new(
            HttpMethod::Put,
            "/nodes/{node}/qemu/{vmid}/sendkey",
            "vm_sendkey",
        )
        .description("Send key event to virtual machine.")
        .parameters(
            vm_params()
                .required("key", Schema::string("The key (qemu monitor encoding)."))
                .optional(
                    "skiplock",
                    Schema::boolean("Ignore locks - only root is allowed to use this option."),
                ),
        )
        .returns(Schema::Null)
        .permission(Permission::Privs {
            path: "/vms/{vmid}",
            privs: &["VM.Console"],
            any: false,
        })
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let vmid = params.int("vmid").unwrap_or_default() as u32;
            let vm = load(&env, vmid).await?;
            if let Some(lock) = vm.config.lock() {
                if !params.bool_or("skiplock", false) {
                    return Err(ApiError::internal(format!("VM {vmid} is locked ({lock})")));
                }
            }
            let key = params.req_str("key");
            let codes: Vec<&str> = key.split('-').collect();
            if codes.iter().any(|c| c.is_empty()) {
                return Err(ApiError::param("key", format!("invalid key '{key}'")));
            }
            let qmp = env
                .state
                .qemu
                .qmp(vmid)
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?;
            qmp.send_qcodes(&codes)
                .await
                .map_err(|e| ApiError::param("key", format!("invalid key '{key}' - {e}")))?;
            Ok(serde_json::Value::Null)
        }),
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/qemu/{vmid}/showcmd",
            "vm_showcmd",
        )
        .description(
            "The QEMU command line a start would run now (oxve extension, like `qm showcmd`).",
        )
        .parameters(vm_params().optional(
            "pretty",
            Schema::boolean("One option per line.").default(false),
        ))
        .returns(Schema::string(""))
        .permission(Permission::Root)
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let vmid = params.int("vmid").unwrap_or_default() as u32;
            let vm = load(&env, vmid).await?;
            let manager = env
                .state
                .storage
                .manager(env.state.store.as_ref())
                .await
                .map_err(|e| ApiError::internal(e.message))?;
            let resolver = StorageResolver(Arc::clone(&manager));
            let cmd = env
                .state
                .qemu
                .command_line(vmid, &vm.config.current, &resolver)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            let binary = env.state.qemu.options().qemu_binary.display().to_string();
            let line = cmd.to_shell(&binary);
            Ok(json!(if params.bool_or("pretty", false) {
                line.replace(" -", " \\\n  -")
            } else {
                line
            }))
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_command_classes() {
        assert_eq!(monitor_needs("info status"), MonitorNeeds::Nothing);
        assert_eq!(monitor_needs("  help"), MonitorNeeds::Nothing);
        assert_eq!(monitor_needs("stop"), MonitorNeeds::SysModify);
        assert_eq!(
            monitor_needs("sendkey ctrl-alt-delete"),
            MonitorNeeds::SysModify
        );
        assert_eq!(monitor_needs("device_add e1000"), MonitorNeeds::Root);
        assert_eq!(monitor_needs("made_up_command"), MonitorNeeds::Root);
    }
}
