//! GET /nodes/{node}/qemu and the per-VM directory index.

use oxve_router::{ApiMethod, HttpMethod, Permission, PermissionChecker};
use oxve_store::GuestKind;
use oxve_types::schema::Schema;
use serde_json::json;

use super::vmid_param;
use crate::api::cluster::guest_summaries;
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/qemu", "vmlist")
            .description("Virtual machine index (per node): the VMs the caller may audit.")
            .parameters(Schema::object("").required("node", node_param()).optional(
                "full",
                Schema::boolean("Determine the full status of active VMs."),
            ))
            .returns(Schema::array(
                "",
                Schema::object("").additional_properties(true),
            ))
            .permission(Permission::Custom("VMs with VM.Audit"))
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let perms = env.permissions().await?;
                let list: Vec<_> = guest_summaries(&env)
                    .await?
                    .iter()
                    .filter(|g| g.guest.kind == GuestKind::Qemu && g.guest.node == env.state.node)
                    .filter(|g| {
                        perms.has_privs(&format!("/vms/{}", g.guest.vmid), &["VM.Audit"], false)
                    })
                    .map(|g| {
                        let mut e = g.resource_entry_live(&env.state.qemu);
                        if let Some(obj) = e.as_object_mut() {
                            obj.remove("id");
                            obj.remove("type");
                            obj.remove("node");
                            obj.insert("cpus".into(), json!(g.maxcpu));
                        }
                        e
                    })
                    .collect();
                Ok(json!(list))
            }),
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/qemu/{vmid}", "vmdiridx")
            .description("Directory index of one VM.")
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
                    "config",
                    "pending",
                    "status",
                    "unlink",
                    "vncproxy",
                    "termproxy",
                    "migrate",
                    "resize",
                    "move",
                    "rrd",
                    "rrddata",
                    "monitor",
                    "agent",
                    "snapshot",
                    "spiceproxy",
                    "sendkey",
                    "firewall",
                ];
                Ok(json!(names
                    .iter()
                    .map(|n| json!({"subdir": n}))
                    .collect::<Vec<_>>()))
            }),
    ]
}
