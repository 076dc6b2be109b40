//! DELETE /nodes/{node}/lxc/{vmid}: destroy a container with its volumes.

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission, PermissionChecker};
use oxve_storage::VolumeId;
use oxve_store::{guest_config_key, Expect};
use oxve_types::lxc::MountSource;
use oxve_types::schema::Schema;
use serde_json::json;

use super::store_io::load;
use super::{upid_schema, vmid_param, volumes};
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

/// Whether a volume id names a volume owned by `vmid` (`local:100/vm-100-disk-0.raw`,
/// `local:subvol-100-disk-0`): shared or foreign volumes are never freed.
fn owned_by(volid: &VolumeId, vmid: u32) -> bool {
    let name = volid.volname().rsplit('/').next().unwrap_or_default();
    let prefix = format!("-{vmid}-");
    name.split_once(&prefix)
        .is_some_and(|(kind, _)| matches!(kind, "vm" | "subvol" | "base" | "basevol"))
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Delete, "/nodes/{node}/lxc/{vmid}", "destroy_vm")
            .description("Destroy the container (also delete all used/owned volumes).")
            .parameters(
                Schema::object("")
                    .required("node", node_param())
                    .required("vmid", vmid_param())
                    .optional(
                        "force",
                        Schema::boolean("Force destroy, even if running.").default(false),
                    )
                    .optional(
                        "purge",
                        Schema::boolean("Remove container from all related configurations.")
                            .default(false),
                    )
                    .optional(
                        "destroy-unreferenced-disks",
                        Schema::boolean(
                            "Also destroy disks of this VMID on enabled storages that the config does not reference.",
                        ),
                    )
                    .optional("skiplock", Schema::boolean("Ignore locks (root only).")),
            )
            .returns(upid_schema())
            .permission(Permission::Privs {
                path: "/vms/{vmid}",
                privs: &["VM.Allocate"],
                any: false,
            })
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let vmid = params.int("vmid").unwrap_or_default() as u32;
                let ct = load(&env, vmid).await?;
                let skiplock =
                    params.bool_or("skiplock", false) && env.permissions().await?.is_root();
                if !skiplock {
                    if let Some(lock) = ct.config.lock() {
                        return Err(ApiError::internal(format!("CT {vmid} is locked ({lock})")));
                    }
                }
                if ct.config.protection() {
                    return Err(ApiError::internal(format!(
                        "can't remove CT {vmid} - protection mode enabled"
                    )));
                }
                let force = params.bool_or("force", false);
                if env.state.lxc.is_running(vmid).is_some() && !force {
                    return Err(ApiError::internal(format!(
                        "CT {vmid} is running - destroy failed"
                    )));
                }
                let mut volids: Vec<VolumeId> = Vec::new();
                let mut add = |v: &str| {
                    if let Ok(id) = VolumeId::parse(v) {
                        if owned_by(&id, vmid) && !volids.contains(&id) {
                            volids.push(id);
                        }
                    }
                };
                let sections =
                    std::iter::once(&ct.config.current).chain(ct.config.snapshots.values());
                for section in sections {
                    let view = oxve_types::lxc::CtConfig {
                        current: section.clone(),
                        ..Default::default()
                    };
                    for (_, mp) in view.mount_points() {
                        if let MountSource::Volume(v) = mp.source() {
                            add(&v);
                        }
                    }
                    for (_, v) in view.unused_volumes() {
                        add(&v);
                    }
                }
                let unreferenced = params.bool_or("destroy-unreferenced-disks", false);
                let purge = params.bool_or("purge", false);
                let key = guest_config_key(&ct.guest);
                let digest = ct.digest.clone();
                let task_env = env.clone();
                let upid = env
                    .state
                    .tasks
                    .spawn(
                        "vzdestroy",
                        Some(&vmid.to_string()),
                        &env.caller_string(),
                        move |ctx| async move {
                            let env = task_env;
                            if env.state.lxc.is_running(vmid).is_some() {
                                ctx.log(format!("stopping CT {vmid}"));
                                env.state
                                    .lxc
                                    .stop(vmid, std::time::Duration::from_secs(30))
                                    .await
                                    .map_err(|e| e.to_string())?;
                            }
                            let mut volids = volids;
                            if unreferenced {
                                crate::guest_destroy::add_unreferenced(&env, vmid, &mut volids)
                                    .await?;
                            }
                            let log_ctx = ctx.clone();
                            volumes::free_volumes(&env, volids, move |m| log_ctx.log(m)).await;
                            env.state
                                .store
                                .delete(&key, Expect::Digest(digest))
                                .await
                                .map_err(|e| e.to_string())?;
                            env.state.lxc.cleanup(vmid);
                            crate::guest_destroy::clean_up(&env, vmid, purge, |m| ctx.log(m))
                                .await;
                            ctx.log(format!("destroyed CT {vmid}"));
                            Ok::<(), String>(())
                        },
                    )
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                Ok(json!(upid.to_string()))
            }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_by_name() {
        let v = |s: &str| VolumeId::parse(s).unwrap();
        assert!(owned_by(&v("local:100/vm-100-disk-0.raw"), 100));
        assert!(owned_by(&v("local:100/subvol-100-disk-1.subvol"), 100));
        assert!(!owned_by(&v("local:101/vm-101-disk-0.raw"), 100));
        assert!(!owned_by(&v("local:iso/vm-100-x.iso"), 1000));
    }
}
