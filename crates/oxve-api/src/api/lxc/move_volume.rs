//! POST .../lxc/{vmid}/move_volume: copy a stopped container's volume to another storage
//! (a `move_volume` task; subvolumes file by file, see [`copy_volume`]); the old volume is kept as `unusedN` or, with `delete`, freed.
//! A failed copy frees the new volume.

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission, PermissionChecker};
use oxve_storage::{ContentType, VolumeId};
use oxve_types::lxc::{MountPoint, MountSource};
use oxve_types::schema::Schema;
use serde_json::json;

use super::store_io::{check_digest, load, save};
use super::{copy_volume, upid_schema, vmid_param, volumes};
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;
use crate::guest_snapshot::{task_log, VolumeCopy};

fn volume_keys() -> &'static [&'static str] {
    static KEYS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys = vec!["rootfs"];
        keys.extend((0..256).map(|i| &*Box::leak(format!("mp{i}").into_boxed_str())));
        keys.extend((0..256).map(|i| &*Box::leak(format!("unused{i}").into_boxed_str())));
        keys
    })
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![ApiMethod::new(HttpMethod::Post, "/nodes/{node}/lxc/{vmid}/move_volume", "move_volume")
        .description("Move a rootfs-/mp-volume to a different storage.")
        .parameters(
            Schema::object("")
                .required("node", node_param())
                .required("vmid", vmid_param())
                .required("volume", Schema::string("Volume which will be moved.").enum_values(volume_keys()))
                .optional("storage", Schema::string("Target Storage.").format(oxve_types::format::STORAGE_ID))
                .optional("delete", Schema::boolean("Delete the original volume after successful copy. By default the original is kept as an unused volume entry.").default(false))
                .optional("digest", Schema::string("Prevent changes if current configuration file has different SHA1 digest.").max_length(40))
                .optional("bwlimit", Schema::number("Override I/O bandwidth limit (in KiB/s).").minimum(0.0))
                .optional("target-vmid", vmid_param())
                .optional("target-volume", Schema::string("The config key the volume will be moved to.").enum_values(volume_keys())),
        )
        .returns(upid_schema())
        .permission(Permission::Custom("VM.Config.Disk on /vms/{vmid}, Datastore.AllocateSpace on the target storage"))
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let vmid = params.int("vmid").unwrap_or_default() as u32;
            let key = params.req_str("volume").to_string();
            if params.has("target-vmid") || params.has("target-volume") {
                return Err(ApiError::param("target-vmid", "moving a volume to another container is not available yet"));
            }
            let storage = params
                .str("storage")
                .ok_or_else(|| ApiError::param("storage", "missing property - required to move a volume"))?
                .to_string();
            let perms = env.permissions().await?;
            let path = format!("/vms/{vmid}");
            if !perms.has_privs(&path, &["VM.Config.Disk"], false) {
                return Err(ApiError::permission_check_failed(&path, "VM.Config.Disk"));
            }
            let spath = format!("/storage/{storage}");
            if !perms.has_privs(&spath, &["Datastore.AllocateSpace"], false) {
                return Err(ApiError::permission_check_failed(&spath, "Datastore.AllocateSpace"));
            }
            let ct = load(&env, vmid).await?;
            check_digest(&ct, params.str("digest"))?;
            ct.config.check_lock().map_err(|e| ApiError::internal(e.to_string()))?;
            if key.starts_with("unused") {
                return Err(ApiError::param("volume", "moving unused volumes is not available yet"));
            }
            let value = ct.config.get(&key).ok_or_else(|| ApiError::param("volume", format!("no volume '{key}' in the config")))?;
            let mp = MountPoint::parse(&key, value).map_err(|e| ApiError::internal(e.to_string()))?;
            let MountSource::Volume(volid) = mp.source() else {
                return Err(ApiError::param("volume", format!("'{key}' is not a storage volume")));
            };
            if env.state.lxc.is_running(vmid).is_some() {
                return Err(ApiError::internal(format!("cannot move volumes of a running container (CT {vmid})")));
            }
            if !ct.config.snapshots.is_empty() {
                return Err(ApiError::internal("you can't move a volume of a container with snapshots"));
            }
            let src = VolumeId::parse(&volid).map_err(|e| ApiError::internal(e.to_string()))?;
            let delete = params.bool_or("delete", false);
            let task_env = env.clone();
            let upid = env
                .state
                .tasks
                .spawn("move_volume", Some(&vmid.to_string()), &env.caller_string(), move |ctx| async move {
                    let env = task_env;
                    let s = src.clone();
                    let size = env.state.storage.run(env.state.store.as_ref(), move |m| Ok(m.info(&s)?.size)).await.map_err(|e| e.message)?;
                    let copy = VolumeCopy {
                        manager: env.state.storage.manager(env.state.store.as_ref()).await.map_err(|e| e.message)?,
                        key: key.clone(),
                        volid: src.clone(),
                        snap: None,
                        target: storage.clone(),
                        format: None,
                        newid: vmid,
                        content: ContentType::Rootdir,
                    };
                    let log = task_log(&ctx);
                    let new = copy_volume::copy_volume(env.clone(), copy, log).await?;
                    ctx.log(format!("copied '{src}' to '{new}'"));
                    let written = async {
                        let mut ct = load(&env, vmid).await.map_err(|e| e.message)?;
                        let value = ct.config.get(&key).ok_or("volume vanished from the config")?.to_string();
                        let mut mp = MountPoint::parse(&key, &value).map_err(|e| e.to_string())?;
                        mp.set_volume(&new.to_string(), Some(size));
                        ct.config.set(&key, &mp.print()).map_err(|e| e.to_string())?;
                        if !delete {
                            let slot = (0..256).map(|i| format!("unused{i}")).find(|k| !ct.config.contains(k)).ok_or("no free unusedN key")?;
                            ct.config.set(&slot, &src.to_string()).map_err(|e| e.to_string())?;
                            ctx.log(format!("kept '{src}' as {slot}"));
                        }
                        save(env.state.store.as_ref(), &ct).await.map_err(|e| e.message)
                    }
                    .await;
                    let log_ctx = ctx.clone();
                    match written {
                        Ok(_) => {
                            if delete {
                                volumes::free_volumes(&env, vec![src], move |m| log_ctx.log(m)).await;
                            }
                            Ok(())
                        }
                        Err(e) => {
                            volumes::free_volumes(&env, vec![new], move |m| log_ctx.log(m)).await;
                            Err(e)
                        }
                    }
                })
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(json!(upid.to_string()))
        })]
}
