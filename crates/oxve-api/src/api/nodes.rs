//! GET /nodes and GET /nodes/{node}/status.

use oxve_host as host;
use oxve_router::{ApiMethod, HttpMethod, Permission};
use oxve_types::schema::Schema;
use serde_json::{json, Value};

use super::common::{local_node, node_param};
use crate::env::RpcEnv;

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/nodes", "index")
            .description("Cluster node index.")
            .returns(Schema::array("", Schema::object("").additional_properties(true)))
            .permission(Permission::Anybody)
            .handler(|env: RpcEnv, _| async move {
                let entry = node_entry(&env);
                let visible = env.has_privs(&format!("/nodes/{}", env.state.node), &["Sys.Audit"], false).await;
                // Without Sys.Audit, Proxmox still lists the node but hides its figures.
                let entry = if visible {
                    entry
                } else {
                    json!({"node": env.state.node, "status": "online", "id": entry["id"], "type": "node"})
                };
                Ok(json!([entry]))
            }),
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/status", "status")
            .description("Read node status.")
            .parameters(Schema::object("").required("node", node_param()))
            .returns(Schema::object("").additional_properties(true))
            .permission(Permission::Privs {
                path: "/nodes/{node}",
                privs: &["Sys.Audit"],
                any: false,
            })
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                Ok(node_status(&env))
            }),
    ]
}

/// This node as an entry of /nodes and /cluster/resources.
pub fn node_entry(env: &RpcEnv) -> Value {
    let info = &env.state.host;
    let mem = host::memory_info().memory;
    let disk = host::fs_usage(&env.state.data_dir);
    json!({
        "node": env.state.node,
        "status": "online",
        "cpu": info.cpu.last(),
        "maxcpu": info.cpuinfo.cpus,
        "mem": mem.used,
        "maxmem": mem.total,
        "disk": disk.used,
        "maxdisk": disk.total,
        "uptime": host::uptime(),
        "level": "",
        "id": format!("node/{}", env.state.node),
        "type": "node",
        "ssl_fingerprint": info.ssl_fingerprint,
    })
}

fn node_status(env: &RpcEnv) -> Value {
    let info = &env.state.host;
    let mem = host::memory_info();
    let rootfs = host::fs_usage(std::path::Path::new("/"));
    let kernel = host::kernel_version();
    json!({
        "cpu": info.cpu.sample(),
        "cpuinfo": info.cpuinfo,
        "loadavg": host::load_average(),
        "memory": mem.memory,
        "swap": mem.swap,
        "rootfs": rootfs,
        "uptime": host::uptime(),
        "idle": 0,
        "wait": 0,
        "kversion": kernel.kversion(),
        "current-kernel": kernel,
        "pveversion": format!("oxve/{}", env!("CARGO_PKG_VERSION")),
        "boot-info": {"mode": if std::path::Path::new("/sys/firmware/efi").exists() { "efi" } else { "legacy-bios" }},
        "ksm": {"shared": 0},
        "kvm": {
            "usable": info.kvm.usable,
            "reason": info.kvm.reason,
        },
    })
}
