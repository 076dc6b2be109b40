//! GET /nodes/{node}/lxc and the per-container directory index.

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
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/lxc", "vmlist")
            .description("LXC container index (per node): the containers the caller may audit.")
            .parameters(Schema::object("").required("node", node_param()))
            .returns(Schema::array(
                "",
                Schema::object("").additional_properties(true),
            ))
            .permission(Permission::Custom("containers with VM.Audit"))
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let perms = env.permissions().await?;
                let mut list = Vec::new();
                for g in guest_summaries(&env).await?.iter() {
                    if g.guest.kind != GuestKind::Lxc || g.guest.node != env.state.node {
                        continue;
                    }
                    if !perms.has_privs(&format!("/vms/{}", g.guest.vmid), &["VM.Audit"], false) {
                        continue;
                    }
                    let mut e = g.resource_entry();
                    g.mark_lxc_running(&mut e, &env.state.lxc);
                    // running containers report their usage, as in Proxmox
                    if e["status"] == "running" {
                        if let Ok(ct) = super::store_io::load(&env, g.guest.vmid).await {
                            let st = env.state.lxc.status(g.guest.vmid, &ct.config).await;
                            if let (Some(obj), Ok(serde_json::Value::Object(live))) =
                                (e.as_object_mut(), serde_json::to_value(&st))
                            {
                                for key in [
                                    "cpu",
                                    "mem",
                                    "maxmem",
                                    "swap",
                                    "maxswap",
                                    "disk",
                                    "maxdisk",
                                    "netin",
                                    "netout",
                                    "diskread",
                                    "diskwrite",
                                    "uptime",
                                    "pid",
                                    "status",
                                ] {
                                    if let Some(v) = live.get(key) {
                                        obj.insert(key.into(), v.clone());
                                    }
                                }
                            }
                        }
                    }
                    if let Some(obj) = e.as_object_mut() {
                        obj.remove("id");
                        obj.remove("node");
                        obj.insert("cpus".into(), json!(g.maxcpu));
                        obj.entry("maxswap").or_insert(json!(0));
                    }
                    list.push(e);
                }
                Ok(json!(list))
            }),
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/lxc/{vmid}", "vmdiridx")
            .description("Directory index of one container.")
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
                    "vncproxy",
                    "termproxy",
                    "vncwebsocket",
                    "spiceproxy",
                    "migrate",
                    "clone",
                    "snapshot",
                    "resize",
                    "move_volume",
                    "firewall",
                    "rrd",
                    "rrddata",
                    "feature",
                    "template",
                    "interfaces",
                ];
                Ok(json!(names
                    .iter()
                    .map(|n| json!({"subdir": n}))
                    .collect::<Vec<_>>()))
            }),
    ]
}
