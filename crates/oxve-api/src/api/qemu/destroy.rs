//! DELETE /nodes/{node}/qemu/{vmid}: destroy a VM with its disks.

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission, PermissionChecker};
use oxve_storage::VolumeId;
use oxve_store::{guest_config_key, Expect};
use oxve_types::qemu::volume_owner;
use oxve_types::schema::Schema;
use serde_json::json;

use super::create::upid_schema;
use super::store_io::load;
use super::{disks, vmid_param};
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![ApiMethod::new(HttpMethod::Delete, "/nodes/{node}/qemu/{vmid}", "destroy_vm")
        .description("Destroy the VM and all its volumes (owned disks and unused disks).")
        .parameters(
            Schema::object("")
                .required("node", node_param())
                .required("vmid", vmid_param())
                .optional("purge", Schema::boolean("Remove the VMID from ACLs and other configurations."))
                .optional("destroy-unreferenced-disks", Schema::boolean("Also destroy disks of this VMID on enabled storages that the config does not reference.").default(false))
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
            let vm = load(&env, vmid).await?;
            let skiplock = params.bool_or("skiplock", false) && env.permissions().await?.is_root();
            if !skiplock {
                if let Some(lock) = vm.config.lock() {
                    return Err(ApiError::internal(format!("VM {vmid} is locked ({lock})")));
                }
            }
            if env.state.qemu.is_running(vmid).is_some() {
                return Err(ApiError::internal(format!("VM {vmid} is running - destroy failed")));
            }
            if vm.config.protection() {
                return Err(ApiError::internal(format!(
                    "can't remove VM {vmid} - protection mode enabled"
                )));
            }
            // Every volume the config names that this VM owns, in every section.
            let mut volumes: Vec<VolumeId> = Vec::new();
            let sections = std::iter::once(&vm.config.current).chain(vm.config.snapshots.values());
            for settings in sections {
                for drive in settings.drives() {
                    if let Ok(volid) = VolumeId::parse(&drive.file) {
                        if volume_owner(&drive.file) == Some(vmid) && !volumes.contains(&volid) {
                            volumes.push(volid);
                        }
                    }
                }
                // unusedN, and the RAM state of a snapshot or of a VM suspended to disk
                let state = settings.get("vmstate").map(|v| (String::new(), v.to_string()));
                for (_, volid) in settings.unused_volumes().into_iter().chain(state) {
                    if let Ok(volid) = VolumeId::parse(&volid) {
                        if !volumes.contains(&volid) {
                            volumes.push(volid);
                        }
                    }
                }
            }
            // A template's base volumes carry the linked clones made from it.
            let bases: Vec<VolumeId> = volumes
                .iter()
                .filter(|v| {
                    let parts: Vec<&str> = v.volname().split('/').collect();
                    parts.len() == 2 && parts[1].starts_with("base-")
                })
                .cloned()
                .collect();
            let clones: Vec<String> = crate::guest_snapshot::linked_clones_of(&env, &bases)
                .await?
                .into_iter()
                .filter(|c| *c != vmid)
                .map(|c| c.to_string())
                .collect();
            if !clones.is_empty() {
                return Err(ApiError::internal(format!(
                    "VM {vmid} is a base of linked clones (VM {}): destroy them first",
                    clones.join(", VM ")
                )));
            }
            let unreferenced = params.bool_or("destroy-unreferenced-disks", false);
            let purge = params.bool_or("purge", false);
            let key = guest_config_key(&vm.guest);
            let digest = vm.digest.clone();
            let task_env = env.clone();
            let upid = env
                .state
                .tasks
                .spawn("qmdestroy", Some(&vmid.to_string()), &env.caller_string(), move |ctx| async move {
                    let env = task_env;
                    let mut volumes = volumes;
                    if unreferenced {
                        crate::guest_destroy::add_unreferenced(&env, vmid, &mut volumes).await?;
                    }
                    let log_ctx = ctx.clone();
                    disks::free_volumes(&env, volumes, move |m| log_ctx.log(m)).await;
                    env.state
                        .store
                        .delete(&key, Expect::Digest(digest))
                        .await
                        .map_err(|e| e.to_string())?;
                    crate::guest_destroy::clean_up(&env, vmid, purge, |m| ctx.log(m)).await;
                    ctx.log(format!("destroyed VM {vmid}"));
                    Ok::<(), String>(())
                })
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(json!(upid.to_string()))
        })]
}
